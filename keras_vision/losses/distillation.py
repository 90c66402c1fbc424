"""Student-teacher distances for knowledge distillation (big_vision's `distance.dist`).

big_vision's distill trainer minimises the batch mean of the sum over teachers of
`dist(student_logits, teacher_logits, config.distance, **config.distance_kw)`
(default kind "kl" with t=1, "Knowledge distillation: A good teacher is patient
and consistent", Beyer et al., 2022). The same function is the distance
evaluator's metric. Pure `keras.ops`, every backend.
"""

from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.losses.classification import softmax_xent
from keras_vision.losses.registry import register_loss

DISTANCE_KINDS = ("euclidean", "l2", "hard", "kl", "logsoftmax_euclidean", "agree")


def _top_k_indices(x, k, axis):
    x = ops.moveaxis(x, axis, -1)
    _, indices = ops.top_k(x, k)
    return ops.moveaxis(indices, -1, axis)


@keras_vision_export("keras_vision.losses.dist")
@register_loss("dist", "distillation")
def dist(student, teacher, kind, feat_axis=-1, epsilon=1e-12, t=1, ls=0.0, k=1):
    """Per-example distance between student and teacher outputs.

    Kinds:
    - "euclidean": `sqrt(sum(d^2) + epsilon)`, d = student - teacher.
    - "l2": `sum(d^2)` (squared euclidean).
    - "hard": KL to the teacher's argmax one-hot (label-smoothed by `ls`:
      `1 - ls` on the argmax, `ls / (C - 1)` elsewhere).
    - "kl": `t^2 * KL(softmax(teacher / t) || softmax(student / t))`.
    - "logsoftmax_euclidean": euclidean distance of the log-softmaxes.
    - "agree": 1 where the student's top-`k` classes contain the teacher's top-1
      (int32), else 0; a metric, not differentiable.

    Args:
        student: (..., C) student logits (or features for euclidean/l2).
        teacher: (..., C) teacher logits, same shape.
        kind: one of DISTANCE_KINDS.
        feat_axis: the class/feature axis that is reduced.
        epsilon: added under the square roots.
        t: softmax temperature for "kl".
        ls: label smoothing for "hard".
        k: top-k of the student for "agree".

    Returns:
        Per-example distances, `student.shape` without `feat_axis`.

    Example:
    >>> loss = keras.ops.mean(dist(student_logits, teacher_logits, "kl", t=2.0))
    """
    student = ops.convert_to_tensor(student)
    teacher = ops.cast(ops.convert_to_tensor(teacher), student.dtype)
    diff = student - teacher
    if kind == "euclidean":
        return ops.sqrt(ops.sum(diff * diff, axis=feat_axis) + epsilon)
    if kind == "l2":
        return ops.sum(diff * diff, axis=feat_axis)
    if kind == "hard":
        num_classes = teacher.shape[feat_axis]
        pseudolabels = ops.one_hot(
            ops.argmax(teacher, axis=feat_axis), num_classes, axis=feat_axis, dtype=student.dtype
        )
        if ls:
            pseudolabels = (1.0 - ls) * pseudolabels + (ls / (num_classes - 1)) * (
                1.0 - pseudolabels
            )
        return softmax_xent(student, pseudolabels, reduction=False, kl=True, axis=feat_axis)
    if kind == "kl":
        return t**2 * softmax_xent(
            student / t,
            ops.softmax(teacher / t, axis=feat_axis),
            reduction=False,
            kl=True,
            axis=feat_axis,
        )
    if kind == "logsoftmax_euclidean":
        d = ops.log_softmax(student, axis=feat_axis) - ops.log_softmax(teacher, axis=feat_axis)
        return ops.sqrt(ops.sum(d * d, axis=feat_axis) + epsilon)
    if kind == "agree":
        hits = ops.equal(
            _top_k_indices(student, k, feat_axis), _top_k_indices(teacher, 1, feat_axis)
        )
        return ops.sum(ops.cast(hits, "int32"), axis=feat_axis)
    raise ValueError(f"Unknown kind of distance {kind!r}; expected one of {list(DISTANCE_KINDS)}.")
