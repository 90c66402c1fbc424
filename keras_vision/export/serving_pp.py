"""Which ops of a recipe's eval pp string a SavedModel runs in its graph.

Serving needs only the deterministic image part of an eval pp string: `decode`, the
resizes, `central_crop` and the value-range ops. This module sorts the ops of a pp
string into "image op" / "dropped" (label and text ops such as `onehot`, `keep`,
`tokenize`) / "training-only" (random augmentation: an error). Parsing and the op
functions themselves are `keras_vision.data`'s (`builder.parse_pp`,
`get_preprocess_fn`): the exported graph runs the very same code as training and
evaluation.
"""

from keras_vision.data.builder import get_preprocess_fn
from keras_vision.data.builder import parse_pp

DECODE_OPS = ("decode",)
IMAGE_OPS = (
    "resize", "resize_small", "resize_long", "central_crop",
    "value_range", "vgg_value_range", "clip_value_range",
)
GEOMETRIC_OPS = ("resize", "resize_small", "resize_long", "central_crop")
# Label/text ops (and big_vision ops without a keras_vision port) that serving ignores.
DROPPED_OPS = (
    "onehot", "keep", "drop", "copy", "rename", "flatten", "setdefault", "choice",
    "tokenize", "lower", "tok", "bert_tokenize", "pad_to_shape", "squeeze_last_dim",
    "clip_i1k_label_names", "coco_captions", "strfmt", "label_map", "concat",
)
TRAIN_ONLY_OPS = (
    "decode_jpeg_and_inception_crop", "inception_crop", "random_crop", "flip_lr",
    "randaug", "autoaugment", "mixup", "cutmix", "random_resize", "random_erasing",
)
IMPLEMENTATION = "keras_vision.data"


def _targets_image(op):
    key = op.kwargs.get("key", op.kwargs.get("inkey", "image"))
    return key == "image" and op.kwargs.get("outkey", "image") == "image"


def split_serving_ops(pp):
    """Returns (decode op or None, image ops, dropped ops) of an eval pp string, as
    `keras_vision.data.builder.ParsedOp`s.

    Raises:
        ValueError: a pp string that does not parse, a training-only (random) op, or an
            op this module does not know.
    """
    if not isinstance(pp, str):
        raise TypeError(f"A pp string must be a str, got {type(pp).__name__}: {pp!r}.")
    try:
        ops = parse_pp(pp)
    except ValueError as e:
        raise ValueError(f"Cannot parse pp ops of {pp!r} for a serving graph: {e}") from None
    decode, image_ops, dropped = None, [], []
    for op in ops:
        if op.name in TRAIN_ONLY_OPS:
            raise ValueError(
                f"pp op {op.text!r} is a random training augmentation; serving needs the "
                f"deterministic eval pp (e.g. a recipe's config.evals.<name>.pp_fn), got {pp!r}."
            )
        if op.name in DROPPED_OPS or (op.name in IMAGE_OPS + DECODE_OPS and not _targets_image(op)):
            dropped.append(op)
        elif op.name in DECODE_OPS:
            decode = op
        elif op.name in IMAGE_OPS:
            image_ops.append(op)
        else:
            raise ValueError(
                f"Unknown pp op {op.name!r} in {pp!r} for a serving graph. Image ops run in the "
                f"graph: {', '.join(DECODE_OPS + IMAGE_OPS)}; ignored (labels/text): "
                f"{', '.join(DROPPED_OPS)}."
            )
    return decode, image_ops, dropped


def image_fn(ops):
    """fn(image) -> image applying `ops` (ParsedOps) with the training pipeline's pp ops."""
    pp_fn = get_preprocess_fn("|".join(op.text for op in ops))
    return lambda image: pp_fn({"image": image})["image"]
