"""`keras-vision convert CKPT.npz --model vit --config '{...}' --out DIR`: big_vision checkpoint -> preset."""

import argparse
import ast
import json
import pathlib

from keras_vision import presets
from keras_vision.cli import common
from keras_vision.convert import load_big_vision
from keras_vision.convert import registered_converters
from keras_vision.export.two_tower_exporter import tokenizer_kwargs_from_pp


def _config(text):
    if text is None:
        return {}
    if text.startswith("@"):
        text = pathlib.Path(text[1:]).read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise common.UsageError(
                f"--config must be a JSON or Python dict literal (or @file), got {text!r}."
            ) from None
    if not isinstance(value, dict):
        raise common.UsageError(f"--config must be a dict, got {type(value).__name__}: {text!r}.")
    return value


def _size(text):
    parts = text.lower().split("x")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected S or HxW, got {text!r}") from None
    if len(sizes) == 1:
        sizes *= 2
    if len(sizes) != 2:
        raise argparse.ArgumentTypeError(f"expected S or HxW, got {text!r}")
    return tuple(sizes)


def register(subparsers):
    p = subparsers.add_parser(
        "convert",
        help="convert a big_vision .npz checkpoint into a preset folder",
        description=(
            "Loads a big_vision checkpoint with keras_vision.convert.load_big_vision (model name and "
            "big_vision model kwargs as in a big_vision config) and writes a KerasHub-layout preset "
            "(config.json, model.weights.h5, metadata.json, preprocessing.json), ready for from_preset, "
            "`keras-vision export` and `keras-vision presets list`."
        ),
        epilog=(
            "example:\n  keras-vision convert ViT-B_16.npz --model vit "
            "--config '{\"variant\": \"B/16\", \"num_classes\": 1000}' --out saved_models/presets/vit_b16 "
            "--pp 'resize_small(256)|central_crop(224)|value_range(-1, 1)'"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", metavar="CKPT.npz", help="big_vision checkpoint (.npz)")
    p.add_argument("--model", default="vit", help="keras_vision.models registry name (big_vision's model_name)")
    p.add_argument("--config", metavar="DICT", help="big_vision model kwargs as JSON / Python dict, or @file")
    p.add_argument("--prefix", help="parameter prefix inside the checkpoint (e.g. params/img)")
    p.add_argument("--image-size", type=_size, metavar="S|HxW",
                   help="build the model for this input size (learned position embeddings are resampled)")
    p.add_argument("--out", required=True, metavar="DIR", help="preset folder to write")
    p.add_argument("--name", help="preset name (default: the folder name)")
    p.add_argument("--description", default="", help="one line for `keras-vision presets list`")
    p.add_argument("--pp", help="eval pp string the model expects")
    p.add_argument("--class-names", metavar="A,B,...", help="comma-separated class names")
    p.add_argument("--class-names-file", metavar="FILE", help="class names, one per line")
    p.add_argument("--tokenizer", metavar="SPM", help="SentencePiece model of a two-tower checkpoint")
    p.add_argument("--text-pp", help="big_vision text pp with tokenize(max_len, eos, ..., pad_value)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    p.set_defaults(func=run)


def run(args):
    config = _config(args.config)
    ckpt = pathlib.Path(args.checkpoint)
    if not ckpt.is_file():
        raise common.UsageError(f"Checkpoint {str(ckpt)!r} does not exist.")
    names = None
    if args.class_names and args.class_names_file:
        raise common.UsageError("Give --class-names or --class-names-file, not both.")
    if args.class_names:
        names = [n.strip() for n in args.class_names.split(",") if n.strip()]
    elif args.class_names_file:
        names = [n.strip() for n in pathlib.Path(args.class_names_file).read_text().splitlines() if n.strip()]
    text = None
    if args.text_pp:
        text = tokenizer_kwargs_from_pp(args.text_pp)
        text.pop("model", None)
    image_shape = None if args.image_size is None else (*args.image_size, 3)
    model = convert_checkpoint(ckpt, args.model, config, args.prefix, image_shape)
    metadata = {
        "description": args.description,
        "source": str(ckpt.resolve()),
        "converted_from": "big_vision",
        "model_name": args.model,
        "model_config": config,
    }
    try:
        out = presets.save_preset(model, args.out, metadata, pp=args.pp, class_names=names,
                                  tokenizer=args.tokenizer, text=text, name=args.name, overwrite=args.overwrite)
    except (presets.PresetError, FileExistsError, FileNotFoundError) as e:
        raise common.UsageError(str(e)) from None
    print(f"preset: {out} ({type(model).__name__}, {model.count_params():,} parameters) from {ckpt}")
    return 0


def convert_checkpoint(ckpt, model_name, config, prefix=None, image_shape=None):
    """`load_big_vision` with errors that name the checkpoint, the model and its config."""
    known = registered_converters()
    if model_name not in known:
        raise common.UsageError(f"Unknown --model {model_name!r} for convert; expected one of {known}.")
    kwargs = {"prefix": prefix} if prefix else {}
    if image_shape is not None:
        kwargs["image_shape"] = image_shape
    try:
        return load_big_vision(str(ckpt), model=model_name, config=config, **kwargs)
    except (KeyError, ValueError, TypeError) as e:
        message = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        if message.startswith("Unknown"):
            raise
        raise common.UsageError(
            f"Checkpoint {str(ckpt)!r} does not fit model {model_name!r} with config {config}: {message}"
        ) from None
