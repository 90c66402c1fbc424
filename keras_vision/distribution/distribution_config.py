"""Recipe keys -> `keras.distribution`: the device mesh and the variable layouts.

Recipe keys (big_vision names):

    config.mesh = [("data", -1)]                       # 1-D: data parallel / FSDP on every device
    config.mesh = [("data", 2), ("model", 4)]          # 2-D: FSDP on "data" x tensor parallel on "model"
    config.sharding_strategy = [(".*", "fsdp(axis='data')")]   # ordered (regex, spec), first match wins
    config.sharding_rules = "fsdp"                     # or a ready family set: "data" | "fsdp" | "fsdp_tp"
                                                       # (or dict(level="fsdp", min_size_to_shard_mb=0))

`-1` takes the remaining devices. `sharding` is accepted as an alias of
`sharding_strategy`. With a mesh and no rules every variable is replicated (data
parallelism, Keras `DataParallel`); rules give a `RuleModelParallel`. The batch is split
over the "data" axis (or the mesh's first axis). `keras.distribution` is JAX-only here:
a recipe with these keys on another backend is a ConfigError.
"""

import math

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigError
from keras_vision.distribution import family_rules
from keras_vision.distribution.rule_model_parallel import RuleModelParallel
from keras_vision.distribution.sharding_spec import ShardingRuleError
from keras_vision.distribution.sharding_spec import parse_rules

DISTRIBUTION_KEYS = ("mesh", "sharding_strategy", "sharding", "sharding_rules")


@keras_vision_export("keras_vision.distribution.make_device_mesh")
def make_device_mesh(mesh, devices=None):
    """`[("data", -1)]` / `[("data", 2), ("model", 4)]` -> `keras.distribution.DeviceMesh`.

    Args:
        mesh: list of (axis name, size); one size may be -1 (the remaining devices).
        devices: device list (default `keras.distribution.list_devices()`: every device
            of every host after `keras.distribution.initialize()`).
    """
    if devices is None:
        devices = keras.distribution.list_devices()
    devices = list(devices)
    if isinstance(mesh, (str, bytes)) or not mesh or not all(
        isinstance(a, (list, tuple)) and len(a) == 2 and isinstance(a[0], str) for a in mesh
    ):
        raise ConfigError(f"config.mesh must be a list of (axis name, size) pairs, e.g. [('data', -1)]; got {mesh!r}.")
    names = [a[0] for a in mesh]
    if len(set(names)) != len(names):
        raise ConfigError(f"config.mesh repeats an axis name: {mesh!r}.")
    sizes = [int(a[1]) for a in mesh]
    if sizes.count(-1) > 1 or any(s == 0 or s < -1 for s in sizes):
        raise ConfigError(f"config.mesh sizes must be positive, with at most one -1; got {mesh!r}.")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if len(devices) % known:
            raise ConfigError(f"config.mesh {mesh!r}: {len(devices)} devices do not divide by the fixed axes ({known}).")
        sizes[sizes.index(-1)] = len(devices) // known
    if math.prod(sizes) != len(devices):
        raise ConfigError(
            f"config.mesh {mesh!r} needs {math.prod(sizes)} devices but {len(devices)} are available "
            f"({devices[:4]}{'...' if len(devices) > 4 else ''}); use -1 for one axis."
        )
    return keras.distribution.DeviceMesh(shape=tuple(sizes), axis_names=names, devices=devices)


def has_distribution_keys(config):
    return any(config.get(k) for k in DISTRIBUTION_KEYS)


def _rules_of(config, axis_names):
    """(rules, explicit) from the config: explicit user rules are checked for unused entries."""
    strategy = config.get("sharding_strategy")
    if config.get("sharding") is not None:
        if strategy is not None:
            raise ConfigError("Set config.sharding_strategy or its alias config.sharding, not both.")
        strategy = config.sharding
    shorthand = config.get("sharding_rules")
    if strategy is not None and shorthand is not None:
        raise ConfigError("Set config.sharding_strategy (explicit rules) or config.sharding_rules (a ready set), "
                          "not both.")
    if strategy is not None:
        return [tuple(r) if isinstance(r, list) else r for r in strategy], True
    if shorthand is None:
        return [(".*", "replicate")], False
    kw = dict(shorthand) if isinstance(shorthand, dict) else {"level": shorthand}
    kw.setdefault("family", config.get("model_name", "vit"))
    kw.setdefault("data_axis", "data" if "data" in axis_names else axis_names[0])
    if "model" in axis_names:
        kw.setdefault("model_axis", "model")
    if kw["level"] == "fsdp_tp" and kw.get("model_axis", "model") not in axis_names:
        raise ConfigError(f"sharding_rules 'fsdp_tp' needs a 'model' mesh axis; config.mesh has {list(axis_names)}.")
    return family_rules.sharding_rules(**kw), False


def _all_replicated(rules, axis_names):
    return all(all(op.kind == "replicate" for op in ops) for _, ops, _ in parse_rules(rules, axis_names))


@keras_vision_export("keras_vision.distribution.make_distribution")
def make_distribution(config, devices=None, backend=None):
    """The `keras.distribution` a recipe config asks for, or None (single device).

    Returns a Keras `DataParallel` for a 1-D mesh whose rules replicate everything, else a
    `RuleModelParallel`; its `explicit_rules` attribute says whether
    `check_rules_used` should run once the model exists.

    Raises:
        ConfigError: distribution keys on a backend other than JAX, a bad mesh or rule.
    """
    if not has_distribution_keys(config):
        return None
    backend = backend or keras.backend.backend()
    if backend != "jax":
        raise ConfigError(
            f"config.{'/'.join(k for k in DISTRIBUTION_KEYS if config.get(k))} needs the JAX backend "
            f"(keras.distribution is JAX-only); this process runs {backend!r}. Set KERAS_BACKEND=jax, or "
            "remove the mesh / sharding keys to train on one device."
        )
    mesh = make_device_mesh(config.get("mesh") or [("data", -1)], devices=devices)
    axis_names = tuple(mesh.axis_names)
    rules, explicit = _rules_of(config, axis_names)
    try:
        if len(axis_names) == 1 and _all_replicated(rules, axis_names):
            dist = keras.distribution.DataParallel(device_mesh=mesh)
        else:
            dist = RuleModelParallel(mesh, rules)
    except ShardingRuleError as e:
        raise ShardingRuleError(f"config.sharding_strategy: {e}") from None
    dist.explicit_rules = explicit
    return dist


def data_axis_size(dist):
    names = list(dist.device_mesh.axis_names)
    return int(dist.device_mesh.shape[names.index(dist.batch_dim_name)])


@keras_vision_export("keras_vision.distribution.check_batch_size")
def check_batch_size(dist, batch_size, what="input.batch_size"):
    """ConfigError unless `batch_size` splits evenly over the distribution's data axis."""
    if dist is None:
        return
    n = data_axis_size(dist)
    if int(batch_size) % n:
        raise ConfigError(
            f"{what}={batch_size} is not divisible by the {dist.batch_dim_name!r} mesh axis size {n} "
            f"(mesh {dict(zip(dist.device_mesh.axis_names, dist.device_mesh.shape))}); "
            f"use a multiple of {n}."
        )
