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

The distiller shares the student's variables and optimizer; the runner checkpoints and
evaluates the student (the recipe's model) and hands the distiller to evaluators that
ask for the training wrapper (`bind_trainer`, e.g. `proj.distill.distance` reads its
teachers from it).
"""

import json
import pathlib

import keras

from keras_vision.config import ConfigError
from keras_vision.config import load_recipe
from keras_vision.loading import load_model
from keras_vision.trainers.distiller import Distiller
from keras_vision.trainers.recipe_trainer import train

DISTILL_KEYS = ("teachers", "distance", "distance_kw", "teacher_input")


def load_teacher(spec):
    """A frozen teacher from a spec: a model, a workdir / `.keras` path, or a dict with `init` and/or `model_name`.

    A dict may hold `recipe` ("recipes/x.py:arg") with `init` a workdir: the teacher is
    trained there first by that recipe unless the workdir already holds a finished run.
    A dict may hold `model_name` + `model` (registry kwargs) and optional `init` (any
    `keras_vision.loading.load_model` spec: `.keras`, big_vision `.npz`, preset folder,
    workdir) and `model_load` (loader options); without `model_name`, `init` (and
    `step`, for a workdir) is loaded as it is.
    """
    if isinstance(spec, keras.Model):
        teacher = spec
    else:
        if isinstance(spec, (str, pathlib.Path)):
            spec = {"init": str(spec)}
        spec = dict(spec)
        init = spec.get("init")
        if spec.get("recipe"):  # train the teacher first when its workdir holds no run yet
            train_teacher(spec["recipe"], init)
        if spec.get("model_name"):
            teacher = load_model(dict(model_name=spec["model_name"], model=dict(spec.get("model") or {}),
                                      init=init, load=spec.get("model_load")))
        elif init:
            teacher = load_model(init, step=spec.get("step"))
        else:
            raise ConfigError(f"Teacher spec {spec!r} needs `init` (workdir, .keras, .npz, preset) or `model_name`.")
    teacher.trainable = False
    return teacher


def train_teacher(recipe, workdir):
    """Trains `recipe` in `workdir` unless a finished run (summary.json) is there; returns workdir."""
    if not workdir:
        raise ConfigError(f"Teacher recipe {recipe!r} needs `init`, the workdir to train it in.")
    summary = pathlib.Path(workdir) / "summary.json"
    if summary.exists():
        with open(summary) as f:
            if json.load(f).get("status") == "completed":
                return workdir
    print(f"distill: training the teacher {recipe} in {workdir}")
    train(load_recipe(recipe), workdir)
    return workdir


def big_vision_teacher_specs(config):
    """{name: teacher spec} of big_vision's layout: `config.teachers = [name]`, `config.<name>_name`, ..."""
    specs = {}
    for name in config.get("teachers") or []:
        if not config.get(f"{name}_name") and not config.get(f"{name}_init"):
            raise ConfigError(f"config.teachers names {name!r} but neither config.{name}_name (its model name) "
                              f"nor config.{name}_init is set.")
        specs[name] = dict(model_name=config.get(f"{name}_name"), model=dict(config.get(name) or {}),
                           init=config.get(f"{name}_init"), model_load=config.get(f"{name}_load"))
    return specs


def distiller_from_recipe(model, config):
    """The `Distiller` that `config.trainer = "distill"` fits, compiled with `model`'s optimizer.

    Args:
        model: the compiled student (its optimizer is built on its trainable variables).
        config: the recipe config (`config.distill`, or big_vision's `config.teachers`).
    """
    cfg = dict(config.get("distill") or {})
    if not cfg and config.get("teachers"):  # big_vision's layout: teachers=["prof"], prof_name, prof, ...
        cfg = dict(teachers=list(big_vision_teacher_specs(config).values()),
                   distance=config.get("distance", "kl"), distance_kw=dict(config.get("distance_kw") or {}))
    if not cfg.get("teachers"):
        raise ConfigError("config.trainer = 'distill' needs config.distill.teachers (a list of teacher "
                          "specs) or big_vision's config.teachers = [name] with config.<name>_name.")
    unknown = sorted(set(cfg) - set(DISTILL_KEYS))
    if unknown:
        raise ConfigError(f"Unknown config.distill key(s) {unknown}; expected {sorted(DISTILL_KEYS)}.")
    teachers = cfg.pop("teachers")
    teachers = [load_teacher(t) for t in (teachers if isinstance(teachers, (list, tuple)) else [teachers])]
    distiller = Distiller(model, teachers, **cfg)
    # The same optimizer object: its slots belong to the student's trainable variables,
    # which are the distiller's, in the same order.
    distiller.compile(optimizer=model.optimizer)
    return distiller
