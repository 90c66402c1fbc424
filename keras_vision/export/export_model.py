"""`export(model | preset | workdir, path)`: one entry point for every SavedModel export."""

import json
import pathlib

from keras_vision import presets
from keras_vision.api_export import keras_vision_export
from keras_vision.config import ConfigError
from keras_vision.data import digits
from keras_vision.data import shapes
from keras_vision.data.sources import get_source
from keras_vision.evaluators import zeroshot
from keras_vision.export.classifier_exporter import ClassifierExporter
from keras_vision.export.errors import ExportError
from keras_vision.export.generation_exporter import GenerationExporter
from keras_vision.export.two_tower_exporter import TwoTowerExporter
from keras_vision.export.two_tower_exporter import tokenizer_kwargs_from_pp
from keras_vision.loading import ModelSpecError
from keras_vision.loading import load_model
from keras_vision.loading import load_run
from keras_vision.loading import spec_kind

TASKS = ("classification", "two_tower", "generation")
_TEXT_KEYS = ("max_len", "eos", "lower", "pad_value", "add_bos")


def _is_two_tower(model):
    return callable(getattr(model, "encode_image", None)) and callable(getattr(model, "encode_text", None))


def _is_generator(model):
    backbone = getattr(model, "backbone", None)
    return callable(getattr(model, "generate", None)) and callable(getattr(backbone, "prefill_cache", None))


def _default_task(model):
    if _is_two_tower(model):
        return "two_tower"
    return "generation" if _is_generator(model) else "classification"


def _preset_source(source):
    path = presets.resolve_preset(source)
    model = presets.from_preset(path)
    prep = presets.load_preprocessing(path)
    metadata = {}
    meta_file = pathlib.Path(path) / "metadata.json"
    if meta_file.exists():
        metadata = (json.loads(meta_file.read_text()).get("keras_vision") or {})
    text = dict(prep.get("text") or {})
    defaults = {
        "pp": (prep.get("image") or {}).get("pp"),
        "image_size": (prep.get("image") or {}).get("image_size"),
        "class_names": prep.get("class_names"),
        "prompt_templates": prep.get("prompt_templates"),
        "activation": prep.get("activation"),
        "tokenizer": text.pop("tokenizer", None),
        "text": {k: v for k, v in text.items() if k in _TEXT_KEYS},
    }
    info = {"type": "preset", "path": str(path), "name": metadata.get("name"), "source": metadata.get("source")}
    return model, defaults, info


def _eval_settings(config):
    """(image pp, text pp, class names, prompt templates) from a recipe config's evals."""
    image_pp = text_pp = names = templates = None
    for spec in (config.get("evals") or {}).values():
        if not isinstance(spec, dict):
            continue
        image_pp = image_pp or spec.get("pp_fn") or spec.get("pp_img") or spec.get("pp")
        text_pp = text_pp or spec.get("pp_txt")
        if spec.get("class_names") is not None and names is None:
            names, templates = spec.get("class_names"), spec.get("prompt_templates")
    return image_pp, text_pp, names, templates


def _resolve_names(names, config):
    if names == "shapes":
        num = ((config.get("input") or {}).get("data") or {}).get("num_classes")
        return list(shapes.class_names(num))
    return None if names is None or isinstance(names, str) else list(names)


def _data_class_names(data):
    """Class names of a recipe's training data (None when the source does not know them)."""
    name = data.get("name")
    try:
        if name == "shapes":
            return list(shapes.class_names(data.get("num_classes")))
        if name == "digits":
            return list(digits.CLASS_NAMES)
        names = getattr(get_source(dict(data)), "class_names", None)
        return None if names is None else list(names)
    except Exception:  # noqa: BLE001  (class names are optional: indices are used instead)
        return None


def _resolve_templates(templates):
    if templates is None or not isinstance(templates, str):
        return templates
    if templates == "shapes":
        return zeroshot.shapes_templates()
    return list(zeroshot.PROMPT_TEMPLATES[templates])


def _workdir_source(path, step):
    try:
        model, config, info = load_run(path, step)
    except ConfigError as e:
        raise ExportError(str(e)) from None
    image_pp, text_pp, names, templates = _eval_settings(config)
    image_pp = image_pp or (config.get("input") or {}).get("pp")
    text_pp = text_pp or ((config.get("input") or {}).get("pp") if _is_two_tower(model) else None)
    names = _resolve_names(names, config)
    if names is None and not _is_two_tower(model):
        names = _data_class_names((config.get("input") or {}).get("data") or {})
    defaults = {"pp": image_pp, "class_names": names, "prompt_templates": _resolve_templates(templates)}
    if text_pp and _is_two_tower(model):
        kwargs = tokenizer_kwargs_from_pp(text_pp)
        model_path = kwargs.pop("model", None)
        # Recipes that train their own vocabulary name it "{workdir}/....model".
        defaults["tokenizer"] = None if model_path is None else str(model_path).replace("{workdir}", str(path))
        defaults["text"] = {k: v for k, v in kwargs.items() if k in _TEXT_KEYS}
    source = {"type": "workdir", "path": str(path), "step": info["step"],
              "checkpoint": info["path"], "recipe": config.get("recipe")}
    return model, defaults, source


def load_source(source, step=None):
    """(model, defaults, source info) for a keras.Model, preset name/folder, workdir or .keras file.

    What `source` is comes from `keras_vision.loading.spec_kind`, the one place that decides
    it; a big_vision `.npz` needs its model config first (`keras-vision convert` to a preset).
    """
    try:
        kind = spec_kind(source)
    except ModelSpecError as e:
        raise ExportError(f"Cannot export: {e}") from None
    if kind == "model":
        return source, {}, {"type": "model", "class": type(source).__name__}
    if kind == "run":
        return _workdir_source(source, step)
    if kind == "keras":
        return load_model(source), {}, {"type": "keras_file", "path": str(source)}
    if kind == "preset":
        return _preset_source(source)
    raise ExportError(
        f"Cannot export {source!r} directly (a {kind} spec): convert a big_vision checkpoint to a preset first "
        "(`keras-vision convert CKPT.npz --model NAME --config '{...}' --out DIR`), or pass the model, a .keras "
        "file, a preset or a training workdir."
    )


@keras_vision_export("keras_vision.export.build_exporter")
def build_exporter(source, *, task=None, pp=None, class_names=None, image_size=None, top_k=5, activation=None,
                   tokenizer=None, text_pp=None, max_len=None, eos=None, lower=None, pad_value=None, add_bos=None,
                   prompt_templates=None, platforms=None, step=None, prompt_length=None, max_new_tokens=None,
                   sampler=None, separator=None, stop_token_ids=None, pad_token_id=None):
    """The `ClassifierExporter` / `TwoTowerExporter` / `GenerationExporter` that `export` would use (same arguments)."""
    model, defaults, info = load_source(source, step)
    task = task or _default_task(model)
    if task not in TASKS:
        raise ExportError(f"Unknown task {task!r}; expected one of {TASKS}.")
    pp = pp or defaults.get("pp")
    if not pp:
        raise ExportError(
            "No eval pp string for the export: pass pp='decode|resize(H)|value_range(-1, 1)' (a preset keeps it "
            "in preprocessing.json, a workdir in config.evals)."
        )
    common = dict(pp=pp, image_size=image_size or defaults.get("image_size"), top_k=top_k, platforms=platforms,
                  source=info)
    if task == "generation":
        generation = dict(prompt_length=prompt_length, max_new_tokens=max_new_tokens, sampler=sampler,
                          separator=separator, add_bos=add_bos, stop_token_ids=stop_token_ids,
                          pad_token_id=pad_token_id)
        common.pop("top_k")
        return GenerationExporter(model, tokenizer=tokenizer or defaults.get("tokenizer"), **common,
                                  **{k: v for k, v in generation.items() if v is not None})
    names = class_names if class_names is not None else defaults.get("class_names")
    if task == "classification":
        exporter = ClassifierExporter(model, class_names=names, activation=activation or defaults.get("activation")
                                      or "softmax", **common)
    else:
        text = dict(defaults.get("text") or {})
        if text_pp is not None:
            kwargs = tokenizer_kwargs_from_pp(text_pp)
            tokenizer = tokenizer or kwargs.pop("model", None)
            text.update({k: v for k, v in kwargs.items() if k in _TEXT_KEYS})
        explicit = dict(max_len=max_len, eos=eos, lower=lower, pad_value=pad_value, add_bos=add_bos)
        text.update({k: v for k, v in explicit.items() if v is not None})
        tokenizer = tokenizer or defaults.get("tokenizer")
        exporter = TwoTowerExporter(
            model, tokenizer=tokenizer, text_kwargs=text, class_names=names,
            prompt_templates=prompt_templates or defaults.get("prompt_templates") or ("{}",),
            activation=activation or defaults.get("activation"), **common)
    return exporter


@keras_vision_export("keras_vision.export.export")
def export(source, path, *, verify=True, overwrite=False, **kwargs):
    """Exports a model, a preset or a training workdir as a SavedModel; returns the manifest.

    A preset brings its pp string, class names, tokenizer and prompt templates from
    preprocessing.json; a workdir brings the model from its config.json, the weights
    from its latest (or `step`) checkpoint and pp / class names / tokenizer from its
    evals. Explicit arguments override both. The task is "two_tower" for models with
    `encode_image` and `encode_text`, "generation" for models with `generate` and a
    `backbone.prefill_cache` (PaliGemma, PaLI), else "classification".

    Args:
        source: keras.Model, preset name or folder, workdir, or .keras file.
        path: output folder (for TF Serving: MODEL_BASE/<version>, e.g. .../vit/1).
        task: "classification", "two_tower" or "generation" (default: inferred).
        pp, class_names, image_size, top_k, activation, platforms: see
            `export_classifier` / `export_two_tower`.
        tokenizer, text_pp, max_len, eos, lower, pad_value, add_bos, prompt_templates:
            two-tower text settings (see `export_two_tower`); `tokenizer` and `add_bos` also
            serve "generation".
        prompt_length, max_new_tokens, sampler, separator, stop_token_ids, pad_token_id:
            "generation" settings (see `GenerationExporter`; None: its defaults).
        step: checkpoint step of a workdir (default: the latest).
        verify: run every signature against Keras and record the parity error.
        overwrite: replace a non-empty `path`.

    Example:
    >>> keras_vision.export.export("runs/vit_shapes", "saved_models/vit_shapes/1")
    >>> keras_vision.export.export("saved_models/presets/siglip_shapes", "saved_models/siglip/1",
    ...                            platforms=("cpu", "cuda"))
    """
    return build_exporter(source, **kwargs).export(path, verify=verify, overwrite=overwrite)
