"""A real SIGKILL in the middle of training, then a resume: same weights as without the kill."""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from engine_helpers import base_config
from engine_helpers import data_fn
from engine_helpers import model_fn
from keras_vision.loading import CheckpointManager
from keras_vision.trainers import train

HERE = pathlib.Path(__file__).parent
CFG = base_config(total_steps=120, log_training_steps=10, ckpt_steps=20)

SCRIPT = textwrap.dedent(
    f"""
    import sys, time
    sys.path.insert(0, {str(HERE)!r})
    import keras
    from engine_helpers import data_fn, model_fn
    from keras_vision.trainers import train

    class Slow(keras.callbacks.Callback):  # leaves time to kill it mid-run
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.03)

    train({CFG!r}, sys.argv[1], model=model_fn(), train_data=data_fn(8),
          optimizer=lambda n: keras.optimizers.Adam(1e-2), evaluators=[], callbacks=[Slow()],
          verbose=False)
    """
)


def _kw():
    import keras

    return dict(model=model_fn(), train_data=data_fn(8), optimizer=lambda n: keras.optimizers.Adam(1e-2),
                evaluators=[], verbose=False)


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path):
    workdir = tmp_path / "run"
    script = tmp_path / "run_train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "jax"))
    proc = subprocess.Popen([sys.executable, str(script), str(workdir)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    mgr_dir = workdir / "checkpoints"
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if mgr_dir.exists() and any(s >= 40 for s in CheckpointManager(mgr_dir).steps()):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)  # somewhere inside the next chunk
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    steps = CheckpointManager(mgr_dir).steps()
    assert steps and max(steps) < CFG["total_steps"], steps
    assert not (workdir / "summary.json").exists()

    resumed = train(CFG, workdir, **_kw())
    reference = train(CFG, tmp_path / "reference", **_kw())
    for a, b in zip(reference.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.summary["final_step"] == CFG["total_steps"]
