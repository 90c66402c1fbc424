"""Assigning flat checkpoint arrays to Keras variables, with complete error reports."""

import re

import numpy as np

from keras_vision.api_export import keras_vision_export
from keras_vision.convert.checkpoint import ConversionError


@keras_vision_export("keras_vision.convert.variables_by_path")
def variables_by_path(model, scope=None, rename=None):
    """{relative variable path: variable} for `model.weights` (paths relative to `scope`).

    Args:
        model: a Keras layer or model.
        scope: optional path prefix to strip (e.g. "img"); variables outside it raise.
        rename: optional {relative path: checkpoint name} overrides.
    """
    rename = rename or {}
    out = {}
    prefix = "" if not scope else scope.strip("/") + "/"
    for variable in model.weights:
        path = variable.path
        if prefix:
            if not path.startswith(prefix):
                raise ConversionError(f"Variable {path!r} is not under the expected scope {prefix!r}.")
            path = path[len(prefix) :]
        path = rename.get(path, path)
        if path in out:
            raise ConversionError(f"Two variables map to the checkpoint name {path!r}.")
        out[path] = variable
    return out


def drop_matching(names, patterns):
    """Names that fullmatch none of the regexes `patterns` (big_vision `dont_load`)."""
    compiled = [re.compile(p) for p in patterns or ()]
    return [n for n in names if not any(c.fullmatch(n) for c in compiled)]


@keras_vision_export("keras_vision.convert.assign_params")
def assign_params(variables, params, dont_load=(), what="model"):
    """Assigns `params[name]` to `variables[name]` for every variable; all-or-nothing.

    Every problem is reported at once in one ConversionError: variables missing from the
    checkpoint, checkpoint arrays no variable takes ("unexpected"), and shape
    mismatches. Names fullmatching a `dont_load` regex are skipped on both sides
    (the variable keeps its initial value), as big_vision's `model_load.dont_load`.

    Args:
        variables: {name: keras.Variable}.
        params: {name: array}.
        dont_load: regexes of names to leave at their initial values.
        what: what is being loaded, for the error message.
    """
    wanted = drop_matching(variables, dont_load)
    given = drop_matching(params, dont_load)
    missing = sorted(set(wanted) - set(given))
    unexpected = sorted(set(given) - set(wanted))
    mismatched = []
    for name in sorted(set(wanted) & set(given)):
        shape = tuple(np.shape(params[name]))
        expected = tuple(variables[name].shape)
        if shape != expected:
            mismatched.append(f"{name}: checkpoint {shape} vs {what} {expected}")
    if missing or unexpected or mismatched:
        lines = [f"Checkpoint does not match the {what}:"]
        if missing:
            lines.append(f"  missing from the checkpoint ({len(missing)}): {missing}")
        if unexpected:
            lines.append(f"  unexpected in the checkpoint ({len(unexpected)}): {unexpected}")
        if mismatched:
            lines.append(f"  shape mismatches ({len(mismatched)}): {mismatched}")
        lines.append("  (use dont_load=[regex, ...] to keep initial values for some names)")
        raise ConversionError("\n".join(lines))
    for name in wanted:
        variable = variables[name]
        variable.assign(np.asarray(params[name]).astype(variable.dtype))
