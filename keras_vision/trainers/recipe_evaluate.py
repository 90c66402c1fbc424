"""`evaluate_run(target)`: run a config's evaluators on a trained workdir or a saved model."""

from keras_vision import evaluators
from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigDict
from keras_vision.config import ConfigError
from keras_vision.loading import load_run
from keras_vision.loading import model_from_config
from keras_vision.loading import spec_kind


def _load_target(target, config, step):
    """(model, config, step) for a workdir, or any other model spec with the recipe `config`."""
    if spec_kind(target) == "run":
        model, run_config, info = load_run(target, step)
        return model, config or run_config, info["step"]
    if config is None:
        raise ConfigError(f"{str(target)!r} is a saved model, not a workdir: give --recipe for its evaluators.")
    model_config = ConfigDict(config)
    model_config.model_init = str(target)
    return model_from_config(model_config), config, None


@keras_vision_export("keras_vision.trainers.evaluate_run")
def evaluate_run(target, config=None, step=None, only=None, verbose=True):
    """Runs the evaluators of `config.evals` on a trained model.

    Args:
        target: a training workdir (its config.json builds the model, the latest or
            `step` checkpoint gives the weights), a KerasHub preset folder or a
            `.keras` file (then `config` is required).
        config: a recipe ConfigDict whose `evals` to run (default: the workdir's).
        step: which checkpoint of a workdir (default: the latest).
        only: names of the evals to run (default: all).
        verbose: print each evaluator's results.

    Returns:
        {"step": checkpoint step or None, "results": {prefixed name: value}}.

    Example:
    >>> evaluate_run("runs/vit_shapes_local")["results"]["val/prec@1"]
    """
    model, config, step = _load_target(target, config, step)
    config = ConfigDict(config)
    known = list((config.get("evals") or {}).keys())
    if only:
        unknown = [n for n in only if n not in known]
        if unknown:
            raise ConfigError(f"Unknown eval(s) {unknown}; this config has: {', '.join(known) or '(none)'}.")
        config.evals = {k: v for k, v in config.evals.items() if k in only}
    if not config.get("evals"):
        raise ConfigError("The config has no evals to run (config.evals is empty).")
    specs = evaluators.from_config(config, total_steps=config.get("total_steps"))
    callback = evaluators.EvaluatorCallback(specs, verbose=verbose)
    callback.set_model(model)
    results = callback.evaluate(step or 0)
    return {"step": step, "results": results}
