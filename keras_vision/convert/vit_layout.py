"""big_vision ViT checkpoint layouts -> the current pyloop layout (generic, any ViT-like tower).

Used by the ViT, FlexiViT and SigLIP converters:
- `convert_pre_linen`: flax's pre-Linen module renumbering (`MultiHeadDotProductAttention_1`
  -> `_0`, `LayerNorm_2` -> `LayerNorm_1`, `MlpBlock_3` -> `MlpBlock_0`, per parent).
- `fix_legacy_vit`: big_vision `vit.fix_old_checkpoints` (posemb location, [cls] folded
  into an N+1 posemb, inline MAP head).
- `scan_to_pyloop` / `pyloop_to_scan`: `encoderblock` with a leading depth axis <->
  `encoderblock_{i}`.
"""

import math
import re

import numpy as np

from keras_vision.api_export import keras_vision_export
from keras_vision.convert.checkpoint import flatten_params
from keras_vision.convert.checkpoint import unflatten_params

_NUMBERED = re.compile(r"^(.*)_(\d+)$")


def _natural_key(name):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _renumber(tree):
    if not isinstance(tree, dict):
        return tree
    out, counts = {}, {}
    for name in sorted(tree, key=_natural_key):
        new_name = name
        match = _NUMBERED.match(name)
        if match:
            module = match.group(1)
            new_name = f"{module}_{counts.get(module, 0)}"
            counts[module] = counts.get(module, 0) + 1
        out[new_name] = _renumber(tree[name])
    return out


@keras_vision_export("keras_vision.convert.convert_pre_linen")
def convert_pre_linen(flat):
    """flax `convert_pre_linen` on a flat dict: renumbers `Name_k` per parent and per name.

    Pre-Linen flax numbered submodules with one counter per parent
    (`LayerNorm_0, MultiHeadDotProductAttention_1, LayerNorm_2, MlpBlock_3`); Linen counts
    per module type (`LayerNorm_0, MultiHeadDotProductAttention_0, LayerNorm_1, MlpBlock_0`).
    Idempotent on current checkpoints.
    """
    return flatten_params(_renumber(unflatten_params(flat)))


@keras_vision_export("keras_vision.convert.fix_legacy_vit")
def fix_legacy_vit(flat):
    """big_vision `vit.fix_old_checkpoints` on a flat ViT param dict (no prefix).

    Pre-Linen renumbering; `Transformer/posembed_input/pos_embedding` or
    `Transformer/pos_embedding` -> `pos_embedding`; a posemb of N+1 entries (old "[cls]
    then posemb" layout) is split and its first entry added to `cls`; an inline MAP head
    (`probe`, ...) moves under `MAPHead_0`. Safe on current checkpoints.
    """
    flat = convert_pre_linen(flat)
    for old in ("Transformer/posembed_input/pos_embedding", "Transformer/pos_embedding"):
        if old in flat:
            flat["pos_embedding"] = flat.pop(old)
    if "pos_embedding" in flat:
        pe = np.asarray(flat["pos_embedding"])
        n = pe.shape[1]
        if math.isqrt(n) ** 2 + 1 == n:
            pe_cls, flat["pos_embedding"] = pe[:, :1], pe[:, 1:]
            if "cls" in flat:
                flat["cls"] = np.asarray(flat["cls"]) + pe_cls
    if "probe" in flat:
        for key in list(flat):
            if key.split("/", 1)[0] in ("probe", "MlpBlock_0", "MultiHeadDotProductAttention_0", "LayerNorm_0"):
                flat[f"MAPHead_0/{key}"] = flat.pop(key)
    return flat


_SCAN = re.compile(r"(^|/)encoderblock/")


@keras_vision_export("keras_vision.convert.scan_to_pyloop")
def scan_to_pyloop(flat):
    """Splits scan-stacked `.../encoderblock/...` arrays (leading depth axis) into `encoderblock_{i}`.

    Works for every encoder in the dict (e.g. `Transformer/` and `txt/Encoder_0/`).
    """
    out = {}
    for key, value in flat.items():
        match = _SCAN.search(key)
        if not match:
            out[key] = value
            continue
        value = np.asarray(value)
        head, tail = key[: match.end() - 1], key[match.end() :]
        for i in range(value.shape[0]):
            out[f"{head}_{i}/{tail}"] = value[i]
    return out


@keras_vision_export("keras_vision.convert.pyloop_to_scan")
def pyloop_to_scan(flat):
    """Stacks `.../encoderblock_{i}/...` arrays into `.../encoderblock/...` with a leading depth axis."""
    groups, out = {}, {}
    pattern = re.compile(r"(^|/)encoderblock_(\d+)/")
    for key, value in flat.items():
        match = pattern.search(key)
        if not match:
            out[key] = value
            continue
        stacked = key[: match.start(2) - 1] + "/" + key[match.end() :]
        groups.setdefault(stacked, {})[int(match.group(2))] = np.asarray(value)
    for key, by_layer in groups.items():
        out[key] = np.stack([by_layer[i] for i in sorted(by_layer)])
    return out
