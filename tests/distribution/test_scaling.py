"""keras_vision.bench.scaling: one subprocess per simulated device count (JAX only)."""

import keras
import pytest

from keras_vision.bench.scaling import format_scaling_table
from keras_vision.bench.scaling import run_scaling

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution is JAX-only")


def test_fsdp_scaling_records_shrink_per_device_memory():
    records = run_scaling(variant="mu/8", device_counts=(1, 4), layout="fsdp", batch_size=8, steps=2, warmup=1)
    one, four = records
    assert (one["devices"], four["devices"]) == (1, 4) and four["mesh"] == {"data": 4}
    assert one["mem_source"] == four["mem_source"] == "compiled"
    assert one["num_params"] == four["num_params"]
    assert four["param_bytes_per_device"] < 0.3 * one["param_bytes_per_device"]
    assert four["mem_argument_bytes"] < 0.5 * one["mem_argument_bytes"]
    assert one["step_ms"] > 0 and four["step_ms"] > 0
    table = format_scaling_table(records)
    assert table.count("\n") == 3 and "| 4 | fsdp | data=4 |" in table


def test_bad_layout_is_an_error():
    with pytest.raises(RuntimeError, match="Unknown layout 'zero3'"):
        run_scaling(device_counts=(1,), layout="zero3", steps=1, warmup=0)
