"""Data sources: `get_source(data_config)` -> a `Source` (one deterministic epoch).

Names: "shapes", "digits" (embedded), "imagefolder", "image_text_csv",
"image_text_jsonl", "tfrecord", a name added with `register_source`, and anything else
is a TFDS dataset already prepared under `data_dir` (never downloaded).

Example:
>>> src = get_source(dict(name="imagefolder", data_dir="/data/flowers", split="all[:90%]"))
>>> src.num_examples, src.class_names
>>> ds = src.as_dataset(shuffle=True, seed=0)       # dicts: image (bytes), label, image/path
"""

import inspect

from keras_vision.api_export import keras_vision_export
from keras_vision.data.sources.embedded_source import EmbeddedSource
from keras_vision.data.sources.image_folder_source import ImageFolderSource
from keras_vision.data.sources.image_text_source import ImageTextSource
from keras_vision.data.sources.source import Source
from keras_vision.data.sources.split import parse_split
from keras_vision.data.sources.tfds_source import TFDSSource
from keras_vision.data.sources.tfrecord_source import TFRecordSource
from keras_vision.registry import Registry

SOURCES = Registry("data source")


def register_source(name):
    """Decorator: `factory(**data_config_without_name)` -> Source, used for `name`."""
    return SOURCES.register(name)


def _embedded(name):
    def factory(split="train", **kw):
        if name == "digits":
            unknown = sorted(set(kw) - {"image_size"})
            if unknown:
                raise ValueError(
                    f"digits: unknown data config keys {unknown}; digits takes name, split and image_size."
                )
        return EmbeddedSource(name, split, **kw)

    return factory


def _checked(klass, **fixed):
    """A factory of `klass(**fixed, **config)` whose error lists the config keys `klass` takes."""

    def factory(**kw):
        params = inspect.signature(klass.__init__).parameters
        unknown = sorted(k for k in kw if k not in params)
        if unknown:
            known = [p for p in params if p not in ("self", "name", "format")]
            raise ValueError(
                f"{fixed.get('name', klass.__name__)}: unknown data config keys {unknown}; expected some of {known}."
            )
        return klass(**fixed, **kw)

    return factory


register_source("shapes")(_embedded("shapes"))
register_source("digits")(_embedded("digits"))
register_source("imagefolder")(_checked(ImageFolderSource, name="imagefolder"))
register_source("image_text_csv")(_checked(ImageTextSource, name="image_text_csv", format="csv"))
register_source("image_text_jsonl")(_checked(ImageTextSource, name="image_text_jsonl", format="jsonl"))
register_source("tfrecord")(_checked(TFRecordSource, name="tfrecord"))


def known_sources():
    """Names with a dedicated source (anything else is looked up in TFDS)."""
    return SOURCES.names()


@keras_vision_export("keras_vision.data.get_source")
def get_source(data_config):
    """The `Source` described by a data config dict (big_vision's `config.input.data`).

    Args:
        data_config: a dict (or ConfigDict) with "name" and usually "split", plus the
            source's own keys (see each source class); a `Source` is returned as is.

    Example:
    >>> get_source(dict(name="shapes", split="train[:1000]", image_size=32))
    >>> get_source(dict(name="cifar10", split="train[:98%]", data_dir="~/tensorflow_datasets"))
    """
    if isinstance(data_config, Source):
        return data_config
    if isinstance(data_config, str):
        data_config = {"name": data_config}
    if not hasattr(data_config, "items") or "name" not in data_config:
        raise ValueError(f"A data config is a dict with a 'name' (and 'split', ...), got {data_config!r}.")
    config = {k: v for k, v in dict(data_config).items() if k != "name"}
    name = data_config["name"]
    if name in SOURCES:
        return SOURCES.get(name)(**config)
    unknown = sorted(set(config) - {"split", "data_dir", "skip_decode"})
    if unknown:
        raise ValueError(
            f"Data {name!r} (TFDS): unknown data config keys {unknown}; TFDS sources take split, data_dir, "
            f"skip_decode. keras_vision's own sources are {known_sources()}."
        )
    return TFDSSource(name, **config)
