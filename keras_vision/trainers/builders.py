"""Builders turning a recipe config into data, loss and optimizer for `train` (the model: `keras_vision.loading`)."""

import math

import keras

from keras_vision import compat
from keras_vision.config import ConfigError
from keras_vision.data import get_source
from keras_vision.data import make_pipeline
from keras_vision.losses import BigVisionLoss
from keras_vision.optimizers import make_optimizer

LABEL_KEY = "labels"


def total_steps_of(config, num_examples=None):
    """`config.total_steps`, or `total_epochs` x examples / batch size."""
    if config.get("total_steps") is not None:
        return int(config.total_steps)
    if config.get("total_epochs") is not None:
        if not num_examples:
            raise ConfigError("config.total_epochs needs a data source that knows its size; set total_steps.")
        return int(math.ceil(config.total_epochs * num_examples / config.input.batch_size))
    raise ConfigError("The config needs total_steps (or total_epochs).")


def num_train_examples(config):
    """Size of the training data (None when unknown)."""
    try:
        return int(get_source(config.input.data).num_examples)
    except (TypeError, ValueError, AttributeError):
        return None


def split_batch(batch, label_key=LABEL_KEY):
    """(x, y) for `fit` from a batch dict: y = batch[label_key]; x = "image" alone or the rest."""
    if not isinstance(batch, dict):
        return batch
    batch = dict(batch)
    y = batch.pop(label_key, None)
    batch.pop("_mask", None)
    x = batch["image"] if set(batch) == {"image"} else batch
    return (x, y) if y is not None else (x,)


def build_train_dataset(config, start_batch, batch_size):
    """The training tf.data of (x, y) batches, positioned at batch `start_batch`.

    The pipeline is deterministic given `config.seed`, so the batches a resumed run
    sees after `start_batch` are those an uninterrupted run saw.
    """
    kwargs = dict(
        train=True,
        seed=config.get("seed", 0),
        shuffle_buffer_size=config.input.get("shuffle_buffer_size"),
        mixup=config.get("mixup") or None,
        start_step=start_batch,  # the pipeline starts mid-stream without producing the skipped batches
    )
    ds = make_pipeline(config.input.data, config.input.pp, batch_size, **kwargs).repeat()
    label_key = config.get("label_key", LABEL_KEY)
    return ds.map(lambda b: split_batch(b, label_key))


def build_loss(config):
    """A Keras loss for `compile`, or None when the model's own `compute_loss` is used."""
    name = config.get("loss")
    if not name:
        return None
    if callable(name):
        return name
    return BigVisionLoss(name, **dict(config.get("loss_kw") or {}))


def build_optimizer(config, total_steps, num_examples=None):
    """`keras_vision.optimizers.make_optimizer` with big_vision semantics (+ gradient accumulation).

    Its schedules read `optimizer.iterations`, which Keras counts in updates (not
    micro-batches) under `gradient_accumulation_steps`.
    """
    accum = int(config.get("grad_accum_steps") or 1)
    kwargs = {"gradient_accumulation_steps": accum} if accum > 1 else {}
    return make_optimizer(config, total_steps, batch_size=config.input.batch_size,
                          data_size=num_examples, **kwargs)


def apply_grad_accum(optimizer, steps):
    """Makes `optimizer` average gradients over `steps` micro-batches per update.

    Uses Keras' `gradient_accumulation_steps`. Keras evaluates learning-rate schedules
    at the micro-batch count, so a `LearningRateSchedule` is re-keyed to the update
    count: the schedule then sees the same step numbers as without accumulation.
    """
    steps = int(steps)
    if steps <= 1:
        return optimizer
    if optimizer.built:
        raise ValueError("Set gradient accumulation before the optimizer is built.")
    optimizer.gradient_accumulation_steps = steps
    lr = compat.learning_rate_object(optimizer)
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        compat.set_learning_rate_object(optimizer, PerUpdateSchedule(lr, steps))
    return optimizer


class PerUpdateSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule(micro_step // steps)`: a schedule keyed by optimizer updates."""

    def __init__(self, schedule, steps):
        self.schedule, self.steps = schedule, steps

    def __call__(self, step):
        return self.schedule(keras.ops.floor_divide(step, self.steps))

    def get_config(self):
        return {"schedule": keras.saving.serialize_keras_object(self.schedule), "steps": self.steps}
