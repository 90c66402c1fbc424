"""Model registry: `build_model("vit", **big_vision_kwargs)` -> a Keras model.

Families register a builder that takes big_vision's model kwargs (the contents of a
recipe's `config.model`) with `@register_model("name")`. Names are big_vision's
`config.model_name` values ("vit", "proj.flexi.vit", "proj.image_text.two_towers", ...).
"""

import importlib
import pkgutil

from keras_vision.api_export import keras_vision_export
from keras_vision.name_registry import register_names

_BUILDERS = {}
# module name -> the exception its import raised (shown when a name is not found).
IMPORT_ERRORS = {}


def import_families():
    """Imports every `keras_vision.models.<family>` package (and its `*_convert`/builder modules).

    Families register their builders and converters at import time; this lets
    `build_model` / `load_big_vision` find them without a central list.
    """
    import keras_vision.models as models_pkg

    def _import(module):
        try:
            return importlib.import_module(module)
        except Exception as e:  # one broken family must not hide the others
            IMPORT_ERRORS[module] = e
            return None

    for info in pkgutil.iter_modules(models_pkg.__path__):
        if not info.ispkg:
            continue
        package = _import(f"keras_vision.models.{info.name}")
        if package is None:
            continue
        for sub in pkgutil.iter_modules(package.__path__):
            if sub.name.endswith(("_convert", "_builder", "_registry")):
                _import(f"keras_vision.models.{info.name}.{sub.name}")


def import_errors_note():
    """A sentence naming family modules that failed to import (empty if none)."""
    if not IMPORT_ERRORS:
        return ""
    failed = ", ".join(f"{m} ({type(e).__name__}: {e})" for m, e in sorted(IMPORT_ERRORS.items()))
    return f" (these modules failed to import: {failed})"


@keras_vision_export("keras_vision.models.register_model")
def register_model(name, *aliases):
    """Decorator registering `builder(**big_vision_kwargs) -> keras.Model` under `name`.

    Re-registering the same function is a no-op; another function under a taken name
    is an error.

    Example:
        >>> @register_model("my_family")
        ... def build_my_family(**kwargs): ...
    """

    def decorator(builder):
        return register_names(_BUILDERS, "Model name", (name, *aliases), builder)

    return decorator


def registered_models():
    """Sorted names accepted by `build_model`."""
    import_families()
    return sorted(_BUILDERS)


@keras_vision_export("keras_vision.models.build_model")
def build_model(model_name, **kwargs):
    """Builds the model registered as `model_name` from big_vision-style kwargs.

    Args:
        model_name: e.g. "vit", "proj.flexi.vit", "proj.image_text.two_towers".
        **kwargs: the family's big_vision model kwargs (e.g. variant="S/16",
            pool_type="map", num_classes=10, image_size=224).

    Example:
        >>> model = build_model("vit", variant="mu/8", pool_type="gap", num_classes=10, image_size=32)
    """
    if model_name not in _BUILDERS:
        import_families()
    if model_name not in _BUILDERS:
        raise ValueError(
            f"Unknown model_name {model_name!r}; expected one of {sorted(_BUILDERS)}.{import_errors_note()}"
        )
    return _BUILDERS[model_name](**kwargs)
