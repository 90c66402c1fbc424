"""Student-teacher distances on eval data (big_vision `proj.distill.distance`)."""

import numpy as np

from keras_vision.evaluators import common
from keras_vision.evaluators.evaluator import Evaluator
from keras_vision.evaluators.registry import register
from keras_vision.loading import load_model
from keras_vision.losses import DISTANCE_KINDS
from keras_vision.losses import dist


def _load_teacher(spec):
    teacher = load_model(spec)
    teacher.trainable = False
    return teacher


@register("proj.distill.distance", "distill_distance")
class DistillDistanceEvaluator(Evaluator):
    """Mean student-teacher distances (kl, euclidean, ...) and top-k agreement on eval data.

    The student is the evaluated model; the teachers are those of a `Distiller` when
    the model is one, else the `teachers` given here (loaded once, frozen), else those
    of the training wrapper the recipe runner binds (`bind_trainer`: the `Distiller` of
    `config.trainer = "distill"`, a `FlexiTrainer` with a teacher). With labels
    in the batch it also reports `student_prec@1`, `teacher_prec@1` and their `gap`
    (teacher minus student), the numbers the distillation paper tracks.

    Args:
        data: data config for `keras_vision.data.get_source` (or a tf.data of examples).
        pp_fn: eval pp string producing "image" (and optionally `label_key`).
        teachers: None (the bound trainer's teachers) or teacher specs for
            `keras_vision.loading.load_model` (workdir, `.keras`, dict with
            model_name/model/init) or models; one or a list.
        what: distances to report: kinds of `keras_vision.losses.dist` and "agree"
            (reported as `agree@k` for each k of `ks`).
        ks: top-k values of the student for "agree".
        distance_kw: extra `dist` arguments (e.g. `{"t": 2.0}` for "kl").
        batch_size: eval batch size.
        label_key: key of the labels (one-hot or integer); absent keys are skipped.
        cache, num_examples: see `EvalData`.

    Example:
    >>> ev = DistillDistanceEvaluator(dict(name="shapes", split="val"),
    ...     "value_range(-1, 1)|keep('image')", teachers="runs/vit_shapes")
    >>> dict(ev.run(student))  # {"kl": ..., "euclidean": ..., "agree@1": ..., ...}
    """

    def __init__(self, data, pp_fn=None, teachers=None, what=("kl", "euclidean", "agree"), ks=(1, 5),
                 distance_kw=None, batch_size=32, label_key="labels", cache="pipeline", num_examples=None):
        what = (what,) if isinstance(what, str) else tuple(what)
        unknown = [w for w in what if w not in DISTANCE_KINDS]
        if unknown:
            raise ValueError(f"Unknown distance(s) {unknown} in `what`; expected some of {list(DISTANCE_KINDS)}.")
        self.data = common.EvalData(data, pp_fn, batch_size, cache=cache, num_examples=num_examples)
        self.teacher_specs = teachers
        self._teachers = None
        self._trainer_teachers = None
        self.what, self.ks = what, tuple(int(k) for k in ks)
        self.distance_kw = dict(distance_kw or {})
        self.label_key = label_key

    def bind_trainer(self, trainer):
        """Called by the recipe runner with the training wrapper it fits (e.g. a `Distiller`).

        Without `teachers` given here, the evaluator then measures the distance to that
        wrapper's `teachers`.
        """
        teachers = list(getattr(trainer, "teachers", None) or [])
        self._trainer_teachers = teachers or None

    def _get_teachers(self, model):
        if hasattr(model, "teachers") and hasattr(model, "student"):
            return model.student, list(model.teachers)
        if self.teacher_specs is None:
            if self._trainer_teachers is None:
                raise ValueError("distill_distance needs `teachers` unless the evaluated model is a Distiller "
                                 "or a `config.trainer = 'distill'` recipe runs it (the runner binds the "
                                 "distiller's teachers).")
            return model, self._trainer_teachers
        if self._teachers is None:
            specs = self.teacher_specs if isinstance(self.teacher_specs, (list, tuple)) else [self.teacher_specs]
            self._teachers = [_load_teacher(s) for s in specs]
        return model, self._teachers

    def run(self, model):
        student, teachers = self._get_teachers(model)
        suffixes = [""] if len(teachers) == 1 else [f"_t{i}" for i in range(len(teachers))]
        sums, n, n_labelled = {}, 0.0, 0.0

        def add(name, values, mask):
            sums[name] = sums.get(name, 0.0) + float((np.asarray(values, np.float64) * mask).sum())

        for batch in self.data:
            mask = np.asarray(batch[common.MASK_KEY], np.float32)
            x = common.model_inputs(batch, exclude=(self.label_key,))
            s_logits = common.to_numpy(common.logits_of(common.predict(student, x))).astype(np.float32)
            labels = batch.get(self.label_key)
            if labels is not None:
                labels = np.asarray(labels)
                if labels.ndim == 1:
                    labels = np.eye(s_logits.shape[-1], dtype=np.float32)[labels]
                lmask = mask * (labels.max(axis=1) > 0)
                n_labelled += float(lmask.sum())
                add("student_prec@1", np.take_along_axis(labels, s_logits.argmax(1)[:, None], 1)[:, 0] > 0, lmask)
            for suffix, teacher in zip(suffixes, teachers):
                t_logits = common.to_numpy(common.logits_of(common.predict(teacher, x))).astype(np.float32)
                for kind in self.what:
                    if kind == "agree":
                        for k in self.ks:
                            k = min(k, s_logits.shape[-1])
                            add(f"agree@{k}{suffix}", common.to_numpy(dist(s_logits, t_logits, "agree", k=k)), mask)
                    else:
                        add(f"{kind}{suffix}", common.to_numpy(dist(s_logits, t_logits, kind, **self.distance_kw)),
                            mask)
                if labels is not None:
                    add(f"teacher_prec@1{suffix}",
                        np.take_along_axis(labels, t_logits.argmax(1)[:, None], 1)[:, 0] > 0, lmask)
            n += float(mask.sum())
        if n == 0:
            raise ValueError("The distill_distance eval data produced no example.")
        for name, total in sums.items():
            if "prec@1" not in name:
                yield name, total / n
        if n_labelled:
            student_acc = sums["student_prec@1"] / n_labelled
            yield "student_prec@1", student_acc
            for suffix in suffixes:
                teacher_acc = sums[f"teacher_prec@1{suffix}"] / n_labelled
                yield f"teacher_prec@1{suffix}", teacher_acc
                yield f"gap{suffix}", teacher_acc - student_acc
