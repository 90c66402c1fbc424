"""Gradient accumulation for contrastive image-text training that keeps every negative."""

import keras
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.backend.stateless_metrics import loss_metric_result
from keras_vision.backend.stateless_metrics import update_loss_metric


def micro_batch_objective(model, x_micro, index, zimg_all, ztxt_all, num_micro_batches, training=True):
    """Surrogate loss of one micro-batch whose gradient sums to the full-batch gradient.

    The embeddings of micro-batch `index` are recomputed with gradients and written
    into the cached (gradient-free) embeddings of the whole accumulated batch, so
    each micro-batch is contrasted with every negative of the full batch. The
    tower gradients then sum exactly to those of the full-batch loss. The loss
    parameters (t, b) see the full batch in every micro-batch; subtracting
    (1 - 1/K) of the loss on the cached embeddings (same value, gradient only
    w.r.t. t and b) leaves 1/K of their gradient per micro-batch.

    Args:
        model: a `TwoTowerModel` (call -> {"zimg", "ztxt"}; `contrastive_loss`).
        x_micro: the micro-batch inputs.
        index: which micro-batch (int or scalar tensor).
        zimg_all, ztxt_all: (B, D) cached embeddings of the whole batch.
        num_micro_batches: K.
        training: passed to the model.

    Returns:
        `(objective, full_batch_loss)`.
    """
    out = model(x_micro, training=training)
    zimg, ztxt = ops.cast(out["zimg"], zimg_all.dtype), ops.cast(out["ztxt"], ztxt_all.dtype)
    # Splice rows [index*m, (index+1)*m) with a gather + where: differentiable on
    # every backend with a traced index (TF has no gradient for dynamic_update_slice).
    m = ops.shape(zimg)[0]
    rows = ops.arange(ops.shape(zimg_all)[0])
    mine = ops.expand_dims(ops.equal(rows // m, index), -1)
    zimg_mix = ops.where(mine, ops.take(zimg, rows % m, axis=0), zimg_all)
    ztxt_mix = ops.where(mine, ops.take(ztxt, rows % m, axis=0), ztxt_all)
    live = model.contrastive_loss(zimg_mix, ztxt_mix)
    cached = model.contrastive_loss(zimg_all, ztxt_all)
    return live - (1.0 - 1.0 / num_micro_batches) * cached, cached


@keras_vision_export("keras_vision.trainers.ContrastiveAccumulationTrainer")
class ContrastiveAccumulationTrainer(keras.Model):
    """Trains a two-tower model on a large batch in K micro-batches, all negatives kept.

    Plain gradient accumulation would contrast each micro-batch only with itself
    (B/K negatives). Here each step first embeds all K micro-batches without
    gradients, then recomputes one micro-batch at a time with gradients against
    the cached embeddings of the whole batch (GradCache-style), so the update
    equals the full-batch update while tower activations are only held for one
    micro-batch. Costs one extra forward pass of both towers.

    The wrapper is training-time only (the Distiller pattern): it shares the
    variables of `model`; save, export or evaluate `model` itself.

    Args:
        model: a `keras_vision.models.TwoTowerModel`.
        num_micro_batches: K; the batch size must be divisible by it.

    Example:
    >>> trainer = ContrastiveAccumulationTrainer(two_tower, num_micro_batches=4)
    >>> trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> trainer.fit(dataset)  # batches {"image", "labels"} of 4 x micro-batch size

    Paper: LiT (2111.07991) and SigLIP (2303.15343) train with large batches; the
    cached-embedding trick is Gao et al., "Scaling Deep Contrastive Learning Batch
    Size under Memory Limited Setup" (GradCache, 2021).
    """

    def __init__(self, model, num_micro_batches=2, **kwargs):
        super().__init__(**kwargs)
        if int(num_micro_batches) < 1:
            raise ValueError(f"num_micro_batches must be >= 1, got {num_micro_batches!r}.")
        self.two_tower = model
        self.num_micro_batches = int(num_micro_batches)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, inputs, training=False):
        return self.two_tower(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self.two_tower.compute_loss(x, y, y_pred, sample_weight, training=training)

    def test_step(self, *args):
        if keras.backend.backend() == "jax":
            state, data = args
            tv, ntv, mv = state
            x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
            mapping = list(zip(self.trainable_variables, tv)) + list(zip(self.non_trainable_variables, ntv))
            with keras.StatelessScope(state_mapping=mapping):
                loss = self.compute_loss(x, training=False)
            mv = update_loss_metric(self, mv, loss)
            return {"loss": loss_metric_result(self, mv)}, (tv, ntv, mv)
        (data,) = args
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        self.loss_tracker.update_state(self.compute_loss(x, training=False))
        return {"loss": self.loss_tracker.result()}

    def train_step(self, *args):
        backend = keras.backend.backend()
        # Per-backend dispatch: each implementation imports its framework (jax / tensorflow).
        if backend == "jax":
            from keras_vision.backend.jax import contrastive_accumulation as impl
        elif backend == "tensorflow":
            from keras_vision.backend.tensorflow import contrastive_accumulation as impl
        else:
            raise NotImplementedError(
                f"ContrastiveAccumulationTrainer supports the jax and tensorflow backends, not {backend!r}."
            )
        return impl.train_step(self, *args, objective_fn=micro_batch_objective)

    def get_config(self):
        config = super().get_config()
        config.update(model=keras.layers.serialize(self.two_tower), num_micro_batches=self.num_micro_batches)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = keras.layers.deserialize(config["model"], custom_objects=custom_objects)
        return cls(**config)

