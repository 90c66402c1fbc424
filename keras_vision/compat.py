"""The one module that touches private attributes of Keras, TensorFlow, tf-models-official and TFDS.

keras_vision pins its stack (pyproject.toml; DESIGN.md §6). A few things it needs have no
public API there; each is read or written here, by a small named function, so that an
upgrade that removes one fails loudly, with an error that names the private attribute and
the version it was written against, instead of silently changing behaviour. The private
Keras methods that keras_vision overrides are checked when this module is imported.

Every other module calls these functions; none spells a third-party `._name` itself.

Example:
>>> import keras
>>> from keras_vision import compat
>>> compat.variable_layout(keras.Variable(1.0)) is None
True
"""

import importlib.metadata
import inspect

import keras

__all__ = [
    "KERAS_OPTIMIZER_HOOKS",
    "PINNED",
    "PrivateAPIError",
    "angles_to_transform",
    "check_private_methods",
    "dataset_flat_shapes",
    "dataset_flat_types",
    "disable_tfds_gcs",
    "fill_rectangle",
    "installed_version",
    "learning_rate_object",
    "optimizer_variable_index",
    "overwrites_with_gradient",
    "set_learning_rate_object",
    "symbolic_build",
    "translation_to_transform",
    "variable_layout",
]

# Distribution -> the version keras_vision's private-API uses were written against.
PINNED = {
    "keras": "3.15.1",
    "tensorflow": "2.20.0",
    "tf-models-official": "2.20.0",
    "tensorflow-datasets": "4.9.10",
}

# Private methods of `keras.optimizers.Optimizer` that `BigVisionOptimizer` overrides or
# calls, with the parameter names (after `self`) it relies on.
KERAS_OPTIMIZER_HOOKS = {
    "_backend_update_step": ("grads", "trainable_variables", "learning_rate"),
    "_clip_gradients": ("grads",),
    "_apply_weight_decay": ("variables",),
    "_get_variable_index": ("variable",),
    "_overwrite_variable_with_gradient": ("variable",),
}


class PrivateAPIError(RuntimeError):
    """A private attribute keras_vision relies on is missing from the installed package."""


# Distributions that provide a package of PINNED (tensorflow-cpu is what pyproject.toml installs).
_PROVIDERS = {"tensorflow": ("tensorflow-cpu", "tensorflow")}


def installed_version(dist):
    """The installed version of `dist` (a key of PINNED), or "not installed"."""
    for name in _PROVIDERS.get(dist, (dist,)):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return "not installed"


def _error(dist, owner, name, why):
    return PrivateAPIError(
        f"{owner} has no private attribute {name!r} ({why}). keras_vision uses it as "
        f"{dist}=={PINNED[dist]} defines it; installed: {dist} {installed_version(dist)}. Install the "
        f"pinned stack (pyproject.toml) or port keras_vision/compat.py to this version."
    )


def _owner(obj):
    if inspect.ismodule(obj):
        return f"module {obj.__name__}"
    return repr(obj) if inspect.isclass(obj) else f"{type(obj).__name__} object"


def _get(obj, name, dist, why):
    try:
        return getattr(obj, name)
    except AttributeError:
        raise _error(dist, _owner(obj), name, why) from None


def _set(obj, name, value, dist, why):
    """Sets an existing private attribute (a setattr would otherwise add a new, unused one)."""
    _get(obj, name, dist, why)
    setattr(obj, name, value)


def check_private_methods(cls, methods, dist="keras"):
    """Raises PrivateAPIError unless `cls` has every method of `methods` ({name: parameter names}).

    Run at import for the Keras optimizer hooks keras_vision overrides, so an upgrade that
    renames or re-signs one fails at `import keras_vision`, not mid-training.
    """
    for name, params in methods.items():
        fn = _get(cls, name, dist, "a method keras_vision overrides or calls")
        got = tuple(inspect.signature(fn).parameters)[1:]
        if got != tuple(params):
            raise PrivateAPIError(
                f"{cls.__qualname__}.{name} takes {got}, expected {tuple(params)} as {dist}=="
                f"{PINNED[dist]} defines it; installed: {dist} {installed_version(dist)}. Install the pinned "
                f"stack (pyproject.toml) or port keras_vision/compat.py to this version."
            )


check_private_methods(keras.optimizers.Optimizer, KERAS_OPTIMIZER_HOOKS)


# === Keras ===


def symbolic_build(model):
    """`model._symbolic_build`: builds the compiled loss and metrics from a symbolic batch.

    Used before the first `fit` so that Keras does not read (and restart) the dataset to
    build them. Call the result as `build(data_batch=batch_of_KerasTensors)`.
    """
    return _get(model, "_symbolic_build", "keras", "the model's build-from-a-batch hook")


def learning_rate_object(optimizer):
    """The optimizer's learning rate as given (a schedule, callable or variable), not its value now."""
    return _get(optimizer, "_learning_rate", "keras", "the learning rate or schedule as given")


def set_learning_rate_object(optimizer, learning_rate):
    """Replaces the optimizer's learning rate (e.g. a schedule by a re-keyed schedule) before it is built.

    The public setter refuses to replace a schedule (and evaluates it on read).
    """
    _set(optimizer, "_learning_rate", learning_rate, "keras", "the learning rate or schedule as given")


def optimizer_variable_index(optimizer, variable):
    """Index of `variable` in the optimizer's trainable variables (its slot index)."""
    return _get(optimizer, "_get_variable_index", "keras", "variable -> slot index")(variable)


def overwrites_with_gradient(optimizer, variable):
    """Whether the optimizer overwrites `variable` with its gradient (e.g. float8 scales)."""
    return _get(optimizer, "_overwrite_variable_with_gradient", "keras", "overwrite-with-gradient flag")(variable)


def variable_layout(variable):
    """The `keras.distribution` layout a variable was created with (None: none)."""
    return _get(variable, "_layout", "keras", "the variable's distribution layout")


# === TensorFlow ===


def dataset_flat_types(ds):
    """The flat tensor dtypes of a `tf.data.Dataset`'s variant encoding (what raw dataset ops take)."""
    return _get(ds, "_flat_types", "tensorflow", "the dataset's flat output types")


def dataset_flat_shapes(ds):
    """The flat tensor shapes of a `tf.data.Dataset`'s variant encoding (what raw dataset ops take)."""
    return _get(ds, "_flat_shapes", "tensorflow", "the dataset's flat output shapes")


# === tf-models-official (`official.vision.ops.augment`, passed in as `augment`) ===


def angles_to_transform(augment, angles, image_width, image_height):
    """The projective transform of a rotation by `angles` (radians) about the image centre."""
    fn = _get(augment, "_convert_angles_to_transform", "tf-models-official", "rotation -> transform")
    return fn(angles, image_width, image_height)


def translation_to_transform(augment, translations):
    """The projective transform of a translation by `translations` ([dx, dy] pixels)."""
    fn = _get(augment, "_convert_translation_to_transform", "tf-models-official", "translation -> transform")
    return fn(translations)


def fill_rectangle(augment, image, center_width, center_height, half_width, half_height, replace):
    """`image` with the rectangle around (center_width, center_height) set to `replace` (Cutout)."""
    fn = _get(augment, "_fill_rectangle", "tf-models-official", "cutout fill")
    return fn(image, center_width, center_height, half_width, half_height, replace)


# === TFDS (`tensorflow_datasets.core.utils.gcs_utils`, passed in as `gcs_utils`) ===


def disable_tfds_gcs(gcs_utils):
    """Stops TFDS from looking dataset metadata up on GCS: everything comes from data_dir."""
    _set(gcs_utils, "_is_gcs_disabled", True, "tensorflow-datasets", "the GCS-lookup switch")
