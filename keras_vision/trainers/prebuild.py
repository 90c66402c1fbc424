"""`prebuild(model, dataset)`: a model's compiled loss and metrics built from a dataset's spec, not a batch."""

import keras

from keras_vision import compat


def prebuild(model, dataset):
    """Builds the compiled loss and metrics from the dataset's element spec.

    Otherwise the first `fit` of a model reads one batch to build them and then starts
    the dataset again from the beginning; a shuffle with `reshuffle_each_iteration`
    would give that second pass an order that depends on how far the first one read,
    and a resumed run would see other batches than an uninterrupted one.
    """
    build = compat.symbolic_build(model)  # Keras' own (pinned) build hook
    if getattr(model, "preprocessor", None) is not None:
        return  # a KerasHub preprocessor changes the spec: let Keras peek
    batch = keras.tree.map_structure(
        lambda s: keras.KerasTensor(tuple(s.shape), dtype=s.dtype.name), dataset.element_spec
    )
    build(data_batch=batch)
