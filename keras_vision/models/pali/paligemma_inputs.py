"""PaliGemma inputs: big_vision's prefix-LM attention mask and the batch-dict standardisation."""

import keras
from keras import ops

IMAGE_KEYS = ("images", "image")
TOKEN_KEYS = ("tokens", "text", "token_ids")
MODEL_KEYS = ("images", "tokens", "mask_ar", "mask_input")


def make_attention_mask(input_mask, mask_ar):
    """big_vision `paligemma.make_attn_mask`: bool (B, N, N), which positions each position attends to.

    Position i attends to valid position j when `cumsum(mask_ar)[j] <= cumsum(mask_ar)[i]`:
    a run of 0s shares one block of full attention (the prefix), each 1 starts a new
    causal step. `mask_ar` all ones is causal attention; [0 0 0 1 1 1] a prefix-LM.

    Args:
        input_mask: (B, N), true/1 for real tokens, false/0 for padding.
        mask_ar: (B, N) int.

    Example:
        >>> make_attention_mask(np.ones((1, 4)), np.array([[0, 0, 1, 1]]))[0].astype(int)
        [[1 1 0 0], [1 1 0 0], [1 1 1 0], [1 1 1 1]]
    """
    cumsum = ops.cumsum(ops.cast(mask_ar, "int32"), axis=1)
    attn = cumsum[:, None, :] <= cumsum[:, :, None]
    valid = ops.cast(input_mask, "bool")
    return ops.logical_and(attn, ops.logical_and(valid[:, None, :], valid[:, :, None]))


def as_tensor(value):
    """`value` as a backend tensor (graph-building KerasTensors are kept): no numpy/tensor mix in a call."""
    return value if isinstance(value, keras.KerasTensor) else ops.convert_to_tensor(value)


def _first(inputs, keys, what):
    found = [k for k in keys if inputs.get(k) is not None]
    if len(found) > 1:
        raise ValueError(f"PaliGemma inputs give the {what} twice ({found}); pass one of {keys}.")
    return inputs[found[0]] if found else None


def check_like_tokens(name, value, tokens):
    """Raises a ValueError naming both shapes unless `value` is (B, T) like `tokens` (static dims only)."""
    shape, expected = tuple(value.shape), tuple(tokens.shape)
    if len(shape) != 2:
        raise ValueError(f"PaliGemma {name} must be (batch, text_length) like tokens {expected}, got shape {shape}.")
    if any(a is not None and b is not None and a != b for a, b in zip(shape, expected)):
        raise ValueError(
            f"PaliGemma {name} has shape {shape} but tokens have shape {expected}; "
            f"expected one {name} entry per text token."
        )


def standardize_inputs(inputs, extra=()):
    """A PaliGemma batch dict -> {"images", "tokens", "mask_ar", "mask_input"} (+ `extra` keys kept).

    Accepts big_vision's keys ("image", "text") as well; `mask_ar` and `mask_input`
    default to all ones (big_vision's defaults: causal text, no padding). Raises a
    ValueError naming the shapes when a mask does not match the tokens.
    """
    if not isinstance(inputs, dict):
        raise ValueError(
            f"PaliGemma takes a dict with keys {MODEL_KEYS} (or big_vision's 'image', 'text'), "
            f"got {type(inputs).__name__}."
        )
    images = _first(inputs, IMAGE_KEYS, "images")
    tokens = _first(inputs, TOKEN_KEYS, "tokens")
    if images is None or tokens is None:
        raise ValueError(
            f"PaliGemma inputs need images (one of {IMAGE_KEYS}) and tokens (one of {TOKEN_KEYS}), "
            f"got keys {sorted(inputs)}."
        )
    tokens = as_tensor(tokens)
    if len(tokens.shape) != 2:
        raise ValueError(f"PaliGemma tokens must be (batch, text_length), got shape {tuple(tokens.shape)}.")
    out = {"images": as_tensor(images), "tokens": ops.cast(tokens, "int32")}
    for name in ("mask_ar", "mask_input"):
        value = inputs.get(name)
        if value is None:
            value = ops.ones_like(out["tokens"])
        else:
            value = as_tensor(value)
            check_like_tokens(name, value, out["tokens"])
        out[name] = ops.cast(value, "int32")
    for name in extra:
        if inputs.get(name) is not None:
            out[name] = as_tensor(inputs[name])
    return out
