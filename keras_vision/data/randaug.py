"""`randaug(num_layers, magnitude)`: RandAugment per example, from tf-models-official ops.

big_vision's `randaug` (pp/archive/randaug.py -> autoaugment.py, TF1 + tensorflow_addons,
now defunct) applies `num_layers` times one of 16 ops chosen uniformly, always at
magnitude M (of 10): AutoContrast, Equalize, Invert, Rotate (M/10*30 deg), Posterize
(int(M/10*4) bits), Solarize (threshold int(M/10*256)), Color/Contrast/Brightness/
Sharpness (factor M/10*1.8+0.1), ShearX/Y (M/10*0.3), TranslateX/Y (M/10*100 px), Cutout
(half-size int(M/10*40)), SolarizeAdd (int(M/10*110)); geometric ops take a random sign
and fill with gray 128. (At M=10 the Solarize threshold 256 wraps to 0 in uint8, so it
inverts the whole image; big_vision's code does the same.)

`impl="big_vision"` (default) reproduces that policy with the image ops of
`official.vision.ops.augment`, drawing the op, the sign and the cutout position from the
example's stateless seed (deterministic, resumable). What still differs from big_vision:
- Contrast is `tf.image.adjust_contrast` (per-channel mean); big_vision blends with a
  constant gray (which, by a bug, is num_pixels/256 rather than the mean intensity).
- Rotate/Shear/Translate use tf-models' projective transform (nearest neighbour,
  constant fill, then gray 128 like big_vision) instead of tensorflow_addons; pixel
  positions can differ by rounding at the borders.
- TF1 random streams are not reproduced (only the distribution).

`impl="official"` calls `augment.RandAugment(num_layers, magnitude, cutout_const=40,
translate_const=100).distort` as is: it also picks "identity" (1 of 17 choices), fills
geometric ops by reflection, and uses TF's stateful RNG (not reproducible across runs or
after a resume).
"""

import functools
import math

import tensorflow as tf

from keras_vision import compat
from keras_vision.data.registry import in_key_out_key
from keras_vision.data.registry import register

OPS = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "Posterize",
    "Solarize",
    "Color",
    "Contrast",
    "Brightness",
    "Sharpness",
    "ShearX",
    "ShearY",
    "TranslateX",
    "TranslateY",
    "Cutout",
    "SolarizeAdd",
)
_MAX_LEVEL = 10.0
_REPLACE = [128, 128, 128]


def _geometric(aug, image, transforms):
    """Projective transform with constant fill, then gray (128) where nothing landed."""
    out = aug.transform(aug.wrap(image), transforms=transforms, fill_mode="constant")
    return aug.unwrap(out, tf.constant(_REPLACE, image.dtype))


def _branches(aug, image, level, sign, center, cutout_const, translate_const):
    """One zero-argument function per op of OPS, applying it at `level` (0..1)."""
    h = tf.cast(tf.shape(image)[0], tf.float32)
    w = tf.cast(tf.shape(image)[1], tf.float32)
    enhance = level * 1.8 + 0.1
    shear = sign * level * 0.3
    shift = sign * level * float(translate_const)
    radians = sign * level * 30.0 * math.pi / 180.0
    pad = int(level * cutout_const)
    fns = {
        "AutoContrast": lambda: aug.autocontrast(image),
        "Equalize": lambda: aug.equalize(image),
        "Invert": lambda: aug.invert(image),
        "Rotate": lambda: _geometric(aug, image, compat.angles_to_transform(aug, radians, w, h)),
        "Posterize": lambda: aug.posterize(image, int(level * 4)),
        "Solarize": lambda: aug.solarize(image, int(level * 256)),
        "Color": lambda: aug.color(image, enhance),
        "Contrast": lambda: aug.contrast(image, enhance),
        "Brightness": lambda: aug.brightness(image, enhance),
        "Sharpness": lambda: aug.sharpness(image, enhance),
        "ShearX": lambda: _geometric(aug, image, [1.0, shear, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]),
        "ShearY": lambda: _geometric(aug, image, [1.0, 0.0, 0.0, shear, 1.0, 0.0, 0.0, 0.0]),
        "TranslateX": lambda: _geometric(aug, image, compat.translation_to_transform(aug, [-shift, 0.0])),
        "TranslateY": lambda: _geometric(aug, image, compat.translation_to_transform(aug, [0.0, -shift])),
        "Cutout": lambda: compat.fill_rectangle(aug, image, center[1], center[0], pad, pad, _REPLACE),
        "SolarizeAdd": lambda: aug.solarize_add(image, int(level * 110)),
    }
    return fns


def _to_uint8(image):
    if image.dtype == tf.uint8:
        return image
    return tf.cast(tf.clip_by_value(image, 0.0, 255.0), tf.uint8)


@register("randaug")
@in_key_out_key(with_rng=True)
def get_randaug(
    num_layers=2, magnitude=10, cutout_const=40, translate_const=100, exclude_ops=None, impl="big_vision"
):
    """RandAugment (arXiv:1909.13719) with big_vision's policy; see the module docstring.

    Args:
        num_layers: ops applied in sequence (N).
        magnitude: strength of every op, 0..10 (M).
        cutout_const, translate_const: Cutout half-size and translation at M=10.
        exclude_ops: names from `OPS` never to pick.
        impl: "big_vision" (stateless, big_vision's op distribution) or "official"
            (tf-models-official's `RandAugment` unchanged).

    Works on uint8 images (others are clipped to 0..255, cast, and cast back).
    """
    # why local: tf-models-official adds ~2 s to every `import keras_vision`; only randaug pipelines need it.
    from official.vision.ops import augment as aug

    exclude_ops = list(exclude_ops or [])
    unknown = [o for o in exclude_ops if o not in OPS]
    if unknown:
        raise ValueError(f"randaug: unknown ops {unknown} in exclude_ops; known: {list(OPS)}.")
    ops = [o for o in OPS if o not in exclude_ops]
    if not ops:
        raise ValueError("randaug: exclude_ops leaves no op to apply.")
    if impl == "official":
        official = aug.RandAugment(
            num_layers=num_layers,
            magnitude=magnitude,
            cutout_const=cutout_const,
            translate_const=translate_const,
            exclude_ops=exclude_ops,
        )
        return lambda image, seed: official.distort(image)
    if impl != "big_vision":
        raise ValueError(f"randaug: impl must be 'big_vision' or 'official', got {impl!r}.")
    layer = _layer_fn(tuple(ops), float(magnitude) / _MAX_LEVEL, float(cutout_const), float(translate_const))

    def _randaug(image, seed):
        dtype = image.dtype
        if num_layers < 1:
            return image
        shape = image.shape
        image = _to_uint8(image)
        for layer_seed in tf.unstack(tf.random.experimental.stateless_split(seed, num_layers)):
            image = layer(image, layer_seed)
        image.set_shape(shape)
        return tf.cast(image, dtype) if dtype != tf.uint8 else image

    return _randaug


@functools.lru_cache(maxsize=None)
def _layer_fn(ops, level, cutout_const, translate_const):
    """One RandAugment layer as a tf.function, traced once per process and setting (the 16
    branches take seconds to trace; pipelines and layers then share the trace)."""
    # why local: tf-models-official adds ~2 s to every `import keras_vision`; only randaug pipelines need it.
    from official.vision.ops import augment as aug

    @tf.function(
        input_signature=[tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([2], tf.int64)],
        autograph=False,
    )
    def layer(image, seed):
        s = tf.random.experimental.stateless_split(seed, 3)
        choice = tf.random.stateless_uniform([], s[0], 0, len(ops), dtype=tf.int32)
        sign = tf.where(tf.random.stateless_uniform([], s[1]) < 0.5, -1.0, 1.0)
        hw = tf.shape(image)[:2]
        center = tf.cast(tf.random.stateless_uniform([2], s[2]) * tf.cast(hw, tf.float32), tf.int32)
        fns = _branches(aug, image, level, sign, center, cutout_const, translate_const)
        out = tf.switch_case(choice, [fns[o] for o in ops])
        out.set_shape([None, None, 3])
        return out

    return layer
