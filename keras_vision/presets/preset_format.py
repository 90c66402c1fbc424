"""The preset folder layout (KerasHub's, plus keras_vision's preprocessing config) and its checks.

    config.json            serialized backbone (KerasHub `Backbone`) or whole model
    model.weights.h5       its weights (or model.weights.json + shards for > 10 GB)
    metadata.json          KerasHub metadata + a "keras_vision" section: name, family,
                           source, description, and the files written with their sizes
    task.json              serialized task (classifier, ...) when the model is a Task
    task.weights.h5        the task's own weights (e.g. the classification head)
    preprocessing.json     pp string, image size, class names, text tokenizer settings
    tokenizer.json         KerasHub SentencePieceTokenizer config (two-tower presets)
    assets/tokenizer/vocabulary.spm   the SentencePiece model
"""

import json
import os
import pathlib

import keras

from keras_vision.presets.preset_error import PresetError

CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "model.weights.h5"
SHARDED_WEIGHTS_FILE = "model.weights.json"
TASK_FILE = "task.json"
TASK_WEIGHTS_FILE = "task.weights.h5"
PREPROCESSING_FILE = "preprocessing.json"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_ASSET = "assets/tokenizer/vocabulary.spm"
PREPROCESSING_FORMAT = "keras_vision.preprocessing.v1"

FILE_ROLES = {
    CONFIG_FILE: "the model architecture (serialized Keras config)",
    WEIGHTS_FILE: "the model weights",
    METADATA_FILE: "versions, parameter count and provenance",
    TASK_FILE: "the task model config (e.g. the classifier around the backbone)",
    TASK_WEIGHTS_FILE: "the task's own weights (e.g. the classification head)",
    PREPROCESSING_FILE: "pp string, image size, class names, text settings",
    TOKENIZER_FILE: "the tokenizer config",
    TOKENIZER_ASSET: "the SentencePiece model",
}


def read_json(path, file):
    """Parsed JSON of `path/file`, or None when the file does not exist."""
    full = pathlib.Path(path) / file
    if not full.exists():
        return None
    with open(full, encoding="utf-8") as f:
        return json.load(f)


def is_preset_dir(path):
    """True for a folder with a config.json and weights (not a SavedModel or a workdir)."""
    path = pathlib.Path(path)
    return (
        path.is_dir()
        and (path / CONFIG_FILE).exists()
        and any((path / f).exists() for f in (WEIGHTS_FILE, SHARDED_WEIGHTS_FILE, METADATA_FILE))
        and not (path / "saved_model.pb").exists()
        and not (path / "checkpoints").is_dir()
    )


def _num_classes(config):
    if not isinstance(config, dict):
        return None
    inner = config.get("config", {})
    value = inner.get("num_classes") if isinstance(inner, dict) else None
    return int(value) if isinstance(value, int) else None


def preset_problems(path):
    """Everything wrong with the preset folder `path`, as a list of sentences (empty: fine).

    Checks that the files exist (those KerasHub needs, and every file listed in
    metadata.json when the preset was written by keras_vision), that the JSON files
    parse, that the classes are registered with Keras, that the number of class names
    matches the model's classes, and that a declared tokenizer asset is there.
    """
    path = pathlib.Path(path)
    if not path.is_dir():
        return [f"{str(path)!r} is not a folder"]
    problems, parsed = [], {}
    for file in (CONFIG_FILE, METADATA_FILE, TASK_FILE, PREPROCESSING_FILE, TOKENIZER_FILE):
        try:
            parsed[file] = read_json(path, file)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            problems.append(f"{file} is not valid JSON ({e})")
            parsed[file] = None
    for file in (CONFIG_FILE, METADATA_FILE):
        if not (path / file).exists():
            problems.append(f"missing {file} ({FILE_ROLES[file]})")
    if not (path / WEIGHTS_FILE).exists() and not (path / SHARDED_WEIGHTS_FILE).exists():
        problems.append(f"missing {WEIGHTS_FILE} ({FILE_ROLES[WEIGHTS_FILE]})")
    metadata = parsed.get(METADATA_FILE) or {}
    listed = (metadata.get("keras_vision") or {}).get("files") or {}
    for file, size in sorted(listed.items()):
        full = path / file
        if not full.exists():
            if not any(file in p for p in problems):
                problems.append(f"missing {file} ({FILE_ROLES.get(file, 'listed in metadata.json')})")
        elif isinstance(size, int) and not file.endswith(".json") and os.path.getsize(full) != size:
            # Weights and assets must be the files written; JSON files may be edited by hand.
            problems.append(f"{file} has {os.path.getsize(full)} bytes but metadata.json recorded {size}")
    for file in (CONFIG_FILE, TASK_FILE):
        config = parsed.get(file)
        if config is None:
            continue
        if not isinstance(config, dict) or "registered_name" not in config:
            problems.append(f"{file} is not a serialized Keras object (no 'registered_name')")
            continue
        name = config["registered_name"]
        if name not in ("Functional", "Sequential") and _registered(name) is None:
            problems.append(
                f"{file} names class {name!r}, which is not registered with Keras (is the module that "
                "defines it imported? keras_vision classes register on `import keras_vision.models`)"
            )
    prep = parsed.get(PREPROCESSING_FILE)
    if prep is not None:
        names = prep.get("class_names")
        expected = (_num_classes(parsed.get(TASK_FILE)) or _num_classes(parsed.get(CONFIG_FILE))
                    or prep.get("num_classes"))
        if names is not None and expected is not None and len(names) != expected:
            problems.append(
                f"{PREPROCESSING_FILE} lists {len(names)} class names but the model config has "
                f"num_classes={expected}"
            )
        asset = (prep.get("text") or {}).get("tokenizer")
        if asset and not (path / asset).exists():
            problems.append(f"missing {asset} (the SentencePiece model named in {PREPROCESSING_FILE})")
    return problems


def _registered(name):
    return keras.saving.get_registered_object(name)


def check_preset(path):
    """Raises `PresetError` listing every problem of the preset folder `path`."""
    problems = preset_problems(path)
    if problems:
        present = sorted(str(p.relative_to(path)) for p in pathlib.Path(path).rglob("*") if p.is_file()) \
            if pathlib.Path(path).is_dir() else []
        expected = [CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE]
        raise PresetError(
            f"Preset {str(path)!r} is incomplete or inconsistent:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + f"\nA preset needs at least {', '.join(expected)} (plus {TASK_FILE}/{TASK_WEIGHTS_FILE} for "
            f"a task model, {PREPROCESSING_FILE} for pp and class names); found: {', '.join(present) or 'nothing'}."
        )
