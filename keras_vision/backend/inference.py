"""Dispatch of compiled inference: `jax.jit` on JAX, `tf.function` on TensorFlow, eager on torch."""

import keras


def compile_inference(fn, model, state_owners=()):
    """Returns `fn` compiled for the active backend (traced once per input shape).

    Args:
        fn: a function of tensors (and nested dicts/tuples of them) that calls `model`.
        model: the `keras.Model` whose variables `fn` reads.
        state_owners: objects with a `variables` list that `fn` updates (a sampler's seed
            generator); on JAX their new values are written back after each call.

    Example:
        >>> decode = compile_inference(lambda x: model(x), model)
        >>> decode(batch)  # compiled on the first call, reused for the same shapes
    """
    backend = keras.config.backend()
    if backend == "jax":
        # Per-backend dispatch: imports jax, loaded only on JAX.
        from keras_vision.backend.jax.inference import jit_inference

        return jit_inference(fn, model, state_owners)
    if backend == "tensorflow":
        # Per-backend dispatch: imports tensorflow for tf.function, only on TF.
        import tensorflow as tf

        return tf.function(fn, reduce_retracing=True)
    if backend == "torch":
        # Per-backend dispatch: torch only on a torch run.
        import torch

        def no_grad(*args):
            with torch.no_grad():
                return fn(*args)

        return no_grad
    return fn
