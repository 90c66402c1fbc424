"""The recipe runner's callback: step bookkeeping, NaN guard, logging, evals, checkpoints."""

import math
import time

import keras

from keras_vision.trainers.errors import TrainingDivergedError


class RunState:
    """Mutable bookkeeping of a run, saved in each checkpoint's info and in summary.json."""

    def __init__(self, *, step, total_steps, batch_size, steps_per_update, log_steps, ckpt_steps,
                 num_examples=None, timings=None):
        self.step, self.total_steps = int(step), int(total_steps)
        self.batch_size, self.steps_per_update = int(batch_size), int(steps_per_update)
        self.log_steps, self.ckpt_steps = log_steps, ckpt_steps
        self.num_examples = num_examples
        self.timings = {"train_s": 0.0, "eval_s": 0.0, "checkpoint_s": 0.0, **(timings or {})}
        self.last_checkpoint_step = None

    def is_log_step(self, step):
        return step == self.total_steps or bool(self.log_steps) and step % self.log_steps == 0

    def is_ckpt_step(self, step):
        return step == self.total_steps or bool(self.ckpt_steps) and step % self.ckpt_steps == 0


class RecipeCallback(keras.callbacks.Callback):
    """Drives one recipe run inside `model.fit` (epochs are the run's log/eval/ckpt chunks).

    Per batch: counts optimizer steps and stops with `TrainingDivergedError` naming the
    step as soon as the loss is NaN/inf (no checkpoint is written after that). Per epoch
    end, in this order: training metrics (CSV/TensorBoard + a progress line with img/s
    and ETA), evaluators that are due, then the checkpoint, so that a checkpoint at step
    S always comes after everything logged at S.

    Args:
        state: the run's `RunState`.
        writer: a `MetricsWriter`.
        printer: a `ProgressPrinter` (None: silent).
        checkpoints: a `CheckpointManager` (None: no checkpoints).
        evaluators: an `EvaluatorCallback` used for its scheduling (not added to fit).
        model: the model to checkpoint and evaluate (the recipe's model), also when
            `fit` runs on a training wrapper (`config.trainer`) around it; None: the
            model `fit` sets.
    """

    def __init__(self, state, writer, printer=None, checkpoints=None, evaluators=None, model=None):
        super().__init__()
        self._run_model = model
        self.state, self.writer, self.printer = state, writer, printer
        self.checkpoints, self.evaluators = checkpoints, evaluators
        self._interval = {"sums": {}, "count": 0, "seconds": 0.0, "steps": 0}
        self._start_time = time.perf_counter()
        self._micro = 0
        self._epoch_t0 = None

    def set_model(self, model):
        model = model if self._run_model is None else self._run_model
        super().set_model(model)
        if self.evaluators is not None:
            self.evaluators.set_model(model)

    def on_epoch_begin(self, epoch, logs=None):
        self._micro = 0
        self._epoch_t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._micro += 1
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            # The epoch's running mean turns non-finite at the first bad batch.
            step = self.state.step + -(-self._micro // self.state.steps_per_update)
            last = self.state.last_checkpoint_step
            where = (
                f"the last good checkpoint (step {last}) is kept in {self.checkpoints.directory}"
                if last is not None and self.checkpoints is not None
                else "no checkpoint had been written yet"
            )
            raise TrainingDivergedError(
                f"Training loss became {float(loss)} at step {step} (of {self.state.total_steps}); "
                f"{where}. Lower config.lr, set config.grad_clip_norm, or check the data.",
                step=step,
                last_checkpoint_step=last,
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self._epoch_t0
        st = self.state
        steps = self._micro // st.steps_per_update
        st.step += steps
        st.timings["train_s"] += seconds
        iv = self._interval
        iv["seconds"] += seconds
        iv["steps"] += steps
        # Keras' epoch logs are means over the epoch: weight them by its batch count so
        # that a log interval spanning several epochs reports the interval's mean.
        for k, v in logs.items():
            if isinstance(v, (int, float)):
                iv["sums"][k] = iv["sums"].get(k, 0.0) + float(v) * self._micro
        iv["count"] += self._micro
        if st.is_log_step(st.step):
            self._log_training(st.step, logs)
        if self.evaluators is not None:
            t0 = time.perf_counter()
            self.evaluators.evaluate_due(st.step, final=st.step >= st.total_steps)
            st.timings["eval_s"] += time.perf_counter() - t0
        if self.checkpoints is not None and st.is_ckpt_step(st.step):
            t0 = time.perf_counter()
            self.checkpoints.save(st.step, self.model, info={"timings": dict(st.timings)})
            st.last_checkpoint_step = st.step
            st.timings["checkpoint_s"] += time.perf_counter() - t0

    def _log_training(self, step, logs):
        st, iv = self.state, self._interval
        metrics = {f"training_{k}": v / iv["count"] for k, v in iv["sums"].items()} if iv["count"] else {}
        metrics.update(self._learning_rate_metrics())
        speed = iv["steps"] / iv["seconds"] if iv["seconds"] > 0 else 0.0
        extra = {
            "img_per_sec": speed * st.batch_size,
            "steps_per_sec": speed,
            "examples_seen": float(step * st.batch_size),
        }
        if st.num_examples:
            extra["epoch"] = step * st.batch_size / st.num_examples
        self.writer.write(step, {**metrics, **extra}, kind="train")
        if self.printer is not None:
            shown = {k: v for k, v in metrics.items() if k in ("training_loss", "learning_rate")}
            shown = {("lr" if k == "learning_rate" else k): v for k, v in shown.items()}
            elapsed = time.perf_counter() - self._start_time
            self.printer.print(step, shown, iv["steps"], iv["seconds"], elapsed)
        self._interval = {"sums": {}, "count": 0, "seconds": 0.0, "steps": 0}

    def _learning_rate_metrics(self):
        """The learning rate of the next update (base lr x schedule for big_vision optimizers)."""
        optimizer = getattr(self.model, "optimizer", None)
        try:
            lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        except Exception:  # an optimizer without a readable learning rate: just don't log it
            return {}
        schedule_values = getattr(optimizer, "schedule_values", None)
        if schedule_values is None:
            return {"learning_rate": lr}
        values = {k: float(keras.ops.convert_to_numpy(v)) for k, v in schedule_values().items()}
        if len(values) == 1:
            (sched,) = values.values()
            return {"learning_rate": lr * sched, "global_schedule": sched}
        return {"learning_rate_base": lr, **{f"schedule/{k}": v for k, v in values.items()}}
