"""`keras.distribution.ModelParallel` driven by big_vision's ordered `(regex, spec)` rules."""

import collections
import math

import keras

from keras_vision import compat
from keras_vision.api_export import keras_vision_export
from keras_vision.distribution import sharding_spec
from keras_vision.distribution.sharding_spec import ShardingRuleError

Assignment = collections.namedtuple("Assignment", ["path", "shape", "dtype", "rule", "spec", "note"])


@keras_vision_export("keras_vision.distribution.RuleModelParallel")
class RuleModelParallel(keras.distribution.ModelParallel):
    """ModelParallel whose variable layouts come from ordered big_vision sharding rules.

    Keras' `LayoutMap` matches every key against a path and raises when two keys
    match, and it only sees the path; big_vision's `sharding_strategy` is an ordered
    list where the first matching regex wins and `fsdp` picks a dimension from the
    variable's shape. This distribution resolves each variable when Keras creates it
    (`get_variable_layout` sees the path, shape and dtype), so layouts exist before
    the values are allocated: a model too big for one device is created sharded.
    Optimizer states take their parameter's layout. Variables no rule matches are
    replicated; `check_rules_used(model)` raises for rules that matched no variable.

    Args:
        device_mesh: a `keras.distribution.DeviceMesh`.
        rules: list of `(regex, spec)` (see `keras_vision.distribution.sharding_spec`);
            regexes are `re.fullmatch`ed against `variable.path`.
        batch_dim_name: mesh axis the batch is split over (default "data" if the
            mesh has it, else its first axis).
        auto_shard_dataset: as in `keras.distribution.ModelParallel` (multi-host).

    Example:
    >>> mesh = make_device_mesh([("data", 2), ("model", 4)])
    >>> dist = RuleModelParallel(mesh, [(".*/Dense_0/kernel", (None, "model")),
    ...                                 (".*", "fsdp(axis='data')")])
    >>> with dist.scope():
    ...     model = build_model("vit", variant="B/16", num_classes=1000)
    >>> dist.check_rules_used(model)

    Paper: "Scaling Vision Transformers to 22 Billion Parameters" (Dehghani et al.,
    2023) for FSDP + tensor-parallel layouts.
    """

    def __init__(self, device_mesh, rules, batch_dim_name=None, auto_shard_dataset=True):
        axis_names = tuple(device_mesh.axis_names)
        if batch_dim_name is None:
            batch_dim_name = "data" if "data" in axis_names else axis_names[0]
        if batch_dim_name not in axis_names:
            raise ShardingRuleError(f"batch_dim_name {batch_dim_name!r} is not a mesh axis {list(axis_names)}.")
        super().__init__(layout_map=keras.distribution.LayoutMap(device_mesh), batch_dim_name=batch_dim_name,
                         auto_shard_dataset=auto_shard_dataset)
        self.rules = list(rules)
        self._parsed = sharding_spec.parse_rules(self.rules, axis_names)
        self.mesh_shape = dict(zip(axis_names, (int(s) for s in device_mesh.shape)))
        self.assignments = {}  # path -> Assignment of every variable created under this distribution

    def layout_for(self, path, shape, dtype="float32"):
        """`(spec, rule index or None, note)` of a variable with this path, shape and dtype."""
        index = sharding_spec.first_match(self._parsed, path)
        if index is None:
            return (None,) * len(shape), None, None
        spec, note = sharding_spec.resolve(self._parsed[index][1], path, shape, dtype, self.mesh_shape)
        return spec, index, note

    def get_variable_layout(self, variable):
        layout = compat.variable_layout(variable)
        if layout is not None:  # created with an explicit layout
            return layout
        shape = tuple(variable.shape)
        spec, index, note = self.layout_for(variable.path, shape, variable.dtype)
        self.assignments[variable.path] = Assignment(variable.path, shape, str(variable.dtype), index, spec, note)
        return keras.distribution.TensorLayout(spec, self.device_mesh)

    def get_tensor_layout(self, path):
        return None  # activations: left to GSPMD propagation

    def check_rules_used(self, model_or_variables):
        """Raises ShardingRuleError naming every rule that matches none of the variables."""
        variables = getattr(model_or_variables, "weights", model_or_variables)
        paths = [v.path for v in variables]
        used = {sharding_spec.first_match(self._parsed, p) for p in paths}
        unused = [i for i in range(len(self._parsed)) if i not in used]
        if unused:
            shown = "\n".join(f"  #{i}: {self.rules[i][0]!r} -> {self.rules[i][1]!r}" for i in unused)
            sample = ", ".join(repr(p) for p in paths[:8])
            raise ShardingRuleError(
                f"{len(unused)} sharding rule(s) match no variable (a rule shadowed by an earlier one "
                f"counts as unused; regexes are re.fullmatch'ed against variable.path):\n{shown}\n"
                f"The model has {len(paths)} variables, e.g. {sample}."
            )

    def summary(self, model_or_variables=None):
        """Text table: path, shape, spec, rule, note (the variables created under this distribution)."""
        rows = list(self.assignments.values())
        if model_or_variables is not None:
            keep = {v.path for v in getattr(model_or_variables, "weights", model_or_variables)}
            rows = [r for r in rows if r.path in keep]
        lines = [f"mesh {self.mesh_shape}, batch over {self.batch_dim_name!r}"]
        for r in rows:
            rule = "-" if r.rule is None else f"#{r.rule}"
            lines.append(f"{r.path:70s} {str(r.shape):22s} {str(r.spec):28s} {rule:4s} {r.note or ''}")
        return "\n".join(lines)

    def replicated_notes(self):
        """{path: note} of variables a rule asked to shard but that stayed replicated."""
        return {p: a.note for p, a in self.assignments.items() if a.note}

    def per_device_bytes(self, shapes):
        """Bytes per device of `[(path, shape, dtype)]` laid out by these rules (no allocation)."""
        total = 0
        for path, shape, dtype in shapes:
            spec, _, _ = self.layout_for(path, shape, dtype)
            local = sharding_spec.shard_shape(shape, spec, self.mesh_shape)
            total += math.prod(local) * sharding_spec._itemsize(dtype)
        return total
