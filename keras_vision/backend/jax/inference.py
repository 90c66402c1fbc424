"""A model's inference function under `jax.jit`, its variables passed as arguments (stateless)."""

import jax
import keras


def jit_inference(fn, model, state_owners=()):
    """`fn(*args)` jitted once per input shape; reads `model`'s variables, may update `state_owners`'.

    `state_owners` are objects with a `variables` list (e.g. a KerasHub sampler's seed
    generator) that `fn` advances; their new values are assigned back after each call.
    Model variables are read-only here (inference).
    """
    model_variables = list(model.trainable_variables) + list(model.non_trainable_variables)
    state_variables = [v for owner in state_owners for v in owner.variables]

    def stateless(model_values, state_values, *args):
        mapping = list(zip(model_variables, model_values)) + list(zip(state_variables, state_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            outputs = fn(*args)
        new_state = [scope.get_current_value(v) for v in state_variables]
        new_state = [new if new is not None else old for new, old in zip(new_state, state_values)]
        return outputs, new_state

    jitted = jax.jit(stateless)

    def call(*args):
        model_values = [v.value for v in model_variables]
        state_values = [v.value for v in state_variables]
        outputs, new_state = jitted(model_values, state_values, *args)
        for variable, value in zip(state_variables, new_state):
            variable.assign(value)
        return outputs

    return call
