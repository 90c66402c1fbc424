"""`Distiller`: a student trained to match frozen teachers ("patient and consistent" distillation)."""

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.losses import DISTANCE_KINDS
from keras_vision.losses import dist
from keras_vision.trainers.prebuild import prebuild

TRAINABLE_DISTANCES = tuple(k for k in DISTANCE_KINDS if k != "agree")


def _as_list(teachers):
    if isinstance(teachers, (list, tuple)):
        return list(teachers)
    return [teachers]


def check_distance(distance):
    """Raises unless `distance` is a differentiable kind of `keras_vision.losses.dist`."""
    if distance not in TRAINABLE_DISTANCES:
        raise ValueError(
            f"Unknown or non-differentiable distance {distance!r}; expected one of {list(TRAINABLE_DISTANCES)}."
        )


def teacher_view(x, teacher_input):
    """What the teachers read of the inputs `x`: `x[teacher_input]` (else "image") of a dict, else `x`."""
    if isinstance(x, dict):
        return x[teacher_input if teacher_input in x else "image"]
    return x


def distillation_loss(student_logits, teacher_logits, distance, distance_kw=None, sample_weight=None):
    """big_vision's distillation loss: the batch mean of the summed per-teacher distances.

    Args:
        student_logits: (B, C) student outputs.
        teacher_logits: list of (B, C) teacher outputs (gradients already stopped).
        distance: a kind of `keras_vision.losses.dist` ("kl", "euclidean", ...).
        distance_kw: extra `dist` arguments (e.g. `{"t": 2.0}`).
        sample_weight: optional (B,) weights: a weighted mean instead of the mean.

    Returns:
        The scalar loss.
    """
    kw = dict(distance_kw or {})
    per_example = None
    for logits in teacher_logits:
        d = dist(student_logits, logits, distance, **kw)
        per_example = d if per_example is None else per_example + d
    if sample_weight is not None:
        w = keras.ops.cast(sample_weight, per_example.dtype)
        return keras.ops.sum(per_example * w) / keras.ops.maximum(keras.ops.sum(w), 1e-12)
    return keras.ops.mean(per_example)


def fit_wrapper(wrapper, fit, x, **kwargs):
    """Runs a training wrapper's `keras.Model.fit` (`fit`, the bound super method) on `x`.

    The compiled loss and metrics are built from a `tf.data` input's element spec
    (Keras would otherwise read one batch and restart the dataset, which changes a
    reshuffling pipeline's order and breaks exact resume), and a stop requested by a
    callback (`wrapper.stop_training`) is passed on to `wrapper.student`.
    """
    if hasattr(x, "element_spec"):
        prebuild(wrapper, x)
    wrapper.student.stop_training = False
    history = fit(x, **kwargs)
    if wrapper.stop_training:
        wrapper.student.stop_training = True
    return history


@keras_vision_export("keras_vision.trainers.Distiller")
class Distiller(keras.Model):
    """Trains a student to match one or more frozen teachers on the same batch.

    The loss is big_vision's distill trainer loss (`distillation_loss`): the batch mean
    of the sum over teachers of `keras_vision.losses.dist(student_logits,
    teacher_logits, distance, **distance_kw)`. Teachers run with `training=False` on
    exactly the batch the student sees, so with a mixup pipeline
    (`make_pipeline(..., mixup=...)`) both see the same mixed images ("consistency");
    labels are ignored. Only the student's variables are trainable (in the student's
    order, so an optimizer built on the student trains the distiller);
    `distiller.student` is the model to save and export.

    `fit` without a `compile` first uses the student's optimizer (as the recipe runner
    does with `config.trainer = "distill"`).

    Args:
        student: the Keras model being trained (outputs logits).
        teachers: a Keras model or a list of them (outputs logits of the same shape);
            they are frozen (`trainable = False`).
        distance: a kind of `keras_vision.losses.dist` ("kl", "euclidean", "l2",
            "hard", "logsoftmax_euclidean"; "agree" is not differentiable).
        distance_kw: extra arguments of `dist`, e.g. `{"t": 2.0}` (temperature).
        teacher_input: with dict inputs, the key the teachers read (e.g. big_vision's
            "prof", the teacher's own resolution of the same crop); the student reads
            "image". None: teachers read the student's input.
        **kwargs: `keras.Model` arguments (name, ...).

    Example:
    >>> distiller = Distiller(student, teacher, distance="kl", distance_kw={"t": 1.0})
    >>> distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> distiller.fit(mixed_images_dataset, epochs=100)
    >>> distiller.student.save("student.keras")

    Paper: "Knowledge distillation: A good teacher is patient and consistent"
    (Beyer et al., 2022, arXiv:2106.05237).
    """

    def __init__(self, student, teachers, distance="kl", distance_kw=None, teacher_input=None, **kwargs):
        super().__init__(**kwargs)
        check_distance(distance)
        teachers = _as_list(teachers)
        if not teachers:
            raise ValueError("Distiller needs at least one teacher; got an empty list.")
        self.student = student
        for teacher in teachers:
            teacher.trainable = False
        self.teachers = teachers
        self.distance = distance
        self.distance_kw = dict(distance_kw or {})
        self.teacher_input = teacher_input
        if student.built and all(t.built for t in teachers):
            self.built = True

    @property
    def teacher(self):
        """The first (or only) teacher."""
        return self.teachers[0]

    def _student_input(self, x):
        return x["image"] if isinstance(x, dict) else x

    def call(self, x, training=False):
        return self.student(self._student_input(x), training=training)

    def teacher_logits(self, x):
        """Per-teacher logits on `x` (inference mode, no gradient)."""
        tx = teacher_view(x, self.teacher_input)
        return [keras.ops.stop_gradient(t(tx, training=False)) for t in self.teachers]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y_pred is None:
            y_pred = self(x, training=training)
        return distillation_loss(y_pred, self.teacher_logits(x), self.distance, self.distance_kw, sample_weight)

    def fit(self, x=None, y=None, **kwargs):
        """`keras.Model.fit`; uncompiled, it compiles with the student's optimizer first."""
        if not self.compiled:
            if getattr(self.student, "optimizer", None) is None:
                raise RuntimeError("Distiller.fit: compile the distiller (or the student) first.")
            # The same optimizer object: its slots belong to the student's trainable
            # variables, which are the distiller's, in the same order.
            self.compile(optimizer=self.student.optimizer)
        return fit_wrapper(self, super().fit, x, y=y, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(
            student=keras.saving.serialize_keras_object(self.student),
            teachers=[keras.saving.serialize_keras_object(t) for t in self.teachers],
            distance=self.distance,
            distance_kw=dict(self.distance_kw),
            teacher_input=self.teacher_input,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["student"] = keras.saving.deserialize_keras_object(config["student"])
        config["teachers"] = [keras.saving.deserialize_keras_object(t) for t in config["teachers"]]
        return cls(**config)
