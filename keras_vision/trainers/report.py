"""End-of-run artefacts: `summary.json` and the `metrics.png` plot of the curves."""

import json
import os
import pathlib

from matplotlib.figure import Figure

from keras_vision.trainers.metrics_writer import read_metrics

SUMMARY_NAME = "summary.json"
PLOT_NAME = "metrics.png"


def _history(rows, kind):
    hist = {}
    for r in rows:
        if r["kind"] == kind:
            hist.setdefault(r["name"], []).append((r["step"], r["value"]))
    return hist


def build_summary(workdir, *, config, status, final_step, total_steps, timings, extra=None):
    """The summary dict of a run, built from its `metrics.csv` (so resumes are included)."""
    rows = read_metrics(workdir)
    train_hist, eval_hist = _history(rows, "train"), _history(rows, "eval")
    return {
        "status": status,
        "final_step": int(final_step),
        "total_steps": int(total_steps),
        "final_train_metrics": {k: v[-1][1] for k, v in train_hist.items()},
        "evals": {k: {"step": v[-1][0], "value": v[-1][1]} for k, v in eval_hist.items()},
        "eval_history": {k: [[s, x] for s, x in v] for k, v in eval_hist.items()},
        "timings": timings,
        **(extra or {}),
        "config": config,
    }


def write_summary(workdir, summary):
    path = pathlib.Path(workdir) / SUMMARY_NAME
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=2, sort_keys=False, default=str)
    os.replace(tmp, path)
    return path


def plot_metrics(workdir, out=None, max_panels=12):
    """Plots every logged metric of `workdir/metrics.csv` against the step into a PNG.

    One panel per metric (training metrics first, then evaluator metrics), at most
    `max_panels`. Returns the PNG path, or None when nothing was logged.
    """
    rows = read_metrics(workdir)
    series = list(_history(rows, "train").items()) + list(_history(rows, "eval").items())
    # Keep the panels for learning curves: throughput, counters, the schedule (same shape
    # as the learning rate) and per-seed few-shot numbers (their mean is plotted) are
    # in metrics.csv.
    hidden = ("img_per_sec", "steps_per_sec", "examples_seen", "epoch", "global_schedule")
    series = [s for s in series if s[0] not in hidden and "-seed-" not in s[0]] or series
    if not series:
        return None
    series = series[:max_panels]
    cols = min(3, len(series))
    nrows = (len(series) + cols - 1) // cols
    # A bare Figure (no pyplot): renders with Agg, touches no global backend or figure list.
    fig = Figure(figsize=(4.2 * cols, 3.0 * nrows))
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax, (name, points) in zip(axes.flat, series):
        steps, values = zip(*points)
        ax.plot(steps, values, marker="o" if len(points) < 30 else None, markersize=3)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(series):]:
        ax.axis("off")
    fig.suptitle(pathlib.Path(workdir).name, fontsize=11)
    fig.tight_layout()
    out = pathlib.Path(out or pathlib.Path(workdir) / PLOT_NAME)
    fig.savefig(out, dpi=90)
    return out
