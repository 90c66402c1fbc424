"""Builders turning a recipe config into data, model, loss and optimizer for `train`."""

import inspect
import math
import pathlib

import keras

from keras_vision.config import ConfigError

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
        from keras_vision.data import get_source
    except ImportError:
        return None
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


def _skip_kwarg(make_pipeline):
    params = inspect.signature(make_pipeline).parameters
    for name in ("start_step", "skip_batches"):
        if name in params:
            return name
    return None


def build_train_dataset(config, start_batch, batch_size):
    """The training tf.data of (x, y) batches, positioned at batch `start_batch`.

    The pipeline is deterministic given `config.seed`, so the batches a resumed run
    sees after `start_batch` are those an uninterrupted run saw.
    """
    from keras_vision.data import make_pipeline

    kwargs = dict(
        train=True,
        seed=config.get("seed", 0),
        shuffle_buffer_size=config.input.get("shuffle_buffer_size"),
        mixup=config.get("mixup") or None,
    )
    skip = _skip_kwarg(make_pipeline)
    if skip:  # the pipeline can start mid-stream without producing the skipped batches
        kwargs[skip] = start_batch
    ds = make_pipeline(config.input.data, config.input.pp, batch_size, **kwargs)
    ds = ds.repeat()
    if not skip and start_batch:
        ds = ds.skip(start_batch)
    label_key = config.get("label_key", LABEL_KEY)
    return ds.map(lambda b: split_batch(b, label_key))


def build_model(config):
    """The model of `config.model_name(**config.model)`, or loaded from `config.model_init`.

    `model_init` may be a `.keras` file (the whole model), a big_vision `.npz` checkpoint
    (converted by `keras_vision.convert.load_big_vision`) or a KerasHub preset folder
    (a task preset is loaded whole; a backbone preset fills `model.backbone`).
    `config.dtype_mm` (`keras_vision.distribution.model_build_scope`) applies to the
    layers built here, `config.remat` (`keras_vision.distribution.apply_remat`) to the
    built model.
    """
    from keras_vision.distribution import apply_remat
    from keras_vision.distribution import model_build_scope

    with model_build_scope(config):
        model = _build_model(config)
    if config.get("remat"):
        apply_remat(model, config.remat)
    return model


def _build_model(config):
    init = config.get("model_init")
    model_kwargs = dict(config.get("model") or {})
    if init and str(init).endswith(".keras"):
        return keras.saving.load_model(init, compile=False)
    if init and ".npz" in str(init):  # also big_vision's "file.npz:prefix"
        from keras_vision.convert import load_big_vision

        kwargs = {}
        if config.get("model_load"):
            kwargs.update(config.model_load)
        return load_big_vision(init, model=config.get("model_name", "vit"), config=model_kwargs, **kwargs)
    if init and (pathlib.Path(init) / "task.json").exists():
        import keras_hub

        return keras_hub.models.Task.from_preset(str(init))
    from keras_vision.models import build_model as registry_build

    if not config.get("model_name"):
        raise ConfigError("The config needs model_name (a keras_vision.models registry name).")
    model = registry_build(config.model_name, **model_kwargs)
    if init:
        import keras_hub

        backbone = keras_hub.models.Backbone.from_preset(str(init))
        if getattr(model, "backbone", None) is None:
            raise ConfigError(f"model_init {init!r} is a backbone preset but {type(model).__name__} has no backbone.")
        model.backbone.set_weights(backbone.get_weights())
    return model


def build_loss(config):
    """A Keras loss for `compile`, or None when the model's own `compute_loss` is used."""
    name = config.get("loss")
    if not name:
        return None
    if callable(name):
        return name
    from keras_vision.losses import BigVisionLoss

    return BigVisionLoss(name, **dict(config.get("loss_kw") or {}))


def build_optimizer(config, total_steps, num_examples=None):
    """`keras_vision.optimizers.make_optimizer` with big_vision semantics (+ gradient accumulation).

    Its schedules read `optimizer.iterations`, which Keras counts in updates (not
    micro-batches) under `gradient_accumulation_steps`.
    """
    from keras_vision.optimizers import make_optimizer

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
    lr = getattr(optimizer, "_learning_rate", None)
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        optimizer._learning_rate = PerUpdateSchedule(lr, steps)
    return optimizer


class PerUpdateSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule(micro_step // steps)`: a schedule keyed by optimizer updates."""

    def __init__(self, schedule, steps):
        self.schedule, self.steps = schedule, steps

    def __call__(self, step):
        return self.schedule(keras.ops.floor_divide(step, self.steps))

    def get_config(self):
        return {"schedule": keras.saving.serialize_keras_object(self.schedule), "steps": self.steps}
