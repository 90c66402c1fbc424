"""`spec_kind(spec)`: the one place that decides what a model spec (a path or a name) means."""

import os
import pathlib

import keras

from keras_vision.config import ConfigError
from keras_vision.presets import PresetError
from keras_vision.presets import resolve_preset

CONFIG_NAME = "config.json"  # a run's resolved recipe config (also a preset's model config)
CHECKPOINTS_DIR = "checkpoints"

KINDS = ("model", "keras", "big_vision", "run", "preset", "definition")
EXPECTED = (
    "a keras.Model, a .keras file, a big_vision .npz (optionally 'file.npz:prefix'), a keras_vision "
    "training workdir (config.json + checkpoints/), a KerasHub preset folder or a known preset name, "
    "or a dict with 'model_name' (+ 'model' kwargs, optional 'init')"
)


class ModelSpecError(ConfigError):
    """A model spec that names nothing loadable; the message says what was expected."""


def is_run_dir(path):
    """Whether `path` is a training workdir: `config.json` and a `checkpoints/` folder.

    A preset folder also holds a `config.json` (the serialized model), but no
    `checkpoints/`; `train` creates that folder before its first step.
    """
    path = pathlib.Path(path)
    return (path / CONFIG_NAME).is_file() and (path / CHECKPOINTS_DIR).is_dir()


def is_big_vision_checkpoint(spec):
    """A big_vision `.npz` path, also in big_vision's "file.npz:prefix" form."""
    name = os.fspath(spec)
    return name.endswith(".npz") or ".npz:" in name


def spec_kind(spec):
    """What `spec` is: one of "model", "keras", "big_vision", "run", "preset", "definition".

    Raises:
        ModelSpecError: `spec` is none of them (a missing file, an unknown name, ...).
    """
    if isinstance(spec, keras.Model):
        return "model"
    if isinstance(spec, dict):
        if not spec.get("model_name") and not spec.get("init"):
            raise ModelSpecError(f"Model spec {spec!r} needs 'model_name' or 'init'; expected {EXPECTED}.")
        return "definition"
    if not isinstance(spec, (str, os.PathLike)) or not os.fspath(spec):
        raise ModelSpecError(f"Cannot load a model from {spec!r}; expected {EXPECTED}.")
    path = pathlib.Path(spec)
    if is_big_vision_checkpoint(spec):
        return "big_vision"
    if path.suffix == ".keras":
        if not path.is_file():
            raise ModelSpecError(f"Model file {str(path)!r} does not exist.")
        return "keras"
    if is_run_dir(path):
        return "run"
    if path.is_dir() and (path / "saved_model.pb").exists():
        raise ModelSpecError(f"{str(path)!r} is a SavedModel (serving only); expected {EXPECTED}.")
    try:
        resolve_preset(os.fspath(spec))
    except PresetError as e:
        raise ModelSpecError(f"Cannot load a model from {os.fspath(spec)!r} ({e}); expected {EXPECTED}.") from None
    return "preset"
