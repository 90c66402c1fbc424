"""`train(config, workdir)`: runs a big_vision-style recipe with `model.fit`, resumably."""

import collections
import contextlib
import json
import math
import os
import pathlib
import time

import keras

from keras_vision import evaluators as kv_evaluators
from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigDict
from keras_vision.config import ConfigError
from keras_vision.config import get_steps
from keras_vision.distribution import check_batch_size
from keras_vision.distribution import make_distribution
from keras_vision.trainers import builders
from keras_vision.trainers import report
from keras_vision.loading import CONFIG_NAME
from keras_vision.loading import CheckpointManager
from keras_vision.loading import model_from_config
from keras_vision.trainers.errors import TrainingDivergedError
from keras_vision.trainers.errors import WorkdirConfigError
from keras_vision.trainers.metrics_writer import MetricsWriter
from keras_vision.trainers.prebuild import prebuild
from keras_vision.trainers.progress_printer import ProgressPrinter
from keras_vision.trainers.recipe_callback import RecipeCallback
from keras_vision.trainers.recipe_callback import RunState
from keras_vision.trainers.run_config import resolve_run_config
from keras_vision.trainers.run_config import resolved_config_json
from keras_vision.trainers.run_preparation import prepare_run
from keras_vision.trainers.trainer_registry import make_trainer


TrainResult = collections.namedtuple("TrainResult", ["model", "summary", "workdir"])


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_workdir_config(workdir, config, write=True):
    """Checks that a run already in `workdir` used `config`, then writes `config.json`.

    Only a workdir with checkpoints holds a run: a start that failed before its first
    checkpoint (e.g. on a config typo) may be retried with a corrected config.
    """
    path = pathlib.Path(workdir) / CONFIG_NAME
    new = json.loads(config.to_json())
    has_run = any((pathlib.Path(workdir) / "checkpoints").glob("ckpt-*"))
    if path.exists() and has_run:
        with open(path) as f:
            old = resolved_config_json(json.load(f))  # also a config.json written before resolution
        if old != new:
            a, b = _flatten(old), _flatten(new)
            diffs = [f"  {k}: {a.get(k, '<missing>')!r} -> {b.get(k, '<missing>')!r}"
                     for k in sorted(set(a) | set(b)) if a.get(k, "<missing>") != b.get(k, "<missing>")]
            raise WorkdirConfigError(
                f"Workdir {str(workdir)!r} holds a run with a different config "
                f"({len(diffs)} key(s) differ):\n" + "\n".join(diffs[:20])
                + ("\n  ..." if len(diffs) > 20 else "")
                + "\nUse a new --workdir, or delete this one to start over."
            )
        return
    if write:
        tmp = path.with_suffix(".json.tmp")
        with open(tmp, "w") as f:
            f.write(config.to_json())
        os.replace(tmp, path)


def _interval_chunk(total_steps, intervals):
    """Steps per Keras epoch: the gcd of every log / eval / checkpoint interval."""
    chunk = 0
    for n in intervals:
        if n:
            chunk = math.gcd(chunk, int(n))
    return min(chunk or total_steps, total_steps)


def _segments(start, total, chunk):
    """(steps_per_epoch, epochs) fit calls covering (start, total] with epoch ends at chunk multiples."""
    out, step = [], start
    while step < total:
        if step % chunk:
            n = min(chunk - step % chunk, total - step)
            out.append((step, n, 1))
            step += n
        elif total - step >= chunk:
            epochs = (total - step) // chunk
            out.append((step, chunk, epochs))
            step += chunk * epochs
        else:
            out.append((step, total - step, 1))
            step = total
    return out


def describe_distribution(dist):
    """"DataParallel mesh {'data': 8}" (None without a distribution)."""
    if dist is None:
        return None
    mesh = dict(zip(dist.device_mesh.axis_names, (int(n) for n in dist.device_mesh.shape)))
    return f"{type(dist).__name__} mesh {mesh}"


def _resolve(obj, *args):
    return obj(*args) if callable(obj) and not isinstance(obj, keras.Model) else obj


@keras_vision_export("keras_vision.trainers.train")
def train(config, workdir, *, model=None, train_data=None, optimizer=None, evaluators=None,
          callbacks=(), verbose=True):
    """Trains a recipe config in `workdir`; resumes from its last checkpoint if there is one.

    First runs the recipe's preparation steps (`keras_vision.trainers.prepare_run`:
    "{workdir}" placeholders, `config.pretrain` stages, a `config.sentencepiece`
    vocabulary, ...). Then builds the data (`keras_vision.data.make_pipeline`), the model
    (`keras_vision.models.build_model(config.model_name, **config.model)` or
    `config.model_init`), the optimizer (`keras_vision.optimizers.make_optimizer`), the
    loss (`config.loss`, or the model's own `compute_loss` when unset) and the
    evaluators (`config.evals`), then runs `model.fit` (or the `fit` of the wrapper that
    `config.trainer` names, see `register_trainer`) in chunks whose ends are the
    log / eval / checkpoint steps. Writes to `workdir`: `config.json`, `metrics.csv`,
    `tensorboard/`, `checkpoints/ckpt-<step>/`, `summary.json` and `metrics.png`.

    A killed run started again with the same command continues from its last
    checkpoint and ends with the same weights as an uninterrupted run: seeds come from
    `config.seed`, the data pipeline restarts at the checkpoint's batch, and the
    dropout RNG state is part of the checkpoint.

    Scale-out (JAX): `config.mesh` and `config.sharding_strategy` / `config.sharding_rules`
    (see `keras_vision.distribution`) set a `keras.distribution` for the whole run: the
    model and optimizer variables are created with their layouts and each batch is split
    over the "data" mesh axis (the global batch must divide it; checked before training).
    `config.remat` and `config.dtype_mm` apply while the model is built;
    `config.multihost = True` calls `keras.distribution.initialize()` first. A `model`
    passed already built keeps the layouts it was created with.

    Gradient accumulation (`config.grad_accum_steps = k`) splits each batch of
    `config.input.batch_size` into k micro-batches and averages their gradients. That
    equals the full-batch gradient for losses that are a mean of per-example terms
    (softmax_xent, sigmoid_xent, distillation); it is NOT the same for batch-coupled
    losses (SigLIP / softmax contrastive, whose negatives come from the batch) nor with
    batch statistics (BatchNorm); mixup then draws one coefficient per micro-batch.

    Args:
        config: a recipe ConfigDict (see recipes/README.md for the keys).
        workdir: run directory (created); must be new or hold a run of the same config.
        model, train_data, optimizer, evaluators: optional replacements of what the
            config would build, for scripts and tests: a `keras.Model` or a zero-argument
            function returning one; `train_data(start_batch)` returning a tf.data of
            (x, y) batches starting at that batch (or a deterministic `tf.data.Dataset`,
            then skipped); an optimizer or `optimizer(total_steps)`; a list of
            `EvalSpec`s.
        callbacks: extra Keras callbacks passed to every `fit` call.
        verbose: print progress lines.

    Returns:
        TrainResult(model, summary, workdir).

    Example:
    >>> from keras_vision.config import load_recipe
    >>> cfg = load_recipe("recipes/vit_shapes.py:runlocal")
    >>> result = train(cfg, "runs/vit_shapes_local")
    >>> result.summary["evals"]["val/prec@1"]
    """
    t_start = time.perf_counter()
    config = ConfigDict(config)
    config = resolve_run_config(config)  # variants -> numbers: config.json stores what is built
    if config.get("multihost"):
        # Before anything touches a device: joins this process to the other hosts'.
        keras.distribution.initialize()
    config = prepare_run(config, workdir, lambda stage_config, stage_dir: train(stage_config, stage_dir, verbose=verbose))
    dist = make_distribution(config)
    with dist.scope() if dist is not None else contextlib.nullcontext():
        return _train(config, workdir, dist, t_start, model=model, train_data=train_data, optimizer=optimizer,
                      evaluators=evaluators, callbacks=callbacks, verbose=verbose)


def _train(config, workdir, dist, t_start, *, model, train_data, optimizer, evaluators, callbacks, verbose):
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    check_workdir_config(workdir, config, write=False)  # fail fast, write once all is built
    if "input" not in config and train_data is None:
        raise ConfigError("The config needs an `input` section (data, pp, batch_size).")
    keras.utils.set_random_seed(int(config.get("seed", 0)))

    accum = int(config.get("grad_accum_steps") or 1)
    batch_size = int(config.input.batch_size) if "input" in config else int(config.get("batch_size", 0))
    if accum > 1 and batch_size % accum:
        raise ConfigError(f"input.batch_size={batch_size} is not divisible by grad_accum_steps={accum}.")
    check_batch_size(dist, batch_size // accum,
                     "input.batch_size" + (f" / grad_accum_steps = {batch_size // accum}" if accum > 1 else ""))
    num_examples = builders.num_train_examples(config) if train_data is None else None
    total_steps = builders.total_steps_of(config, num_examples)
    data_epoch = num_examples // batch_size if num_examples and batch_size else None
    interval_kw = dict(total_steps=total_steps, steps_per_epoch=data_epoch, batch_size=batch_size)
    log_steps = get_steps("log_training", config, default=max(1, total_steps // 10), **interval_kw)
    ckpt_steps = get_steps("ckpt", config, default=total_steps, **interval_kw)

    # --- model, loss, optimizer ------------------------------------------------------
    model = model_from_config(config) if model is None else _resolve(model)
    if optimizer is None:
        optimizer = builders.build_optimizer(config, total_steps, num_examples)
    else:
        optimizer = builders.apply_grad_accum(_resolve(optimizer, total_steps), accum)
    loss = builders.build_loss(config)
    model.compile(optimizer=optimizer, **({"loss": loss} if loss is not None else {}))

    def make_data(start_step):
        start_batch = start_step * accum
        if train_data is None:
            return builders.build_train_dataset(config, start_batch, batch_size // accum)
        if callable(train_data):
            return train_data(start_batch)
        return train_data.repeat().skip(start_batch)

    if not model.built:  # subclassed models: one forward pass creates the variables
        x = next(iter(make_data(0)))[0]
        model(x)
    model.optimizer.build(model.trainable_variables)
    if getattr(dist, "explicit_rules", False):
        dist.check_rules_used(model)  # a typo in a regex must not silently replicate

    specs = kv_evaluators.from_config(config, total_steps=total_steps, steps_per_epoch=data_epoch) \
        if evaluators is None else list(evaluators)
    # A training-time wrapper (config.trainer) fits the model's variables in its place;
    # evaluators that need it (e.g. a distiller's teachers) get it through `bind_trainer`.
    fit, trainer = model.fit, None
    if config.get("trainer"):
        trainer = make_trainer(config.trainer, model, config)
        fit = trainer.fit
        for spec in specs:
            if hasattr(spec.evaluator, "bind_trainer"):
                spec.evaluator.bind_trainer(trainer)
    check_workdir_config(workdir, config)

    # --- resume -----------------------------------------------------------------------
    ckpts = CheckpointManager(workdir / "checkpoints", keep=config.get("keep_ckpt", 3),
                              keep_every_steps=config.get("keep_ckpt_steps"))
    ckpts.remove_partial_saves()
    info = ckpts.restore(model)
    start_step = info["step"] if info else 0
    state = RunState(step=start_step, total_steps=total_steps, batch_size=batch_size,
                     steps_per_update=accum, log_steps=log_steps, ckpt_steps=ckpt_steps,
                     num_examples=num_examples, timings=(info or {}).get("timings"))
    state.last_checkpoint_step = info["step"] if info else None
    writer = MetricsWriter(workdir, resume_step=start_step if info else None,
                           tensorboard=config.get("tensorboard", True))
    printer = ProgressPrinter(total_steps, batch_size) if verbose else None

    eval_cb = kv_evaluators.EvaluatorCallback(specs, initial_step=start_step, writer=writer, verbose=verbose)
    recipe_cb = RecipeCallback(state, writer, printer, ckpts, eval_cb, model=model)

    if printer:
        printer.note(
            f"keras-vision train: {workdir} | backend {keras.backend.backend()} | "
            f"{model.count_params():,} params | batch {batch_size}"
            + (f" ({accum} x {batch_size // accum})" if accum > 1 else "")
            + f" | {total_steps} steps"
            + (f" | {describe_distribution(dist)}" if dist is not None else "")
            + (f" | resuming from step {start_step}" if info else "")
        )

    chunk = _interval_chunk(total_steps, [log_steps, ckpt_steps] + [s.log_steps for s in specs])
    status, error = "completed", None
    setup_s = time.perf_counter() - t_start
    try:
        for seg_start, steps_per_epoch, epochs in _segments(start_step, total_steps, chunk):
            data = make_data(seg_start)
            if trainer is None:  # a wrapper builds itself from its own (wrapped) inputs
                prebuild(model, data)
            fit(data, epochs=epochs, steps_per_epoch=steps_per_epoch * accum,
                      callbacks=[recipe_cb, *callbacks], verbose=0, shuffle=False)
            if model.stop_training:  # a user callback asked to stop
                status = "stopped"
                break
    except TrainingDivergedError as e:
        status, error = "diverged", e
    finally:
        writer.close()

    timings = dict(state.timings)
    timings["setup_s_last_process"] = setup_s
    timings["wall_s_last_process"] = time.perf_counter() - t_start
    run_steps = state.step
    if timings["train_s"] > 0:
        timings["steps_per_sec"] = run_steps / timings["train_s"]
        timings["images_per_sec"] = run_steps * batch_size / timings["train_s"]
    summary = report.build_summary(
        workdir, config=config.to_dict(), status=status, final_step=state.step,
        total_steps=total_steps, timings=timings,
        extra={"backend": keras.backend.backend(), "keras_version": keras.__version__,
               "num_params": int(model.count_params()),
               "distribution": describe_distribution(dist),
               "error": str(error) if error else None,
               "checkpoints": ckpts.steps()},
    )
    report.write_summary(workdir, summary)
    try:
        report.plot_metrics(workdir)
    except Exception as e:  # a broken matplotlib install must not lose a finished run
        print(f"warning: could not plot metrics: {e}")
    if printer and status == "completed":
        # Per-seed few-shot numbers stay in summary.json; the seed means are shown.
        evals = ", ".join(f"{k}={v['value']:.4f}" for k, v in summary["evals"].items() if "-seed-" not in k)
        printer.note(f"done: step {state.step} | {evals or 'no evals'} | {workdir / report.SUMMARY_NAME}")
    if error is not None:
        raise error
    return TrainResult(model, summary, workdir)
