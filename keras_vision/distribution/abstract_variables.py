"""Variable paths, shapes and dtypes of a model, without allocating its parameters."""

import keras

from keras_vision.api_export import keras_vision_export


@keras_vision_export("keras_vision.distribution.abstract_variables")
def abstract_variables(build_fn):
    """`[(path, shape, dtype)]` of the variables `build_fn()` creates, none allocated.

    The model is built inside `keras.StatelessScope(initialize_variables=False)`, so its
    variables are recorded but never initialised: a ViT-22B (22.2B parameters, 89 GB in
    float32) is described in seconds. Keras keeps such variables in a global
    "to initialise" list, so this ends with `keras.utils.clear_session()` (restoring the
    active distribution and dtype policy): call it before building real models, not
    between building a model and training it.

    Example:
    >>> shapes = abstract_variables(lambda: ViTBackbone(**VIT_22B))
    >>> dist.per_device_bytes(shapes) / 2**30   # GiB of parameters per device
    """
    dist = keras.distribution.distribution()
    policy = keras.config.dtype_policy()
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = build_fn()
            out = [(v.path, tuple(int(d) for d in v.shape), str(v.dtype)) for v in model.weights]
    finally:
        del model
        keras.utils.clear_session(free_memory=False)
        keras.config.set_dtype_policy(policy)
        keras.distribution.set_distribution(dist)
    return out
