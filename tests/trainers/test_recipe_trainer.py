"""The recipe runner with stand-in model/data: artefacts, resume, NaN, grad accumulation."""

import json

import keras
import numpy as np
import pytest

from engine_helpers import KillAt
from engine_helpers import SimulatedKill
from engine_helpers import base_config
from engine_helpers import data_fn
from engine_helpers import model_fn
from keras_vision.loading import CheckpointManager
from keras_vision.trainers import TrainingDivergedError
from keras_vision.trainers import WorkdirConfigError
from keras_vision.trainers import read_metrics
from keras_vision.trainers import train


def _curves(workdir):
    """metrics.csv rows without the timing-dependent ones."""
    return [r for r in read_metrics(workdir) if not r["name"].endswith("_per_sec")]


def test_artefacts_summary_metrics_and_plot(tmp_path, standins):
    result = train(base_config(), tmp_path, **standins)
    assert (tmp_path / "config.json").exists()
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s == result.summary
    assert s["status"] == "completed" and s["final_step"] == 20 and s["total_steps"] == 20
    assert set(s["evals"]) == {"val/prec@1", "val/loss"}
    assert s["evals"]["val/prec@1"]["step"] == 20
    assert [p[0] for p in s["eval_history"]["val/prec@1"]] == [10, 20]
    assert 0.0 <= s["evals"]["val/prec@1"]["value"] <= 1.0
    assert np.isfinite(s["final_train_metrics"]["training_loss"])
    assert s["config"]["total_steps"] == 20 and s["backend"] == keras.backend.backend()
    assert s["timings"]["train_s"] > 0 and s["timings"]["images_per_sec"] > 0
    assert s["checkpoints"] == [10, 20]
    rows = read_metrics(tmp_path)
    assert sorted({r["step"] for r in rows if r["name"] == "training_loss"}) == [5, 10, 15, 20]
    assert {r["name"] for r in rows if r["kind"] == "eval"} == {"val/prec@1", "val/loss"}
    png = tmp_path / "metrics.png"
    assert png.exists() and png.stat().st_size > 5000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Loss goes down on this separable toy problem.
    losses = [r["value"] for r in rows if r["name"] == "training_loss"]
    assert losses[-1] < losses[0]


def test_kill_and_resume_gives_identical_weights_and_curves(tmp_path, standins):
    # 12 batches per data epoch: the resume point (30) is in the third reshuffled epoch.
    cfg = base_config(total_steps=45, log_training_steps=5, ckpt_steps=10)
    ref = train(cfg, tmp_path / "ref", **standins).model.get_weights()
    with pytest.raises(SimulatedKill):  # dies at step 37, after the checkpoint of step 30
        train(cfg, tmp_path / "run", callbacks=[KillAt(37)], **standins)
    assert CheckpointManager(tmp_path / "run" / "checkpoints").steps() == [10, 20, 30]
    assert not (tmp_path / "run" / "summary.json").exists()
    resumed = train(cfg, tmp_path / "run", **standins)
    for a, b in zip(ref, resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)  # dropout RNG and data order restored exactly
    assert _curves(tmp_path / "ref") == _curves(tmp_path / "run")
    assert resumed.summary["final_step"] == 45
    # Starting a finished run again is a no-op that keeps the weights.
    again = train(cfg, tmp_path / "run", **standins)
    for a, b in zip(ref, again.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_changed_config_in_existing_workdir_is_an_error(tmp_path, standins):
    train(base_config(total_steps=10, ckpt_steps=10), tmp_path, **standins)
    with pytest.raises(WorkdirConfigError) as e:
        train(base_config(total_steps=10, ckpt_steps=10, lr=0.5), tmp_path, **standins)
    assert "lr: '<missing>' -> 0.5" in str(e.value) and "new --workdir" in str(e.value)


def test_failed_start_can_be_retried_with_a_fixed_config(tmp_path, standins):
    bad = base_config(evals={"val": {"type": "clasification"}})
    standins.pop("evaluators")
    with pytest.raises(ValueError, match="Unknown evaluator type 'clasification'"):
        train(bad, tmp_path, **standins)
    assert not (tmp_path / "config.json").exists()
    result = train(base_config(total_steps=5, ckpt_steps=5), tmp_path, **standins)
    assert result.summary["status"] == "completed"


def test_nan_loss_names_the_step_and_keeps_last_good_checkpoint(tmp_path, standins):
    standins.update(train_data=data_fn(8, nan_at_batch=12), model=model_fn(dropout=0.0))
    with pytest.raises(TrainingDivergedError) as e:
        train(base_config(total_steps=20, ckpt_steps=5), tmp_path, **standins)
    assert e.value.step == 13 and e.value.last_checkpoint_step == 10
    assert "at step 13" in str(e.value) and "step 10" in str(e.value)
    mgr = CheckpointManager(tmp_path / "checkpoints")
    assert mgr.steps() == [5, 10]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "diverged" and "step 13" in summary["error"]
    model = model_fn(dropout=0.0)()
    mgr.restore(model, weights_only=True)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_gradient_accumulation_matches_full_batch(tmp_path):
    """k micro-batches of B/k give the full-batch update for a per-example-mean loss."""
    sched = keras.optimizers.schedules.PiecewiseConstantDecay([3], [0.1, 0.02])

    def run(workdir, accum):
        cfg = base_config(total_steps=6, log_training_steps=3, ckpt_steps=6, grad_accum_steps=accum)
        result = train(
            cfg, workdir, model=model_fn(dropout=0.0), train_data=data_fn(8 // accum),
            optimizer=lambda n: keras.optimizers.SGD(sched), evaluators=[], verbose=False,
        )
        return result

    full, acc = run(tmp_path / "full", 1), run(tmp_path / "acc", 2)
    for a, b in zip(full.model.get_weights(), acc.model.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-6)
    lr_full = [r["value"] for r in read_metrics(tmp_path / "full") if r["name"] == "learning_rate"]
    lr_acc = [r["value"] for r in read_metrics(tmp_path / "acc") if r["name"] == "learning_rate"]
    assert lr_full == lr_acc  # the schedule is keyed by optimizer updates, not micro-batches


def test_checkpoint_manager_keeps_last_k_and_cleans_partial_saves(tmp_path):
    model = model_fn()()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.optimizer.build(model.trainable_variables)
    mgr = CheckpointManager(tmp_path, keep=2, keep_every_steps=20)
    for step in (10, 20, 30, 40):
        mgr.save(step, model, info={"note": step})
    assert mgr.steps() == [20, 30, 40]  # 10 pruned, 20 kept as a multiple of keep_every_steps
    (tmp_path / "ckpt-000000050.tmp123").mkdir()  # a save killed half-way
    mgr2 = CheckpointManager(tmp_path, keep=2)
    assert mgr2.latest_step() == 40
    mgr2.remove_partial_saves()
    assert not list(tmp_path.glob("*.tmp*"))
    assert mgr2.info()["note"] == 40
    fresh = model_fn()()
    mgr2.restore(fresh, step=30, weights_only=True)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_gradient_accumulation_with_big_vision_optimizer(tmp_path):
    """Same check through make_optimizer: warmup+cosine schedule, clipping, decoupled wd."""
    opt_cfg = dict(optax_name="scale_by_adam", lr=1e-2, wd=1e-3, grad_clip_norm=1.0,
                   schedule=dict(warmup_steps=2, decay_type="cosine"))

    def run(workdir, accum):
        cfg = base_config(total_steps=6, log_training_steps=2, ckpt_steps=6, grad_accum_steps=accum, **opt_cfg)
        return train(cfg, workdir, model=model_fn(dropout=0.0), train_data=data_fn(8 // accum),
                     evaluators=[], verbose=False)

    full, acc = run(tmp_path / "full", 1), run(tmp_path / "acc", 2)
    for a, b in zip(full.model.get_weights(), acc.model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    sched = [r["value"] for r in read_metrics(tmp_path / "acc") if r["name"] == "global_schedule"]
    np.testing.assert_allclose(sched, [1.0, 0.5, 0.0], atol=1e-6)  # cosine after 2 warmup steps, at 2, 4, 6


def test_config_trainer_wraps_the_model(tmp_path, standins):
    """config.trainer names a registered wrapper whose fit() the runner calls."""
    from keras_vision.trainers import register_trainer

    calls = []

    class CountingTrainer:
        def __init__(self, model):
            self.model = model

        def fit(self, x, **kwargs):
            calls.append(kwargs["steps_per_epoch"])
            return self.model.fit(x, **kwargs)

    register_trainer("counting")(lambda model, config: CountingTrainer(model))
    result = train(base_config(total_steps=10, trainer="counting"), tmp_path, **standins)
    assert calls == [5] and result.summary["final_step"] == 10
    with pytest.raises(ValueError, match=r"Unknown trainer 'nope'.*counting.*flexi"):
        train(base_config(trainer="nope"), tmp_path / "other", **standins)
