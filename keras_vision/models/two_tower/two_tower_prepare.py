"""Run preparation for image-text recipes: a SentencePiece vocabulary trained from the
run's own captions, and pre-training stages (LiT's image tower) run first.

Vocabulary. 
A recipe that has no pre-made vocabulary declares one:

    config.sentencepiece = dict(
        path="{workdir}/shapes_spm.model",             # where the run keeps it
        data=dict(name="shapes", split="train"),         # captions to learn from
        texts_key="texts", num_examples=2000,
        vocab_size=128, lower=True)

and names the same path in its pp strings (`tokenize(..., model='{workdir}/shapes_spm.model')`).
`prepare_sentencepiece(config, workdir)` trains the vocabulary once (deterministically;
a resumed run reuses the file) with `keras_vision.data.train_sentencepiece` and
returns the config with every "{workdir}" replaced by the run directory.

Stages. `config.pretrain = [dict(recipe="recipes/vit_shapes.py:...", workdir="{workdir}/image_tower")]`
lists recipes to train to completion before this one (e.g. the image tower that LiT
then locks, loaded with `config.model.image_init="{workdir}/image_tower"`); a stage
whose workdir already holds a completed run is skipped, an interrupted one resumes.

`prepare_image_text_run(config, workdir)` does both (stages first).
"""

import os
import pathlib

from keras_vision.api_export import keras_vision_export

PLACEHOLDER = "{workdir}"


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


def caption_corpus(data, texts_key="texts", num_examples=None):
    """All captions of the first `num_examples` examples of a data source (list of str)."""
    from keras_vision.data import get_source

    ds = get_source(dict(data)).as_dataset(shuffle=False, seed=0)
    ds = ds.map(lambda ex: ex[texts_key])
    if num_examples is not None:
        ds = ds.take(int(num_examples))
    texts = []
    for row in ds.as_numpy_iterator():
        row = row if getattr(row, "ndim", 0) else [row]
        texts.extend(t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in row)
    return texts


@keras_vision_export("keras_vision.models.prepare_sentencepiece")
def prepare_sentencepiece(config, workdir):
    """Trains `config.sentencepiece` (if any, and not there yet) and fills in "{workdir}".

    Args:
        config: a recipe config (dict / ConfigDict).
        workdir: the run directory.

    Returns:
        The config with "{workdir}" substituted everywhere (same type as given).

    Example:
    >>> config = prepare_sentencepiece(load_recipe("recipes/siglip_shapes.py"), "runs/siglip")
    >>> keras_vision.trainers.train(config, "runs/siglip")
    """
    workdir = pathlib.Path(workdir)
    spec = config.get("sentencepiece") if hasattr(config, "get") else None
    config = substitute_workdir(config, workdir)
    if not spec:
        return config
    spec = substitute_workdir(dict(spec), workdir)
    path = pathlib.Path(spec["path"])
    if not path.suffix:
        path = path.with_suffix(".model")
    if not path.exists():
        from keras_vision.data import train_sentencepiece

        texts = caption_corpus(spec["data"], spec.get("texts_key", "texts"), spec.get("num_examples"))
        if not texts:
            raise ValueError(f"No captions found to train a SentencePiece model from {dict(spec['data'])}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name first so that an interrupted run never
        # leaves a half-written vocabulary that a resumed run would trust.
        tmp = path.with_name(path.stem + f".tmp{os.getpid()}")
        extra = {
            k: v for k, v in spec.items() if k not in ("path", "data", "texts_key", "num_examples")
        }
        extra.setdefault("hard_vocab_limit", False)
        produced = train_sentencepiece(texts, model_prefix_or_path=str(tmp), **extra)
        produced = pathlib.Path(produced)
        os.replace(produced, path)
        vocab = produced.with_suffix(".vocab")
        if vocab.exists():
            os.replace(vocab, path.with_suffix(".vocab"))
    return config


@keras_vision_export("keras_vision.models.run_pretraining_stages")
def run_pretraining_stages(config, workdir, verbose=True):
    """Trains every `config.pretrain` stage that has not completed yet; returns the config."""
    import json

    config = substitute_workdir(config, pathlib.Path(workdir))
    stages = config.get("pretrain") if hasattr(config, "get") else None
    for stage in stages or ():
        stage = dict(stage)
        stage_dir = pathlib.Path(stage["workdir"])
        summary = stage_dir / "summary.json"
        if summary.exists() and json.loads(summary.read_text()).get("status") == "completed":
            continue
        from keras_vision.config import load_recipe
        from keras_vision.trainers import train

        stage_config = load_recipe(stage["recipe"], stage.get("overrides", ()))
        stage_config = prepare_image_text_run(stage_config, stage_dir)
        train(stage_config, str(stage_dir), verbose=verbose)
    return config


@keras_vision_export("keras_vision.models.prepare_image_text_run")
def prepare_image_text_run(config, workdir, verbose=True):
    """`run_pretraining_stages` then `prepare_sentencepiece`: call before `train(config, workdir)`.

    Example:
    >>> config = prepare_image_text_run(load_recipe("recipes/lit_shapes.py"), "runs/lit")
    >>> keras_vision.trainers.train(config, "runs/lit")
    """
    config = run_pretraining_stages(config, workdir, verbose=verbose)
    return prepare_sentencepiece(config, workdir)
