"""Serve a keras_vision SavedModel in a process that has only TensorFlow (+ tensorflow_text).

Run it as a script, never import it from keras_vision code that needs Keras:

    python -I keras_vision/export/tf_only_check.py EXPORT_DIR \
        [--inputs inputs.npz --expected expected.npz] [--rest SIGNATURE=request.json ...] \
        [--atol 1e-5] [--no-keras] [--report report.json]

It hides jax, jaxlib, flax, keras_hub and keras_vision from the import system before
importing TensorFlow (as if they were not installed; `--no-keras` hides keras and
tf_keras too and loads tensorflow_text's op libraries directly, as TF Serving links
them), loads the SavedModel with `tf.saved_model.load`, runs each signature on
`inputs.npz` (keys "SIGNATURE/INPUT") and compares with `expected.npz` (keys
"SIGNATURE/OUTPUT"), and runs TF Serving REST request bodies through signatures the
way the model server decodes them (row "instances" or columnar "inputs" format,
{"b64": ...} for bytes). Prints a JSON report; exit code 0 when everything matched.

Only the standard library, numpy and tensorflow are imported here, on purpose.
TensorFlow (and tensorflow_text) are imported inside the functions: only after
`hide_packages` has run, so that nothing they load can reach a hidden package.
"""

import argparse
import base64
import glob
import importlib.util
import json
import os
import sys

import numpy as np

HIDDEN = ("jax", "jaxlib", "flax", "keras_hub", "keras_vision", "keras_nlp")
HIDDEN_NO_KERAS = HIDDEN + ("keras", "tf_keras")


class _HideFinder:
    """Wraps a meta-path finder so that the `hidden` top-level packages are not found."""

    def __init__(self, finder, hidden):
        self.finder, self.hidden = finder, hidden

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.hidden:
            return None
        find = getattr(self.finder, "find_spec", None)
        return find(name, path, target) if find else None

    def invalidate_caches(self):
        invalidate = getattr(self.finder, "invalidate_caches", None)
        if invalidate:
            invalidate()


def hide_packages(hidden):
    sys.meta_path[:] = [_HideFinder(f, hidden) for f in sys.meta_path]


def load_text_ops(no_keras):
    """Registers tensorflow_text's ops (SentencepieceOp, ...); returns how."""
    if not no_keras:
        import tensorflow_text  # noqa: F401  (after hide_packages; registers the ops; needs keras via tf.keras)

        return "import tensorflow_text"
    import tensorflow as tf  # after hide_packages (see the module docstring)

    spec = importlib.util.find_spec("tensorflow_text")
    if spec is None:
        return "tensorflow_text not installed"
    ops_dir = os.path.join(list(spec.submodule_search_locations)[0], "python", "ops")
    loaded = 0
    for lib in sorted(glob.glob(os.path.join(ops_dir, "_*.so"))):
        try:
            tf.load_op_library(lib)
            loaded += 1
        except Exception:  # noqa: BLE001  (some libraries need others first; the op set is what matters)
            pass
    return f"tf.load_op_library x{loaded} ({ops_dir})"


def signature_inputs(fn):
    """{input name: tf.DType} of a loaded signature."""
    _, kwargs = fn.structured_input_signature
    return {name: spec.dtype for name, spec in kwargs.items()}


def _decode_value(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    return value


def rest_to_tensors(body, fn):
    """TF Serving's JSON -> tensors for signature `fn` (row or columnar format)."""
    import tensorflow as tf  # after hide_packages (see the module docstring)

    specs = signature_inputs(fn)
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise ValueError('"instances" must be a non-empty list.')
        if len(specs) == 1 and not (isinstance(instances[0], dict) and set(instances[0]) == set(specs)):
            columns = {next(iter(specs)): [_decode_value(v) for v in instances]}
        else:
            columns = {name: [_decode_value(inst[name]) for inst in instances] for name in specs}
        row_format = True
    elif "inputs" in body:
        inputs = body["inputs"]
        if not isinstance(inputs, dict):
            inputs = {next(iter(specs)): inputs}
        columns = {name: _decode_value(inputs[name]) for name in specs}
        row_format = False
    else:
        raise ValueError('A REST predict body needs "instances" or "inputs".')
    tensors = {}
    for name, dtype in specs.items():
        if dtype == tf.string:
            tensors[name] = tf.constant(columns[name], tf.string)
        else:
            tensors[name] = tf.constant(np.asarray(columns[name], dtype=dtype.as_numpy_dtype))
    return tensors, row_format


def _jsonable(name, array):
    if array.dtype == object or array.dtype.kind == "S":
        flat = [
            {"b64": base64.b64encode(v).decode()} if name.endswith("_bytes") else v.decode("utf-8")
            for v in array.reshape(-1)
        ]
        return np.array(flat, dtype=object).reshape(array.shape).tolist()
    return array.tolist()


def tensors_to_rest(outputs, row_format):
    """Signature outputs -> TF Serving's JSON response ({"predictions"} or {"outputs"})."""
    outputs = {k: v.numpy() for k, v in outputs.items()}
    if not row_format:
        return {"outputs": {k: _jsonable(k, v) for k, v in outputs.items()}}
    n = len(next(iter(outputs.values())))
    rows = []
    for i in range(n):
        row = {k: _jsonable(k, v[i:i + 1])[0] for k, v in outputs.items()}
        rows.append(row if len(row) > 1 else next(iter(row.values())))
    return {"predictions": rows}


def _max_error(got, want):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"shape {list(got.shape)} != {list(want.shape)}"
    if want.dtype.kind == "f":
        return float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0.0
    return "exact" if np.array_equal(got, want) else "differs"


def _ok(err, atol):
    return err == "exact" or (isinstance(err, float) and err <= atol)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir")
    parser.add_argument("--inputs", help="npz with SIGNATURE/INPUT arrays")
    parser.add_argument("--expected", help="npz with SIGNATURE/OUTPUT arrays")
    parser.add_argument("--rest", action="append", default=[], metavar="SIGNATURE=FILE",
                        help="TF Serving REST request body to run through SIGNATURE (repeatable); "
                             "expected outputs: --expected keys rest:SIGNATURE/OUTPUT")
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--no-keras", action="store_true", help="also hide keras / tf_keras")
    parser.add_argument("--report", help="also write the JSON report here")
    args = parser.parse_args(argv)

    hide_packages(HIDDEN_NO_KERAS if args.no_keras else HIDDEN)
    import tensorflow as tf  # only now that the hidden packages cannot be imported

    report = {"text_ops": load_text_ops(args.no_keras)}
    loaded = tf.saved_model.load(args.export_dir)
    report["signatures_available"] = sorted(loaded.signatures.keys())
    expected = dict(np.load(args.expected, allow_pickle=True)) if args.expected else {}
    ok = True
    results = {}
    if args.inputs:
        inputs = dict(np.load(args.inputs, allow_pickle=True))
        by_sig = {}
        for key, value in inputs.items():
            sig, name = key.split("/", 1)
            by_sig.setdefault(sig, {})[name] = value
        for sig, kwargs in sorted(by_sig.items()):
            fn = loaded.signatures[sig]
            out = fn(**{k: tf.constant(v.tolist() if v.dtype == object else v) for k, v in kwargs.items()})
            errs = {}
            for name, value in out.items():
                want = expected.get(f"{sig}/{name}")
                if want is not None:
                    errs[name] = _max_error(value.numpy(), want)
                    ok = ok and _ok(errs[name], args.atol)
            results[sig] = errs
    report["parity"] = results
    rest = {}
    for item in args.rest:
        sig, file = item.split("=", 1)
        with open(file) as f:
            body = json.load(f)
        fn = loaded.signatures[body.get("signature_name", sig)]
        tensors, row_format = rest_to_tensors(body, fn)
        response = tensors_to_rest(fn(**tensors), row_format)
        errs = {}
        for key, want in expected.items():
            if key.startswith(f"rest:{sig}/"):
                name = key.split("/", 1)[1]
                if row_format:
                    rows = response["predictions"]
                    got = [r[name] if isinstance(r, dict) else r for r in rows]
                else:
                    got = response["outputs"][name]
                got = np.array(got, dtype=object if want.dtype == object else want.dtype)
                if want.dtype == object:
                    want = np.array([w.decode() if isinstance(w, bytes) else w for w in want.reshape(-1)],
                                    dtype=object).reshape(want.shape)
                errs[name] = _max_error(got, want)
                ok = ok and _ok(errs[name], args.atol)
        rest[sig] = {"errors": errs, "response": response}
    report["rest"] = rest
    hidden = HIDDEN_NO_KERAS if args.no_keras else HIDDEN
    report["hidden_modules_imported"] = sorted(m for m in sys.modules if m.split(".")[0] in hidden)
    report["keras_imported"] = "keras" in sys.modules
    ok = ok and not report["hidden_modules_imported"]
    report["ok"] = bool(ok)
    text = json.dumps(report, indent=2, default=str)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
