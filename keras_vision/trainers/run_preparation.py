"""Run preparation: the steps `train(config, workdir)` runs before building anything.

A step is `fn(config, workdir, train_recipe) -> config`, registered under the config key
that asks for it and run (in registration order) when that key is set; `train_recipe(config,
workdir)` trains another recipe to completion (a pre-training stage, a teacher, ...). Every step is
idempotent, so a resumed run prepares again at no cost. Built in:

- "{workdir}" in any string of the config is replaced by the run directory (always).
- `config.pretrain = [dict(recipe="recipes/vit_shapes.py:...", workdir="{workdir}/image_tower")]`:
  recipes trained to completion first (e.g. the image tower LiT then locks, loaded with
  `config.model.image_init="{workdir}/image_tower"`); a stage whose workdir holds a
  completed run is skipped, an interrupted one resumes.
- `config.sentencepiece = dict(path="{workdir}/spm.model", data=dict(name="shapes", split="train"),
  texts_key="texts", num_examples=2000, vocab_size=128, lower=True)`: a SentencePiece
  vocabulary trained once from the run's own captions (the recipe's pp strings name the
  same path in `tokenize(..., model=...)`).

A family with its own preparation (a tokenizer, a stage-I model to train first, ...)
registers it with `@register_preparation("config_key")`.

Example:
>>> @register_preparation("my_vocab")
... def prepare_my_vocab(config, workdir, train_recipe):
...     ...  # write the vocabulary into workdir once
...     return config
"""

import json
import os
import pathlib

from keras_vision.api_export import keras_vision_export
from keras_vision.config import load_recipe
from keras_vision.data import get_source
from keras_vision.data import train_sentencepiece
from keras_vision.registry import Registry

PLACEHOLDER = "{workdir}"
PREPARATIONS = Registry("run preparation step")


@keras_vision_export("keras_vision.trainers.register_preparation")
def register_preparation(config_key):
    """Decorator registering `fn(config, workdir, train_recipe) -> config`, run when `config[config_key]` is set."""
    return PREPARATIONS.register(config_key)


def substitute_workdir(value, workdir):
    """Replaces "{workdir}" in every string of a nested dict/list/tuple config."""
    if isinstance(value, str):
        return value.replace(PLACEHOLDER, str(workdir))
    if isinstance(value, dict):
        out = type(value)() if not hasattr(value, "_fields") else {}
        for k, v in value.items():
            out[k] = substitute_workdir(v, workdir)
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(substitute_workdir(v, workdir) for v in value)
    return value


@keras_vision_export("keras_vision.trainers.prepare_run")
def prepare_run(config, workdir, train_recipe):
    """Fills in "{workdir}" and runs every registered step whose config key is set.

    `train` calls this itself, with `train_recipe` = itself; call it directly only to
    inspect the prepared config.

    Returns:
        The prepared config (same type as given).
    """
    config = substitute_workdir(config, pathlib.Path(workdir))
    for key, step in PREPARATIONS.items():
        if config.get(key):
            config = step(config, workdir, train_recipe)
    return config


def caption_corpus(data, texts_key="texts", num_examples=None):
    """All texts under `texts_key` (a key or a list of keys) of the first `num_examples` examples (list of str)."""
    keys = [texts_key] if isinstance(texts_key, str) else list(texts_key)
    ds = get_source(dict(data)).as_dataset(shuffle=False, seed=0)
    ds = ds.map(lambda ex: tuple(ex[k] for k in keys))
    if num_examples is not None:
        ds = ds.take(int(num_examples))
    texts = []
    for values in ds.as_numpy_iterator():
        for row in values:
            row = row if getattr(row, "ndim", 0) else [row]
            texts.extend(t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in row)
    return texts


@register_preparation("pretrain")
def run_pretraining_stages(config, workdir, train_recipe):
    """Trains every `config.pretrain` stage that has not completed yet."""
    for stage in config.get("pretrain") or ():
        stage = dict(stage)
        stage_dir = pathlib.Path(stage["workdir"])
        summary = stage_dir / "summary.json"
        if summary.exists() and json.loads(summary.read_text()).get("status") == "completed":
            continue
        train_recipe(load_recipe(stage["recipe"], stage.get("overrides", ())), str(stage_dir))
    return config


@register_preparation("sentencepiece")
def prepare_sentencepiece(config, workdir, train_recipe=None):
    """Trains the `config.sentencepiece` vocabulary unless its file exists."""
    spec = dict(config["sentencepiece"])
    path = pathlib.Path(spec["path"])
    if not path.suffix:
        path = path.with_suffix(".model")
    if path.exists():
        return config
    texts = caption_corpus(spec["data"], spec.get("texts_key", "texts"), spec.get("num_examples"))
    if not texts:
        raise ValueError(f"No captions found to train a SentencePiece model from {dict(spec['data'])}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name first so that an interrupted run never leaves a
    # half-written vocabulary that a resumed run would trust.
    tmp = path.with_name(path.stem + f".tmp{os.getpid()}")
    extra = {k: v for k, v in spec.items() if k not in ("path", "data", "texts_key", "num_examples")}
    extra.setdefault("hard_vocab_limit", False)
    produced = pathlib.Path(train_sentencepiece(texts, model_prefix_or_path=str(tmp), **extra))
    os.replace(produced, path)
    vocab = produced.with_suffix(".vocab")
    if vocab.exists():
        os.replace(vocab, path.with_suffix(".vocab"))
    return config
