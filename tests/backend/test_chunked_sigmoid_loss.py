"""The ring-chunked SigLIP loss equals the dense loss on 8 simulated devices (JAX only).

Each check runs in a fresh interpreter: the device count must be set through
XLA_FLAGS before JAX is imported, and the rest of the suite runs on one device.
"""

import os
import pathlib
import subprocess
import sys
import textwrap


ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_with_8_devices(code, timeout=300):
    env = dict(os.environ)
    env.update(
        XLA_FLAGS="--xla_force_host_platform_device_count=8",
        KERAS_BACKEND="jax",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=str(ROOT),
    )
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout


def test_ring_value_and_grads_equal_dense_on_8_devices():
    out = run_with_8_devices(
        """
        import numpy as np, jax, jax.numpy as jnp
        from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
        assert jax.device_count() == 8
        from keras_vision.losses.contrastive import sigmoid_loss
        from keras_vision.backend.jax.chunked_sigmoid_loss import chunked_sigmoid_loss
        mesh = Mesh(np.array(jax.devices()), ("batch",))
        rng = np.random.default_rng(1)
        z = rng.normal(size=(2, 32, 16)).astype("float32")
        z /= np.linalg.norm(z, axis=-1, keepdims=True)
        shard = NamedSharding(mesh, P("batch"))
        args = (jax.device_put(z[0], shard), jax.device_put(z[1], shard),
                jnp.float32(3.0), jnp.float32(-2.0))
        dense = lambda *a: sigmoid_loss(*a)
        ring = lambda *a: chunked_sigmoid_loss(*a, mesh=mesh, axis_name="batch")
        vd, gd = jax.value_and_grad(dense, argnums=(0, 1, 2, 3))(*args)
        vr, gr = jax.jit(jax.value_and_grad(ring, argnums=(0, 1, 2, 3)))(*args)
        np.testing.assert_allclose(vr, vd, rtol=1e-6, atol=1e-6)
        for a, b in zip(gr, gd):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        # A 2-D (batch, model) mesh: the ring runs over "batch", replicated over "model".
        mesh2 = Mesh(np.array(jax.devices()).reshape(4, 2), ("batch", "model"))
        v2, g2 = jax.jit(jax.value_and_grad(
            lambda *a: chunked_sigmoid_loss(*a, mesh=mesh2, axis_name="batch"), argnums=(0, 1, 2, 3)))(*args)
        np.testing.assert_allclose(v2, vd, rtol=1e-6, atol=1e-6)
        for a, b in zip(g2, gd):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        # A shifted ring must differ: the test can fail.
        assert abs(float(dense(args[0], jnp.roll(args[1], 4, 0), *args[2:])) - float(vd)) > 1e-2
        # The compiled ring never holds a (b, B) or (B, B) logit buffer.
        hlo = jax.jit(ring).lower(*args).compile().as_text()
        assert "f32[4,32]" not in hlo and "f32[32,32]" not in hlo, "global logits materialised"
        print("OK", float(vr), float(vd))
        """
    )
    assert "OK" in out


def test_golden_chunked_value_with_keras_data_parallel():
    out = run_with_8_devices(
        """
        import numpy as np, keras
        from keras import distribution as dist
        dist.set_distribution(dist.DataParallel(devices=dist.list_devices()))
        from keras_vision.backend import active_data_parallel_mesh
        from keras_vision.losses.contrastive import sigmoid_loss_chunked
        assert active_data_parallel_mesh() is not None
        g = np.load("tests/fixtures/losses_contrastive.npz")
        import jax
        v = jax.jit(sigmoid_loss_chunked)(g["inputs/zimg"], g["inputs/ztxt"], g["inputs/t"], g["inputs/b"])
        np.testing.assert_allclose(float(v), float(g["outputs/sigmoid_loss_chunked_4dev"]), atol=1e-5)
        print("OK", float(v))
        """
    )
    assert "OK" in out


def test_benchmark_reports_both_impls():
    out = run_with_8_devices(
        """
        from keras_vision.bench.contrastive import benchmark_chunked_sigmoid_loss, format_rows
        rows = benchmark_chunked_sigmoid_loss((64, 256), dim=16, repeats=1)
        assert [r["impl"] for r in rows] == ["dense", "chunked"] * 2
        for d, c in zip(rows[::2], rows[1::2]):
            assert abs(d["loss"] - c["loss"]) < 1e-4
        print(format_rows(rows)); print("OK")
        """
    )
    assert "OK" in out


def test_two_tower_fit_chunked_equals_dense_under_data_parallel():
    out = run_with_8_devices(
        """
        import numpy as np, keras
        from keras import distribution as dist
        dist.set_distribution(dist.DataParallel(devices=dist.list_devices()))
        import keras_vision.backend.jax.chunked_sigmoid_loss as ring
        calls = []
        original = ring.chunked_sigmoid_loss
        def spy(*a, **k):
            calls.append(k["axis_name"])
            return original(*a, **k)
        ring.chunked_sigmoid_loss = spy
        from keras_vision.models import build_model
        kw = dict(image=dict(width=32, depth=1, mlp_dim=64, num_heads=2, patch_size=8, pool_type="map",
                             image_size=16, head_zeroinit=False),
                  text=dict(width=32, depth=1, mlp_dim=64, num_heads=2, vocab_size=40, seq_len=6),
                  out_dim=(None, 32), temperature_init=10.0, bias_init=-10.0)
        rng = np.random.default_rng(0)
        x = {"image": rng.uniform(-1, 1, (16, 16, 16, 3)).astype("float32"),
             "labels": rng.integers(2, 40, (16, 6)).astype("int32")}
        results = {}
        for loss in ("sigmoid", "sigmoid_chunked"):
            keras.utils.set_random_seed(0)
            model = build_model("proj.image_text.two_towers", loss=loss, **kw)
            if loss == "sigmoid":
                init = model.get_weights()
            else:
                model.set_weights(init)
            model.compile(optimizer=keras.optimizers.SGD(0.5))
            h = model.fit(x, batch_size=16, epochs=2, verbose=0, shuffle=False)
            results[loss] = (h.history["loss"], [np.asarray(w) for w in model.get_weights()])
        assert calls, "the ring loss was not used"
        (ld, wd), (lc, wc) = results["sigmoid"], results["sigmoid_chunked"]
        np.testing.assert_allclose(lc, ld, rtol=1e-5)
        diff = max(np.abs(a - b).max() for a, b in zip(wc, wd))
        moved = max(np.abs(a - b).max() for a, b in zip(wd, init))
        assert diff < 1e-4 and moved > 1e-2, (diff, moved)
        print("OK", ld, lc, diff)
        """,
        timeout=600,
    )
    assert "OK" in out
