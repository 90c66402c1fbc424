"""Builds a preprocessing function from a big_vision pp string ("op1|op2(arg, k=v)|...").

Each `|`-separated piece is an op name, optionally called with Python-literal positional
and keyword arguments (numbers, strings, tuples, lists, dicts, True/False/None), exactly
as in big_vision configs, e.g.
`decode|resize_small(256)|central_crop(224)|value_range(-1, 1)|onehot(1000, key="label",
key_result="labels")|keep("image", "labels")`. A `|` inside quotes or brackets does not
split. Empty pieces are skipped (so "a||b" and a trailing "|" are fine).

This is the one pp parser of keras_vision: training, evaluation and the in-graph
preprocessing of exported SavedModels (`keras_vision.export`) all read pp strings with
`parse_pp` and build their ops with `build_op`.
"""

import ast
import collections
import logging

import tensorflow as tf

from keras_vision.api_export import keras_vision_export
from keras_vision.data import registry

logger = logging.getLogger(__name__)


def split_pp(pp):
    """Splits a pp string at top-level `|` (not inside quotes or brackets)."""
    pieces, depth, quote, start, i = [], 0, None, 0, 0
    while i < len(pp):
        c = pp[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "|" and depth == 0:
            pieces.append(pp[start:i])
            start = i + 1
        i += 1
    if quote or depth:
        what = f"an unclosed {quote} quote" if quote else "unbalanced brackets"
        raise ValueError(f"Malformed pp string {pp!r}: {what}.")
    pieces.append(pp[start:])
    return [p.strip() for p in pieces]


def parse_op(piece):
    """'name(1, k="v")' -> ("name", (1,), {"k": "v"}); errors name the piece."""
    expected = "expected `name` or `name(args)` with Python-literal arguments"
    try:
        expr = ast.parse(piece, mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"Malformed pp op {piece!r}: {e.msg}; {expected}.") from None
    if isinstance(expr, ast.Name):
        return expr.id, (), {}
    if not (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)):
        raise ValueError(f"Malformed pp op {piece!r}: {expected}.")

    def literal(node):
        try:
            return ast.literal_eval(node)
        except ValueError:
            raise ValueError(
                f"Malformed pp op {piece!r}: argument `{ast.unparse(node)}` is not a Python "
                "literal (use numbers, quoted strings, tuples, lists, dicts, True/False/None)."
            ) from None

    if any(isinstance(a, ast.Starred) for a in expr.args) or any(k.arg is None for k in expr.keywords):
        raise ValueError(f"Malformed pp op {piece!r}: *args/**kwargs are not supported; {expected}.")
    args = tuple(literal(a) for a in expr.args)
    kwargs = {k.arg: literal(k.value) for k in expr.keywords}
    return expr.func.id, args, kwargs


ParsedOp = collections.namedtuple("ParsedOp", ["text", "name", "args", "kwargs"])
ParsedOp.__doc__ = """One op of a pp string: its source `text`, `name`, positional `args`, `kwargs`."""


def parse_pp(pp):
    """The ops of pp string `pp` as `ParsedOp`s, in order (empty pieces skipped).

    Example:
    >>> [op.name for op in parse_pp("decode|resize(32)|value_range(-1, 1)")]
    ['decode', 'resize', 'value_range']
    """
    if pp is not None and not isinstance(pp, str):
        raise TypeError(f"pp must be a string like 'decode|resize(224)', got {type(pp).__name__}.")
    return [ParsedOp(piece, *parse_op(piece)) for piece in split_pp(pp or "") if piece]


def build_op(op):
    """The data->data function of one pp op (a piece string or a `ParsedOp`)."""
    op = op if isinstance(op, ParsedOp) else ParsedOp(op, *parse_op(op))
    factory = registry.lookup(op.name)
    try:
        return factory(*op.args, **op.kwargs)
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"Could not build pp op {op.text!r}: {e}") from e


def _describe(data):
    parts = []
    for k, v in data.items():
        shape = getattr(v, "shape", None)
        dtype = getattr(getattr(v, "dtype", None), "name", type(v).__name__)
        parts.append(f"{k}: {dtype}{list(shape) if shape is not None else ''}")
    return "{" + ", ".join(parts) + "}"


def _as_tf(value):
    if isinstance(value, dict):
        return {k: _as_tf(v) for k, v in value.items()}
    if isinstance(value, (tf.Tensor, tf.RaggedTensor, tf.SparseTensor, tf.Variable)):
        return value
    return tf.convert_to_tensor(value)


@keras_vision_export("keras_vision.data.get_preprocess_fn")
def get_preprocess_fn(pp, log_data=False):
    """A function example-dict -> example-dict applying the ops of pp string `pp`.

    Works eagerly on dicts of tensors/arrays and inside `tf.data.Dataset.map`. The input
    dict is not modified. Random ops are deterministic given the per-example seed that
    `make_pipeline` adds (see `keras_vision.data.registry`).

    Args:
        pp: a big_vision pp string, e.g. "decode|resize(224)|value_range(-1, 1)";
            empty or None means identity. A callable is returned unchanged.
        log_data: log the example structure before and after preprocessing (once,
            when traced); a string is used as a label in the log.

    Example:
    >>> fn = get_preprocess_fn("resize(32)|value_range(-1, 1)")
    >>> out = fn({"image": tf.zeros([48, 40, 3], tf.uint8)})
    """
    if callable(pp):
        return pp
    ops = [build_op(op) for op in parse_pp(pp)]

    def preprocess(data):
        if not isinstance(data, dict):
            raise TypeError(f"pp functions take a dict of tensors, got {type(data).__name__}.")
        data = {k: _as_tf(v) for k, v in data.items()}
        if log_data:
            logger.info(
                "Data before pp %s: %s", log_data if isinstance(log_data, str) else "", _describe(data)
            )
        for op in ops:
            data = op(data)
            if not isinstance(data, dict):
                raise TypeError(f"A pp op of {pp!r} returned {type(data).__name__}, expected a dict.")
        data.pop(registry.RNG_KEY, None)
        if log_data:
            logger.info(
                "Data after pp %s: %s", log_data if isinstance(log_data, str) else "", _describe(data)
            )
        return data

    preprocess.pp = pp
    return preprocess
