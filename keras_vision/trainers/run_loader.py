"""`load_run(workdir)`: the model of a training run with the weights of one of its checkpoints."""

import json
import pathlib

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigDict
from keras_vision.config import ConfigError

CONFIG_NAME = "config.json"


def is_run_dir(path):
    """Whether `path` is a training workdir: `config.json` and a `checkpoints/` folder.

    A preset folder also holds a `config.json` (the serialized model), but no
    `checkpoints/`; `train` creates that folder before its first step.
    """
    path = pathlib.Path(path)
    return (path / CONFIG_NAME).is_file() and (path / "checkpoints").is_dir()


@keras_vision_export("keras_vision.trainers.load_run")
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
    from keras_vision.trainers import builders
    from keras_vision.trainers.checkpoint_manager import CheckpointManager

    path = pathlib.Path(workdir)
    if not is_run_dir(path):
        raise ConfigError(f"{str(path)!r} is not a training workdir (no {CONFIG_NAME} and checkpoints/ in it).")
    with open(path / CONFIG_NAME) as f:
        config = ConfigDict(json.load(f))
    keras.utils.set_random_seed(int(config.get("seed", 0)))  # same init for weights not in a checkpoint
    model = builders.build_model(config)
    ckpts = CheckpointManager(path / "checkpoints")
    if ckpts.latest_step() is None:
        raise ConfigError(f"Workdir {str(path)!r} has no checkpoint yet.")
    if step is not None and step not in ckpts.steps():
        raise ConfigError(f"No checkpoint for step {step} in {str(path)!r}; available steps: {ckpts.steps()}.")
    info = dict(ckpts.restore(model, step=step, weights_only=True))
    info["path"] = str(ckpts.path(info["step"]))
    return model, config, info
