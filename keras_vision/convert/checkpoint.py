"""Reading big_vision checkpoints into flat {"a/b/c": numpy array} dicts, and prefix handling.

big_vision `.npz` files name each array by its parameter path joined with "/"
(`utils.tree_flatten_with_names`), optionally under "params/" (training checkpoints,
plus "opt/..."), "params/img/" (SigLIP image towers) or "opt/target/" (very old flax);
bfloat16 arrays are stored as void "|V2" (`utils.recover_dtype`).
"""

import os

import numpy as np

from keras_vision.api_export import keras_vision_export


class ConversionError(ValueError):
    """A checkpoint does not match the model it is loaded into."""


@keras_vision_export("keras_vision.convert.recover_dtype")
def recover_dtype(array):
    """Returns `array` with "|V2" (raw bfloat16 bits, as numpy saves them) decoded to float32.

    bfloat16 is the upper half of a float32, so the decoding is exact. Other arrays
    are returned unchanged (as numpy arrays).
    """
    array = np.asarray(array)
    if array.dtype.kind == "V" and array.dtype.itemsize == 2:
        bits = array.view(np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32)
    if array.dtype.name == "bfloat16":  # ml_dtypes arrays from jax/tf
        return array.astype(np.float32)
    return array


@keras_vision_export("keras_vision.convert.flatten_params")
def flatten_params(tree, sep="/"):
    """Nested dicts (any Mapping, e.g. flax FrozenDict) -> flat {"a/b": leaf}."""
    flat = {}

    def visit(node, prefix):
        if hasattr(node, "items") and not hasattr(node, "shape"):
            for key, value in node.items():
                visit(value, f"{prefix}{key}{sep}")
        else:
            flat[prefix[: -len(sep)]] = node

    visit(tree, "")
    return flat


@keras_vision_export("keras_vision.convert.unflatten_params")
def unflatten_params(flat, sep="/"):
    """Flat {"a/b": leaf} -> nested dicts."""
    tree = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split(sep)
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


@keras_vision_export("keras_vision.convert.read_checkpoint")
def read_checkpoint(path_or_dict):
    """Reads a big_vision `.npz` (or takes a nested/flat dict) -> flat {"a/b": numpy array}.

    bfloat16 "|V2" arrays are decoded to float32. No prefix is stripped here (see
    `select_prefix` / `strip_default_prefix`).

    Args:
        path_or_dict: path of an `.npz` file, or a (nested or "/"-flat) dict of arrays.
    """
    if isinstance(path_or_dict, (str, os.PathLike)):
        path = os.fspath(path_or_dict)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No checkpoint at {path!r}.")
        if os.path.isdir(path):
            raise ConversionError(
                f"{path!r} is a directory; only big_vision .npz checkpoints are supported "
                "(tensorstore 'checkpoint.bv-*' folders are not)."
            )
        with np.load(path, allow_pickle=False) as f:
            flat = {key: f[key] for key in f.files}
    elif hasattr(path_or_dict, "items"):
        flat = flatten_params(path_or_dict)
    else:
        raise ConversionError(f"Expected a .npz path or a dict of arrays, got {type(path_or_dict).__name__}.")
    return {key: recover_dtype(value) for key, value in flat.items()}


@keras_vision_export("keras_vision.convert.select_prefix")
def select_prefix(flat, prefix):
    """The sub-tree under `prefix` ("params/img" or "params/img/"), keys relative to it.

    Raises a ConversionError listing the top-level names when nothing is under it.
    """
    prefix = prefix.strip("/") + "/"
    out = {key[len(prefix) :]: value for key, value in flat.items() if key.startswith(prefix)}
    if not out:
        raise ConversionError(
            f"No parameters under prefix {prefix!r}; the checkpoint's top-level names are {top_level_names(flat)}."
        )
    return out


def top_level_names(flat):
    """Sorted first path components of `flat`'s keys."""
    return sorted({key.split("/", 1)[0] for key in flat})


@keras_vision_export("keras_vision.convert.strip_default_prefix")
def strip_default_prefix(flat):
    """Selects "params/" (big_vision training npz) or "opt/target/" (old flax) when present.

    Checkpoints without such a prefix (AugReg npz, dicts of params) are returned as is.
    """
    for prefix in ("params/", "opt/target/"):
        if any(key.startswith(prefix) for key in flat):
            return select_prefix(flat, prefix)
    return dict(flat)


def split_path_and_prefix(path):
    """big_vision's "file.npz:img" syntax -> ("file.npz", "img"); plain paths -> (path, None)."""
    if isinstance(path, (str, os.PathLike)):
        path = os.fspath(path)
        if not os.path.exists(path) and ":" in path:
            file, _, prefix = path.rpartition(":")
            if file and os.path.exists(file):
                return file, prefix
    return path, None
