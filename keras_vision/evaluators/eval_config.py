"""`from_config(config)`: the evaluators of a recipe's `config.evals` (big_vision's `evaluators.common`)."""

import collections
import inspect

from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigDict
from keras_vision.config import get_steps
from keras_vision.evaluators.predict_fns import resolve_predict_fn
from keras_vision.evaluators.registry import get as get_evaluator

# Keys every evaluator config may hold that are consumed here, not by the evaluator.
GENERIC_KEYS = ("type", "prefix", "skip_first", "log_steps", "log_epochs", "log_examples", "log_percent")

EvalSpec = collections.namedtuple("EvalSpec", ["name", "evaluator", "log_steps", "prefix"])


@keras_vision_export("keras_vision.evaluators.from_config")
def from_config(config, *, total_steps=None, steps_per_epoch=None):
    """Builds the evaluators of `config.evals` (big_vision's `evaluators.common.from_config`).

    Each entry `config.evals[name]` holds `type` (default: the name), optional `prefix`
    (default "name/"), `log_steps` (or `_epochs`/`_examples`/`_percent`), `pred`/`pred_kw`
    (predict function) and the evaluator's own arguments; `batch_size` defaults to
    `config.batch_size_eval` or `config.input.batch_size`.

    Returns:
        A list of `EvalSpec(name, evaluator, log_steps, prefix)`.
    """
    config = ConfigDict(config)
    specs = []
    global_bs = config.get("batch_size_eval") or config.get("input.batch_size") or config.get("batch_size")
    for name, cfg in (config.get("evals") or {}).items():
        cfg = dict(cfg)
        cls = get_evaluator(cfg.get("type", name))
        prefix = cfg.get("prefix", f"{name}/")
        log_steps = get_steps(
            "log", cfg, total_steps=total_steps, steps_per_epoch=steps_per_epoch, batch_size=global_bs
        )
        kwargs = {k: v for k, v in cfg.items() if k not in GENERIC_KEYS}
        pred, pred_kw = kwargs.pop("pred", None), kwargs.pop("pred_kw", None)
        params = inspect.signature(cls.__init__).parameters
        accepts_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
        if "batch_size" in params and "batch_size" not in kwargs and global_bs:
            kwargs["batch_size"] = global_bs
        if pred is not None:
            kwargs["predict_fn"] = resolve_predict_fn(pred, pred_kw)
        unknown = [k for k in kwargs if k not in params and not accepts_any]
        if unknown:
            accepted = [p for p in params if p != "self"]
            raise ValueError(
                f"Evaluator {name!r} (type {cls.__name__}) got unknown argument(s) {unknown}; "
                f"it accepts {accepted} plus {list(GENERIC_KEYS) + ['pred', 'pred_kw']}."
            )
        specs.append(EvalSpec(name, cls(**kwargs), log_steps, prefix))
    return specs
