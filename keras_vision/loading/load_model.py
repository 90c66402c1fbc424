"""`load_model(spec)`: a model from any spec; `model_from_config(config)` and `load_run(workdir)` on top of it.

Every caller that turns a path or name into a model (train's `model_init`, eval,
export, distillation teachers, two-tower tower inits, presets) goes through here, so a
spec means the same thing everywhere (`spec_kind` decides) and an unreadable one gets
one error.
"""

import json
import os
import pathlib

import keras
import keras_hub

from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigDict
from keras_vision.config import ConfigError
from keras_vision.convert import load_big_vision
from keras_vision.distribution import apply_remat
from keras_vision.distribution import model_build_scope
from keras_vision.loading.checkpoint_manager import CheckpointManager
from keras_vision.loading.model_spec import CHECKPOINTS_DIR
from keras_vision.loading.model_spec import CONFIG_NAME
from keras_vision.loading.model_spec import ModelSpecError
from keras_vision.loading.model_spec import is_run_dir
from keras_vision.loading.model_spec import spec_kind
from keras_vision.models import MODELS
from keras_vision.models.registry import model_spec_kwargs
from keras_vision.presets import from_preset


@keras_vision_export("keras_vision.loading.load_model")
def load_model(spec, *, model_name="vit", config=None, step=None, **load_kwargs):
    """The model a spec names, with its weights.

    Args:
        spec: a `keras.Model` (returned as is); a `.keras` file; a big_vision `.npz`
            (optionally "file.npz:prefix"), converted with
            `keras_vision.convert.load_big_vision(spec, model=model_name, config=config, **load_kwargs)`;
            a training workdir (the model of its latest checkpoint, or of `step`); a
            preset folder or registered preset name (`keras_vision.presets.from_preset`);
            or a dict `{"model_name": ..., "model": {kwargs}, "init": spec, "load": {...}}`
            (a registry model, initialised from `init` when given).
        model_name, config: big_vision model name and kwargs, for `.npz` checkpoints.
        step: which checkpoint of a training workdir.
        **load_kwargs: options of the loader (`dont_load=[...]` for `.npz`, `num_classes`
            for KerasHub presets).

    Raises:
        ModelSpecError: the spec names nothing loadable (the message says what is accepted).

    Example:
    >>> teacher = load_model("runs/vit_shapes")                       # a training workdir
    >>> vit = load_model("ViT-B_16.npz", config={"variant": "B/16", "num_classes": 1000})
    """
    kind = spec_kind(spec)
    if kind == "model":
        return spec
    if kind == "definition":
        return model_from_config(ConfigDict(model_name=spec.get("model_name", model_name),
                                            model=dict(spec.get("model") or {}),
                                            model_init=spec.get("init"), model_load=spec.get("load")))
    if kind == "keras":
        return keras.saving.load_model(os.fspath(spec), compile=False)
    if kind == "big_vision":
        return load_big_vision(os.fspath(spec), model=model_name, config=dict(config or {}), **load_kwargs)
    if kind == "run":
        return load_run(spec, step)[0]
    return from_preset(os.fspath(spec), **load_kwargs)


def _load_spec_kwargs(model_name, kwargs):
    """Loads the builder kwargs that take a model (e.g. a two-tower's tower inits) from their specs."""
    kwargs = dict(kwargs)
    for name in model_spec_kwargs(model_name):
        if kwargs.get(name) is not None:
            kwargs[name] = load_model(kwargs[name])
    return kwargs


@keras_vision_export("keras_vision.loading.model_from_config")
def model_from_config(config):
    """The model of a recipe config: `config.model_name(**config.model)`, or `config.model_init`.

    `model_init` is any `load_model` spec. A whole model (`.keras`, workdir, task
    preset) or a big_vision `.npz` (converted as `config.model_name` with
    `config.model` kwargs and `config.model_load` options) is the model; a backbone
    preset fills the built model's `backbone`. Builder kwargs that are model specs (a
    two-tower's `image_init` / `text_init`) are loaded here. `config.dtype_mm`
    (`keras_vision.distribution.model_build_scope`) applies to the layers built here,
    `config.remat` (`keras_vision.distribution.apply_remat`) to the built model.
    """
    with model_build_scope(config):
        model = _model_from_config(config)
    if config.get("remat"):
        apply_remat(model, config.remat)
    return model


def _model_from_config(config):
    init = config.get("model_init")
    model_name = config.get("model_name")
    model_kwargs = dict(config.get("model") or {})
    source = None
    if init:
        source = load_model(init, model_name=model_name or "vit", config=model_kwargs,
                            **dict(config.get("model_load") or {}))
        if not isinstance(source, keras.Model) or not _is_backbone_only(source):
            return source
    if not model_name:
        raise ConfigError("The config needs model_name (a keras_vision.models registry name).")
    model = MODELS.get(model_name)(**_load_spec_kwargs(model_name, model_kwargs))
    if source is not None:
        if getattr(model, "backbone", None) is None:
            raise ConfigError(f"model_init {init!r} is a backbone preset but {type(model).__name__} has no backbone.")
        model.backbone.set_weights(source.get_weights())
    return model


def _is_backbone_only(model):
    return isinstance(model, keras_hub.models.Backbone)


@keras_vision_export("keras_vision.loading.load_run")
def load_run(workdir, step=None):
    """Rebuilds a run's model from its `config.json` and restores a checkpoint's weights.

    Args:
        workdir: a folder written by `keras_vision.trainers.train`.
        step: which checkpoint (default: the latest).

    Returns:
        (model, config, info): the Keras model, the run's ConfigDict and the restored
        checkpoint's info dict (`info["step"]`, ...); `info["path"]` is its folder.

    Raises:
        ConfigError: no config.json, no checkpoint yet, or no checkpoint for `step`
            (the message lists the available steps).

    Example:
    >>> model, config, info = load_run("runs/vit_shapes")
    """
    path = pathlib.Path(workdir)
    if not is_run_dir(path):
        raise ModelSpecError(f"{str(path)!r} is not a training workdir (no {CONFIG_NAME} and {CHECKPOINTS_DIR}/ in it).")
    with open(path / CONFIG_NAME) as f:
        config = ConfigDict(json.load(f))
    keras.utils.set_random_seed(int(config.get("seed", 0)))  # same init for weights not in a checkpoint
    model = model_from_config(config)
    ckpts = CheckpointManager(path / CHECKPOINTS_DIR)
    if ckpts.latest_step() is None:
        raise ConfigError(f"Workdir {str(path)!r} has no checkpoint yet.")
    if step is not None and step not in ckpts.steps():
        raise ConfigError(f"No checkpoint for step {step} in {str(path)!r}; available steps: {ckpts.steps()}.")
    info = dict(ckpts.restore(model, step=step, weights_only=True))
    info["path"] = str(ckpts.path(info["step"]))
    return model, config, info
