"""`from_preset(name_or_dir)`: the model of a preset, through KerasHub's loaders where they apply."""

import json
import pathlib

import keras
import keras_hub

from keras_vision.api_export import keras_vision_export
from keras_vision.data.sentencepiece_tokenizer import SentencePieceTextTokenizer
from keras_vision.presets import preset_format as fmt
from keras_vision.presets.preset_error import PresetError
from keras_vision.presets.preset_registry import resolve_preset


def _registered_class(config, file, path):
    name = config.get("registered_name")
    if name in ("Functional", "Sequential"):
        return keras.Model
    cls = keras.saving.get_registered_object(name)
    if cls is None:
        raise PresetError(f"{file} of preset {path!r} names class {name!r}, which is not registered with Keras.")
    return cls


def _is_subclass(cls, kind):
    return isinstance(cls, type) and issubclass(cls, getattr(keras_hub.models, kind))


@keras_vision_export("keras_vision.presets.load_preprocessing")
def load_preprocessing(preset):
    """preprocessing.json of a preset (name or folder) with the tokenizer path made absolute;
    {} when the preset has none (e.g. one written by KerasHub itself)."""
    path = resolve_preset(preset)
    prep = fmt.read_json(path, fmt.PREPROCESSING_FILE) or {}
    text = prep.get("text")
    if text and text.get("tokenizer"):
        text = dict(text)
        text["tokenizer"] = str(pathlib.Path(path) / text["tokenizer"])
        prep = {**prep, "text": text}
    return prep


def _num_outputs(model):
    try:
        shape = model.output_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(shape, tuple) and len(shape) == 2 and isinstance(shape[-1], int):
        return shape[-1]
    return None


@keras_vision_export("keras_vision.presets.from_preset")
def from_preset(preset, load_weights=True, **kwargs):
    """Loads the model of a preset (a registered name or a preset folder).

    The folder is checked first (missing or inconsistent files are listed in one
    `PresetError`); a KerasHub Task (task.json) loads through its class's
    `from_preset`, a KerasHub Backbone through `Backbone.from_preset`, anything else
    by deserializing config.json and loading model.weights.h5. All keras_vision model
    modules are imported first, so their classes are registered.

    Args:
        preset: name from `list_presets()` or a path to a preset folder.
        load_weights: False builds the architecture with fresh weights.
        **kwargs: forwarded to the KerasHub `from_preset` (e.g. `num_classes` for a
            new classifier head, `dtype`).

    Example:
    >>> model = keras_vision.presets.from_preset("saved_models/presets/vit_mu8_shapes")
    """
    path = resolve_preset(preset)
    fmt.check_preset(path)
    task_config = fmt.read_json(path, fmt.TASK_FILE)
    config = fmt.read_json(path, fmt.CONFIG_FILE)
    if task_config is not None:
        cls = _registered_class(task_config, fmt.TASK_FILE, path)
        if not _is_subclass(cls, "Task"):
            raise PresetError(f"task.json of {path!r} holds {cls.__name__}, which is not a keras_hub Task.")
        model = cls.from_preset(path, load_weights=load_weights, **kwargs)
    else:
        cls = _registered_class(config, fmt.CONFIG_FILE, path)
        if _is_subclass(cls, "Backbone"):
            model = cls.from_preset(path, load_weights=load_weights, **kwargs)
        else:
            if kwargs:
                raise PresetError(f"Options {sorted(kwargs)} only apply to KerasHub presets; {path!r} holds a "
                                  f"plain {cls.__name__}.")
            model = keras.saving.deserialize_keras_object(config)
            if load_weights:
                model.load_weights(str(pathlib.Path(path) / fmt.WEIGHTS_FILE))
    prep = fmt.read_json(path, fmt.PREPROCESSING_FILE) or {}
    names = prep.get("class_names")
    outputs = _num_outputs(model)
    if names is not None and outputs is not None and "num_classes" not in kwargs and len(names) != outputs \
            and not callable(getattr(model, "encode_text", None)):
        raise PresetError(
            f"Preset {path!r}: preprocessing.json lists {len(names)} class names but the loaded model has "
            f"{outputs} outputs; expected one name per class."
        )
    return model


def preset_summary(preset):
    """JSON-able description of a preset: files, metadata, config class, preprocessing, problems."""
    path = resolve_preset(preset)
    root = pathlib.Path(path)
    files = {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}
    out = {"path": path, "files": files, "problems": fmt.preset_problems(path)}
    for key, file in (("metadata", fmt.METADATA_FILE), ("preprocessing", fmt.PREPROCESSING_FILE)):
        try:
            out[key] = fmt.read_json(path, file)
        except json.JSONDecodeError:
            out[key] = None
    for key, file in (("config", fmt.CONFIG_FILE), ("task", fmt.TASK_FILE)):
        try:
            cfg = fmt.read_json(path, file)
        except json.JSONDecodeError:
            cfg = None
        if cfg:
            inner = cfg.get("config", {}) if isinstance(cfg.get("config"), dict) else {}
            out[key] = {
                "class": cfg.get("registered_name"),
                "config": {k: v for k, v in inner.items() if not isinstance(v, dict)},
            }
    return out


@keras_vision_export("keras_vision.presets.load_tokenizer")
def load_tokenizer(preset):
    """The preset's text tokenizer as a `keras_vision.data.SentencePieceTextTokenizer`
    (big_vision `tokenize` semantics: max_len, sticky EOS, pad value, lowercasing)."""
    prep = load_preprocessing(preset)
    text = dict(prep.get("text") or {})
    model = text.pop("tokenizer", None)
    if not model:
        raise PresetError(f"Preset {str(preset)!r} has no text tokenizer (no 'text' in {fmt.PREPROCESSING_FILE}).")
    text.pop("vocab_size", None)
    max_len = text.pop("max_len", None)
    if max_len is None:
        raise PresetError(f"Preset {str(preset)!r}: {fmt.PREPROCESSING_FILE} text settings have no max_len.")
    return SentencePieceTextTokenizer(model, max_len, **text)
