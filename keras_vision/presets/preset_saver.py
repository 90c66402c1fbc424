"""`save_preset`: a model + its preprocessing as a KerasHub-layout preset folder."""

import datetime
import json
import os
import pathlib
import shutil

import keras
import keras_hub

from keras_vision.api_export import keras_vision_export
from keras_vision.data.sentencepiece_tokenizer import read_model
from keras_vision.presets import preset_format as fmt
from keras_vision.presets.image_size import model_image_size
from keras_vision.presets.preset_error import PresetError
from keras_vision.version import __version__


def model_family(model):
    """"vit", "two_tower", ... from the module of the model's class (else "custom")."""
    parts = type(model).__module__.split(".")
    if len(parts) > 2 and parts[0] == "keras_vision" and parts[1] == "models":
        return parts[2]
    return "custom"


def _is_keras_hub(model, kind):
    return isinstance(model, getattr(keras_hub.models, kind))


def _strip(config, keys=("compile_config", "build_config")):
    if isinstance(config, dict):
        return {k: _strip(v, keys) for k, v in config.items() if k not in keys}
    if isinstance(config, list):
        return [_strip(v, keys) for v in config]
    return config


def _save_plain_model(model, path):
    """KerasHub's backbone layout for a keras.Model that is not a KerasHub Backbone/Task."""
    config = _strip(keras.saving.serialize_keras_object(model))
    with open(path / fmt.CONFIG_FILE, "w") as f:
        json.dump(config, f, indent=4)
    model.save_weights(str(path / fmt.WEIGHTS_FILE))
    metadata = {
        "keras_version": keras.__version__,
        "keras_hub_version": keras_hub.__version__,
        "parameter_count": int(model.count_params()),
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "tasks": [],
    }
    with open(path / fmt.METADATA_FILE, "w") as f:
        json.dump(metadata, f, indent=4)


def _save_tokenizer(path, tokenizer, text):
    proto = read_model(tokenizer)
    hub_tok = keras_hub.tokenizers.SentencePieceTokenizer(
        proto=proto, sequence_length=text.get("max_len"), add_bos=bool(text.get("add_bos", False)),
        add_eos=text.get("eos", "sticky") != "none",
    )
    # Writes tokenizer.json + assets/tokenizer/vocabulary.spm (KerasHub's own layout), so
    # keras_hub.tokenizers.SentencePieceTokenizer.from_preset(dir) works too.
    hub_tok.save_to_preset(str(path))
    if not (path / fmt.TOKENIZER_ASSET).exists():
        (path / fmt.TOKENIZER_ASSET).parent.mkdir(parents=True, exist_ok=True)
        (path / fmt.TOKENIZER_ASSET).write_bytes(proto)


def classifier_outputs(model):
    """Number of classes of a classifier (2-D output, not a two-tower), else None."""
    if callable(getattr(model, "encode_text", None)):
        return None
    try:
        shape = model.output_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(shape, tuple) and len(shape) == 2 and isinstance(shape[-1], int):
        return int(shape[-1])
    return None


def _image_size(model):
    size = model_image_size(getattr(model, "image_encoder", None) or model)
    return None if size is None else list(size)


@keras_vision_export("keras_vision.presets.save_preset")
def save_preset(model, preset_dir, metadata=None, *, pp=None, class_names=None, tokenizer=None, text=None,
                prompt_templates=None, activation=None, image_size=None, name=None, overwrite=False):
    """Saves `model` and its preprocessing as a preset folder (KerasHub layout).

    KerasHub Backbones and Tasks are written by their own `save_to_preset` (so
    `keras_hub.models.Backbone.from_preset(dir)` / `ImageClassifier.from_preset(dir)`
    load them); other Keras models get the same files (config.json, model.weights.h5,
    metadata.json). keras_vision adds `preprocessing.json` (eval pp string, image
    size, class names, text settings, prompt templates), the SentencePiece model as
    `assets/tokenizer/vocabulary.spm` + `tokenizer.json`, and a "keras_vision"
    section in metadata.json (name, family, source, your `metadata`, and every file
    written with its size, which `from_preset` checks).

    Args:
        model: the Keras model (backbone, classifier, two-tower, ...).
        preset_dir: output folder (created; must be empty unless `overwrite`).
        metadata: JSON-able dict stored in metadata.json["keras_vision"], e.g.
            {"description": ..., "source": "gs://.../ViT-B_16.npz", "recipe": ...}.
        pp: the eval pp string the model expects.
        class_names: one name per class (classifiers; zero-shot defaults for two-tower).
        tokenizer: SentencePiece model (path, bytes or an object with `.proto`).
        text: tokenizer settings: max_len, eos ("sticky"), lower (True), pad_value (0), add_bos.
        prompt_templates, activation: two-tower zero-shot settings.
        image_size: (height, width); inferred from the model when possible.
        name: preset name shown by `keras-vision presets list` (default: folder name).
        overwrite: replace an existing non-empty folder.

    Returns:
        The preset folder path (str).

    Example:
    >>> save_preset(model, "saved_models/presets/vit_mu8_shapes",
    ...     {"description": "ViT-mu/8 on shapes", "source": "make demo"},
    ...     pp="resize(32)|value_range(-1, 1)", class_names=shapes.CLASS_NAMES)
    """
    if not isinstance(model, keras.Model):
        raise PresetError(f"save_preset needs a keras.Model, got {type(model).__name__}.")
    num_classes = classifier_outputs(model)
    if class_names is not None and num_classes is not None and len(class_names) != num_classes:
        raise PresetError(
            f"Got {len(class_names)} class names for a model with {num_classes} classes; "
            f"expected {num_classes} (first given: {list(class_names)[:5]})."
        )
    path = pathlib.Path(preset_dir)
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise FileExistsError(f"Preset folder {str(path)!r} is not empty; pass overwrite=True to replace it.")
        if not any((path / f).exists() for f in (fmt.CONFIG_FILE, fmt.METADATA_FILE)):
            raise FileExistsError(f"Refusing to overwrite {str(path)!r}: it is not empty and holds no preset.")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    if _is_keras_hub(model, "Task") or _is_keras_hub(model, "Backbone"):
        model.save_to_preset(str(path))
    else:
        _save_plain_model(model, path)

    text = dict(text or {})
    if tokenizer is not None:
        _save_tokenizer(path, tokenizer, text)
        text["tokenizer"] = fmt.TOKENIZER_ASSET
    elif text:
        raise PresetError("Text settings given without a tokenizer (SentencePiece model).")
    preprocessing = {
        "format": fmt.PREPROCESSING_FORMAT,
        "image": {"pp": pp, "image_size": list(image_size) if image_size else _image_size(model)},
        "num_classes": num_classes,
        "class_names": None if class_names is None else [str(c) for c in class_names],
        "text": text or None,
        "prompt_templates": None if prompt_templates is None else list(prompt_templates),
        "activation": activation,
    }
    with open(path / fmt.PREPROCESSING_FILE, "w") as f:
        json.dump(preprocessing, f, indent=4)

    meta = fmt.read_json(path, fmt.METADATA_FILE) or {}
    section = dict(metadata or {})
    section.update(
        name=name or section.get("name") or path.name,
        family=section.get("family") or model_family(model),
        class_name=f"{type(model).__module__}.{type(model).__name__}",
        parameter_count=int(model.count_params()),
        keras_vision_version=__version__,
        backend=keras.backend.backend(),
    )
    files = {}
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.name != fmt.METADATA_FILE):
        files[str(file.relative_to(path))] = os.path.getsize(file)
    section["files"] = files
    meta["keras_vision"] = json.loads(json.dumps(section, default=str))
    with open(path / fmt.METADATA_FILE, "w") as f:
        json.dump(meta, f, indent=4)
    return str(path)
