"""`keras-vision bench ...` runs on tiny configs and writes its JSON fields (no timing asserts)."""

import json

import keras
import pytest

from keras_vision.cli import main as cli

jax_only = pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX figures")


@jax_only
def test_bench_vit_json(tmp_path, capsys):
    out = tmp_path / "vit.json"
    rc = cli.main(["bench", "vit", "--variant", "mu/8", "--res", "32", "--batch", "4", "--num-classes", "10",
                   "--mode", "both", "--warmup", "1", "--steps", "1", "--rounds", "2", "--matmul-n", "256",
                   "--quiet", "--json", str(out)])
    assert rc == 0
    table = capsys.readouterr().out
    assert "| keras/jax | train |" in table and "| native jax | infer |" in table
    record = json.loads(out.read_text())
    assert set(record) >= {"config", "machine", "matmul_peak", "flops", "results", "ratios", "check",
                           "peak_rss_bytes"}
    assert record["check"]["max_abs_logit_diff"] < 1e-4
    assert record["flops"]["train_step"] == 3 * record["flops"]["infer_step"]
    assert {(r["impl"], r["mode"]) for r in record["results"]} == {
        ("keras", "train"), ("keras", "infer"), ("native", "train"), ("native", "infer")}
    for r in record["results"]:
        assert r["step_s"] > 0 and r["images_per_s"] > 0 and r["mfu"] > 0
        assert r["times"]["n"] == 2
        assert r["xla_flops"] > 0 and r["memory"]["temp"] >= 0
    assert set(record["ratios"]) == {"train", "infer"}
    assert record["ratios"]["train"]["keras_over_native"] > 0
    assert record["matmul_peak"]["n"] == 256 and record["matmul_peak"]["gflops"] > 0


def test_bench_vit_without_baseline_prints_json(capsys):
    rc = cli.main(["bench", "vit", "--variant", "mu/8", "--res", "32", "--batch", "2", "--num-classes", "10",
                   "--baseline", "none", "--mode", "infer", "--warmup", "1", "--steps", "1", "--rounds", "1",
                   "--matmul-n", "128", "--quiet", "--json", "-"])
    assert rc == 0
    record = json.loads(capsys.readouterr().out)
    assert [r["impl"] for r in record["results"]] == ["keras"]
    assert record["ratios"] == {} and "check" not in record


def test_bench_matmul(capsys):
    assert cli.main(["bench", "matmul", "--n", "128", "--repeats", "2", "--json", "-"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["matmul_peak"]["samples"] == 2 and record["machine"]["cpu_count"] >= 1


def test_bench_pipeline(tmp_path, capsys):
    rc = cli.main(["bench", "pipeline", "recipes/vit_shapes.py:runlocal", "--batch", "4", "--batches", "2",
                   "--warmup", "1", "--quiet", "--json", "-"])
    assert rc == 0
    record = json.loads(capsys.readouterr().out)
    assert record["config"]["batch_size"] == 4 and record["examples_per_s"] > 0
    assert record["input_shapes"]["x"][0] == 4


@jax_only
def test_bench_two_tower(capsys):
    rc = cli.main(["bench", "two_tower", "--batch", "4", "--res", "16", "--seq-len", "8", "--vocab-size", "50",
                   "--out-dim", "16", "--devices", "1", "--warmup", "1", "--steps", "1", "--rounds", "1",
                   "--quiet", "--json", "-"])
    assert rc == 0
    record = json.loads(capsys.readouterr().out)
    assert [r["loss"] for r in record["results"]] == ["sigmoid", "sigmoid_chunked"]
    assert all(r["step_s"] > 0 and r["memory_per_device"]["temp"] > 0 for r in record["results"])


def test_bench_usage_errors(capsys):
    assert cli.main(["bench", "vit", "--mode", "fast"]) == 2
    assert cli.main(["bench", "vit", "--variant", "Q/16", "--quiet"]) == 2
    assert "Unknown" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["1,x", "0,2", ","])
def test_bench_scaling_rejects_bad_device_counts(bad, capsys):
    assert cli.main(["bench", "scaling", "--devices", bad]) == 2
    assert f"expected comma-separated positive device counts, e.g. 1,2,4,8; got {bad!r}" in capsys.readouterr().err
