"""Sharding rules, meshes and config errors, without devices (fake device names).

The multi-device runs are in test_multidevice.py (subprocesses with 8 simulated devices).
"""

import math

import keras
import pytest

from keras_vision.config import ConfigDict
from keras_vision.config import ConfigError
from keras_vision.distribution import VIT_22B
from keras_vision.distribution import RuleModelParallel
from keras_vision.distribution import ShardingRuleError
from keras_vision.distribution import abstract_variables
from keras_vision.distribution import check_batch_size
from keras_vision.distribution import make_device_mesh
from keras_vision.distribution import make_distribution
from keras_vision.distribution import sharding_rules
from keras_vision.distribution.sharding_spec import parse_spec
from keras_vision.distribution.sharding_spec import resolve

MESH = {"data": 4, "model": 2}
AXES = tuple(MESH)


def fake(n):
    return [f"cpu:{i}" for i in range(n)]


def spec_of(spec, shape, dtype="float32"):
    return resolve(parse_spec(spec, AXES), "x", shape, dtype, MESH)


def test_fsdp_shards_the_largest_divisible_dimension():
    assert spec_of("fsdp(axis='data', min_size_to_shard_mb=0)", (6, 32, 12)) == ((None, "data", None), None)
    # 30 is the largest but does not divide by 4: the next largest that does.
    assert spec_of("fsdp(axis='data', min_size_to_shard_mb=0)", (30, 8)) == ((None, "data"), None)
    spec, note = spec_of("fsdp(axis='data', min_size_to_shard_mb=0)", (3, 5))
    assert spec == (None, None) and "no free dimension" in note
    spec, note = spec_of("fsdp(axis='data')", (64, 64))  # 16 KB < big_vision's 4 MB default
    assert spec == (None, None) and "smaller than 4 MB" in note
    assert spec_of("fsdp(axis='data', min_size_to_shard_mb=0)", (8,), "uint32") == ((None,), None)


def test_tensor_parallel_and_composition():
    assert spec_of((None, "model"), (8, 6)) == ((None, "model"), None)
    assert spec_of([(None, "model", None), "fsdp(axis='data', min_size_to_shard_mb=0)"], (32, 2, 16)) == (
        ("data", "model", None), None)
    assert spec_of("shard(None, 'model')|fsdp(axis='data', min_size_to_shard_mb=0)", (16, 4)) == (
        ("data", "model"), None)
    assert spec_of([("data", "model")], (16,)) == ((("data", "model"),), None)
    assert spec_of("replicate", (8, 8)) == ((None, None), None)
    with pytest.raises(ShardingRuleError, match=r"dimension 1 \(size 3\).*not divisible"):
        spec_of((None, "model"), (8, 3))
    with pytest.raises(ShardingRuleError, match="2 entries but variable 'x' has shape"):
        spec_of((None, "model"), (8, 4, 2))
    with pytest.raises(ShardingRuleError, match="Unknown sharding op 'fsdb'"):
        parse_spec("fsdb(axis='data')", AXES)
    with pytest.raises(ShardingRuleError, match="not a mesh axis"):
        parse_spec("fsdp(axis='batch')", AXES)


def test_first_matching_rule_wins():
    dist = RuleModelParallel(make_device_mesh([("data", 4), ("model", 2)], fake(8)),
                             [(".*/kernel", (None, "model")), (".*", "fsdp(axis='data', min_size_to_shard_mb=0)")])
    assert dist.layout_for("a/Dense_0/kernel", (8, 8))[:2] == ((None, "model"), 0)
    assert dist.layout_for("a/Dense_0/bias", (8,))[:2] == (("data",), 1)
    assert dist.batch_dim_name == "data"


def test_device_mesh_from_big_vision_settings():
    mesh = make_device_mesh([("data", -1)], fake(8))
    assert tuple(mesh.shape) == (8,) and list(mesh.axis_names) == ["data"]
    mesh = make_device_mesh([("data", -1), ("model", 4)], fake(8))
    assert tuple(mesh.shape) == (2, 4)
    with pytest.raises(ConfigError, match=r"needs 16 devices but 8 are available"):
        make_device_mesh([("data", 4), ("model", 4)], fake(8))
    with pytest.raises(ConfigError, match="do not divide"):
        make_device_mesh([("data", -1), ("model", 3)], fake(8))
    with pytest.raises(ConfigError, match="list of .axis name, size. pairs"):
        make_device_mesh("data", fake(8))


def test_make_distribution_kinds_and_errors():
    assert make_distribution(ConfigDict(model_name="vit"), devices=fake(8)) is None
    dp = make_distribution(ConfigDict(mesh=[("data", -1)]), devices=fake(8))
    assert type(dp).__name__ == "DataParallel" and dp.batch_dim_name == "data"
    mp = make_distribution(ConfigDict(mesh=[("data", -1)], sharding_rules="fsdp"), devices=fake(8))
    assert isinstance(mp, RuleModelParallel) and not mp.explicit_rules
    mp = make_distribution(ConfigDict(mesh=[("data", 2), ("model", 4)],
                                      sharding_strategy=[(".*", "fsdp(axis='data')")]), devices=fake(8))
    assert isinstance(mp, RuleModelParallel) and mp.explicit_rules and mp.mesh_shape == {"data": 2, "model": 4}
    with pytest.raises(ConfigError, match="needs the JAX backend"):
        make_distribution(ConfigDict(mesh=[("data", -1)]), devices=fake(8), backend="tensorflow")
    with pytest.raises(ConfigError, match="not both"):
        make_distribution(ConfigDict(sharding_rules="fsdp", sharding_strategy=[(".*", "replicate")]), devices=fake(8))
    with pytest.raises(ConfigError, match="needs a 'model' mesh axis"):
        make_distribution(ConfigDict(mesh=[("data", -1)], sharding_rules="fsdp_tp"), devices=fake(8))
    with pytest.raises(ShardingRuleError, match="config.sharding_strategy: Unknown sharding spec 'shard_all'"):
        make_distribution(ConfigDict(mesh=[("data", -1)], sharding_strategy=[(".*", "shard_all")]), devices=fake(8))


def test_batch_must_divide_the_data_axis():
    dist = make_distribution(ConfigDict(mesh=[("data", 2), ("model", 4)], sharding_rules="fsdp_tp"), devices=fake(8))
    check_batch_size(dist, 6)  # only the data axis (2) splits the batch
    with pytest.raises(ConfigError, match=r"input.batch_size=12 is not divisible by the 'data' mesh axis size 8"):
        check_batch_size(make_distribution(ConfigDict(mesh=[("data", -1)]), devices=fake(8)), 12)


def tiny_vit():
    from keras_vision.models import build_model

    return build_model("vit", variant="mu/8", num_classes=10, image_size=32, pool_type="map")


def test_rule_that_matches_nothing_is_an_error_naming_it():
    dist = RuleModelParallel(make_device_mesh([("data", -1)], fake(8)),
                             [(".*", "replicate"), (".*/kernel", "fsdp(axis='data')"), ("Dense_9/kernel", "replicate")])
    with pytest.raises(ShardingRuleError) as e:
        dist.check_rules_used(tiny_vit())
    msg = str(e.value)
    assert "2 sharding rule(s) match no variable" in msg
    assert "#1: '.*/kernel'" in msg and "#2: 'Dense_9/kernel'" in msg  # shadowed, and a typo
    assert "'embedding/kernel'" in msg  # shows real paths
    RuleModelParallel(make_device_mesh([("data", -1)], fake(8)), [(".*", "replicate")]).check_rules_used(tiny_vit())


@pytest.mark.parametrize("family", ["vit", "flexivit", "two_towers"])
def test_family_rule_sets(family):
    from keras_vision.models import build_model

    if family == "vit":
        model = tiny_vit()
    elif family == "flexivit":
        model = build_model("proj.flexi.vit", variant="mu", patch_size=(8, 8), num_classes=10, image_size=32,
                            posemb_size=(4, 4))
    else:
        model = build_model("proj.image_text.two_towers",
                            image=dict(variant="mu/8", pool_type="map", image_size=32),
                            text=dict(variant="mu", vocab_size=64, seq_len=16), out_dim=(None, 32),
                            temperature_init=10.0, bias_init=-10.0)
    mesh = make_device_mesh([("data", 4), ("model", 2)], fake(8))
    specs = {}
    for level in ("data", "fsdp", "fsdp_tp"):
        dist = RuleModelParallel(mesh, sharding_rules(family, level, min_size_to_shard_mb=0))
        specs[level] = {v.path: dist.layout_for(v.path, v.shape, v.dtype)[0] for v in model.weights}
    prefix = "img/" if family == "two_towers" else ""
    q = f"{prefix}Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel"
    mlp_out = f"{prefix}Transformer/encoderblock_0/MlpBlock_0/Dense_1/kernel"
    assert all(all(a is None for a in s) for s in specs["data"].values())
    assert specs["fsdp"][q] == ("data", None, None)
    assert specs["fsdp_tp"][q] == ("data", "model", None)  # heads on model, width on data
    assert specs["fsdp_tp"][mlp_out] == ("model", "data")  # row-parallel
    if family == "flexivit":
        assert specs["fsdp"]["embedding/kernel"] == (None,) * 4
    if family == "two_towers":
        assert specs["fsdp_tp"]["txt/Encoder_0/encoderblock_0/MlpBlock_0/Dense_0/kernel"] == ("data", "model")
    with pytest.raises(ConfigError, match="Unknown sharding level"):
        sharding_rules(family, "zero3")


def test_paligemma_rule_set_splits_query_heads_and_mlp_units():
    from keras_vision.models import build_model

    model = build_model("proj.paligemma.paligemma", img=dict(variant="mu/8", image_size=32),
                        llm=dict(width=32, depth=1, mlp_dim=64, num_heads=2, num_kv_heads=1, head_dim=16,
                                 vocab_size=64))
    mesh = make_device_mesh([("data", 4), ("model", 2)], fake(8))
    dist = RuleModelParallel(mesh, sharding_rules("proj.paligemma.paligemma", "fsdp_tp", min_size_to_shard_mb=0))
    specs = {v.path: dist.layout_for(v.path, v.shape, v.dtype)[0] for v in model.weights}
    assert specs["llm/layers_0/attn/q_einsum"] == ("model", "data", None)  # (N, D, H): heads on model
    assert specs["llm/layers_0/attn/attn_vec_einsum"] == ("model", None, "data")
    assert specs["llm/layers_0/mlp/gating_einsum"] == (None, "data", "model")  # (2, D, F)
    assert specs["llm/layers_0/mlp/linear"] == ("model", "data")
    assert "model" not in specs["llm/layers_0/attn/kv_einsum"]  # one key/value head: not split
    assert specs["img/Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel"] == (
        "data", "model", None)


def test_vit22b_layout_fits_where_one_device_cannot():
    """ViT-22B described without allocating: each device holds ~1/N of its parameters."""
    from keras_vision.models import ViTBackbone

    shapes = abstract_variables(lambda: ViTBackbone(**VIT_22B))
    total = sum(math.prod(s) * 4 for _, s, _ in shapes)
    assert 21.5e9 < total / 4 < 23e9 and total > 80 * 2**30  # > one 80 GB accelerator in float32
    for mesh, level, n in (([("data", 2), ("model", 4)], "fsdp_tp", 8),
                           ([("data", -1)], "fsdp", 8),
                           ([("data", 64), ("model", 4)], "fsdp_tp", 256)):
        dist = make_distribution(ConfigDict(mesh=mesh, sharding_rules=level, model_name="vit"), devices=fake(n))
        per_device = dist.per_device_bytes(shapes)
        assert total / n <= per_device < 1.02 * total / n, (mesh, per_device / total)
    replicated = make_distribution(ConfigDict(mesh=[("data", -1)]), devices=fake(8))
    assert not isinstance(replicated, RuleModelParallel)
    # The variables were never allocated, and Keras' state is clean for the next model.
    assert keras.distribution.distribution() is None
    tiny_vit()
