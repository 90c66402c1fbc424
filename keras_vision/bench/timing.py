"""Timing, matmul-peak, memory and machine helpers shared by the `keras-vision bench` commands.

Conventions (every bench command):
- a step time is the median of `steps` timed calls after `warmup` untimed ones
  (compilation happens in the warm-up); every timed call waits for its result;
- FLOP/s figures count multiply-adds as 2 FLOPs;
- the matmul peak is an (n, n) @ (n, n) product, jitted with JAX in the same
  process, timed the same way; MFU = achieved FLOP/s / that peak. Measured on the
  machine that runs the benchmark, it includes whatever else is running there.
"""

import os
import platform
import resource
import sys
import time

import jax
import jax.numpy as jnp
import jaxlib
import keras
import numpy as np
import tensorflow as tf


def block(tree):
    """Waits until every array in `tree` is computed (JAX async dispatch; no-op for numpy)."""
    for leaf in jax.tree_util.tree_leaves(tree):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return tree


def time_calls(fn, steps):
    """Wall times (seconds) of `steps` calls of `fn()`; `fn` must return when its work is done."""
    times = []
    for _ in range(int(steps)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def summarize(times):
    """{"median_s", "min_s", "max_s", "n", "times_s"} of a list of step times."""
    times = [float(t) for t in times]
    return dict(
        median_s=float(np.median(times)) if times else None,
        min_s=min(times) if times else None,
        max_s=max(times) if times else None,
        n=len(times),
        times_s=[round(t, 6) for t in times],
    )


class MatmulPeak:
    """The jitted (n, n) @ (n, n) matmul rate in this process (JAX), measurable repeatedly.

    On a GPU one product takes microseconds, so each sample times `inner` back-to-back
    calls and waits once. `sample()` returns GFLOP/s for one sample; call it between the
    timed steps of a benchmark so the peak sees the same machine load.
    """

    def __init__(self, n=None, dtype="float32", inner=None):
        gpu = jax.default_backend() != "cpu"
        self.n = int(n or (8192 if gpu else 2048))
        self.dtype = str(dtype)
        self.inner = int(inner or (20 if gpu else 1))
        self.device = jax.devices()[0].device_kind
        key_a, key_b = jax.random.split(jax.random.PRNGKey(0))
        self._a = jax.random.normal(key_a, (self.n, self.n), jnp.float32).astype(self.dtype)
        self._b = jax.random.normal(key_b, (self.n, self.n), jnp.float32).astype(self.dtype)
        self._fn = jax.jit(lambda a, b: a @ b)
        block(self._fn(self._a, self._b))
        self.samples = []

    @property
    def flops(self):
        return 2.0 * self.n**3

    def sample(self, repeats=3):
        """Takes `repeats` samples; returns the median GFLOP/s of those."""
        rates = []
        for _ in range(int(repeats)):
            start = time.perf_counter()
            out = None
            for _ in range(self.inner):
                out = self._fn(self._a, self._b)
            block(out)
            rates.append(self.inner * self.flops / (time.perf_counter() - start) / 1e9)
        self.samples.extend(rates)
        return float(np.median(rates))

    def result(self):
        """{"gflops" (median of all samples), "gflops_max", "n", "dtype", "samples"}."""
        if not self.samples:
            self.sample()
        return dict(
            gflops=float(np.median(self.samples)),
            gflops_max=float(max(self.samples)),
            n=self.n,
            dtype=self.dtype,
            device=self.device,
            samples=len(self.samples),
        )


def peak_rss_bytes():
    """Peak resident memory of this process so far (Linux `ru_maxrss`), in bytes."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def device_peak_bytes():
    """Peak bytes in use on the first accelerator (JAX `memory_stats`), or None on CPU."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:
        return None
    if not stats:
        return None
    value = stats.get("peak_bytes_in_use")
    return None if value is None else int(value)


def compiled_memory(compiled):
    """XLA's `memory_analysis()` of a compiled JAX executable, in bytes (or None).

    `argument` (inputs: parameters, optimizer state, batch), `output`, `alias`
    (outputs reusing donated inputs), `temp` (activations kept for the backward pass and
    scratch); `peak_estimate = argument + output - alias + temp`.
    """
    try:
        mem = compiled.memory_analysis()
    except Exception:
        return None
    if mem is None:
        return None
    out = dict(
        argument=int(mem.argument_size_in_bytes),
        output=int(mem.output_size_in_bytes),
        alias=int(mem.alias_size_in_bytes),
        temp=int(mem.temp_size_in_bytes),
    )
    out["peak_estimate"] = out["argument"] + out["output"] - out["alias"] + out["temp"]
    return out


def compiled_flops(compiled):
    """XLA's `cost_analysis()["flops"]` of a compiled JAX executable, or None."""
    try:
        cost = compiled.cost_analysis()
    except Exception:
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    if not cost or "flops" not in cost:
        return None
    return float(cost["flops"])


def machine_info():
    """Host, accelerator and library versions, for the JSON record."""
    info = dict(
        platform=platform.platform(),
        python=platform.python_version(),
        cpu=_cpu_name(),
        cpu_count=os.cpu_count(),
        load_average=list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        keras_backend=os.environ.get("KERAS_BACKEND"),
        xla_flags=os.environ.get("XLA_FLAGS", ""),
    )
    try:
        info.update(jax=jax.__version__, jaxlib=jaxlib.__version__, jax_backend=jax.default_backend(),
                    device=jax.devices()[0].device_kind, device_count=jax.device_count())
    except Exception:  # pragma: no cover
        pass
    info.update(keras=keras.__version__, keras_backend=keras.backend.backend())
    backend = info.get("keras_backend")
    if backend == "tensorflow":
        info["tensorflow"] = tf.__version__
    elif backend == "torch":
        # why local: torch is not a keras_vision dependency; only a torch-backend run has it.
        import torch

        info["torch"] = torch.__version__
    return info


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


class BackendMatmulPeak:
    """The (n, n) @ (n, n) rate of `keras.ops.matmul` on the active Keras backend (eager).

    For TensorFlow and torch, whose CPU matmul kernels (oneDNN, MKL) differ from XLA's:
    MFU against the JAX peak can then exceed 100%; `mfu_backend_peak` uses this one.
    """

    def __init__(self, n=2048, dtype="float32"):
        self.n, self.dtype = int(n), str(dtype)
        rng = np.random.default_rng(0)
        self._a = keras.ops.convert_to_tensor(rng.standard_normal((self.n, self.n)).astype("float32"), dtype=dtype)
        self._b = keras.ops.convert_to_tensor(rng.standard_normal((self.n, self.n)).astype("float32"), dtype=dtype)
        self._run()
        self.samples = []

    def _run(self):
        out = keras.ops.matmul(self._a, self._b)
        keras.ops.convert_to_numpy(out[0, 0])  # waits for the product

    def sample(self, repeats=3):
        rates = []
        for _ in range(int(repeats)):
            start = time.perf_counter()
            self._run()
            rates.append(2.0 * self.n**3 / (time.perf_counter() - start) / 1e9)
        self.samples.extend(rates)
        return float(np.median(rates))

    def result(self):
        if not self.samples:
            self.sample()
        return dict(gflops=float(np.median(self.samples)), gflops_max=float(max(self.samples)), n=self.n,
                    dtype=self.dtype, backend=keras.backend.backend(), samples=len(self.samples))
