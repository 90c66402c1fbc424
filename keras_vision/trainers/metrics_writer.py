"""Scalar logging of a run to `metrics.csv` and TensorBoard event files."""

import csv
import math
import os
import pathlib

import tensorflow as tf

CSV_NAME = "metrics.csv"
FIELDS = ("step", "kind", "name", "value")


def read_metrics(workdir):
    """Rows of `workdir/metrics.csv` as dicts {step:int, kind, name, value:float}."""
    path = pathlib.Path(workdir) / CSV_NAME
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [
            {"step": int(r["step"]), "kind": r["kind"], "name": r["name"], "value": float(r["value"])}
            for r in csv.DictReader(f)
        ]


class MetricsWriter:
    """Appends (step, kind, name, value) rows to `metrics.csv` and TensorBoard scalars.

    The CSV is long-format so that evaluators may add metrics at any time. When a run
    resumes from a checkpoint at step S, rows logged after S by the interrupted run are
    dropped, so the file of a resumed run equals that of an uninterrupted one.

    Args:
        workdir: the run directory.
        resume_step: keep only rows with step <= resume_step (None: start a new file).
        tensorboard: also write TensorBoard events under `workdir/tensorboard`.

    Example:
    >>> w = MetricsWriter("runs/x")
    >>> w.write(10, {"training_loss": 2.3})
    """

    def __init__(self, workdir, resume_step=None, tensorboard=True):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.path = self.workdir / CSV_NAME
        self.tensorboard = tensorboard
        kept = [r for r in read_metrics(workdir) if resume_step is not None and r["step"] <= resume_step]
        tmp = self.path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            w.writeheader()
            w.writerows(kept)
        os.replace(tmp, self.path)
        self.rows = kept
        self._tb = None

    def _tb_writer(self):
        if self._tb is None:
            self._tb = tf.summary.create_file_writer(str(self.workdir / "tensorboard"))
        return self._tb

    def write(self, step, scalars, kind="train"):
        """Logs {name: value} at `step`; `kind` is "train" or "eval"."""
        rows = [
            {"step": int(step), "kind": kind, "name": name, "value": float(value)}
            for name, value in scalars.items()
        ]
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerows(rows)
            f.flush()
            os.fsync(f.fileno())
        self.rows.extend(rows)
        if self.tensorboard:
            with self._tb_writer().as_default():
                for r in rows:
                    if math.isfinite(r["value"]):
                        tf.summary.scalar(r["name"], r["value"], step=r["step"])
            self._tb.flush()

    def close(self):
        if self._tb is not None:
            self._tb.close()
            self._tb = None
