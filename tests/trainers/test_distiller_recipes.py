"""Distillation through the recipe engine (config.trainer = "distill"), the distance evaluator, the recipes."""

import json
import pathlib

import numpy as np
import pytest

import keras

from keras_vision.config import load_recipe
from keras_vision.trainers import Distiller
from keras_vision.trainers import train

RECIPES = pathlib.Path(__file__).resolve().parents[2] / "recipes"
NUM_CLASSES = 5
IMAGE = 16


def tiny_vit(seed, **kw):
    from keras_vision.models import build_model

    keras.utils.set_random_seed(seed)
    kwargs = dict(variant="mu/8", num_classes=NUM_CLASSES, pool_type="gap", posemb="learn", image_size=IMAGE,
                  width=16, depth=1, mlp_dim=32, num_heads=2, head_zeroinit=False)
    kwargs.update(kw)
    return build_model("vit", **kwargs)


def eval_data(n=20):
    import tensorflow as tf

    rng = np.random.RandomState(0)
    return tf.data.Dataset.from_tensor_slices({
        "image": rng.uniform(-1, 1, (n, IMAGE, IMAGE, 3)).astype("float32"),
        "label": (np.arange(n) % NUM_CLASSES).astype("int32"),
    })


def test_distance_evaluator_on_distiller_and_with_teacher_file(tmp_path):
    from keras_vision import evaluators

    teacher, student = tiny_vit(1), tiny_vit(2)
    cls = evaluators.get("proj.distill.distance")
    assert evaluators.get("distill_distance") is cls
    ev = cls(eval_data(), pp_fn=None, batch_size=8, label_key="label", ks=(1, 2))
    res = dict(ev.run(Distiller(student, teacher)))
    assert set(res) >= {"kl", "euclidean", "agree@1", "agree@2", "student_prec@1", "teacher_prec@1", "gap"}

    x = np.stack([e["image"] for e in eval_data().as_numpy_iterator()])
    s, t = keras.ops.convert_to_numpy(student(x)), keras.ops.convert_to_numpy(teacher(x))
    assert res["agree@1"] == pytest.approx(float((s.argmax(1) == t.argmax(1)).mean()))
    labels = np.arange(20) % NUM_CLASSES
    assert res["gap"] == pytest.approx(float((t.argmax(1) == labels).mean() - (s.argmax(1) == labels).mean()))
    assert res["agree@2"] >= res["agree@1"]

    # Same numbers with the teacher given as a .keras file and the student alone.
    path = str(tmp_path / "teacher.keras")
    teacher.save(path)
    ev2 = cls(eval_data(), batch_size=8, teachers=path, label_key="label", ks=(1, 2))
    res2 = dict(ev2.run(student))
    for k in res:
        assert res2[k] == pytest.approx(res[k], rel=1e-4, abs=1e-6)

    # The student against itself: zero distance, full agreement.
    same = dict(cls(eval_data(), batch_size=8, teachers=[student], label_key="label").run(student))
    assert same["kl"] == pytest.approx(0.0, abs=1e-5) and same["agree@1"] == 1.0 and same["gap"] == 0.0

    with pytest.raises(ValueError, match="teachers"):
        dict(cls(eval_data(), batch_size=8).run(student))
    with pytest.raises(ValueError, match="cosine"):
        cls(eval_data(), what=("cosine",))


def _engine_config(teacher_path, steps=12):
    from keras_vision.config import ConfigDict

    c = ConfigDict()
    c.seed = 0
    c.input = dict(data=dict(name="shapes", split="train", image_size=IMAGE), batch_size=8,
                   shuffle_buffer_size=32,
                   pp="flip_lr|value_range(-1, 1)|onehot(10, key='label', key_result='labels')"
                      "|keep('image', 'labels')")
    c.mixup = dict(p=1.0)
    c.total_steps = steps
    c.log_training_steps = 4
    c.ckpt_steps = 4
    c.model_name = "vit"
    c.model = dict(variant="mu/8", num_classes=10, pool_type="gap", image_size=IMAGE,
                   width=16, depth=1, mlp_dim=32, num_heads=2)
    c.trainer = "distill"
    c.distill = dict(teachers=[teacher_path], distance="kl", distance_kw=dict(t=2.0))
    c.loss = None
    c.optax_name = "scale_by_adam"
    c.lr = 3e-3
    c.wd = 1e-4
    c.schedule = dict(warmup_steps=2, decay_type="cosine")
    c.evals = dict(dist=dict(type="distill_distance",
                             data=dict(name="shapes", split="val[:16]", image_size=IMAGE),
                             pp_fn="value_range(-1, 1)|keep('image', 'label')", label_key="label",
                             teachers=[teacher_path],
                             log_steps=steps))
    return c


def test_engine_hook_trains_student_only_and_checkpoints_it(tmp_path):
    teacher = tiny_vit(1, num_classes=10)  # the shapes classes
    path = str(tmp_path / "teacher.keras")
    teacher.save(path)
    before = [np.array(v) for v in teacher.get_weights()]
    result = train(_engine_config(path), tmp_path / "run", verbose=False)
    summary = result.summary
    assert summary["status"] == "completed"
    evals = summary["evals"]
    assert {"dist/kl", "dist/agree@1", "dist/gap"} <= set(evals)
    assert result.model.name != "distiller" and not isinstance(result.model, Distiller)
    # The saved teacher file is untouched and the checkpoint holds the student.
    reloaded = keras.saving.load_model(path)
    for a, b in zip(before, reloaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    from keras_vision.trainers.recipe_evaluate import evaluate_run

    again = evaluate_run(tmp_path / "run", verbose=False)["results"]
    assert again["dist/kl"] == pytest.approx(evals["dist/kl"]["value"], rel=1e-4, abs=1e-6)
    import csv

    with open(tmp_path / "run" / "metrics.csv") as f:
        names = {row["name"] for row in csv.DictReader(f)}
    assert any("loss" in n for n in names), names


def test_distance_evaluator_without_teachers_reads_the_runs_distiller(tmp_path):
    teacher = tiny_vit(1, num_classes=10)
    path = str(tmp_path / "teacher.keras")
    teacher.save(path)
    config = _engine_config(path, steps=4)
    config.evals.dist.log_steps = 4
    config.evals.bound = dict(config.evals.dist)
    del config.evals.bound["teachers"]  # the runner binds the distiller's teachers
    evals = train(config, tmp_path / "run", verbose=False).summary["evals"]
    for name in ("kl", "euclidean", "agree@1", "gap"):
        assert evals[f"bound/{name}"]["value"] == pytest.approx(evals[f"dist/{name}"]["value"], rel=1e-5, abs=1e-6)


def test_engine_hook_rejects_bad_config(tmp_path):
    from keras_vision.config import ConfigError

    c = _engine_config(str(tmp_path / "t.keras"))
    c.distill = dict(teachers=[str(tmp_path / "t.keras")], temperature=2)
    with pytest.raises(ConfigError, match="temperature"):
        train(c, tmp_path / "bad", verbose=False)


@pytest.mark.slow
def test_distill_bit_i1k_runlocal(tmp_path):
    cfg = load_recipe(f"{RECIPES / 'distill_bit_i1k.py'}:runlocal")
    result = train(cfg, tmp_path / "run", verbose=False)
    evals = result.summary["evals"]
    assert result.summary["status"] == "completed"
    assert {"student_val/prec@1", "dist_val/kl", "dist_val/agree@1", "dist_val/gap"} <= set(evals)
    full = load_recipe(str(RECIPES / "distill_bit_i1k.py"))
    assert full.input.batch_size == 4096 and full.lr == 0.03 and full.wd == 3e-4 and full.total_epochs == 1200
    assert full.mixup == {"p": 1.0} and full.distance == "kl" and full.teachers == ["prof_m"]


@pytest.mark.slow
def test_distill_shapes_runlocal_trains_teacher_then_student(tmp_path):
    teacher_dir = tmp_path / "teacher"
    cfg = load_recipe(f"{RECIPES / 'distill_shapes.py'}:runlocal,teacher={teacher_dir}")
    assert cfg.trainer == "distill" and cfg.mixup.p == 1.0
    result = train(cfg, tmp_path / "student", verbose=False)
    with open(teacher_dir / "summary.json") as f:
        assert json.load(f)["status"] == "completed"
    evals = result.summary["evals"]
    assert {"val/prec@1", "distill/agree@1", "distill/kl", "distill/student_prec@1",
            "distill/teacher_prec@1", "distill/gap"} <= set(evals)
    assert 0.0 <= evals["distill/agree@1"]["value"] <= 1.0


def test_engine_hook_resumes_to_the_same_student(tmp_path):
    import shutil

    teacher = tiny_vit(1, num_classes=10)
    path = str(tmp_path / "teacher.keras")
    teacher.save(path)
    config = _engine_config(path, steps=12)
    config.evals = {}
    workdir = tmp_path / "run"
    ref = [np.array(v) for v in train(config, workdir, verbose=False).model.get_weights()]
    # Pretend the run died after its step-4 checkpoint.
    for step in (8, 12):
        shutil.rmtree(workdir / "checkpoints" / f"ckpt-{step:09d}")
    resumed = train(config, workdir, verbose=False)
    assert resumed.summary["status"] == "completed"
    for a, b in zip(ref, resumed.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
