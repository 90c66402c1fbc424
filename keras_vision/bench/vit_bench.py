"""ViT training-step and inference throughput: Keras (any backend) vs a native-JAX baseline.

`run_vit_bench(variant="S/16", image_size=224, batch_size=8)` builds the Keras
`ViTImageClassifier` (big_vision's `build_model("vit", ...)`), compiles it with
big_vision's optimizer (`make_optimizer`: scale_by_adam, decoupled weight decay,
global-norm clipping) and the `softmax_xent` loss, and times:

- "keras" train: `model.train_on_batch(images, labels)` (the step `fit` runs, jitted
  by Keras, optimizer update included; returns host floats, so the step is done);
- "keras" infer: `model.predict_on_batch(images)`;
- "native" (JAX only, any Keras backend): the same ViT in `jax.numpy` with the Keras
  weights copied over (`keras_vision.bench.native_vit`, flax's LayerNorm differentiated
  by JAX), and a hand-written big_vision Adam step, jitted with donated buffers;
- "native_vjp" (optional): the same, with the custom-VJP LayerNorm kernel the Keras
  layers use on JAX, so that `keras / native_vjp` is the framework overhead alone.

Keras and native steps are interleaved in `rounds` and a jitted matmul peak is sampled
in every round, so all three see the same machine load; figures are medians over the
rounds. Before timing, the native logits are compared with the Keras logits
(`check.max_abs_logit_diff`), so the baseline computes the same function.

Reported per implementation and mode: median step seconds, images/s, achieved
TFLOP/s (analytic FLOPs, `keras_vision.bench.flops`), MFU (vs the matmul peak),
the first call (compile) time, XLA `cost_analysis` FLOPs and `memory_analysis` of
the compiled step (JAX only; argument + output - alias + temp bytes), and the
process's peak RSS (and accelerator peak bytes where JAX reports them).
"""

import time

import jax
import jax.numpy as jnp
import keras
import numpy as np

from keras_vision.bench import flops as flops_lib
from keras_vision.bench import native_vit
from keras_vision.bench import timing
from keras_vision.config import ConfigDict
from keras_vision.models import build_model
from keras_vision.optimizers import make_optimizer

MODES = ("train", "infer")
BASELINES = ("native", "native_vjp")


def _build_keras(variant, image_size, num_classes, pooling, dtype, model_kwargs):
    kwargs = dict(variant=variant, image_size=image_size, num_classes=num_classes, pool_type=pooling)
    if dtype != "float32":
        kwargs["dtype_mm"] = dtype
    kwargs.update(model_kwargs or {})
    return build_model("vit", **kwargs)


def _compile_keras(model, total_steps, lr, wd, grad_clip_norm):
    opt_config = ConfigDict(dict(optax_name="scale_by_adam", lr=lr, wd=wd, grad_clip_norm=grad_clip_norm,
                                 schedule={}))
    model.compile(optimizer=make_optimizer(opt_config, total_steps), loss="softmax_xent", metrics=[])


def _keras_jax_compiled(model, mode, x, y):
    """The compiled JAX executable of Keras' own train step (or forward), for XLA figures."""
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    if mode == "train":
        state = (trainable, non_trainable, [v.value for v in model.optimizer.variables],
                 [v.value for v in model.metrics_variables])
        # Donated like the function Keras jits for `train_on_batch` (donate_argnums=0).
        return jax.jit(model.train_step, donate_argnums=0).lower(state, (x, y)).compile()

    def forward(tv, ntv, images):
        return model.stateless_call(tv, ntv, images, training=False)[0]

    return jax.jit(forward).lower(trainable, non_trainable, x).compile()


class _Runner:
    """One implementation in one mode: `step()` runs one synchronous step."""

    def __init__(self, impl, mode, step, compiled=None):
        self.impl, self.mode, self._step, self.compiled = impl, mode, step, compiled
        self.times = []
        self.compile_s = None

    def warmup(self, steps):
        start = time.perf_counter()
        self._step()
        self.compile_s = time.perf_counter() - start
        for _ in range(max(0, steps - 1)):
            self._step()

    def run(self, steps):
        times = timing.time_calls(self._step, steps)
        self.times.extend(times)
        return float(np.median(times))


def _keras_runners(model, modes, x, y):
    xk = keras.ops.convert_to_tensor(x)
    yk = keras.ops.convert_to_tensor(y)
    runners = []
    for mode in modes:
        if mode == "train":
            runners.append(_Runner("keras", mode, lambda: model.train_on_batch(xk, yk)))
        else:
            runners.append(_Runner("keras", mode, lambda: model.predict_on_batch(xk)))
    return runners


def _native_runners(model, modes, x, y, dtype, lr, wd, grad_clip_norm, impl="native"):
    cfg = native_vit.vit_config_from_keras(model)
    ln = "vjp" if impl == "native_vjp" else "autodiff"
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    runners = []
    for mode in modes:
        if mode == "train":
            step = native_vit.make_train_step(cfg, lr=lr, wd=wd, grad_clip_norm=grad_clip_norm, compute_dtype=dtype,
                                              layer_norm=ln)
            state = {"params": native_vit.params_from_keras(model)}
            state["opt"] = native_vit.init_adam_state(state["params"])
            compiled = step.lower(state["params"], state["opt"], xj, yj).compile()

            def run(step=step, state=state):
                state["params"], state["opt"], loss = step(state["params"], state["opt"], xj, yj)
                loss.block_until_ready()

            runners.append(_Runner(impl, mode, run, compiled))
        else:
            infer = native_vit.make_infer_step(cfg, compute_dtype=dtype, layer_norm=ln)
            params = native_vit.params_from_keras(model)
            compiled = infer.lower(params, xj).compile()
            runners.append(_Runner(impl, mode, lambda infer=infer, params=params: infer(params, xj)
                                   .block_until_ready(), compiled))
    return runners


def check_native_matches(model, x, dtype="float32"):
    """Max |logits_keras - logits_native| on `x` with the same weights (inference mode)."""
    cfg = native_vit.vit_config_from_keras(model)
    keras_logits = np.asarray(model.predict_on_batch(x), dtype="float32")
    native_logits = np.asarray(
        native_vit.make_infer_step(cfg, dtype)(native_vit.params_from_keras(model), jnp.asarray(x)), dtype="float32")
    return float(np.max(np.abs(keras_logits - native_logits)))


def run_vit_bench(variant="S/16", image_size=224, batch_size=8, modes=("train",), baseline="native",
                  dtype="float32", pooling="gap", num_classes=1000, warmup=2, steps=3, rounds=3,
                  lr=1e-3, wd=1e-4, grad_clip_norm=1.0, matmul_n=None, check=True, model_kwargs=None,
                  seed=0, log=None):
    """Benchmarks a ViT train step and/or inference; returns a JSON-able record.

    Args:
        variant: big_vision ViT variant ("mu/8", "Ti/16", "S/16", "B/16", ...).
        image_size: int, square input resolution.
        batch_size: int.
        modes: subset of ("train", "infer").
        baseline: "native" (also time the `jax.numpy` ViT), "native_vjp" (the same with
            the custom-VJP LayerNorm), a tuple of both, or None.
        dtype: "float32" or "bfloat16" (Keras "mixed_bfloat16"; the native ViT casts
            matmul inputs to bfloat16 the same way). The matmul peak uses this dtype.
        pooling: big_vision pool_type ("gap", "tok"; the native baseline has no "map").
        num_classes: classifier width.
        warmup: untimed steps per implementation (the first one compiles).
        steps: timed steps per implementation per round.
        rounds: interleaved rounds (Keras, native, matmul peak each round).
        lr, wd, grad_clip_norm: optimizer settings of both implementations.
        matmul_n: size of the peak matmul (default 2048 on CPU, 8192 on GPU).
        check: compare native and Keras logits before timing.
        model_kwargs: more `build_model("vit", ...)` kwargs.
        seed: weights and data seed.
        log: optional callable(str) for progress lines.

    Returns:
        dict with "config", "machine", "matmul_peak", "flops", "results" (one dict
        per implementation and mode), "ratios" ({mode: {"keras_over_<baseline>": keras /
        baseline step time (median of the per-round ratios), ...}}),
        "check".
    """
    log = log or (lambda s: None)
    modes = tuple(modes)
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"Unknown mode {mode!r}; expected some of {MODES}.")
    if baseline in (None, "none"):
        baselines = ()
    else:
        baselines = tuple(baseline.split(",")) if isinstance(baseline, str) else tuple(baseline)
    for b in baselines:
        if b not in BASELINES:
            raise ValueError(f"Unknown baseline {b!r}; expected some of {BASELINES} or None.")
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"Unknown dtype {dtype!r}; expected 'float32' or 'bfloat16'.")
    backend = keras.backend.backend()

    keras.utils.set_random_seed(seed)
    model = _build_keras(variant, image_size, num_classes, pooling, dtype, model_kwargs)
    total = warmup + steps * rounds + 1
    _compile_keras(model, total, lr, wd, grad_clip_norm)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)).astype("float32")
    y = np.eye(num_classes, dtype="float32")[rng.integers(0, num_classes, batch_size)]
    # Give the head non-zero weights: a zero-initialised head has zero gradients for
    # the whole backbone, which a compiler could exploit; a real step has none.
    head = model.get_layer("head")
    head.kernel.assign(rng.normal(0, 0.02, head.kernel.shape).astype("float32"))
    fcfg = flops_lib.vit_config_of(model)

    record = dict(
        config=dict(variant=variant, image_size=image_size, batch_size=batch_size, modes=list(modes), dtype=dtype,
                    pooling=pooling, num_classes=num_classes, num_params=int(model.count_params()),
                    warmup=warmup, steps=steps, rounds=rounds, baselines=list(baselines), backend=backend,
                    optimizer=dict(name="scale_by_adam", lr=lr, wd=wd, grad_clip_norm=grad_clip_norm),
                    keras_step=dict(train="model.train_on_batch", infer="model.predict_on_batch")),
        machine=timing.machine_info(),
        flops=dict(forward_per_image=flops_lib.vit_forward_flops(**fcfg),
                   **{f"{m}_step": flops_lib.vit_step_flops(batch_size, m, **fcfg) for m in modes}),
    )
    if check and baselines:
        record["check"] = dict(max_abs_logit_diff=check_native_matches(model, x, dtype))
        log(f"native vs keras logits: max |diff| = {record['check']['max_abs_logit_diff']:.2e}")

    peak = timing.MatmulPeak(n=matmul_n, dtype=dtype)
    backend_peak = None if backend == "jax" else timing.BackendMatmulPeak(n=peak.n, dtype=dtype)
    runners = _keras_runners(model, modes, x, y)
    for b in baselines:
        runners += _native_runners(model, modes, x, y, dtype, lr, wd, grad_clip_norm, impl=b)
    for r in runners:
        log(f"warm-up {r.impl} {r.mode} ({warmup} steps)")
        r.warmup(warmup)
        log(f"  first step {r.compile_s:.2f} s")
    paired = {(b, m): [] for b in baselines for m in modes}
    for i in range(rounds):
        gf = peak.sample()
        if backend_peak is not None:
            backend_peak.sample()
        order = runners if i % 2 == 0 else runners[::-1]
        medians = {}
        for r in order:
            medians[(r.impl, r.mode)] = r.run(steps)
        for b, m in paired:
            paired[(b, m)].append(medians[("keras", m)] / medians[(b, m)])
        log(f"round {i + 1}/{rounds}: matmul {gf:.1f} GFLOP/s; "
            + ", ".join(f"{k[0]} {k[1]} {v:.3f} s" for k, v in medians.items()))
    peak_result = peak.result()
    record["matmul_peak"] = peak_result
    if backend_peak is not None:
        record["matmul_peak_backend"] = backend_peak.result()

    results = []
    for r in runners:
        stats = timing.summarize(r.times)
        step_flops = record["flops"][f"{r.mode}_step"]
        achieved = step_flops / stats["median_s"]
        entry = dict(impl=r.impl, backend=backend if r.impl == "keras" else "jax", mode=r.mode,
                     step_s=stats["median_s"], images_per_s=batch_size / stats["median_s"],
                     tflops=achieved / 1e12, mfu=achieved / (peak_result["gflops"] * 1e9),
                     first_step_s=r.compile_s, times=stats)
        if r.impl == "keras" and backend_peak is not None:
            entry["mfu_backend_peak"] = achieved / (record["matmul_peak_backend"]["gflops"] * 1e9)
        compiled = r.compiled
        if compiled is None and r.impl == "keras" and backend == "jax":
            try:
                compiled = _keras_jax_compiled(model, r.mode, keras.ops.convert_to_tensor(x),
                                               keras.ops.convert_to_tensor(y))
            except Exception as e:  # figures are optional; timing still stands
                entry["xla_error"] = f"{type(e).__name__}: {e}"[:200]
        if compiled is not None:
            entry["xla_flops"] = timing.compiled_flops(compiled)
            entry["memory"] = timing.compiled_memory(compiled)
        results.append(entry)
    record["results"] = results
    record["peak_rss_bytes"] = timing.peak_rss_bytes()
    record["device_peak_bytes"] = timing.device_peak_bytes()
    ratios = {}
    for (b, m), values in paired.items():
        ratios.setdefault(m, {})[f"keras_over_{b}"] = float(np.median(values))
        ratios[m][f"keras_over_{b}_per_round"] = [round(v, 4) for v in values]
    record["ratios"] = ratios
    return record


def format_vit_table(record):
    """Markdown table of a `run_vit_bench` record."""
    cfg = record["config"]
    peak = record["matmul_peak"]
    lines = [
        f"ViT-{cfg['variant']} {cfg['image_size']}px batch {cfg['batch_size']} {cfg['dtype']} "
        f"(Keras backend {cfg['backend']}; {record['machine'].get('device', '')}; "
        f"matmul peak {peak['gflops']:.1f} GFLOP/s, {peak['n']}x{peak['n']} {peak['dtype']})",
        "",
        "| impl | mode | step s | images/s | TFLOP/s | MFU | first step s | XLA GFLOP | temp MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in record["results"]:
        xla = r.get("xla_flops")
        mem = r.get("memory") or {}
        temp = mem.get("temp")
        impl = {"keras": f"keras/{r['backend']}", "native": "native jax",
                "native_vjp": "native jax + vjp LN"}.get(r["impl"], r["impl"])
        lines.append(
            f"| {impl} | {r['mode']} | {r['step_s']:.3f} | {r['images_per_s']:.1f} | {r['tflops']:.3f} | "
            f"{100 * r['mfu']:.1f}% | {r['first_step_s']:.1f} | {'' if xla is None else f'{xla / 1e9:.1f}'} | "
            f"{'' if temp is None else f'{temp / 2**20:.0f}'} |")
    for m, v in record.get("ratios", {}).items():
        for key, value in v.items():
            if not key.endswith("_per_round"):
                rounds_text = ", ".join(f"{x:.3f}" for x in v[key + "_per_round"])
                lines.append(f"{m}: {key.replace('_over_', ' / ')} step time = {value:.3f} (per round: {rounds_text})")
    if "check" in record:
        lines.append(f"native vs keras logits: max |diff| = {record['check']['max_abs_logit_diff']:.2e}")
    if "matmul_peak_backend" in record:
        bp = record["matmul_peak_backend"]
        mfus = ", ".join(f"{r['mode']} {100 * r['mfu_backend_peak']:.1f}%" for r in record["results"]
                         if "mfu_backend_peak" in r)
        lines.append(f"{bp['backend']} matmul peak (keras.ops.matmul) {bp['gflops']:.1f} GFLOP/s; "
                     f"Keras MFU against it: {mfus}")
    lines.append("analytic GFLOP/step: " + ", ".join(
        f"{m} {record['flops'][f'{m}_step'] / 1e9:.1f}" for m in cfg["modes"]))
    return "\n".join(lines)
