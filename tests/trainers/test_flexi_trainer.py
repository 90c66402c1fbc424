"""FlexiTrainer: a random patch size per step, shared weights, one compile per size."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.layers.flexi_patch_embedding import FlexiPatchEmbedding
from keras_vision.models import build_model
from keras_vision.models.flexivit import model_at_patch_size
from keras_vision.evaluators.predict_fns import predict_with_patch_size
from keras_vision.trainers.flexi_trainer import FlexiTrainer
from keras_vision.trainers.flexi_trainer import patch_size_for_step
from keras_vision.trainers.flexi_trainer import patch_sizes_from_seqhw


def _model(num_classes=3):
    return build_model(
        "proj.flexi.vit", variant="mu", patch_size=(4, 4), posemb_size=(3, 3), pool_type="gap",
        num_classes=num_classes, image_size=16, head_zeroinit=False,
    )


def _data(n=96, seed=0):
    """Class = the brightest colour channel: learnable at any patch size."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.normal(scale=0.5, size=(n, 16, 16, 3)).astype("float32")
    x[np.arange(n), :, :, y] += 1.0
    return x, np.eye(3, dtype="float32")[y]


def test_patch_size_sequence_is_deterministic_weighted_and_keyed_by_step():
    model = _model()
    a = FlexiTrainer(model, patch_sizes=[8, 4, 2], seed=0)
    seq = [a.patch_size_at(s) for s in range(3000)]
    assert seq == [patch_size_for_step(s, [8, 4, 2], seed=0) for s in range(3000)]
    assert seq != [patch_size_for_step(s, [8, 4, 2], seed=1) for s in range(3000)]
    # Keyed by step, not by call order: resuming at step 1234 gives the same sizes.
    assert [a.patch_size_at(s) for s in range(1234, 1240)] == seq[1234:1240]
    counts = {p: seq.count(p) / len(seq) for p in (8, 4, 2)}
    assert all(abs(f - 1 / 3) < 0.04 for f in counts.values()), counts
    wseq = [patch_size_for_step(s, [8, 4, 2], weights=[1, 0, 3]) for s in range(2000)]
    assert 4 not in wseq and 0.7 < wseq.count(2) / 2000 < 0.8
    # The trainer's models share every variable with the model passed in.
    ids = [id(v) for v in model.trainable_variables]
    assert all([id(v) for v in m.trainable_variables] == ids for m in a.models.values())
    assert a.models[4] is model  # the model's own size is not duplicated


def test_config_and_errors():
    model = _model()
    t = FlexiTrainer.from_config(model, {"seqhw": {"v": (2, 4, 8), "p": (1, 1, 2)}}, image_size=16, seed=3)
    assert t.patch_sizes == [8, 4, 2] and t.get_config() == {
        "patch_sizes": [8, 4, 2], "weights": [0.25, 0.25, 0.5], "seed": 3}
    assert patch_sizes_from_seqhw(240, (5, 8, 15, 30)) == [48, 30, 16, 8]
    with pytest.raises(ValueError, match=r"patch size \[8, 2\]\), got \[1.0, 2.0, 3.0\]"):
        FlexiTrainer(model, patch_sizes=[8, 2], weights=[1, 2, 3])
    with pytest.raises(ValueError, match="duplicates"):
        FlexiTrainer(model, patch_sizes=[8, 8])
    with pytest.raises(ValueError, match="seqhw"):
        FlexiTrainer.from_config(model, {"seqhw": {"v": (2,)}})
    with pytest.raises(TypeError, match="with_patch_size"):
        FlexiTrainer(keras.Sequential([keras.layers.Dense(2)]), patch_sizes=[8])


@pytest.mark.multibackend
def test_fit_shares_weights_compiles_each_size_once_and_learns(monkeypatch):
    traces = {}
    original = FlexiPatchEmbedding.call

    def counting_call(self, images, patch_size=None):
        # Runs only when a graph is traced (compiled functions replay without Python).
        traces[patch_size] = traces.get(patch_size, 0) + 1
        return original(self, images, patch_size)

    monkeypatch.setattr(FlexiPatchEmbedding, "call", counting_call)
    keras.utils.set_random_seed(0)
    model = _model()
    x, y = _data()
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, len(x), 16)]
    trainer = FlexiTrainer(model, patch_sizes=[8, 4], seed=0)
    trainer.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    seen_epochs, sizes = [], []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            sizes.append(float(logs["patch_size"]))  # the "patch_size" metric: this batch's

        def on_epoch_end(self, epoch, logs=None):
            seen_epochs.append((epoch, dict(logs)))

    kernel_before = ops.convert_to_numpy(model.backbone.get_layer("embedding").kernel).copy()
    trainer.fit(batches, epochs=1, steps_per_epoch=12, callbacks=[Record()])
    traces_after_first_epoch = dict(traces)
    trainer.fit(batches, epochs=2, initial_epoch=1, steps_per_epoch=12, callbacks=[Record()])

    # Both sizes trained, in the order drawn for optimizer steps 0..23.
    assert sizes == [trainer.patch_size_at(s) for s in range(24)] and set(sizes) == {8, 4}
    assert int(ops.convert_to_numpy(trainer.optimizer.iterations)) == 24
    # Each size was traced at its first use and never again.
    assert traces == traces_after_first_epoch and set(traces) == {(8, 8), (4, 4)}
    assert all(n <= 2 for n in traces.values()), traces
    # One set of weights moved (the stored 4x4 kernel is trained through both sizes).
    kernel_after = ops.convert_to_numpy(model.backbone.get_layer("embedding").kernel)
    assert kernel_after.shape == (4, 4, 3, 32) and np.abs(kernel_after - kernel_before).max() > 1e-3
    # Keras-style epoch logs; the loss went down.
    assert [e for e, _ in seen_epochs] == [0, 1]
    first, last = seen_epochs[0][1]["loss"], seen_epochs[1][1]["loss"]
    assert last < 0.7 * first, (first, last)
    results = trainer.evaluate(batches[:2])
    assert set(results) == {8, 4} and all(r["accuracy"] > 0.6 for r in results.values()), results


def test_predict_with_patch_size_for_evaluators():
    model = _model()
    x, _ = _data(4)
    batch = {"image": x, "labels": np.zeros((4, 3), "float32"), "_mask": np.ones(4, "float32")}
    coarse = model_at_patch_size(model, 8)
    assert model_at_patch_size(model, 8) is coarse and model_at_patch_size(model, 4) is model
    out = predict_with_patch_size(model, batch, patch_size=8)
    np.testing.assert_allclose(ops.convert_to_numpy(out), ops.convert_to_numpy(coarse(x)), atol=1e-5)
    from keras_vision.evaluators.predict_fns import get_predict_fn

    assert get_predict_fn("predict_patch_size") is predict_with_patch_size


def test_distillation_from_a_frozen_teacher_trains_the_student_only():
    from keras_vision.config import ConfigDict

    keras.utils.set_random_seed(0)
    student = _model()
    config = ConfigDict(
        seed=0, flexi=dict(seqhw=dict(v=(2, 4), p=(1, 1))), teachers=["prof"], prof_name="vit",
        prof=dict(variant="mu/8", pool_type="gap", num_classes=3, image_size=24, head_zeroinit=False),
        distance="kl", distance_kw=dict(t=2.0),
    )
    trainer = FlexiTrainer.from_recipe(student, config)
    assert trainer.patch_sizes == [8, 4] and not trainer.teacher.trainable
    trainer.compile(optimizer=keras.optimizers.Adam(3e-3), loss="softmax_xent")  # loss replaced by KL
    rng = np.random.default_rng(0)
    batches = [
        {"image": rng.normal(size=(8, 16, 16, 3)).astype("float32"),
         "prof": rng.normal(size=(8, 24, 24, 3)).astype("float32"),
         "labels": np.eye(3, dtype="float32")[rng.integers(0, 3, 8)]}
        for _ in range(2)
    ]
    teacher_before = [ops.convert_to_numpy(v).copy() for v in trainer.teacher.weights]
    student_before = [ops.convert_to_numpy(v).copy() for v in student.trainable_variables]
    history = trainer.fit(batches, epochs=2, steps_per_epoch=6)
    assert all(np.array_equal(a, ops.convert_to_numpy(b)) for a, b in zip(teacher_before, trainer.teacher.weights))
    assert any(np.abs(a - ops.convert_to_numpy(b)).max() > 1e-4
               for a, b in zip(student_before, student.trainable_variables))
    first, last = history.history["loss"]
    assert last < first, history.history
