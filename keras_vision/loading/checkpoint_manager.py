"""Atomic, resumable training checkpoints: Keras weights + optimizer state + RNG state."""

import json
import os
import pathlib
import re
import shutil
import time
import warnings

import numpy as np

WEIGHTS_NAME = "model.weights.h5"
STATE_NAME = "rng_state.npz"
INFO_NAME = "checkpoint.json"
_DIR_RE = re.compile(r"^ckpt-(\d+)$")


class CheckpointManager:
    """Saves and restores training checkpoints under `directory/ckpt-<step>/`.

    Each checkpoint holds `model.weights.h5` (`model.save_weights`: model variables and,
    for a compiled model, the optimizer's variables including its iteration counter),
    `rng_state.npz` (the model's non-trainable variables, which include the
    `SeedGenerator` states that dropout / stochastic depth draw from, not part of the
    `.weights.h5`) and `checkpoint.json` (step and run bookkeeping). A checkpoint is
    written to a temporary folder and renamed into place, so a run killed at any moment
    leaves either the whole checkpoint or none; `checkpoint.json` is written last.

    Args:
        directory: where checkpoints live (created).
        keep: how many of the newest checkpoints to keep.
        keep_every_steps: checkpoints at multiples of this are never deleted
            (big_vision's `keep_ckpt_steps`).

    Example:
    >>> mgr = CheckpointManager("runs/x/checkpoints", keep=2)
    >>> mgr.save(100, model)
    >>> info = mgr.restore(model)   # latest; None when there is none
    """

    def __init__(self, directory, keep=3, keep_every_steps=None):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.keep, self.keep_every_steps = max(1, int(keep)), keep_every_steps

    def remove_partial_saves(self):
        """Deletes the leftovers of saves killed half-way (only the run's owner calls this:
        a reader such as `keras-vision eval` must not touch a live run's folder)."""
        for p in self.directory.glob("*.tmp*"):
            shutil.rmtree(p, ignore_errors=True)

    def path(self, step):
        return self.directory / f"ckpt-{int(step):09d}"

    def steps(self):
        """Steps of the complete checkpoints, ascending."""
        out = []
        for p in self.directory.iterdir():
            m = _DIR_RE.match(p.name)
            if m and (p / INFO_NAME).exists():
                out.append(int(m.group(1)))
        return sorted(out)

    def latest_step(self):
        steps = self.steps()
        return steps[-1] if steps else None

    def save(self, step, model, info=None):
        """Writes the checkpoint of `step` (replacing one of the same step) and prunes old ones."""
        final = self.path(step)
        tmp = self.directory / f"{final.name}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        model.save_weights(str(tmp / WEIGHTS_NAME))
        variables = model.non_trainable_variables
        np.savez(
            tmp / STATE_NAME,
            **{f"v{i:05d}": np.asarray(v.numpy() if hasattr(v, "numpy") else v) for i, v in enumerate(variables)},
            paths=np.array([v.path for v in variables], dtype=object).astype(str),
        )
        record = {"step": int(step), "time": time.time(), **(info or {})}
        with open(tmp / INFO_NAME, "w") as f:
            json.dump(record, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        if final.exists():
            trash = self.directory / f"{final.name}.tmp-old{os.getpid()}"
            os.replace(final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, final)
        self._prune()
        return final

    def _prune(self):
        steps = self.steps()
        for s in steps[: -self.keep]:
            if self.keep_every_steps and s % self.keep_every_steps == 0:
                continue
            shutil.rmtree(self.path(s), ignore_errors=True)

    def info(self, step=None):
        step = self.latest_step() if step is None else step
        if step is None:
            return None
        with open(self.path(step) / INFO_NAME) as f:
            return json.load(f)

    def restore(self, model, step=None, weights_only=False):
        """Loads checkpoint `step` (default: latest) into `model`; returns its info or None.

        With a compiled model the optimizer is built first so that its state is restored
        too; `weights_only=True` restores just the model (e.g. for evaluation).
        """
        step = self.latest_step() if step is None else step
        if step is None:
            return None
        path = self.path(step)
        if not (path / INFO_NAME).exists():
            raise FileNotFoundError(f"No complete checkpoint for step {step} in {self.directory}; "
                                    f"available steps: {self.steps()}.")
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not weights_only and not optimizer.built:
            optimizer.build(model.trainable_variables)
        if weights_only:
            load_model_weights(model, path / WEIGHTS_NAME)
        else:
            model.load_weights(str(path / WEIGHTS_NAME))
            with np.load(path / STATE_NAME) as state:
                # Matched by position and shape: variable paths carry per-process name
                # counters (seed_generator_3/...), the order is fixed by the model.
                variables = model.non_trainable_variables
                saved = [state[f"v{i:05d}"] for i in range(len(state["paths"]))]
                shapes_ok = len(saved) == len(variables) and all(
                    tuple(a.shape) == tuple(v.shape) for a, v in zip(saved, variables)
                )
                if not shapes_ok:
                    raise ValueError(
                        f"Checkpoint {path} does not match the model's non-trainable variables: "
                        f"saved {[tuple(a.shape) for a in saved]}, model {[tuple(v.shape) for v in variables]}."
                    )
                for a, v in zip(saved, variables):
                    v.assign(a)
        return self.info(step)


def load_model_weights(model, weights_file):
    """Loads only the model's own variables from a checkpoint `.weights.h5`.

    A checkpoint also holds the training optimizer's variables; a model built for
    evaluation or export (possibly compiled with a default optimizer, as KerasHub tasks
    are) skips them, without Keras' warning about the optimizer mismatch.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(str(weights_file))
