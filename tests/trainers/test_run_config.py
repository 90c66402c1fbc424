"""Configs store numbers: `resolve_run_config` expands variants once; config.json and resume follow."""

import json

import keras
import pytest

from keras_vision.config import ConfigDict
from keras_vision.config import load_recipe
from keras_vision.models import build_model
from keras_vision.models import resolve_model_kwargs
from keras_vision.trainers import WorkdirConfigError
from keras_vision.trainers import train
from keras_vision.trainers.run_config import resolve_run_config
from keras_vision.trainers.run_config import resolved_config_json

SIZE_KEYS = ("width", "depth", "mlp_dim", "num_heads")


def test_variant_and_explicit_patch_size_resolve_to_numbers():
    cfg = ConfigDict(model_name="vit", model=dict(variant="S/16", patch_size=8, pool_type="map"))
    out = resolve_run_config(cfg)
    assert "variant" not in out.model
    assert dict(out.model) == dict(width=384, depth=12, mlp_dim=1536, num_heads=6, patch_size=8, pool_type="map")
    assert cfg.model.variant == "S/16" and "width" not in cfg.model  # the input is not modified
    assert resolve_run_config(out) == out  # idempotent


def test_explicit_sizes_win_over_the_variant():
    out = resolve_model_kwargs("vit", dict(variant="B/32", depth=2, mlp_dim=100))
    assert out == dict(width=768, depth=2, mlp_dim=100, num_heads=12, patch_size=32)


def test_variant_without_patch_keeps_the_builders_default_patch_size():
    assert resolve_model_kwargs("vit", dict(variant="mu")) == dict(width=32, depth=1, mlp_dim=128, num_heads=2)
    assert "patch_size" not in resolve_model_kwargs("proj.flexi.vit", dict(variant="mu", seqhw=4))


def test_text_tower_drops_the_variants_patch_size():
    out = resolve_model_kwargs("proj.image_text.text_transformer", dict(variant="mu/8", vocab_size=64))
    assert out == dict(width=32, depth=1, mlp_dim=128, num_heads=2, vocab_size=64)


def test_two_towers_resolve_each_tower_with_its_model():
    out = resolve_model_kwargs("proj.image_text.two_towers", dict(
        image=dict(variant="mu/8", pool_type="map"), text=dict(variant="Ti"), out_dim=32))
    assert out["image"] == dict(width=32, depth=1, mlp_dim=128, num_heads=2, patch_size=8, pool_type="map")
    assert out["text"] == dict(width=192, depth=12, mlp_dim=768, num_heads=3)
    assert out["out_dim"] == 32


def test_unknown_variant_is_an_error_naming_the_known_ones():
    with pytest.raises(ValueError, match="Unknown ViT variant 'X'.*'mu'"):
        resolve_model_kwargs("vit", dict(variant="X/16"))


def test_models_without_a_resolver_are_left_alone():
    assert resolve_model_kwargs("bit_paper", dict(variant="S/16")) == dict(variant="S/16")


def test_teachers_and_model_specs_anywhere_are_resolved():
    teacher_model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    cfg = ConfigDict(
        model_name="proj.flexi.vit", model=dict(variant="mu/8", seqhw=4),
        distill=dict(teachers=[dict(model_name="vit", model=dict(variant="Ti/16"), init="t.npz"),
                               "some/workdir", teacher_model]),
        teachers=["prof"], prof_name="vit", prof=dict(variant="mu/4", num_classes=10),
        evals=dict(d=dict(type="distill_distance", teachers=[dict(model_name="vit", model=dict(variant="mu"))])),
    )
    out = resolve_run_config(cfg)
    assert out.model == dict(width=32, depth=1, mlp_dim=128, num_heads=2, patch_size=8, seqhw=4)
    first, path, model = out.distill.teachers
    assert first.model == dict(width=192, depth=12, mlp_dim=768, num_heads=3, patch_size=16)
    assert first.init == "t.npz" and path == "some/workdir" and model is teacher_model
    assert out.prof == dict(width=32, depth=1, mlp_dim=128, num_heads=2, patch_size=4, num_classes=10)
    assert out.evals.d.teachers[0].model == dict(width=32, depth=1, mlp_dim=128, num_heads=2)
    assert "variant" not in json.dumps(resolved_config_json({k: v for k, v in cfg.items() if k != "distill"}))


def _weights(model_name, kwargs):
    keras.utils.clear_session()  # the same layer names (and so variable paths) for both builds
    model = build_model(model_name, **kwargs)
    return [(w.path, tuple(w.shape)) for w in model.weights]


@pytest.mark.parametrize("model_name, kwargs", [
    ("vit", dict(variant="mu/8", pool_type="gap", num_classes=10, image_size=32)),
    ("vit", dict(variant="mu/8", patch_size=4, pool_type="map", num_classes=10, image_size=32)),
    ("vit", dict(variant="mu", pool_type="tok", image_size=32)),
    ("proj.flexi.vit", dict(variant="mu", patch_size=(8, 8), posemb_size=(4, 4), pool_type="tok",
                            num_classes=10, image_size=32, seqhw=4)),
    ("proj.flexi.vit", dict(variant="mu/8", posemb_size=(4, 4), num_classes=10, image_size=32)),
    ("proj.image_text.text_transformer", dict(variant="mu", vocab_size=64, seq_len=16, num_classes=32)),
    ("proj.image_text.two_towers", dict(image=dict(variant="mu/8", pool_type="map", image_size=32),
                                        text=dict(variant="mu", vocab_size=64, seq_len=16), out_dim=(None, 32))),
])
def test_resolved_kwargs_build_the_same_variables(model_name, kwargs):
    resolved = resolve_model_kwargs(model_name, kwargs)
    assert "variant" not in json.dumps(resolved)
    expected = _weights(model_name, kwargs)
    assert expected and _weights(model_name, resolved) == expected


# --- a real run ------------------------------------------------------------------------

OVERRIDES = ["+model.patch_size=8", "total_steps=2", "ckpt_steps=2", "log_training_steps=1", "evals={}",
             "schedule.warmup_steps=1"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """recipes/vit_shapes.py:runlocal (variant "mu/4") with `--set +model.patch_size=8`, 2 steps."""
    workdir = tmp_path_factory.mktemp("run")
    config = load_recipe("recipes/vit_shapes.py:runlocal", OVERRIDES)
    assert config.model.variant == "mu/4" and config.model.patch_size == 8
    result = train(config, workdir, verbose=False)
    return config, workdir, result


def test_train_writes_a_config_json_without_variant(finished_run):
    config, workdir, result = finished_run
    saved = json.loads((workdir / "config.json").read_text())
    assert "variant" not in saved["model"]
    assert saved["model"]["patch_size"] == 8 and saved["model"]["width"] == 32
    assert result.model.backbone.patch_size in (8, (8, 8))
    assert result.summary["status"] == "completed"


def test_resume_accepts_a_workdir_written_before_resolution(finished_run):
    config, workdir, _ = finished_run
    (workdir / "config.json").write_text(config.to_json())  # old style: the variant next to the sizes
    assert json.loads((workdir / "config.json").read_text())["model"]["variant"] == "mu/4"
    again = train(load_recipe("recipes/vit_shapes.py:runlocal", OVERRIDES), workdir, verbose=False)
    assert again.summary["status"] == "completed" and again.summary["final_step"] == 2
    # A really different model is still refused.
    other = load_recipe("recipes/vit_shapes.py:runlocal", [*OVERRIDES[1:], "+model.patch_size=4"])
    with pytest.raises(WorkdirConfigError, match="patch_size"):
        train(other, workdir, verbose=False)
