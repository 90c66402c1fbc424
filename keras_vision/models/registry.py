"""Model registry: `build_model("vit", **big_vision_kwargs)` -> a Keras model.

Families register a builder that takes big_vision's model kwargs (the contents of a
recipe's `config.model`) with `@register_model("name")`; `keras_vision/models/__init__.py`
imports every family, so the table is complete once `keras_vision.models` is imported.
Names are big_vision's `config.model_name` values ("vit", "proj.flexi.vit",
"proj.image_text.two_towers", ...).
"""

from keras_vision.api_export import keras_vision_export
from keras_vision.registry import Registry

MODELS = Registry("model_name")
# model_name -> `resolve(kwargs) -> kwargs`: a family's sugar (a variant string) expanded
# into the explicit numbers its builder also accepts, so a run's config stores numbers.
MODEL_KWARGS_RESOLVERS = Registry("model kwargs resolver")
_MODEL_SPEC_KWARGS = {}


@keras_vision_export("keras_vision.models.register_model")
def register_model(name, *aliases, resolve_kwargs=None, model_spec_kwargs=()):
    """Decorator registering `builder(**big_vision_kwargs) -> keras.Model` under `name`.

    Re-registering the same function is a no-op; another function under a taken name
    is an error.

    Args:
        name, *aliases: big_vision model names.
        resolve_kwargs: optional `fn(kwargs) -> kwargs` that expands the family's sugar
            (e.g. `variant="S/16"`) into explicit kwargs the builder accepts, explicit
            kwargs winning; `resolve_model_kwargs` applies it.
        model_spec_kwargs: names of kwargs that take an already loaded `keras.Model`
            to initialise a part from (e.g. a two-tower's `image_init`); given a path
            or preset name in a recipe, `keras_vision.loading.model_from_config` loads
            it with `load_model` first.

    Example:
        >>> @register_model("my_family")
        ... def build_my_family(**kwargs): ...
    """
    names = (name, *aliases)
    if resolve_kwargs is not None:
        MODEL_KWARGS_RESOLVERS.add(names, resolve_kwargs)
    for key in names:
        _MODEL_SPEC_KWARGS[key] = tuple(model_spec_kwargs)
    return MODELS.register(*names)


def model_spec_kwargs(model_name):
    """Names of `model_name`'s builder kwargs that take a loaded model (see `register_model`)."""
    return _MODEL_SPEC_KWARGS.get(model_name, ())


@keras_vision_export("keras_vision.models.resolve_model_kwargs")
def resolve_model_kwargs(model_name, kwargs):
    """`kwargs` of `model_name` with the family's sugar (a variant) expanded into explicit numbers.

    Builds the same model as `kwargs`; models without a resolver get `kwargs` back
    unchanged (as a new dict).

    Example:
        >>> resolve_model_kwargs("vit", {"variant": "S/16", "patch_size": 8})
        {'width': 384, 'depth': 12, 'mlp_dim': 1536, 'num_heads': 6, 'patch_size': 8}
    """
    kwargs = dict(kwargs or {})
    if model_name not in MODEL_KWARGS_RESOLVERS:
        return kwargs
    return MODEL_KWARGS_RESOLVERS.get(model_name)(kwargs)


def registered_models():
    """Sorted names accepted by `build_model`."""
    return MODELS.names()


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
    return MODELS.get(model_name)(**kwargs)
