"""`config.trainer = "distill"`: the recipe runner fits a `Distiller` around the recipe's model.

The recipe's model (`config.model_name` / `config.model`) is the student; the teachers
and the distance come from `config.distill` (or big_vision's layout: `config.teachers =
["prof_m"]`, `config.prof_m_name`, `config.prof_m`, `config.prof_m_init`,
`config.distance`, `config.distance_kw`):

    config.trainer = "distill"
    config.distill = dict(
        teachers=[dict(init="runs/vit_shapes")],   # a workdir, a .keras file, or
                                                   # dict(model_name=..., model=..., init=...)
        distance="kl", distance_kw=dict(t=1.0),
        teacher_input=None,                        # e.g. "prof" for a teacher-resolution key
    )

Checkpoints, evaluators and resume see the student (the recipe's model): the
distiller shares its variables and optimizer, and the run's callbacks are given the
student as their model.
"""

import pathlib
import weakref

import keras

from keras_vision.config import ConfigDict
from keras_vision.config import ConfigError
from keras_vision.trainers.distiller import Distiller


# student id -> the Distiller training it, so evaluators given only the student (the
# recipe callbacks' model) can reach its teachers.
_ACTIVE = weakref.WeakValueDictionary()


def distiller_of(student):
    """The `Distiller` a `DistillTrainer` is training `student` with, or None."""
    distiller = _ACTIVE.get(id(student))
    return distiller if distiller is not None and distiller.student is student else None


def load_teacher(spec):
    """A frozen teacher from a spec: a workdir / `.keras` path, or a dict with `init` and/or `model_name`.

    A dict may hold `recipe` ("recipes/x.py:arg") with `init` a workdir: the teacher is
    trained there first by that recipe unless the workdir already holds a finished run.
    A dict may hold `model_name` + `model` (registry kwargs) and optional `init` (any
    `config.model_init` the engine accepts: `.keras`, big_vision `.npz`, preset folder).
    """
    if isinstance(spec, keras.Model):
        teacher = spec
    else:
        if isinstance(spec, (str, pathlib.Path)):
            spec = {"init": str(spec)}
        spec = dict(spec)
        init = spec.get("init")
        from keras_vision.trainers.run_loader import is_run_dir
        from keras_vision.trainers.run_loader import load_run

        if spec.get("recipe"):  # train the teacher first when its workdir holds no run yet
            train_teacher(spec["recipe"], init)

        if init and is_run_dir(init):  # a training workdir
            teacher = load_run(init, spec.get("step"))[0]
        elif init or spec.get("model_name"):
            from keras_vision.trainers import builders

            teacher = builders.build_model(
                ConfigDict(model_name=spec.get("model_name"), model=dict(spec.get("model") or {}),
                           model_init=init, model_load=spec.get("model_load")))
        else:
            raise ConfigError(f"Teacher spec {spec!r} needs `init` (workdir, .keras, .npz, preset) or `model_name`.")
    teacher.trainable = False
    return teacher


def train_teacher(recipe, workdir):
    """Trains `recipe` in `workdir` unless a finished run (summary.json) is there; returns workdir."""
    if not workdir:
        raise ConfigError(f"Teacher recipe {recipe!r} needs `init`, the workdir to train it in.")
    if (pathlib.Path(workdir) / "summary.json").exists():
        import json

        with open(pathlib.Path(workdir) / "summary.json") as f:
            if json.load(f).get("status") == "completed":
                return workdir
    from keras_vision.config import load_recipe
    from keras_vision.trainers.recipe_trainer import train

    print(f"distill: training the teacher {recipe} in {workdir}")
    train(load_recipe(recipe), workdir)
    return workdir


class _StudentView(keras.callbacks.Callback):
    """Forwards a callback, giving it the student (not the distiller) as its model."""

    def __init__(self, inner, student, distiller):
        super().__init__()
        self.inner, self.student, self.distiller = inner, student, distiller

    def set_model(self, model):
        super().set_model(model)
        self.inner.set_model(self.student)

    def set_params(self, params):
        super().set_params(params)
        self.inner.set_params(params)

    def __getattribute__(self, name):
        if name.startswith("on_"):
            inner = object.__getattribute__(self, "inner")
            method = getattr(inner, name)
            distiller = object.__getattribute__(self, "distiller")
            student = object.__getattribute__(self, "student")

            def forward(*args, **kwargs):
                out = method(*args, **kwargs)
                if getattr(student, "stop_training", False):
                    distiller.stop_training = True
                return out

            return forward
        return object.__getattribute__(self, name)


class DistillTrainer:
    """Fits a `Distiller(model, teachers, ...)` with `model`'s optimizer, for the recipe runner.

    Args:
        model: the compiled student (its optimizer is built on its trainable variables).
        teachers: teacher models or specs (see `load_teacher`).
        distance, distance_kw, teacher_input: as in `Distiller`.
    """

    def __init__(self, model, teachers, distance="kl", distance_kw=None, teacher_input=None):
        if not isinstance(teachers, (list, tuple)):
            teachers = [teachers]
        self.model = model
        self.distiller = Distiller(model, [load_teacher(t) for t in teachers], distance=distance,
                                   distance_kw=distance_kw, teacher_input=teacher_input)
        self._compiled = False
        _ACTIVE[id(model)] = self.distiller

    @classmethod
    def from_recipe(cls, model, config):
        cfg = dict(config.get("distill") or {})
        if not cfg and config.get("teachers"):  # big_vision's layout: teachers=["prof"], prof_name, prof, ...
            cfg = dict(teachers=[dict(model_name=config.get(f"{n}_name"), model=dict(config.get(n) or {}),
                                      init=config.get(f"{n}_init"), model_load=config.get(f"{n}_load"))
                                 for n in config.teachers],
                       distance=config.get("distance", "kl"), distance_kw=dict(config.get("distance_kw") or {}))
        if not cfg.get("teachers"):
            raise ConfigError("config.trainer = 'distill' needs config.distill.teachers (a list of teacher "
                              "specs) or big_vision's config.teachers = [name] with config.<name>_name.")
        known = {"teachers", "distance", "distance_kw", "teacher_input"}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ConfigError(f"Unknown config.distill key(s) {unknown}; expected {sorted(known)}.")
        return cls(model, **cfg)

    def fit(self, x, epochs=1, steps_per_epoch=None, callbacks=None, verbose=0, **kwargs):
        """`keras.Model.fit` of the distiller; callbacks see the student."""
        if not self._compiled:
            # Same optimizer object: its slots map to the student's trainable variables,
            # which are the distiller's trainable variables, in the same order.
            self.distiller.compile(optimizer=self.model.optimizer)
            self._compiled = True
        from keras_vision.trainers.recipe_trainer import _prebuild

        _prebuild(self.distiller, x)
        cbs = [_StudentView(cb, self.model, self.distiller) for cb in (callbacks or [])]
        self.model.stop_training = False
        history = self.distiller.fit(x, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=cbs,
                                     verbose=verbose, **kwargs)
        if self.distiller.stop_training:
            self.model.stop_training = True
        return history
