"""Benchmark: chunked (ring) vs dense SigLIP loss as the global batch grows (JAX).

Measures, for the loss *and its gradient* w.r.t. the embeddings, t and b, jitted
over a 1-D data-parallel mesh of all visible devices:
  - `temp_bytes`: per-device temporary memory of the compiled program
    (`compiled.memory_analysis().temp_size_in_bytes`), where the (b, B) logits
    of the dense loss or the (b, b) blocks of the ring live;
  - `step_ms`: median wall time of one call.

Simulate devices on a CPU with `XLA_FLAGS=--xla_force_host_platform_device_count=8`
set before JAX starts its backend, i.e. before the first device query (importing JAX
does not start it; the `keras-vision bench` command sets the flag). Timings
on simulated devices measure the program, not real interconnect.
"""

import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from keras_vision.backend.jax.chunked_sigmoid_loss import chunked_sigmoid_loss


def _time_call(fn, args, repeats):
    out = fn(*args)
    _block(out)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _block(fn(*args))
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def _block(tree):
    for leaf in jax.tree_util.tree_leaves(tree):
        leaf.block_until_ready()


def benchmark_chunked_sigmoid_loss(batch_sizes=(256, 1024, 4096), dim=256, repeats=3, devices=None):
    """Compares the ring-chunked and dense SigLIP losses (value + gradient).

    Args:
        batch_sizes: global batch sizes to try (each divisible by the device count).
        dim: embedding width.
        repeats: timed calls per configuration (after one warm-up call).
        devices: JAX devices for the mesh (default: all).

    Returns:
        A list of dicts `{"impl", "batch", "devices", "temp_bytes", "step_ms", "loss"}`.

    Example:
    >>> for row in benchmark_chunked_sigmoid_loss((512, 2048)): print(row)
    """
    devices = list(devices or jax.devices())
    mesh = Mesh(np.array(devices), ("batch",))
    n = len(devices)

    def dense(zimg, ztxt, t, b):
        logits = jnp.dot(zimg, ztxt.T) * t + b
        signs = 2.0 * jnp.eye(logits.shape[0], dtype=logits.dtype) - 1.0
        return -jnp.sum(jax.nn.log_sigmoid(signs * logits)) / logits.shape[0]

    def ring(zimg, ztxt, t, b):
        return chunked_sigmoid_loss(zimg, ztxt, t, b, mesh=mesh, axis_name="batch")

    data = NamedSharding(mesh, P("batch"))
    repl = NamedSharding(mesh, P())
    rows = []
    for batch in batch_sizes:
        if batch % n:
            raise ValueError(f"Batch {batch} is not divisible by the {n} devices.")
        rng = np.random.default_rng(0)
        z = rng.normal(size=(2, batch, dim)).astype("float32")
        z /= np.linalg.norm(z, axis=-1, keepdims=True)
        args = (
            jax.device_put(z[0], data),
            jax.device_put(z[1], data),
            jax.device_put(jnp.float32(10.0), repl),
            jax.device_put(jnp.float32(-10.0), repl),
        )
        for name, loss in (("dense", dense), ("chunked", ring)):
            fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))
            compiled = fn.lower(*args).compile()
            mem = compiled.memory_analysis()
            temp = getattr(mem, "temp_size_in_bytes", None) if mem is not None else None
            step_ms = _time_call(compiled, args, repeats)
            rows.append(
                dict(
                    impl=name,
                    batch=int(batch),
                    devices=n,
                    temp_bytes=None if temp is None else int(temp),
                    step_ms=round(step_ms, 3),
                    loss=float(compiled(*args)[0]),
                )
            )
    return rows


def format_rows(rows):
    """Formats benchmark rows as an aligned text table."""
    lines = [f"{'impl':8s} {'batch':>7s} {'devices':>7s} {'temp MiB':>10s} {'step ms':>9s} {'loss':>10s}"]
    for r in rows:
        mib = "n/a" if r["temp_bytes"] is None else f"{r['temp_bytes'] / 2**20:.2f}"
        lines.append(
            f"{r['impl']:8s} {r['batch']:7d} {r['devices']:7d} {mib:>10s} {r['step_ms']:9.2f} {r['loss']:10.5f}"
        )
    return "\n".join(lines)


def main(argv=None):
    """`python -m keras_vision.bench.contrastive [B1 B2 ...]` prints the table."""
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
    argv = sys.argv[1:] if argv is None else argv
    sizes = tuple(int(a) for a in argv) or (256, 1024, 4096)
    print(format_rows(benchmark_chunked_sigmoid_loss(sizes)))


if __name__ == "__main__":
    main()
