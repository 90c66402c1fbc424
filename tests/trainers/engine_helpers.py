"""Small stand-ins for the engine tests: a tiny MLP with dropout and in-memory data."""

import keras
import numpy as np
import tensorflow as tf

NUM_CLASSES = 3
DIM = 6


def make_xy(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, DIM)).astype("float32")
    y = np.argmax(x[:, :NUM_CLASSES], axis=1)
    return x, np.eye(NUM_CLASSES, dtype="float32")[y]


def data_fn(batch_size, nan_at_batch=None):
    """train_data(start_batch) -> deterministic tf.data of (x, y) batches, shuffled per epoch."""
    x, y = make_xy()
    if nan_at_batch is not None:
        # Batch i holds examples [i*bs, (i+1)*bs) of the repeated, unshuffled stream.
        x = np.tile(x, (nan_at_batch // (len(x) // batch_size) + 2, 1))
        y = np.tile(y, (nan_at_batch // (len(y) // batch_size) + 2, 1))
        y[nan_at_batch * batch_size] = np.nan  # a NaN label: NaN loss on every backend

    def make(start_batch):
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if nan_at_batch is None:
            ds = ds.shuffle(len(x), seed=1)
        return ds.repeat().batch(batch_size).skip(start_batch)

    return make


def model_fn(dropout=0.3):
    def make():
        return keras.Sequential(
            [
                keras.Input((DIM,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dropout(dropout),
                keras.layers.Dense(NUM_CLASSES),
            ]
        )

    return make


def base_config(**kw):
    cfg = dict(seed=0, input=dict(batch_size=8), total_steps=20, log_training_steps=5,
               ckpt_steps=10, loss="softmax_xent", tensorboard=False)
    cfg.update(kw)
    return cfg


def standins_dict():
    from keras_vision.evaluators import ClassificationEvaluator
    from keras_vision.evaluators import EvalSpec

    x, y = make_xy(40, seed=1)
    ev = ClassificationEvaluator(tf.data.Dataset.from_tensor_slices({"image": x, "labels": y}), batch_size=16)
    return dict(
        model=model_fn(),
        train_data=data_fn(8),
        optimizer=lambda total_steps: keras.optimizers.Adam(1e-2),
        evaluators=[EvalSpec("val", ev, 10, "val/")],
        verbose=False,
    )


class SimulatedKill(Exception):
    pass


class KillAt(keras.callbacks.Callback):
    """Simulates a crash: raises after `n` batches of the current process."""

    def __init__(self, n):
        super().__init__()
        self.n, self.seen = n, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.n:
            raise SimulatedKill(f"simulated kill after {self.n} batches")
