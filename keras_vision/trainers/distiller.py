"""`Distiller`: a student trained to match frozen teachers ("patient and consistent" distillation)."""

import keras

from keras_vision.api_export import keras_vision_export


def _as_list(teachers):
    if isinstance(teachers, (list, tuple)):
        return list(teachers)
    return [teachers]


@keras_vision_export("keras_vision.trainers.Distiller")
class Distiller(keras.Model):
    """Trains a student to match one or more frozen teachers on the same batch.

    The loss is big_vision's distill trainer loss: the batch mean of the sum over
    teachers of `keras_vision.losses.dist(student_logits, teacher_logits, distance,
    **distance_kw)`. Teachers run with `training=False` on exactly the batch the
    student sees, so with a mixup pipeline (`make_pipeline(..., mixup=...)`) both see
    the same mixed images ("consistency"); labels are ignored. Only the student's
    variables are trainable; `distiller.student` is the model to save and export.

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
        from keras_vision.losses.distillation import DISTANCE_KINDS

        if distance not in DISTANCE_KINDS or distance == "agree":
            known = [k for k in DISTANCE_KINDS if k != "agree"]
            raise ValueError(f"Unknown or non-differentiable distance {distance!r}; expected one of {known}.")
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

    def _teacher_input(self, x):
        if isinstance(x, dict):
            key = self.teacher_input if self.teacher_input in x else "image"
            return x[key]
        return x

    def call(self, x, training=False):
        return self.student(self._student_input(x), training=training)

    def teacher_logits(self, x):
        """Per-teacher logits on `x` (inference mode, no gradient)."""
        tx = self._teacher_input(x)
        return [keras.ops.stop_gradient(t(tx, training=False)) for t in self.teachers]

    def distances(self, y_pred, x, kind=None, **kw):
        """Per-example distance of the student logits `y_pred` to each teacher, summed over teachers."""
        from keras_vision.losses import dist

        kind = kind or self.distance
        kw = kw or self.distance_kw
        total = None
        for logits in self.teacher_logits(x):
            d = dist(y_pred, logits, kind, **kw)
            total = d if total is None else total + d
        return total

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y_pred is None:
            y_pred = self(x, training=training)
        per_example = self.distances(y_pred, x)
        if sample_weight is not None:
            w = keras.ops.cast(sample_weight, per_example.dtype)
            return keras.ops.sum(per_example * w) / keras.ops.maximum(keras.ops.sum(w), 1e-12)
        return keras.ops.mean(per_example)

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
