"""Recipe ports: plain ViT-S/16 (vit_s16_i1k), AugReg (vit_i1k, vit_i21k, transfer) and the recipe helpers.

Every variant's config loads with the papers' hyper-parameters, its pp strings build
(and run on a shapes example in runlocal mode), and one runlocal per family trains end
to end through `keras_vision.trainers.train`.
"""

import json
import math

import numpy as np
import pytest

from keras_vision.config import ConfigDict
from keras_vision.config import ConfigError
from keras_vision.config import load_recipe
from keras_vision.config import recipe_helpers as ru
from keras_vision.optimizers import make_optimizer

FIXTURE_INIT = "tests/fixtures/vit_tok_augreg_layout.npz"  # a 2-layer ViT in the AugReg (legacy) layout
PRESETS = list(ru.AUGREG_PRESETS)
VARIANTS = {
    "vit_s16_i1k": ["", "epochs=150", "epochs=300", "variant=B/16", "runlocal"],
    "vit_i1k": ["", "variant=Ti/16", "variant=S/32", "variant=L/16,epochs=30", "runlocal"]
    + [f"aug={p}" for p in PRESETS] + [f"runlocal,aug={p}" for p in PRESETS],
    "vit_i21k": ["", "variant=Ti/16", "variant=S/16", "variant=L/16", "runlocal"] + [f"aug={p}" for p in PRESETS],
    "transfer": ["", "runlocal", f"runlocal,init={FIXTURE_INIT}", "model=vit-s16,crop=inception_crop",
                 "dataset=imagenet2012,data_dir=/tfds", "dataset=folder,data_dir=/data/x,num_classes=5",
                 "crop=resize_crop,h_res=256,l_res=224,batch_size=64"]
    + [f"dataset={d}" for d in ("cifar100", "oxford_iiit_pet", "oxford_flowers102")]
    + [f"model=vit-i21k-augreg-{v}" for v in ("ti/16", "s/32", "s/16", "b/16", "b/8", "l/16")],
}
CASES = [(name, arg) for name, args in VARIANTS.items() for arg in args]


def _load(name, arg):
    return load_recipe(f"recipes/{name}.py:{arg}")


def _pp_strings(config):
    out = [config.input.pp]
    for ev in config.evals.values():
        out += [ev[k] for k in ("pp_fn", "pp_train", "pp_eval") if k in ev]
    return out


@pytest.mark.parametrize("name,arg", CASES)
def test_config_loads_and_pp_builds(name, arg):
    from keras_vision.data import get_preprocess_fn

    c = _load(name, arg)
    steps = c.get("total_steps") or 100_000  # epochs-based recipes: any length past the warmup
    make_optimizer(c, steps)  # raises on unknown optimizer keys / optax kwargs
    for pp in _pp_strings(c):
        get_preprocess_fn(pp)
    assert c.model.num_classes == c.num_classes
    if "runlocal" in arg:
        assert c.total_steps <= 20 and c.input.batch_size <= 8 and "total_epochs" not in c
        assert c.input.data.name == "shapes" and c.num_classes == 10
        for ev in c.evals.values():
            datas = [d[0] for d in ev.datasets.values()] if ev.type == "fewshot_lsr" else [ev.data]
            assert all(d["name"] == "shapes" for d in datas)
        # The pp strings run on a shapes example and give 32 px images, 10-way labels.
        from keras_vision.data import shapes

        example = {k: v for k, v in shapes.example(0, "train", image_size=32).items() if k in ("image", "label")}
        out = get_preprocess_fn(c.input.pp)(example)
        assert tuple(out["image"].shape) == (32, 32, 3) and tuple(out["labels"].shape) == (10,)
        assert float(np.min(out["image"])) >= -1.0 and float(np.max(out["image"])) <= 1.0


def test_vit_s16_i1k_hyper_parameters():
    c = _load("vit_s16_i1k", "")
    assert (c.lr, c.wd, c.input.batch_size, c.total_epochs, c.grad_clip_norm) == (1e-3, 1e-4, 1024, 90, 1.0)
    assert c.mixup.p == 0.2 and c.schedule == dict(warmup_steps=10_000, decay_type="cosine")
    assert c.optax_name == "scale_by_adam" and c.optax.mu_dtype == "bfloat16" and c.loss == "softmax_xent"
    assert c.model == dict(variant="S/16", rep_size=True, pool_type="gap", posemb="sincos2d", num_classes=1000)
    assert c.input.pp.startswith("decode_jpeg_and_inception_crop(224)|flip_lr|randaug(2, 10)|value_range(-1, 1)")
    assert c.input.data == dict(name="imagenet2012", split="train[:99%]")
    assert set(c.evals) == {"train", "minival", "val", "v2", "real"}
    assert c.evals.val.pp_fn.startswith("decode|resize_small(256)|central_crop(224)")
    assert c.evals.minival.data.split == "train[99%:]" and "real_label" in c.evals.real.pp_fn
    assert [_load("vit_s16_i1k", f"epochs={e}").total_epochs for e in (150, 300)] == [150, 300]


@pytest.mark.parametrize("aug,magnitude,p", [("none", None, 0.0), ("light1", 0, 0.0), ("light2", 10, 0.2),
                                             ("medium1", 15, 0.2), ("medium2", 15, 0.5), ("strong1", 20, 0.5),
                                             ("strong2", 20, 0.8)])
def test_augreg_presets(aug, magnitude, p):
    for name in ("vit_i1k", "vit_i21k"):
        c = _load(name, f"aug={aug}")
        assert c.mixup.p == p and c.aug == aug
        if magnitude is None:
            assert "randaug" not in c.input.pp
        else:
            assert f"|flip_lr|randaug(2, {magnitude})|value_range" in c.input.pp


def test_augreg_i1k_and_i21k_hyper_parameters():
    c = _load("vit_i1k", "")
    assert (c.lr, c.wd, c.input.batch_size, c.total_epochs, c.loss) == (1e-3, 1e-4, 4096, 300, "sigmoid_xent")
    assert c.model.init_head_bias == -6.9 and c.model.pool_type == "tok" and c.model.rep_size is True
    assert c.aug == "medium2" and c.schedule.warmup_steps == 10_000 and c.optax.mu_dtype == "bfloat16"
    assert {"fewshot", "val", "real", "v2"} <= set(c.evals) and c.evals.fewshot.shots == (1, 5, 10, 25)
    assert [_load("vit_i1k", f"variant={v}").aug for v in ("Ti/16", "S/32", "S/16", "B/32", "L/16")] == [
        "light1", "medium1", "medium2", "medium2", "medium2"]
    c = _load("vit_i21k", "")
    assert (c.num_classes, c.model.init_head_bias, c.model.pool_type, c.model.posemb) == (21843, -10.0, "gap", "learn")
    assert (c.lr, c.wd, c.input.batch_size, c.total_epochs) == (1e-3, 1e-4, 4096, 300)
    assert c.input.data == dict(name="imagenet21k", split="full[51200:]") and c.aug == "light2"
    assert c.evals.test.data.split == "full[:25600]" and "onehot(21843)" in c.evals.val.pp_fn
    assert [_load("vit_i21k", f"variant={v}").aug for v in ("Ti/16", "S/32", "S/16", "B/32", "L/16")] == [
        "none", "none", "light1", "light2", "medium2"]
    # runlocal keeps the prior-matching head bias for its 10 classes
    assert _load("vit_i1k", "runlocal").model.init_head_bias == round(-math.log(10), 1)


def test_transfer_hyper_parameters():
    c = _load("transfer", "")
    assert (c.optax_name, c.lr, c.wd, c.grad_clip_norm, c.input.batch_size) == (
        "big_vision.momentum_hp", 0.01, None, 1.0, 512)
    assert c.mixup.p == 0.0 and c.loss == "softmax_xent"
    assert (c.total_steps, c.schedule.warmup_steps, c.num_classes) == (10_000, 500, 10)
    assert c.model == dict(variant="B/32", pool_type="tok", num_classes=10, image_size=384)
    assert c.model_init.startswith("B_32-i21k-300ep") and c.model_load.dont_load == ["head/kernel", "head/bias"]
    assert c.input.pp.startswith("decode|resize_small(448)|random_crop(384)|flip_lr|")
    assert c.evals.val.pp_fn.startswith("decode|resize_small(448)|central_crop(384)|")
    assert (c.evals.val.data.split, c.evals.test.data.split) == ("train[98%:]", "test")
    steps = {d: (_load("transfer", f"dataset={d}").total_steps, _load("transfer", f"dataset={d}").num_classes)
             for d in ("cifar100", "imagenet2012", "oxford_iiit_pet", "oxford_flowers102")}
    assert steps == {"cifar100": (10_000, 100), "imagenet2012": (20_000, 1000), "oxford_iiit_pet": (500, 37),
                     "oxford_flowers102": (500, 102)}
    c = _load("transfer", "dataset=imagenet2012,data_dir=/tfds,crop=inception_crop")
    assert set(c.evals) == {"minival", "val", "real", "v2"} and c.evals.val.data.split == "validation"
    assert all(ev.data.data_dir == "/tfds" for ev in c.evals.values())
    assert c.input.pp.startswith("decode|inception_crop(384)|flip_lr|")
    c = _load("transfer", "model=vit-s16")
    assert c.model.posemb == "sincos2d" and c.model.pool_type == "gap" and c.model.rep_size is True


@pytest.mark.parametrize("spec,match", [
    ("vit_i1k:aug=huge", "Unknown AugReg augmentation preset 'huge'"),
    ("vit_i1k:variant=H/14", "No default aug preset for variant 'H/14'"),
    ("transfer:dataset=mnist", "Unknown dataset 'mnist'; expected one of"),
    ("transfer:model=vit-x", "Unknown model 'vit-x'"),
    ("transfer:crop=center", "Unknown crop 'center'"),
    ("transfer:dataset=folder", "dataset=folder needs data_dir"),
])
def test_bad_arguments_name_the_value(spec, match):
    with pytest.raises(ValueError, match=match):
        _load(*spec.split(":"))


def test_unknown_recipe_argument_is_an_error():
    with pytest.raises(ConfigError, match="epoch"):
        load_recipe("recipes/vit_s16_i1k.py:epoch=300")


def test_transfer_folder_dataset_pipeline(tmp_path):
    """dataset=folder reads a folder of class subfolders (90/10 split) through the recipe's pp."""
    import tensorflow as tf

    from keras_vision.data import make_pipeline
    from keras_vision.data import shapes

    for i in range(20):
        ex = shapes.example(i, "train", image_size=48)
        folder = tmp_path / f"class_{i % 2}"
        folder.mkdir(exist_ok=True)
        tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(ex["image"]))
    c = _load("transfer", f"dataset=folder,data_dir={tmp_path},num_classes=2,h_res=36,l_res=32")
    batch = next(iter(make_pipeline(c.input.data, c.input.pp, 4, train=True, seed=0)))
    assert batch["image"].shape == (4, 32, 32, 3) and batch["labels"].shape == (4, 2)
    val = make_pipeline(c.evals.val.data, c.evals.val.pp_fn, 2, train=False)
    assert sum(int(b["image"].shape[0]) for b in val) == 2  # 10 % of 20 images


def test_transfer_loads_the_checkpoint_but_not_its_head():
    from keras import ops

    from keras_vision.loading import model_from_config

    c = _load("transfer", f"runlocal,init={FIXTURE_INIT}")
    model = model_from_config(c)
    with np.load(FIXTURE_INIT) as ckpt:
        kernel = ckpt["embedding/kernel"]
    weights = {w.path: ops.convert_to_numpy(w) for w in model.weights}
    patch = [v for k, v in weights.items() if v.shape == kernel.shape]
    assert len(patch) == 1 and np.array_equal(patch[0], kernel)  # backbone from the checkpoint
    head = [v for k, v in weights.items() if v.shape == (64, 10)]
    assert len(head) == 1 and not np.any(head[0])  # head: zero-initialised, not loaded


# --- recipe_helpers ---------------------------------------------------------------------


def test_recipe_helpers_are_plain_functions_not_keras_serializables():
    import keras

    from keras_vision.api_export import PUBLIC_API

    assert keras.saving.get_registered_object("keras_vision>pp_join") is None
    assert keras.saving.get_registered_object("keras_vision>runlocal") is None
    assert not [path for path in PUBLIC_API if "recipe" in path.rsplit(".", 1)[0]]
    assert ru.pp_join.__module__ == "keras_vision.config.recipe_helpers"


def test_augreg_aug_and_pp_helpers():
    assert ru.augreg_aug("medium2") == {"randaug": "randaug(2, 15)", "mixup": {"p": 0.5}}
    assert ru.augreg_aug("none").randaug == ""
    assert ru.augreg_preset("", "B/32", {"B/32": "light2"})[0] == "light2"
    assert ru.pp_join("decode", "", "flip_lr") == "decode|flip_lr"
    assert ru.labels_pp(5, key="real_label") == (
        "value_range(-1, 1)|onehot(5, key='real_label', key_result='labels')|keep('image', 'labels')")
    assert ru.tokenize_pp(16, "m.model") == ("tokenize(max_len=16, model='m.model', eos='sticky', pad_value=1, "
                                             "inkey='texts', outkey='labels')")


def test_runlocal_shrinks_dict_and_list_schedules():
    c = ConfigDict(total_epochs=300, input=dict(batch_size=4096, shuffle_buffer_size=250_000),
                   schedule=[("img/.*", None), (".*", dict(warmup_steps=10_000, decay_type="cosine"))],
                   evals=dict(val=dict(log_steps=1000)))
    ru.runlocal(c, steps=7, eval_log_steps=7, eval_batch_size=4)
    assert "total_epochs" not in c and (c.total_steps, c.input.batch_size, c.input.shuffle_buffer_size) == (7, 8, 64)
    assert c.schedule == [("img/.*", None), (".*", dict(warmup_steps=2, decay_type="cosine"))]
    assert c.evals.val == dict(log_steps=7, batch_size=4)
    c = ConfigDict(total_steps=100, input=dict(batch_size=64), schedule=dict(warmup_steps=50, decay_type="linear"))
    assert ru.runlocal(c).schedule == dict(warmup_steps=2, decay_type="linear")


def test_refactored_image_text_runlocal_configs():
    """The shared runlocal helpers give the image-text recipes the settings they had before."""
    for name in ("siglip_lit_coco", "siglip_b16_webli"):
        c = _load(name, "runlocal")
        assert c.sentencepiece == dict(path="{workdir}/shapes_spm.model", data=dict(name="shapes", split="train[:200]"),
                                       texts_key="texts", vocab_size=128, lower=True)
        assert c.input.data == dict(name="shapes", split="train[:256]")
        assert c.input.pp == ("value_range(-1, 1)|tokenize(max_len=16, model='{workdir}/shapes_spm.model', "
                              "eos='sticky', pad_value=1, inkey='texts', outkey='labels')|keep('image', 'labels')")
        assert (c.total_steps, c.input.batch_size, c.log_training_steps, c.ckpt_steps) == (10, 8, 5, 10)
    for name in ("siglip_shapes", "lit_shapes"):
        c = _load(name, "runlocal")
        assert c.sentencepiece.vocab_size == 160 and c.sentencepiece.data.split == "train[:200]"
        assert c.input.data.split == "train[:256]" and c.evals.retrieval.ks == (1, 5, 10)
        assert all(ev.data.split == "val[:32]" and ev.batch_size == 16 and ev.log_steps == 10
                   for ev in c.evals.values())
    assert _load("lit_shapes", "runlocal").schedule[0] == ("img/.*", None)


# --- runlocal end to end, one per family ------------------------------------------------


def _train_runlocal(spec, workdir, steps=6):
    from keras_vision.trainers import train

    c = load_recipe(spec)
    c.total_steps, c.log_training_steps, c.ckpt_steps = steps, steps // 2, steps
    c.tensorboard = False
    for ev in c.evals.values():
        ev.log_steps = steps
    result = train(c, workdir, verbose=False)
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["final_step"] == steps
    assert np.isfinite(summary["final_train_metrics"]["training_loss"])
    return result, {k: v["value"] for k, v in summary["evals"].items()}


@pytest.mark.slow
def test_augreg_runlocal_trains_with_the_strongest_preset(tmp_path):
    result, evals = _train_runlocal("recipes/vit_i1k.py:runlocal,aug=strong2", tmp_path / "run")
    assert {"val/prec@1", "val/loss", "a/shapes_5shot"} <= set(evals)
    # sigmoid_xent over 10 classes, head bias log(1/10): ~ 9 * log(1 + 0.1) + log(10) at the start
    assert 2.5 < evals["val/loss"] < 4.5
    assert result.model.backbone.pooling == "tok"


@pytest.mark.slow
def test_transfer_runlocal_finetunes_a_checkpoint(tmp_path):
    _, evals = _train_runlocal(f"recipes/transfer.py:runlocal,init={FIXTURE_INIT}", tmp_path / "run")
    assert {"val/prec@1", "val/loss", "test/prec@1", "test/loss"} == set(evals)
    assert all(np.isfinite(v) for v in evals.values())
