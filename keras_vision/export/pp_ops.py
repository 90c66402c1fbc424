"""The eval-time image pp ops a SavedModel runs in its graph (big_vision names and args).

Serving needs only the deterministic image part of a recipe's eval pp string:
`decode`, the resizes, `central_crop` and the value-range ops. This module sorts the
ops of a pp string into "image op" / "dropped" (label and text ops such as `onehot`,
`keep`, `tokenize`) / "training-only" (random augmentation: an error) and implements
the image ops in plain TensorFlow, used when `keras_vision.data` (the training
pipeline's registry) is not importable. When it is, the exported graph runs the very
same functions as training and evaluation.
"""

import ast

import tensorflow as tf

DECODE_OPS = ("decode",)
IMAGE_OPS = (
    "resize", "resize_small", "resize_long", "central_crop",
    "value_range", "vgg_value_range", "clip_value_range",
)
GEOMETRIC_OPS = ("resize", "resize_small", "resize_long", "central_crop")
DROPPED_OPS = (
    "onehot", "keep", "drop", "copy", "rename", "flatten", "setdefault", "choice",
    "tokenize", "lower", "tok", "bert_tokenize", "pad_to_shape", "squeeze_last_dim",
    "clip_i1k_label_names", "coco_captions", "strfmt", "label_map", "concat",
)
TRAIN_ONLY_OPS = (
    "decode_jpeg_and_inception_crop", "inception_crop", "random_crop", "flip_lr",
    "randaug", "autoaugment", "mixup", "cutmix", "random_resize", "random_erasing",
)


class PPOp:
    """One parsed op of a pp string: `name(*args, **kwargs)` and its source text."""

    def __init__(self, name, args, kwargs, text):
        self.name, self.args, self.kwargs, self.text = name, tuple(args), dict(kwargs), text

    def __repr__(self):
        return self.text


def parse_pp(pp):
    """Splits a big_vision pp string `"a|b(1, k=2)|c"` into `PPOp`s (literal args only)."""
    if not isinstance(pp, str):
        raise TypeError(f"A pp string must be a str, got {type(pp).__name__}: {pp!r}.")
    ops = []
    for text in pp.split("|"):
        text = text.strip()
        if not text:
            continue
        try:
            node = ast.parse(text, mode="eval").body
            if isinstance(node, ast.Name):
                ops.append(PPOp(node.id, (), {}, text))
                continue
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                raise ValueError("not an op call")
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except (SyntaxError, ValueError) as e:
            raise ValueError(
                f"Cannot parse pp op {text!r} in {pp!r}: expected name or name(literal args) ({e})."
            ) from None
        ops.append(PPOp(node.func.id, args, kwargs, text))
    return ops


def _targets_image(op):
    key = op.kwargs.get("key", op.kwargs.get("inkey", "image"))
    return key == "image" and op.kwargs.get("outkey", "image") == "image"


def split_serving_ops(pp):
    """Returns (decode_op or None, image_ops, dropped_ops) of an eval pp string.

    Raises:
        ValueError: a training-only (random) op, or an op this module does not know.
    """
    decode, image_ops, dropped = None, [], []
    for op in parse_pp(pp):
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


# --- built-in implementations (used without keras_vision.data) -------------------------
def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


def _resize_keep_dtype(image, size, method, antialias):
    dtype = image.dtype
    out = tf.image.resize(image, size, method=method, antialias=antialias)
    if dtype.is_integer:
        out = tf.clip_by_value(out, dtype.min, dtype.max)
    return tf.cast(out, dtype)


def _scale_short_or_long(image, target, method, antialias, use_min):
    h = tf.cast(tf.shape(image)[0], tf.float32)
    w = tf.cast(tf.shape(image)[1], tf.float32)
    side = tf.minimum(h, w) if use_min else tf.maximum(h, w)
    factor = tf.cast(target, tf.float32) / side
    size = tf.cast(tf.round(tf.stack([h * factor, w * factor])), tf.int32)
    return _resize_keep_dtype(image, size, method, antialias)


def _decode(channels=3, precise=False):
    def fn(data):
        if precise:
            return tf.image.decode_jpeg(data, channels=channels, dct_method="INTEGER_ACCURATE")
        return tf.io.decode_image(data, channels=channels, expand_animations=False)

    return fn


def _resize(size, method="bilinear", antialias=False):
    return lambda im: _resize_keep_dtype(im, _pair(size), method, antialias)


def _resize_small(smaller_size, method="area", antialias=False):
    return lambda im: _scale_short_or_long(im, smaller_size, method, antialias, use_min=True)


def _resize_long(longer_size, method="area", antialias=True):
    return lambda im: _scale_short_or_long(im, longer_size, method, antialias, use_min=False)


def _central_crop(crop_size=None):
    def fn(im):
        if crop_size:
            h, w = _pair(crop_size)
        else:
            h = w = tf.minimum(tf.shape(im)[0], tf.shape(im)[1])
        top = (tf.shape(im)[0] - h) // 2
        left = (tf.shape(im)[1] - w) // 2
        return tf.image.crop_to_bounding_box(im, top, left, h, w)

    return fn


def _value_range(vmin=-1, vmax=1, in_min=0, in_max=255.0, clip_values=False):
    def fn(im):
        x = (tf.cast(im, tf.float32) - in_min) / (in_max - in_min)
        x = vmin + x * (vmax - vmin)
        return tf.clip_by_value(x, vmin, vmax) if clip_values else x

    return fn


def _normalize(mean, std):
    mean, std = tf.constant(mean, tf.float32), tf.constant(std, tf.float32)
    return lambda im: (tf.cast(im, tf.float32) - mean) / std


def _vgg_value_range(mean=(0.485 * 255, 0.456 * 255, 0.406 * 255), std=(0.229 * 255, 0.224 * 255, 0.225 * 255)):
    return _normalize(mean, std)


def _clip_value_range():
    return _normalize(
        (0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255),
        (0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255),
    )


BUILTIN_OPS = {
    "decode": _decode, "resize": _resize, "resize_small": _resize_small,
    "resize_long": _resize_long, "central_crop": _central_crop, "value_range": _value_range,
    "vgg_value_range": _vgg_value_range, "clip_value_range": _clip_value_range,
}


def _op_kwargs(op):
    return {k: v for k, v in op.kwargs.items() if k not in ("key", "inkey", "outkey")}


def compose(ops):
    """fn(image) -> image applying `ops` in order; ("keras_vision.data" | "builtin", fn).

    Uses the training pipeline's pp registry (`keras_vision.data.get_preprocess_fn`)
    when it is importable, so served and evaluated images go through the same code.
    """
    if not ops:
        return "identity", (lambda image: image)
    try:
        from keras_vision.data import get_preprocess_fn
    except ImportError:
        get_preprocess_fn = None
    if get_preprocess_fn is not None:
        pp_fn = get_preprocess_fn("|".join(op.text for op in ops))
        return "keras_vision.data", (lambda image: pp_fn({"image": image})["image"])
    fns = [BUILTIN_OPS[op.name](*op.args, **_op_kwargs(op)) for op in ops]

    def apply(image):
        for fn in fns:
            image = fn(image)
        return image

    return "builtin", apply
