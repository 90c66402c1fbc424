"""Two-tower (SigLIP) training step: dense vs chunked sigmoid loss, under JAX data parallelism.

Builds `build_model("proj.image_text.two_towers", ...)` once per loss ("sigmoid":
the dense (B, B) global logits; "sigmoid_chunked": the ring of (b, b) blocks over the
data-parallel devices), compiles it with big_vision's optimizer and times
`train_on_batch` on a fixed synthetic batch of images and token ids, with
`keras.distribution.DataParallel` over `devices` devices. Also reports XLA's
`memory_analysis()` of the compiled train step per device (JAX) and analytic
FLOPs of the image tower (the text tower is not counted; MFU is "image-tower MFU").

On a CPU, simulate devices with `XLA_FLAGS=--xla_force_host_platform_device_count=N`
set before JAX starts its backend (`keras-vision bench two_tower --devices N` does this);
simulated devices share the host's cores, so memory per device is exact and times
measure the partitioned program's overheads. On one device both losses are the same
computation.
"""

import keras
import numpy as np

from keras_vision.backend.jax import train_step_memory as tsm
from keras_vision.bench import flops as flops_lib
from keras_vision.bench import timing
from keras_vision.config import ConfigDict
from keras_vision.models import build_model
from keras_vision.optimizers import make_optimizer

LOSSES = ("sigmoid", "sigmoid_chunked")


def run_two_tower_bench(image_variant="mu/8", text_variant="mu", image_size=32, seq_len=16, vocab_size=1000,
                        out_dim=64, batch_size=16, devices=None, losses=LOSSES, warmup=2, steps=3, rounds=2,
                        dtype="float32", seed=0, log=None):
    """Times a two-tower train step per contrastive loss; returns a JSON-able record.

    Args:
        image_variant, text_variant: big_vision variants of the ViT and text towers.
        image_size, seq_len, vocab_size, out_dim: tower shapes.
        batch_size: global batch (divisible by the device count).
        devices: data-parallel device count (default: all visible; JAX backend only
            when > 1).
        losses: subset of ("sigmoid", "sigmoid_chunked").
        warmup, steps, rounds: as `run_vit_bench` (losses interleaved per round).
        dtype: "float32" or "bfloat16" (towers' dtype_mm).
        seed: weights and data seed.
        log: optional callable(str).
    """
    log = log or (lambda s: None)
    for loss in losses:
        if loss not in LOSSES:
            raise ValueError(f"Unknown loss {loss!r}; expected some of {LOSSES}.")
    backend = keras.backend.backend()
    all_devices = keras.distribution.list_devices()
    n = int(devices or len(all_devices))
    if n > len(all_devices):
        raise ValueError(f"{n} devices asked for, {len(all_devices)} visible; on a CPU set "
                         f"XLA_FLAGS=--xla_force_host_platform_device_count={n} before starting Python.")
    if batch_size % n:
        raise ValueError(f"Batch {batch_size} is not divisible by the {n} devices.")
    dist = keras.distribution.DataParallel(devices=all_devices[:n]) if n > 1 else None

    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)).astype("float32")
    tokens = rng.integers(1, vocab_size, (batch_size, seq_len)).astype("int32")
    opt_config = ConfigDict(dict(optax_name="scale_by_adam", lr=1e-3, wd=1e-4, grad_clip_norm=1.0, schedule={}))
    tower_dtype = {} if dtype == "float32" else {"dtype_mm": dtype}

    runners = []
    for loss in losses:
        scope = dist.scope() if dist is not None else _null()
        with scope:
            keras.utils.set_random_seed(seed)
            model = build_model(
                "proj.image_text.two_towers",
                image=dict(variant=image_variant, pool_type="map", image_size=image_size, **tower_dtype),
                text=dict(variant=text_variant, vocab_size=vocab_size, seq_len=seq_len, **tower_dtype),
                out_dim=out_dim, temperature_init=10.0, bias_init=-10.0, loss=loss,
            )
            model.compile(optimizer=make_optimizer(opt_config, warmup + steps * rounds + 1))
            x = {"image": images, "labels": tokens}
            model.train_on_batch(x)  # builds the optimizer
            entry = dict(loss=loss, model=model, x=x, times=[])
            if backend == "jax":
                try:
                    entry["memory"] = tsm.compiled_train_step_memory(model, x)
                except Exception as e:  # memory figures are optional
                    entry["memory_error"] = f"{type(e).__name__}: {e}"[:200]
            for _ in range(max(0, warmup - 1)):
                model.train_on_batch(x)
        runners.append(entry)
        log(f"built {loss}")

    for i in range(rounds):
        for entry in runners if i % 2 == 0 else runners[::-1]:
            scope = dist.scope() if dist is not None else _null()
            with scope:
                entry["times"] += timing.time_calls(lambda e=entry: e["model"].train_on_batch(e["x"]), steps)
        log(f"round {i + 1}/{rounds}")

    image_cfg = flops_lib.vit_config_of(runners[0]["model"].image_encoder)
    image_cfg["pooling"] = "gap"  # the MAP head's single query is not counted
    results = []
    for entry in runners:
        stats = timing.summarize(entry["times"])
        result = dict(loss=entry["loss"], step_s=stats["median_s"], examples_per_s=batch_size / stats["median_s"],
                      times=stats, num_params=int(entry["model"].count_params()))
        if "memory" in entry:
            result["memory_per_device"] = entry["memory"]
        if "memory_error" in entry:
            result["memory_error"] = entry["memory_error"]
        results.append(result)
    return dict(
        config=dict(image_variant=image_variant, text_variant=text_variant, image_size=image_size, seq_len=seq_len,
                    vocab_size=vocab_size, out_dim=out_dim, batch_size=batch_size, devices=n, dtype=dtype,
                    warmup=warmup, steps=steps, rounds=rounds, backend=backend),
        machine=timing.machine_info(),
        flops=dict(image_tower_train_step=flops_lib.vit_step_flops(batch_size, "train", **image_cfg)),
        results=results,
        peak_rss_bytes=timing.peak_rss_bytes(),
    )


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def format_two_tower_table(record):
    """Markdown table of a `run_two_tower_bench` record."""
    c = record["config"]
    lines = [
        f"two towers img {c['image_variant']} {c['image_size']}px + txt {c['text_variant']} len {c['seq_len']}, "
        f"batch {c['batch_size']} on {c['devices']} device(s), {c['dtype']}, Keras backend {c['backend']}",
        "",
        "| loss | step s | examples/s | argument MiB/device | temp MiB/device |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in record["results"]:
        mem = r.get("memory_per_device") or {}
        arg = "" if "argument" not in mem else f"{mem['argument'] / 2**20:.2f}"
        temp = "" if "temp" not in mem else f"{mem['temp'] / 2**20:.2f}"
        lines.append(f"| {r['loss']} | {r['step_s']:.4f} | {r['examples_per_s']:.1f} | {arg} | {temp} |")
    return "\n".join(lines)
