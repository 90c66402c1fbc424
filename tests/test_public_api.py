"""Every symbol marked with `keras_vision_export` is reachable at the path it claims."""

import importlib
import pkgutil

import keras_vision
from keras_vision.api_export import PUBLIC_API


def _import_all():
    skip = (".cli.", ".backend.jax", ".backend.tensorflow", ".bench.")  # jax/tf-only or CLI entry modules
    for info in pkgutil.walk_packages(keras_vision.__path__, "keras_vision."):
        if not any(s in info.name + "." for s in skip) and not info.name.endswith("__main__"):
            importlib.import_module(info.name)


def test_every_public_symbol_is_importable_at_its_path():
    _import_all()
    assert len(PUBLIC_API) > 80
    wrong = []
    for path, symbol in PUBLIC_API.items():
        module, _, name = path.rpartition(".")
        try:
            found = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as e:
            wrong.append(f"{path}: {e}")
            continue
        if found is not symbol:
            wrong.append(f"{path}: is {found!r}, not {symbol!r}")
    assert not wrong, "\n".join(wrong)
