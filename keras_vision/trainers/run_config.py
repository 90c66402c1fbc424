"""`resolve_run_config(config)`: a run's config with every model's sugar expanded into numbers.

A recipe may name a model size by its variant ("S/16") and override one number of it
(`--set +model.patch_size=8`). `train` resolves the config once, before anything is
built, so the saved `config.json` holds the numbers the model was built from
(`width=384, depth=12, mlp_dim=1536, num_heads=6, patch_size=8`) and never a variant
next to a size that contradicts it. Each model family expands its own sugar
(`keras_vision.models.register_model(..., resolve_kwargs=fn)`); the models built from
resolved kwargs are the same (same variables, paths and shapes).

Resolved, wherever the config holds them:
- `config.model` of `config.model_name`, and every other dict with a `model_name` and a
  `model` dict (distillation teachers `config.distill.teachers[i]`, evaluator teacher
  specs, ...);
- big_vision's teacher sections: `config.<name>` of `config.<name>_name` for each name
  in `config.teachers`.

Example:
>>> cfg = ConfigDict(model_name="vit", model=dict(variant="S/16", patch_size=8))
>>> resolve_run_config(cfg).model
ConfigDict({'width': 384, 'depth': 12, 'mlp_dim': 1536, 'num_heads': 6, 'patch_size': 8})
"""

import json

from keras_vision.config import ConfigDict
from keras_vision.models import resolve_model_kwargs


def _resolve(value):
    """A copy of `value` (new dicts, lists and tuples; leaves shared) with model specs resolved."""
    if isinstance(value, dict):
        out = ConfigDict({k: _resolve(v) for k, v in value.items()})
        name, kwargs = out.get("model_name"), out.get("model")
        if isinstance(name, str) and isinstance(kwargs, dict):
            out["model"] = resolve_model_kwargs(name, kwargs)
        return out
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_resolve(v) for v in value)
    return value


def resolve_run_config(config):
    """A copy of `config` whose model kwargs hold explicit numbers instead of variants.

    Idempotent: resolving a resolved config changes nothing. The caller's config is not
    modified (leaves such as already built teacher models are shared, not copied).

    Args:
        config: a recipe config (dict or ConfigDict).

    Returns:
        A ConfigDict.
    """
    config = _resolve(dict(config))
    for name in config.get("teachers") or ():  # big_vision: teachers=["prof"], prof_name="vit", prof={...}
        model_name = config.get(f"{name}_name") if isinstance(name, str) else None
        if isinstance(model_name, str) and isinstance(config.get(name), dict):
            config[name] = resolve_model_kwargs(model_name, config[name])
    return config


def resolved_config_json(config):
    """`config` resolved, as the plain JSON data `config.json` holds (tuples as lists).

    Compares a workdir's `config.json` written before configs were resolved with a new,
    resolved config.
    """
    return json.loads(resolve_run_config(ConfigDict(config)).to_json())
