"""JAX train step of `ContrastiveAccumulationTrainer` (stateless, scanned micro-batches).

The micro-batch objective comes in as an argument (it lives with the trainer in
`keras_vision.trainers`), so this module imports nothing above `backend/`.
"""

import jax
import jax.numpy as jnp
import keras

from keras_vision.backend.stateless_metrics import loss_metric_result
from keras_vision.backend.stateless_metrics import update_loss_metric


def _split(x, k):
    def reshape(a):
        if a.shape[0] % k:
            raise ValueError(f"Batch size {a.shape[0]} is not divisible by num_micro_batches={k}.")
        return a.reshape((k, a.shape[0] // k) + a.shape[1:])

    return jax.tree_util.tree_map(reshape, x)


def train_step(trainer, state, data, objective_fn):
    """One accumulated update. `objective_fn(model, x_micro, index, zimg_all, ztxt_all, k)`
    returns `(objective, full_batch_loss)` (see `trainers.contrastive_accumulation`)."""
    tv, ntv, ov, mv = state
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    k = trainer.num_micro_batches
    micro = _split(x, k)

    # Pass 1: embeddings of every micro-batch, no gradient. Every micro-batch uses
    # the same non-trainable state (dropout seeds) in both passes, so pass 2
    # recomputes exactly what pass 1 cached.
    def embed(xk):
        out, new_ntv = trainer.stateless_call(tv, ntv, xk, training=True)
        return out["zimg"].astype(jnp.float32), out["ztxt"].astype(jnp.float32), new_ntv

    zimg, ztxt, stacked_ntv = jax.lax.map(embed, micro)
    # The state after one forward pass (e.g. seed generators advanced once per step).
    new_ntv = jax.tree_util.tree_map(lambda a: a[0], stacked_ntv)
    zimg = jax.lax.stop_gradient(zimg.reshape((-1,) + zimg.shape[2:]))
    ztxt = jax.lax.stop_gradient(ztxt.reshape((-1,) + ztxt.shape[2:]))

    # Pass 2: one micro-batch at a time with gradients against the cached batch.
    def objective(trainable, xk, index):
        mapping = list(zip(trainer.trainable_variables, trainable))
        mapping += list(zip(trainer.non_trainable_variables, ntv))
        with keras.StatelessScope(state_mapping=mapping):
            return objective_fn(trainer.two_tower, xk, index, zimg, ztxt, k)

    grad_fn = jax.grad(objective, has_aux=True)

    def body(acc, inputs):
        xk, index = inputs
        grads, full_loss = grad_fn(tv, xk, index)
        return jax.tree_util.tree_map(jnp.add, acc, grads), full_loss

    zeros = jax.tree_util.tree_map(jnp.zeros_like, tv)
    grads, losses = jax.lax.scan(body, zeros, (micro, jnp.arange(k)))
    loss = losses[0]

    tv, ov = trainer.optimizer.stateless_apply(ov, grads, tv)
    mv = update_loss_metric(trainer, mv, loss)
    return {"loss": loss_metric_result(trainer, mv)}, (tv, new_ntv, ov, mv)
