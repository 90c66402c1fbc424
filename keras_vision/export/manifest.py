"""`manifest.json` written next to `saved_model.pb`: what an export holds and how well it matches Keras.

The manifest lists every signature (inputs and outputs with dtype and shape, and
what it does), the pp string run in the graph, class names, tokenizer settings, the
source checkpoint / preset / workdir, versions, backend and JAX platforms, the
measured parity error of each signature against the Keras model and the size on disk.
TF Serving ignores extra files in a version directory, so it travels with the model.
"""

import json
import pathlib

import numpy as np

FORMAT = "keras_vision.saved_model.v1"
MANIFEST_NAME = "manifest.json"


def write_manifest(path, manifest):
    with open(pathlib.Path(path) / MANIFEST_NAME, "w") as f:
        json.dump(manifest, f, indent=2, default=str)
        f.write("\n")


def read_manifest(path):
    """The manifest dict of the SavedModel directory `path`."""
    file = pathlib.Path(path) / MANIFEST_NAME
    if not file.exists():
        raise FileNotFoundError(
            f"{str(path)!r} has no {MANIFEST_NAME}: not a keras_vision export (or written by another tool)."
        )
    with open(file) as f:
        return json.load(f)


def _spec(spec):
    shape = None if spec.shape.rank is None else [-1 if d is None else int(d) for d in spec.shape.as_list()]
    return {"dtype": spec.dtype.name, "shape": shape}


def describe_function(fn):
    """{"inputs": {name: spec}, "outputs": {name: spec}} of a tf.function with an input_signature."""
    concrete = fn.get_concrete_function()
    args, kwargs = concrete.structured_input_signature
    inputs = {}
    for i, spec in enumerate(args):
        inputs[spec.name or f"arg_{i}"] = _spec(spec)
    for name, spec in kwargs.items():
        inputs[name] = _spec(spec)
    outputs = {name: _spec(t) for name, t in concrete.structured_outputs.items()}
    return {"inputs": inputs, "outputs": outputs}


def compare_outputs(served, reference):
    """{output: max |served - reference|} for float outputs, "exact"/"differs" otherwise."""
    result = {}
    for name, ref in reference.items():
        if name not in served:
            result[name] = "missing"
            continue
        got, ref = np.asarray(served[name]), np.asarray(ref)
        if got.shape != ref.shape:
            result[name] = f"shape {list(got.shape)} != {list(ref.shape)}"
        elif np.issubdtype(ref.dtype, np.floating):
            result[name] = float(np.max(np.abs(got.astype(np.float64) - ref))) if ref.size else 0.0
        else:
            result[name] = "exact" if np.array_equal(got, ref) else "differs"
    return result


def max_parity_error(parity):
    """Largest float error over all signatures and outputs of a manifest's `parity`."""
    errors = [v for outs in parity.values() for v in outs.values() if isinstance(v, float)]
    return max(errors) if errors else 0.0
