"""Training: the recipe runner `train(config, workdir)` and training-time wrappers.

`train` runs a big_vision-style recipe with `model.fit` (run preparation, resumable
checkpoints, metrics CSV/TensorBoard, evaluators, summary.json and a plot). Wrappers
that compose exported models for special training are `keras.Model`s driven by `fit`
(Distiller, FlexiTrainer, ContrastiveAccumulationTrainer); `config.trainer` names the
one a recipe uses (registered below).

Example:
>>> from keras_vision.config import load_recipe
>>> from keras_vision.trainers import train
>>> result = train(load_recipe("recipes/vit_shapes.py:runlocal"), "runs/demo")
"""

from keras_vision.loading import load_run
from keras_vision.trainers.contrastive_accumulation import ContrastiveAccumulationTrainer
from keras_vision.trainers.distill_builder import distiller_from_recipe
from keras_vision.trainers.distiller import Distiller
from keras_vision.trainers.errors import TrainingDivergedError
from keras_vision.trainers.errors import WorkdirConfigError
from keras_vision.trainers.flexi_trainer import FlexiTrainer
from keras_vision.trainers.flexi_trainer import patch_size_for_step
from keras_vision.trainers.flexi_trainer import patch_sizes_from_seqhw
from keras_vision.trainers.metrics_writer import MetricsWriter
from keras_vision.trainers.metrics_writer import read_metrics
from keras_vision.trainers.recipe_callback import RecipeCallback
from keras_vision.trainers.recipe_evaluate import evaluate_run
from keras_vision.trainers.recipe_trainer import TrainResult
from keras_vision.trainers.recipe_trainer import train
from keras_vision.trainers.report import plot_metrics
from keras_vision.trainers.run_preparation import PREPARATIONS
from keras_vision.trainers.run_preparation import prepare_run
from keras_vision.trainers.run_preparation import register_preparation
from keras_vision.trainers.trainer_registry import TRAINERS
from keras_vision.trainers.trainer_registry import register_trainer

register_trainer("flexi")(FlexiTrainer)
register_trainer("distill")(distiller_from_recipe)
