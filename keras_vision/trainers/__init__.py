"""Training: the recipe runner `train(config, workdir)` and training-time wrappers.

`train` runs a big_vision-style recipe with `model.fit` (resumable checkpoints, metrics
CSV/TensorBoard, evaluators, summary.json and a plot). Wrappers that compose exported
models for special training (FlexiTrainer, Distiller, ...) live in their own files here.

Example:
>>> from keras_vision.config import load_recipe
>>> from keras_vision.trainers import train
>>> result = train(load_recipe("recipes/vit_shapes.py:runlocal"), "runs/demo")
"""

import importlib
import pkgutil

from keras_vision.trainers.checkpoint_manager import CheckpointManager
from keras_vision.trainers.errors import TrainingDivergedError
from keras_vision.trainers.errors import WorkdirConfigError
from keras_vision.trainers.metrics_writer import MetricsWriter
from keras_vision.trainers.metrics_writer import read_metrics
from keras_vision.trainers.recipe_callback import RecipeCallback
from keras_vision.trainers.recipe_evaluate import evaluate_run
from keras_vision.trainers.run_loader import load_run
from keras_vision.trainers.recipe_trainer import TrainResult
from keras_vision.trainers.recipe_trainer import train
from keras_vision.trainers.report import plot_metrics
from keras_vision.trainers.trainer_registry import register_trainer


def __getattr__(name):
    # Wrappers defined in other files of this package (FlexiTrainer, Distiller, ...) are
    # reachable as keras_vision.trainers.<Name> without a central import list.
    from keras_vision.api_export import PUBLIC_API

    key = f"keras_vision.trainers.{name}"
    if key not in PUBLIC_API:
        for info in pkgutil.iter_modules(__path__, prefix=__name__ + "."):
            importlib.import_module(info.name)
    if key not in PUBLIC_API:
        raise AttributeError(f"module 'keras_vision.trainers' has no attribute {name!r}")
    return PUBLIC_API[key]
