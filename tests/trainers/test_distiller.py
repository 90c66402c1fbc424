"""Distiller: loss, frozen teachers, same-batch consistency, learning, save/load."""

import numpy as np
import pytest

import keras

from keras_vision.trainers import Distiller

NUM_CLASSES = 5
IMAGE = 16


def tiny_vit(seed, width=32, depth=1):
    from keras_vision.models import build_model

    keras.utils.set_random_seed(seed)
    return build_model("vit", variant="mu/8", num_classes=NUM_CLASSES, pool_type="gap", posemb="learn",
                       image_size=IMAGE, width=width, depth=depth, mlp_dim=64, num_heads=2,
                       head_zeroinit=False)


def images(n=8, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (n, IMAGE, IMAGE, 3)).astype("float32")


class RecordingTeacher(keras.Model):
    """A stub teacher returning fixed logits and recording the inputs it was called on."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(NUM_CLASSES)
        self.seen = []

    def call(self, x, training=False):
        self.seen.append((x, training))
        return self.dense(keras.ops.mean(x, axis=(1, 2)))


@pytest.mark.multibackend
def test_loss_is_zero_when_student_equals_teacher():
    teacher = tiny_vit(1)
    student = tiny_vit(2)
    student.set_weights(teacher.get_weights())
    distiller = Distiller(student, teacher, distance="kl")
    x = images()
    loss = distiller.compute_loss(x, None, distiller(x))
    assert abs(float(keras.ops.convert_to_numpy(loss))) < 1e-5
    other = Distiller(tiny_vit(3), teacher, distance="kl")
    assert float(keras.ops.convert_to_numpy(other.compute_loss(x, None, other(x)))) > 1e-4


@pytest.mark.multibackend
def test_loss_sums_over_teachers():
    t1, t2, student = tiny_vit(1), tiny_vit(2), tiny_vit(3)
    x = images()
    one = Distiller(student, t1, distance="euclidean")
    two = Distiller(student, [t1, t2], distance="euclidean")
    l1 = float(keras.ops.convert_to_numpy(one.compute_loss(x, None, one(x))))
    l2 = float(keras.ops.convert_to_numpy(Distiller(student, t2, distance="euclidean").compute_loss(x, None, one(x))))
    l12 = float(keras.ops.convert_to_numpy(two.compute_loss(x, None, two(x))))
    np.testing.assert_allclose(l12, l1 + l2, rtol=1e-5)


@pytest.mark.multibackend
def test_teacher_frozen_and_student_learns_to_agree():
    teacher = tiny_vit(1)
    student = tiny_vit(2, width=32, depth=1)
    # A teacher with confident, diverse predictions: scale its head.
    head = teacher.head
    w = [v * 20.0 if i == 0 else v for i, v in enumerate(head.get_weights())]
    head.set_weights(w)
    teacher_before = [np.array(v) for v in teacher.get_weights()]
    student_before = [np.array(v) for v in student.get_weights()]
    x = images(64, seed=1)

    def agreement():
        s = np.argmax(keras.ops.convert_to_numpy(student(x)), -1)
        t = np.argmax(keras.ops.convert_to_numpy(teacher(x)), -1)
        return float((s == t).mean())

    distiller = Distiller(student, teacher, distance="kl")
    assert len(distiller.trainable_variables) == len(student.trainable_variables)
    distiller.compile(optimizer=keras.optimizers.Adam(3e-3))
    loss0 = float(keras.ops.convert_to_numpy(distiller.compute_loss(x, None, distiller(x))))
    agree0 = agreement()
    history = distiller.fit(x, batch_size=8, epochs=6, verbose=0, shuffle=False)
    loss1 = float(keras.ops.convert_to_numpy(distiller.compute_loss(x, None, distiller(x))))
    assert "loss" in history.history
    for a, b in zip(teacher_before, teacher.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(student_before, student.get_weights()))
    assert loss1 < 0.5 * loss0, (loss0, loss1)
    assert agreement() > max(agree0, 0.7), (agree0, agreement())


def test_teacher_sees_same_mixed_batch_in_inference_mode():
    import tensorflow as tf

    from keras_vision.data.mixup import mixup

    student = tiny_vit(2)
    teacher = RecordingTeacher()
    teacher(images(2))
    teacher.seen.clear()
    seen_by_student = []

    class Spy(keras.Model):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, x, training=False):
            seen_by_student.append(x)
            return self.inner(x, training=training)

    spy = Spy(student)
    spy(images(2))
    seen_by_student.clear()
    x = images(8, seed=3)
    labels = np.eye(NUM_CLASSES, dtype="float32")[np.arange(8) % NUM_CLASSES]
    batch, _ = mixup({"image": tf.constant(x), "labels": tf.constant(labels)}, p=1.0,
                     seed=tf.constant([1, 2], tf.int64))
    mixed = np.asarray(batch["image"])
    assert not np.allclose(mixed, x)  # the batch really is mixed
    distiller = Distiller(spy, teacher, distance="kl")
    distiller.compile(optimizer="adam", run_eagerly=True)
    distiller.train_on_batch(mixed, np.asarray(batch["labels"]))
    assert teacher.seen and seen_by_student
    t_in, t_training = teacher.seen[-1]
    assert t_training is False
    np.testing.assert_allclose(keras.ops.convert_to_numpy(t_in), keras.ops.convert_to_numpy(seen_by_student[-1]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(t_in), mixed, atol=1e-6)


def test_teacher_input_key_for_dict_batches():
    student, teacher = tiny_vit(2), RecordingTeacher()
    teacher(images(2))
    teacher.seen.clear()
    distiller = Distiller(student, teacher, teacher_input="prof")
    x = {"image": images(4, seed=1), "prof": images(4, seed=2)}
    distiller.compute_loss(x, None, distiller(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(teacher.seen[-1][0]), x["prof"])


def test_bad_distance_names_the_known_ones():
    with pytest.raises(ValueError, match="kl"):
        Distiller(tiny_vit(1), tiny_vit(2), distance="cosine")
    with pytest.raises(ValueError, match="agree"):
        Distiller(tiny_vit(1), tiny_vit(2), distance="agree")


@pytest.mark.multibackend
def test_config_round_trip_and_save_load(tmp_path):
    teacher, student = tiny_vit(1), tiny_vit(2)
    distiller = Distiller(student, [teacher], distance="kl", distance_kw={"t": 2.0}, name="dist")
    x = images(4)
    ref = keras.ops.convert_to_numpy(distiller(x))

    config = distiller.get_config()
    again = Distiller.from_config(config)
    assert again.distance == "kl" and again.distance_kw == {"t": 2.0} and len(again.teachers) == 1
    assert again.get_config()["distance_kw"] == {"t": 2.0}

    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Distiller)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), ref, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.teacher(x)),
                               keras.ops.convert_to_numpy(teacher(x)), atol=1e-5)

    # The student alone is what gets exported.
    spath = str(tmp_path / "student.keras")
    distiller.student.save(spath)
    student2 = keras.saving.load_model(spath)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(student2(x)), ref, atol=1e-5)


def test_fit_uncompiled_uses_the_students_optimizer_and_passes_a_stop_on():
    teacher, student = tiny_vit(1), tiny_vit(2)
    optimizer = keras.optimizers.Adam(1e-3)
    student.compile(optimizer=optimizer)
    distiller = Distiller(student, teacher)
    seen = []

    class StopAfterTwo(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(self.model)
            if batch == 1:
                self.model.stop_training = True

    distiller.fit(images(16), batch_size=4, epochs=3, verbose=0, callbacks=[StopAfterTwo()])
    assert distiller.optimizer is optimizer and int(keras.ops.convert_to_numpy(optimizer.iterations)) == 2
    assert seen[0] is distiller and student.stop_training  # the recipe runner checks the student
    with pytest.raises(RuntimeError, match="compile"):
        Distiller(RecordingTeacher(), teacher).fit(images(4), verbose=0)  # nothing compiled
