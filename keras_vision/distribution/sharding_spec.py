"""big_vision-style sharding specs: parse `(regex, spec)` rules and resolve one variable's layout.

A spec says how one variable is laid out on the device mesh:

- `"replicate"`: every device holds the whole variable.
- `"fsdp(axis='data')"` (optionally `min_size_to_shard_mb=4`, big_vision's default):
  shard the largest dimension that the axis size divides and that is not sharded yet
  (big_vision's `fsdp`); variables smaller than the threshold, non-float variables and
  variables with no divisible dimension stay replicated (the resolution records why).
- a tuple with one entry per variable dimension, each None, a mesh axis name or a tuple
  of axis names (a `PartitionSpec`): tensor parallelism, e.g. `(None, "model")` for a
  column-sharded Dense kernel. Every sharded dimension must divide by its axes' size.
- a composition: a list of the above applied in order, or a string `"a|b"`, e.g.
  `[(None, "model", None), "fsdp(axis='data')"]` shards the heads on "model" and then
  the largest remaining dimension on "data".

Rules are an ordered list `[(regex, spec), ...]`; the first regex that `re.fullmatch`es a
variable's path wins (big_vision's `make_mask_trees` semantics).
"""

import ast
import math
import re

from keras_vision.config import ConfigError

FSDP_DEFAULT_MIN_MB = 4  # big_vision: tiny variables are not worth a gather


class ShardingRuleError(ConfigError):
    """A sharding rule that is malformed, matches nothing, or cannot be applied."""


class _Op:
    """One parsed step of a spec: ("replicate",), ("fsdp", axis, min_mb) or ("axes", tuple)."""

    def __init__(self, kind, *args):
        self.kind, self.args = kind, args

    def __repr__(self):
        return f"{self.kind}{self.args}"


def _is_axes_entry(entry, axis_names):
    if entry is None:
        return True
    if isinstance(entry, str):
        return entry in axis_names
    if isinstance(entry, (list, tuple)):
        return all(isinstance(e, str) and e in axis_names for e in entry)
    return False


def _parse_call(text, axis_names):
    text = text.strip()
    if text in ("replicate", "replicated", "replicate()"):
        return _Op("replicate")
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        node = None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise ShardingRuleError(
            f"Unknown sharding spec {text!r}; expected 'replicate', \"fsdp(axis='data')\", "
            "a per-dimension tuple such as (None, 'model'), or a list / 'a|b' composition of these."
        )
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    except ValueError:
        raise ShardingRuleError(f"Sharding spec {text!r} has non-literal arguments.") from None
    name = node.func.id
    if name == "fsdp":
        axis = kwargs.pop("axis", args[0] if args else None)
        min_mb = kwargs.pop("min_size_to_shard_mb", args[1] if len(args) > 1 else FSDP_DEFAULT_MIN_MB)
        if kwargs or len(args) > 2:
            raise ShardingRuleError(f"fsdp takes axis and min_size_to_shard_mb; got {text!r}.")
        axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
        if not axes or any(a not in axis_names for a in axes):
            raise ShardingRuleError(f"Sharding spec {text!r}: axis {axis!r} is not a mesh axis {list(axis_names)}.")
        return _Op("fsdp", axes, float(min_mb))
    if name in ("shard", "axes"):
        spec = tuple(args)
        if not all(_is_axes_entry(e, axis_names) for e in spec):
            raise ShardingRuleError(f"Sharding spec {text!r} names axes that are not mesh axes {list(axis_names)}.")
        return _Op("axes", spec)
    raise ShardingRuleError(
        f"Unknown sharding op {name!r} in {text!r}; expected replicate, fsdp(axis=...) or shard(...)."
    )


def parse_spec(spec, axis_names):
    """Parses one rule's spec into a list of ops (see the module docstring)."""
    axis_names = tuple(axis_names)
    if isinstance(spec, str):
        return [_parse_call(part, axis_names) for part in spec.split("|")]
    if isinstance(spec, (list, tuple)):
        if all(_is_axes_entry(e, axis_names) for e in spec):
            return [_Op("axes", tuple(tuple(e) if isinstance(e, list) else e for e in spec))]
        ops = []
        for part in spec:
            if isinstance(part, (list, tuple)) or isinstance(part, str):
                ops.extend(parse_spec(part, axis_names))
            else:
                raise ShardingRuleError(f"Bad sharding spec entry {part!r} in {spec!r}.")
        if not ops:
            raise ShardingRuleError(f"Empty sharding spec {spec!r}.")
        return ops
    raise ShardingRuleError(
        f"Bad sharding spec {spec!r} ({type(spec).__name__}); expected a string, a per-dimension "
        "tuple or a list of these."
    )


def parse_rules(rules, axis_names):
    """`[(regex, spec), ...]` -> `[(compiled regex, ops, original spec)]`, validating each rule."""
    if isinstance(rules, (str, bytes)) or not isinstance(rules, (list, tuple)):
        raise ShardingRuleError(f"Sharding rules must be a list of (regex, spec) pairs, got {rules!r}.")
    out = []
    for i, rule in enumerate(rules):
        if not (isinstance(rule, (list, tuple)) and len(rule) == 2 and isinstance(rule[0], str)):
            raise ShardingRuleError(f"Sharding rule #{i} {rule!r} is not a (regex, spec) pair.")
        pattern, spec = rule
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise ShardingRuleError(f"Sharding rule #{i}: bad regex {pattern!r}: {e}.") from None
        out.append((regex, parse_spec(spec, axis_names), spec))
    return out


def first_match(parsed_rules, path):
    """Index of the first rule whose regex fullmatches `path`, or None."""
    for i, (regex, _, _) in enumerate(parsed_rules):
        if regex.fullmatch(path):
            return i
    return None


def _axes_size(axes, mesh_shape):
    return math.prod(mesh_shape[a] for a in axes)


def _entry_axes(entry):
    if entry is None:
        return ()
    return (entry,) if isinstance(entry, str) else tuple(entry)


def resolve(ops, path, shape, dtype, mesh_shape):
    """Applies parsed `ops` to a variable; returns (per-dimension axes tuple, note or None).

    Args:
        ops: from `parse_spec`.
        path, shape, dtype: the variable's (dtype a string such as "float32").
        mesh_shape: dict axis name -> size.

    Raises:
        ShardingRuleError: a tensor-parallel spec of the wrong rank, or a dimension
            that its axes do not divide.
    """
    shape = tuple(int(d) for d in shape)
    spec = [None] * len(shape)
    note = None
    for op in ops:
        if op.kind == "replicate":
            spec = [None] * len(shape)
        elif op.kind == "axes":
            tp = op.args[0]
            if len(tp) != len(shape):
                raise ShardingRuleError(
                    f"Sharding spec {tp!r} has {len(tp)} entries but variable {path!r} has shape {shape} "
                    f"({len(shape)} dimensions)."
                )
            for d, entry in enumerate(tp):
                axes = _entry_axes(entry)
                if not axes:
                    continue
                n = _axes_size(axes, mesh_shape)
                if shape[d] % n:
                    raise ShardingRuleError(
                        f"Cannot shard dimension {d} (size {shape[d]}) of {path!r} {shape} over mesh axes "
                        f"{axes} of size {n}: not divisible. Change the rule or the mesh."
                    )
                spec[d] = axes[0] if len(axes) == 1 else axes
        elif op.kind == "fsdp":
            axes, min_mb = op.args
            used = {a for e in spec for a in _entry_axes(e)}
            if used & set(axes):
                continue
            n = _axes_size(axes, mesh_shape)
            itemsize = _itemsize(dtype)
            if not _is_float(dtype):
                continue  # RNG states, counters: tiny, and not parameters
            if n == 1:
                continue
            if math.prod(shape) * itemsize < min_mb * 2**20:
                note = f"fsdp: smaller than {min_mb:g} MB, replicated"
                continue
            order = sorted(range(len(shape)), key=lambda d: (-shape[d], d))
            for d in order:
                if spec[d] is None and shape[d] % n == 0:
                    spec[d] = axes[0] if len(axes) == 1 else axes
                    break
            else:
                note = f"fsdp: no free dimension of {shape} divisible by {n}, replicated"
    return tuple(spec), note


def _itemsize(dtype):
    name = str(dtype)
    for key, size in (("64", 8), ("32", 4), ("16", 2), ("8", 1)):
        if key in name:
            return size
    return 4 if name != "bool" else 1


def _is_float(dtype):
    name = str(dtype)
    return "float" in name


def shard_shape(shape, spec, mesh_shape):
    """Per-device shape of a variable of `shape` laid out as `spec`."""
    return tuple(
        d // _axes_size(_entry_axes(e), mesh_shape) if e is not None else d for d, e in zip(shape, spec)
    )
