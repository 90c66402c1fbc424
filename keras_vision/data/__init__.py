"""keras_vision.data: tf.data input pipelines with big_vision's pp ops, for every backend.

- `get_preprocess_fn(pp)`: a big_vision pp string -> a function of one example dict.
- `registry.register(name)`: add your own pp op.
- `get_source(data_config)`: shapes, digits, imagefolder, image_text_csv/jsonl, tfrecord,
  or a prepared TFDS dataset.
- `make_pipeline(data_config, pp, batch_size, train=..., seed=...)`: the full pipeline.
- `mixup`: big_vision's batch mixup; `train_sentencepiece`: a vocabulary for `tokenize`.

Attributes load lazily, so `keras_vision.data.shapes` (numpy only) does not import
TensorFlow.

Example:
>>> from keras_vision import data
>>> ds = data.make_pipeline(dict(name="shapes", split="train"),
...                         "decode|value_range(-1, 1)|onehot(10)|keep('image', 'labels')",
...                         batch_size=32, train=True, seed=0)
"""

import importlib

_ATTRS = {
    "get_preprocess_fn": ("keras_vision.data.builder", "get_preprocess_fn"),
    "get_source": ("keras_vision.data.sources", "get_source"),
    "register_source": ("keras_vision.data.sources", "register_source"),
    "Source": ("keras_vision.data.sources.source", "Source"),
    "make_pipeline": ("keras_vision.data.pipeline", "make_pipeline"),
    "DecodeErrorCounter": ("keras_vision.data.pipeline", "DecodeErrorCounter"),
    "train_sentencepiece": ("keras_vision.data.sentencepiece_trainer", "train_sentencepiece"),
    "parse_split": ("keras_vision.data.sources.split", "parse_split"),
}
_SUBMODULES = (
    "builder",
    "digits",
    "image_check",
    "mixup",
    "ops_general",
    "ops_image",
    "ops_text",
    "pipeline",
    "randaug",
    "registry",
    "sentencepiece_trainer",
    "shapes",
    "sources",
)


def __getattr__(name):
    if name in _ATTRS:
        module, attr = _ATTRS[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_ATTRS) + list(_SUBMODULES))
