import json
import pathlib

import keras
import numpy as np
import pytest

OPTAX_REFERENCE = pathlib.Path(__file__).parent / "optax_reference.npz"


def _named_variables(arrays):
    """keras.Variables whose `path` is the dict key (e.g. "Transformer/encoder_norm/bias")."""

    def make(scopes, leaf, value):
        if not scopes:
            return keras.Variable(value, name=leaf)
        with keras.name_scope(scopes[0]):
            return make(scopes[1:], leaf, value)

    out = {}
    for name, value in arrays.items():
        *scopes, leaf = name.split("/")
        variable = make(scopes, leaf, np.asarray(value))
        assert variable.path == name, (variable.path, name)
        out[name] = variable
    return out


@pytest.fixture
def optax_reference():
    with np.load(OPTAX_REFERENCE, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    return data, json.loads(str(data["meta/config"]))


@pytest.fixture
def named_variables():
    return _named_variables


def _apply_fn(optimizer, variables):
    """`apply(grads)` updating `variables`; on JAX through a jitted `stateless_apply`.

    That is the path `model.fit` takes on JAX, and it compiles once instead of
    op by op (eager JAX compiles every new op/shape, ~10 s for a tiny ViT here).
    """
    variables = list(variables)
    if keras.backend.backend() != "jax":
        return lambda grads: optimizer.apply(grads, variables)
    import jax

    optimizer.build(variables)
    step = jax.jit(optimizer.stateless_apply)

    def apply(grads):
        new_vars, new_opt_vars = step(
            [v.value for v in optimizer.variables], list(grads), [v.value for v in variables]
        )
        for v, value in zip(variables, new_vars):
            v.assign(value)
        for v, value in zip(optimizer.variables, new_opt_vars):
            v.assign(value)

    return apply


@pytest.fixture
def apply_fn():
    return _apply_fn
