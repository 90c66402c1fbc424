"""`keras-vision bench pali`: the record's fields, the cached-vs-recomputed check it runs first (no timing asserts)."""

import json
import math

import keras
import numpy as np
import pytest

from keras_vision.bench import pali_bench
from keras_vision.cli import main as cli
from keras_vision.models.pali import PaliGemmaBackbone

jax_only = pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX figures")

TINY = dict(llm_width=32, llm_depth=2, heads=2, kv_heads=1, head_dim=16, mlp_dim=64, vocab=97, image_size=32,
            patch=8, vit_width=32, vit_depth=1, vit_heads=2, prompt_len=5, new_tokens=4)
TINY_FLAGS = ["--llm-width", "32", "--llm-depth", "2", "--heads", "2", "--kv-heads", "1", "--head-dim", "16",
              "--mlp-dim", "64", "--vocab", "97", "--image-size", "32", "--patch", "8", "--vit-width", "32",
              "--vit-depth", "1", "--vit-heads", "2", "--prompt-len", "5", "--new-tokens", "4"]


def _times(tree, path=""):
    """(path, value) of every duration / rate in a record part (keys ending in _s, tokens_per_s, times_s)."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key.endswith("_s") or key in ("times_s", "median_s_per_token") or key == "tokens_per_s":
                values = value if isinstance(value, list) else [value]
                for v in values:
                    yield f"{path}/{key}", v
            elif not key.startswith("slope"):
                yield from _times(value, f"{path}/{key}")


@jax_only
def test_bench_pali_cli_record(tmp_path, capsys):
    out = tmp_path / "pali.json"
    rc = cli.main(["bench", "pali", *TINY_FLAGS, "--batch", "2", "--rounds", "2", "--quiet", "--json", str(out)])
    assert rc == 0
    table = capsys.readouterr().out
    assert "| 2 | keras_vision |" in table and "| 2 | keras_hub |" in table and "| 2 | cached (k=1" in table
    record = json.loads(out.read_text())
    assert set(record) >= {"config", "machine", "params", "image_tokens", "check", "results", "peak_rss_bytes"}
    assert record["config"]["batches"] == [2] and record["config"]["new_tokens"] == 4
    # Equal-size models: KerasHub's intermediate_dim is 2F where ours is F.
    assert record["params"]["keras_vision"] == record["params"]["keras_hub"] > 0
    assert record["image_tokens"] == 16
    assert [r["batch_size"] for r in record["results"]] == [2]
    for r in record["results"]:
        # The bench verified, before timing, that the cached greedy decode is the recomputed one.
        check = r["check"]
        assert check["cached_equals_recomputed"] and check["generate_equals_steps"] and check["keras_hub_full_length"]
        assert check["tokens_checked"] == 4 * r["batch_size"] and check["mismatches"] == 0
        assert check["max_abs_logit_diff"] < 1e-4
        assert record["check"][str(r["batch_size"])] == check
        assert set(r["generate"]) == {"keras_vision", "keras_hub"}
        assert all(g["n"] == 2 for g in r["generate"].values())
        assert sorted(r["cached_step"]["at"], key=int) == ["2", "4"]
        assert sorted(r["recompute"]["at"], key=int) == ["1", "2", "4"]
        assert [r["recompute"]["at"][k]["text_length"] for k in ("1", "2", "4")] == [5, 6, 8]
        assert len(r["cached_step"]["median_s_per_token"]) == 3  # tokens 2..4
        assert math.isfinite(r["cached_step"]["slope_s_per_token"])
        assert math.isfinite(r["recompute"]["slope_s_per_token"])
        assert r["ours_over_keras_hub_tokens_per_s"] > 0 and len(r["ours_over_keras_hub_per_round"]) == 2
        found = list(_times(r))
        assert len(found) > 20
        for path, value in found:
            assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, (path, value)
        g = r["generate"]["keras_vision"]
        assert g["tokens_per_s"] == pytest.approx(4 * r["batch_size"] / g["median_s"])


def test_compare_greedy_counts_mismatches_and_ties():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 7)).astype("float32")
    tokens = logits.argmax(-1)
    same = pali_bench.compare_greedy(tokens, logits, logits + 1e-6)
    assert same["cached_equals_recomputed"] and same["mismatches"] == same["ties"] == 0
    assert same["tokens_checked"] == 6 and same["max_abs_logit_diff"] == pytest.approx(1e-6, abs=1e-7)
    wrong = tokens.copy()
    wrong[1, 2] = (wrong[1, 2] + 1) % 7
    bad = pali_bench.compare_greedy(wrong, logits)
    assert not bad["cached_equals_recomputed"] and bad["mismatches"] == 1 and bad["first_mismatch"] == [1, 2]
    # A near tie between the cached token and the recomputed argmax is counted, not failed.
    tied = logits.copy()
    tied[1, 2, wrong[1, 2]] = tied[1, 2, tokens[1, 2]] - 1e-6
    tie = pali_bench.compare_greedy(wrong, tied)
    assert tie["cached_equals_recomputed"] and tie["ties"] == 1 and tie["mismatches"] == 0
    with pytest.raises(ValueError, match=r"must be \(B, N, V\)"):
        pali_bench.compare_greedy(tokens[:, :2], logits)


@jax_only
def test_bench_pali_refuses_to_time_a_wrong_cached_decode(monkeypatch):
    original = PaliGemmaBackbone.extend_cache

    def broken(self, tokens, cache, step=None):
        logits, cache = original(self, tokens, cache, step)
        return -logits, cache  # argmin instead of argmax: no longer the recomputed greedy token

    monkeypatch.setattr(PaliGemmaBackbone, "extend_cache", broken)
    with pytest.raises(RuntimeError, match="differs from recomputation without a cache .* nothing was timed"):
        pali_bench.run_pali_bench(**TINY, batches=(2,), rounds=1)


def test_bench_pali_usage_errors(capsys):
    assert cli.main(["bench", "pali", "--batch", "1,x"]) == 2
    assert "expected comma-separated positive integers, e.g. 1,16; got '1,x'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="new_tokens must be >= 2"):
        pali_bench.run_pali_bench(**dict(TINY, new_tokens=1))
