"""TensorFlow train step of `ContrastiveAccumulationTrainer` (GradientTape per micro-batch).

The micro-batch objective comes in as an argument, so this module imports nothing
above `backend/`.
"""

import keras
import tensorflow as tf


def train_step(trainer, data, objective_fn):
    """One accumulated update. `objective_fn(model, x_micro, index, zimg_all, ztxt_all, k)`
    returns `(objective, full_batch_loss)` (see `trainers.contrastive_accumulation`)."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    k = trainer.num_micro_batches
    batch = tf.shape(tf.nest.flatten(x)[0])[0]
    tf.debugging.assert_equal(batch % k, 0, message=f"Batch size must be divisible by num_micro_batches={k}.")
    m = batch // k
    micro = [tf.nest.map_structure(lambda a, i=i: a[i * m : (i + 1) * m], x) for i in range(k)]

    # Pass 1: every micro-batch's embeddings, outside any tape.
    outs = [trainer.two_tower(xk, training=True) for xk in micro]
    zimg = tf.stop_gradient(tf.concat([tf.cast(o["zimg"], tf.float32) for o in outs], 0))
    ztxt = tf.stop_gradient(tf.concat([tf.cast(o["ztxt"], tf.float32) for o in outs], 0))

    variables = trainer.trainable_variables
    grads = [tf.zeros_like(v) for v in variables]
    loss = None
    for i, xk in enumerate(micro):
        with tf.GradientTape() as tape:
            objective, loss = objective_fn(trainer.two_tower, xk, i, zimg, ztxt, k)
        step_grads = tape.gradient(objective, variables)
        grads = [g if s is None else g + tf.convert_to_tensor(s) for g, s in zip(grads, step_grads)]
    trainer.optimizer.apply(grads, variables)
    trainer.loss_tracker.update_state(loss)
    return {"loss": trainer.loss_tracker.result()}
