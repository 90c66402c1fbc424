"""Keras callback running evaluators every `log_steps` during `fit` and at the end."""

import time

import keras

from keras_vision.evaluators.eval_config import EvalSpec
from keras_vision.evaluators.eval_config import from_config


def _as_specs(evaluators):
    if isinstance(evaluators, dict):  # a config with `evals`, or the `evals` dict itself
        config = evaluators if "evals" in evaluators else {"evals": evaluators}
        return from_config(config)
    specs = []
    for e in evaluators:
        if isinstance(e, EvalSpec):
            specs.append(e)
        else:
            name, ev, log_steps, *prefix = e
            specs.append(EvalSpec(name, ev, log_steps, prefix[0] if prefix else f"{name}/"))
    return specs


class EvaluatorCallback(keras.callbacks.Callback):
    """Runs evaluators during `model.fit` and records their results with the step.

    Evaluators run at epoch ends (the only point where every backend has the current
    weights in the model's variables): an evaluator with `log_steps=N` runs at the first
    epoch end at or after each multiple of N, and every evaluator runs once more at the
    end of training. Choose `steps_per_epoch` dividing `log_steps` for exact steps.

    Args:
        evaluators: a list of `EvalSpec` / (name, evaluator, log_steps[, prefix]) tuples,
            or a config (dict) whose `evals` entry is read by `from_config`.
        initial_step: the optimizer step at which this `fit` starts (for resumed runs).
        steps_per_update: batches per optimizer step (gradient accumulation).
        writer: optional object with `write(step, {name: value}, kind="eval")`.
        verbose: print one line per evaluation.

    Results are in `self.history`: a list of (step, name, value).

    Example:
    >>> cb = EvaluatorCallback([("val", ClassificationEvaluator(...), 100)])
    >>> model.fit(ds, epochs=10, steps_per_epoch=100, callbacks=[cb])
    """

    def __init__(self, evaluators, initial_step=0, steps_per_update=1, writer=None, verbose=True):
        super().__init__()
        self.specs = _as_specs(evaluators)
        self.step = int(initial_step)
        self.steps_per_update = int(steps_per_update)
        self.writer, self.verbose = writer, verbose
        self.history = []
        self.eval_seconds = 0.0
        self._batches = 0
        self._last_bucket = {s.name: self.step // s.log_steps if s.log_steps else 0 for s in self.specs}
        self._last_run_step = {}

    # --- scheduling -----------------------------------------------------------------
    def is_due(self, spec, step, final=False):
        if self._last_run_step.get(spec.name) == step:
            return False
        if final:
            return True
        return bool(spec.log_steps) and step // spec.log_steps > self._last_bucket[spec.name]

    def evaluate_due(self, step, final=False):
        """Runs the evaluators due at `step` (all not yet run there when `final`)."""
        return self.evaluate(step, [s for s in self.specs if self.is_due(s, step, final)])

    def evaluate(self, step, specs=None):
        """Runs `specs` (default: all) on the model now; returns {prefixed name: value}."""
        results = {}
        for spec in self.specs if specs is None else specs:
            t0 = time.perf_counter()
            values = {f"{spec.prefix}{k}": float(v) for k, v in spec.evaluator.run(self.model)}
            dt = time.perf_counter() - t0
            self.eval_seconds += dt
            if spec.log_steps:
                self._last_bucket[spec.name] = step // spec.log_steps
            self._last_run_step[spec.name] = step
            self.history.extend((step, k, v) for k, v in values.items())
            if self.writer is not None:
                self.writer.write(step, values, kind="eval")
            if self.verbose:
                shown = "  ".join(f"{k}={v:.4f}" for k, v in values.items())
                print(f"[step {step}] eval {spec.name} ({dt:.1f}s): {shown}", flush=True)
            results.update(values)
        return results

    # --- Keras hooks ----------------------------------------------------------------
    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.steps_per_update == 0:
            self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        self.evaluate_due(self.step)

    def on_train_end(self, logs=None):
        self.evaluate_due(self.step, final=True)
