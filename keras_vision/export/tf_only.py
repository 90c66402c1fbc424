"""Run `tf_only_check.py` on an export in a clean, separate Python process."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np

from keras_vision.api_export import keras_vision_export

CHECK_SCRIPT = pathlib.Path(__file__).with_name("tf_only_check.py")


def write_parity_bundle(exporter, folder, signatures=None):
    """Writes inputs.npz / expected.npz (Keras outputs) of `exporter.sample_inputs()`.

    Returns (inputs path, expected path). Keys are "SIGNATURE/NAME".
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    inputs, expected = {}, {}
    for sig, kwargs in exporter.sample_inputs().items():
        if signatures is not None and sig not in signatures:
            continue
        for name, value in kwargs.items():
            inputs[f"{sig}/{name}"] = value
        for name, value in exporter.reference(sig, kwargs).items():
            expected[f"{sig}/{name}"] = np.asarray(value)
    np.savez(folder / "inputs.npz", **inputs)
    np.savez(folder / "expected.npz", **expected)
    return folder / "inputs.npz", folder / "expected.npz"


@keras_vision_export("keras_vision.export.run_tf_only_check")
def run_tf_only_check(export_dir, inputs=None, expected=None, rest=(), no_keras=False, atol=1e-5, timeout=600):
    """Loads and serves `export_dir` in a new `python -I` process with a minimal environment
    in which jax, keras_hub and keras_vision cannot be imported (`no_keras`: keras
    neither); returns its JSON report (see tf_only_check.py), with "returncode".

    Args:
        export_dir: the SavedModel folder.
        inputs, expected: npz files of `write_parity_bundle`.
        rest: (signature, request.json path) pairs, run the way TF Serving decodes them.
        no_keras: also hide keras / tf_keras (tensorflow_text's ops are then loaded
            with `tf.load_op_library`, as the model server links them).
        atol: allowed max |served - expected| of float outputs.
    """
    # The check runs in "/" (so nothing here shadows an installed module): absolute paths.
    cmd = [sys.executable, "-I", str(CHECK_SCRIPT), os.path.abspath(export_dir), "--atol", str(atol)]
    if inputs is not None:
        cmd += ["--inputs", os.path.abspath(inputs)]
    if expected is not None:
        cmd += ["--expected", os.path.abspath(expected)]
    for sig, file in rest:
        cmd += ["--rest", f"{sig}={os.path.abspath(file)}"]
    if no_keras:
        cmd.append("--no-keras")
    # A clean environment: nothing of this process (KERAS_BACKEND, PYTHONPATH, XLA flags) leaks in.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd="/")
    try:
        report = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        report = {"ok": False, "error": (proc.stderr or proc.stdout)[-4000:]}
    report["returncode"] = proc.returncode
    if proc.returncode != 0 and "error" not in report:
        report["stderr_tail"] = proc.stderr[-2000:]
    return report
