"""keras_vision.trainers.train on 8 simulated CPU devices equals 1 device (JAX only).

Each case runs tests/distribution/multidevice_script.py in a fresh interpreter: the
device count must be set through XLA_FLAGS before JAX is imported, and the rest of
the suite runs on one device. In each subprocess the 1-device reference and the
DataParallel / FSDP / FSDP + tensor-parallel runs train the same recipe for 3 steps
from the same seed.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = pathlib.Path(__file__).with_name("multidevice_script.py")

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution is JAX-only")

# Float32 reductions split over devices reorder sums: parameters agree to ~5e-7 after
# 3 Adam steps of ~1e-3..5e-3 each (measured; see the module docstring of the script).
ATOL = 5e-6


def run_8_devices(*args, timeout=600):
    env = dict(os.environ)
    env.update(XLA_FLAGS="--xla_force_host_platform_device_count=8", KERAS_BACKEND="jax",
               TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def check_equivalent(result, max_update):
    assert result["single"]["max_update"] > max_update  # training moved the weights
    for name, kind, per_device in (("data", "DataParallel", None), ("fsdp", "RuleModelParallel", 8),
                                   ("fsdp_tp", "RuleModelParallel", None)):
        r = result[name]
        assert r["distribution"].startswith(kind), r["distribution"]
        assert r["max_abs_err"] < ATOL, (name, r["max_abs_err"], r["worst"])
        assert r["max_loss_err"] < 1e-5, (name, r["losses"], result["single"]["losses"])
        # Attention key biases have an exactly-zero gradient (softmax shift invariance):
        # Adam turns float noise into +-lr steps there, bounded by lr x steps.
        assert r["max_abs_err_key_bias"] < 1e-2
        assert r["num_devices_holding"] == 8
    # Replicated: every device holds everything; FSDP: ~1/8 each (a few tiny vectors
    # such as the 10-class head bias do not divide by 8); FSDP+TP on 4x2: ~1/8 too.
    total = result["data"]["param_bytes_total"]
    assert result["data"]["param_bytes_per_device"] == [total]
    for name in ("fsdp", "fsdp_tp"):
        (per_device,) = result[name]["param_bytes_per_device"]
        assert per_device < 0.2 * total, (name, per_device, total)
        assert result[name]["optimizer_state_sharded"] == result[name]["optimizer_states_2d"]
    assert result["data"]["optimizer_state_sharded"] == 0


def test_vit_classifier_recipe_on_8_devices_equals_1_device():
    result = run_8_devices("vit")
    check_equivalent(result, max_update=1e-3)
    shards = result["fsdp_tp"]["example_shards"]
    q = shards["Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel"]
    assert q == [[32, 2, 16], [8, 1, 16]]  # width over data=4, heads over model=2


def test_siglip_two_towers_on_8_devices_equals_1_device():
    """The SigLIP loss runs ring-chunked (shard_map) under every mesh, dense on 1 device."""
    result = run_8_devices("siglip")
    check_equivalent(result, max_update=1e-3)
    assert result["fsdp"]["example_shards"]["img/embedding/kernel"] == [[8, 8, 3, 32], [8, 8, 3, 4]]


def test_paligemma_on_8_devices_equals_1_device():
    """recipes/paligemma_shapes.py:runlocal (its vocabulary trained in each run) under each layout."""
    result = run_8_devices("paligemma")
    check_equivalent(result, max_update=1e-3)
    shards = result["fsdp_tp"]["example_shards"]
    assert shards["llm/layers_0/attn/q_einsum"] == [[2, 32, 16], [1, 8, 16]]  # heads over model=2, width over data=4
    assert shards["llm/layers_0/mlp/linear"] == [[64, 32], [32, 8]]


def test_misconfiguration_fails_before_training_and_sharded_checkpoints_resume():
    result = run_8_devices("misc")
    bad = result["bad_rule"]
    assert bad["error"] == "ShardingRuleError" and not bad["trained"]
    assert "'.*/Dense_9/kernel'" in bad["message"] and "'embedding/kernel'" in bad["message"]
    bad = result["bad_batch"]
    assert bad["error"] == "ConfigError" and not bad["trained"]
    assert "input.batch_size=12" in bad["message"] and "mesh axis size 8" in bad["message"]
    bad = result["bad_tp"]
    assert bad["error"] == "ShardingRuleError" and "size 2" in bad["message"] and "size 4" in bad["message"]
    resume = result["resume"]
    assert (resume["first_status"], resume["first_step"], resume["final_step"]) == ("stopped", 2, 4)
    assert resume["max_abs_err"] == 0.0  # killed at 2 + resumed == uninterrupted, sharded
    assert resume["kernel_shard"] == [8, 32] and resume["kernel_shape"] == [32, 64]
