"""Benchmark: train-step time and per-device memory vs number of devices (JAX).

`run_scaling` starts one Python process per device count, because the simulated CPU
device count (`XLA_FLAGS=--xla_force_host_platform_device_count=N`) is read once per
process, when JAX starts its backend (the first device query); on a GPU/TPU machine the
first N real devices are used instead. Each process builds the model under the layout's
`keras.distribution`, trains on a fixed synthetic batch and prints one JSON record:

- `step_ms`: median wall time of one `train_on_batch` (global batch `batch_size`)
  after `warmup` untimed steps (compilation included in those).
- `mem_argument_bytes`, `mem_temp_bytes`, `mem_bytes_per_device`: XLA's
  `memory_analysis()` of the compiled train step, per device: arguments (parameters,
  optimizer state, metrics, this device's batch shard) + temporaries (activations and
  scratch). `mem_source` says "compiled"; where the backend gives no analysis it is
  "live_arrays" and `mem_bytes_per_device` is the largest per-device sum of live
  variable shards instead.
- `param_bytes_per_device`: the largest per-device sum of parameter shards.

Simulated devices share the host's cores: step times then measure the partitioned
program's overheads, not real speed-ups; memory figures are exact per-device sizes.

Command line (one record): `python -m keras_vision.bench.scaling --devices 8
--layout fsdp --variant S/16 --json`.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import keras
import numpy as np

from keras_vision.backend.jax import train_step_memory as tsm
from keras_vision.config import ConfigDict
from keras_vision.distribution import make_distribution
from keras_vision.loading import model_from_config
from keras_vision.trainers import builders

LAYOUTS = ("data", "fsdp", "fsdp_tp")


def _mesh_and_rules(layout, devices, model_axis, min_shard_mb):
    if layout == "data":
        return dict(mesh=[("data", devices)])
    if layout == "fsdp":
        return dict(mesh=[("data", devices)],
                    sharding_rules=dict(level="fsdp", min_size_to_shard_mb=min_shard_mb))
    if layout == "fsdp_tp":
        m = min(model_axis, devices)
        if devices % m:
            raise ValueError(f"fsdp_tp: {devices} devices do not divide into a model axis of {m}.")
        return dict(mesh=[("data", devices // m), ("model", m)],
                    sharding_rules=dict(level="fsdp_tp", min_size_to_shard_mb=min_shard_mb))
    raise ValueError(f"Unknown layout {layout!r}; expected one of {LAYOUTS}.")


def measure(devices, model="vit", variant="mu/8", layout="data", batch_size=16, steps=5, warmup=2,
            image_size=32, num_classes=10, model_axis=2, min_shard_mb=0.0, remat=None, dtype_mm=None,
            model_kwargs=None):
    """One record, in this process (JAX must already see >= `devices` devices)."""
    all_devices = keras.distribution.list_devices()
    if len(all_devices) < devices:
        raise RuntimeError(f"{devices} devices asked for, {len(all_devices)} visible: {all_devices}. On a CPU, set "
                           f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} before starting Python.")
    cfg = ConfigDict(dict(
        model_name=model,
        model=dict(variant=variant, num_classes=num_classes, image_size=image_size, **(model_kwargs or {})),
        input=dict(batch_size=batch_size), lr=1e-3, wd=1e-4, optax_name="scale_by_adam",
        schedule=dict(warmup_steps=0, decay_type="cosine"), grad_clip_norm=1.0, loss="softmax_xent",
        remat=remat, dtype_mm=dtype_mm, **_mesh_and_rules(layout, devices, model_axis, min_shard_mb),
    ))
    dist = make_distribution(cfg, devices=all_devices[:devices])
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)).astype("float32")
    y = np.eye(num_classes, dtype="float32")[rng.integers(0, num_classes, batch_size)]
    with dist.scope():
        keras.utils.set_random_seed(0)
        net = model_from_config(cfg)
        net.compile(optimizer=builders.build_optimizer(cfg, total_steps=steps + warmup),
                    loss=builders.build_loss(cfg))
        net.optimizer.build(net.trainable_variables)
        for _ in range(warmup):
            net.train_on_batch(x, y)
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            net.train_on_batch(x, y)  # returns host floats: the step has finished
            times.append(time.perf_counter() - t)
        per_device = tsm.variable_bytes_per_device(net.trainable_variables)
        live = tsm.variable_bytes_per_device(
            net.trainable_variables + net.non_trainable_variables + net.optimizer.variables)
        record = dict(devices=devices, layout=layout, mesh={k: int(v) for k, v in zip(
            dist.device_mesh.axis_names, dist.device_mesh.shape)}, model=model, variant=variant,
            batch_size=batch_size, step_ms=1000.0 * float(np.median(times)),
            num_params=int(net.count_params()), param_bytes_per_device=max(per_device.values()),
            device_kind=str(all_devices[0]).split(":")[0])
        try:
            mem = tsm.compiled_train_step_memory(net, x, y)
            record.update(mem_argument_bytes=mem["argument"], mem_temp_bytes=mem["temp"],
                          mem_bytes_per_device=mem["peak_estimate"], mem_source="compiled")
        except Exception as e:  # some backends have no memory_analysis
            record.update(mem_bytes_per_device=max(live.values()), mem_source="live_arrays",
                          mem_error=f"{type(e).__name__}: {e}"[:200])
    return record


def run_scaling(model="vit", variant="mu/8", device_counts=(1, 2, 4, 8), batch_size=16, steps=5,
                layout="data", warmup=2, image_size=32, timeout=600, **kwargs):
    """Runs `measure` in one subprocess per device count; returns the list of records.

    Args:
        model, variant: registry model name and big_vision variant ("mu/8", "S/16", ...).
        device_counts: numbers of devices (simulated on CPU; the first N on GPU/TPU).
        batch_size: global batch (must divide by every count's data axis).
        steps, warmup: timed and untimed training steps per count.
        layout: "data" (replicated), "fsdp" or "fsdp_tp" (model axis 2).
        timeout: seconds per subprocess.
        **kwargs: more `measure` arguments (model_axis, min_shard_mb, remat, dtype_mm,
            num_classes, model_kwargs).

    Returns:
        list of dicts (see the module docstring), one per device count.

    Example:
    >>> print(format_scaling_table(run_scaling(variant="mu/8", layout="fsdp")))
    """
    records = []
    for n in device_counts:
        env = dict(os.environ)
        flags = [f for f in env.get("XLA_FLAGS", "").split() if "xla_force_host_platform_device_count" not in f]
        env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={n}"])
        env["KERAS_BACKEND"] = "jax"
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        args = dict(devices=n, model=model, variant=variant, layout=layout, batch_size=batch_size, steps=steps,
                    warmup=warmup, image_size=image_size, **kwargs)
        proc = subprocess.run([sys.executable, "-m", "keras_vision.bench.scaling", "--args-json", json.dumps(args)],
                              env=env, capture_output=True, text=True, timeout=timeout)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("SCALING_RECORD ")]
        if proc.returncode or not lines:
            raise RuntimeError(f"scaling run with {n} devices failed (exit {proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        records.append(json.loads(lines[-1][len("SCALING_RECORD "):]))
    return records


def _mib(b):
    return f"{b / 2**20:.2f}"


def format_scaling_table(records):
    """Markdown table of `run_scaling` records."""
    head = ("| devices | layout | mesh | step ms | params MiB/device | train-step MiB/device "
            "(argument + temp) | source |")
    lines = [head, "|---:|---|---|---:|---:|---:|---|"]
    for r in records:
        mesh = " x ".join(f"{k}={v}" for k, v in r["mesh"].items())
        mem = _mib(r["mem_bytes_per_device"])
        if r.get("mem_source") == "compiled":
            mem += f" ({_mib(r['mem_argument_bytes'])} + {_mib(r['mem_temp_bytes'])})"
        lines.append(f"| {r['devices']} | {r['layout']} | {mesh} | {r['step_ms']:.1f} | "
                     f"{_mib(r['param_bytes_per_device'])} | {mem} | {r.get('mem_source', '')} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--args-json", help="all arguments of `measure` as JSON (used by run_scaling)")
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--model", default="vit")
    p.add_argument("--variant", default="mu/8")
    p.add_argument("--layout", default="data", choices=LAYOUTS)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--json", action="store_true", help="print the record as JSON only")
    a = p.parse_args(argv)
    if a.args_json:
        kwargs = json.loads(a.args_json)
    else:
        kwargs = dict(devices=a.devices, model=a.model, variant=a.variant, layout=a.layout,
                      batch_size=a.batch_size, steps=a.steps, warmup=a.warmup, image_size=a.image_size)
    record = measure(**kwargs)
    if a.json and not a.args_json:
        print(json.dumps(record))
    else:
        print("SCALING_RECORD " + json.dumps(record))


if __name__ == "__main__":
    main()
