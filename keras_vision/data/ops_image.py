"""Image pp ops with big_vision's names, arguments and (TF) numerics.

All take `key`/`inkey`/`outkey` (default "image"). Sizes are an int (square) or [H, W].
Resizes clip and cast back to the input dtype, like big_vision. Random ops draw
stateless per-example seeds (see `keras_vision.data.registry`).

Extensions over big_vision (documented per op): `decode` passes already-decoded images
through (so "decode|..." works on the shapes/digits sources) and names the file of a bad
image when the example carries its path; `decode_jpeg_and_inception_crop` also accepts
PNG/GIF/BMP bytes (decode, then crop); `inception_crop` takes the aspect-ratio range.
"""

import tensorflow as tf

from keras_vision.data import image_check
from keras_vision.data.registry import in_key_out_key
from keras_vision.data.registry import maybe_repeat
from keras_vision.data.registry import register


def _resize(image, size, method, antialias):
    dtype = image.dtype
    out = tf.image.resize(image, size, method=method, antialias=antialias)
    if dtype.is_floating:
        return tf.cast(out, dtype)
    return tf.cast(tf.clip_by_value(out, dtype.min, dtype.max), dtype)


def _resize_factor(image, factor, method, antialias):
    shape = tf.shape(image)
    h = tf.cast(tf.round(tf.cast(shape[0], tf.float32) * factor), tf.int32)
    w = tf.cast(tf.round(tf.cast(shape[1], tf.float32) * factor), tf.int32)
    return _resize(image, (h, w), method, antialias)


def _file_check(data, contents):
    path = data.get(image_check.PATH_KEY) if data is not None else None
    if path is None:
        return []
    return [image_check.assert_decodable(contents, path)]


def _decode_any(contents, channels, precise):
    if precise:  # decode_jpeg reads PNG too; INTEGER_ACCURATE matches PIL/cv2 for JPEG.
        return tf.io.decode_jpeg(contents, channels=channels, dct_method="INTEGER_ACCURATE")
    return tf.io.decode_image(contents, channels=channels, expand_animations=False)


@register("decode")
@in_key_out_key(with_data=True)
def get_decode(channels=3, precise=False):
    """Decodes encoded image bytes (JPEG/PNG/GIF/BMP/WebP) with `tf.io.decode_image`.

    Args:
        channels: output channels (3 = RGB).
        precise: decode JPEGs with the INTEGER_ACCURATE DCT (matches PIL/cv2/PyTorch).

    A non-string input (an already decoded image) is returned unchanged. When the
    example has an "image/path" key (file-based sources), undecodable bytes raise an
    error naming the file.
    """

    def _decode(image, data=None):
        if image.dtype != tf.string:
            return image
        with tf.control_dependencies(_file_check(data, image)):
            out = _decode_any(image, channels, precise)
        out.set_shape([None, None, channels or None])
        return out

    return _decode


@register("resize")
@in_key_out_key()
def get_resize(size, method="bilinear", antialias=False):
    """Resizes to `size` ([H, W] or int) with `tf.image.resize(method, antialias)`."""
    size = maybe_repeat(size, 2)
    return lambda image: _resize(image, size, method, antialias)


@register("resize_small")
@in_key_out_key()
def get_resize_small(smaller_size, method="area", antialias=False):
    """Resizes so the shorter side is `smaller_size` (other side round(s * long/short))."""

    def _resize_small(image):
        shape = tf.shape(image)
        factor = tf.cast(smaller_size, tf.float32) / tf.cast(tf.minimum(shape[0], shape[1]), tf.float32)
        return _resize_factor(image, factor, method, antialias)

    return _resize_small


@register("resize_long")
@in_key_out_key()
def get_resize_long(longer_size, method="area", antialias=True):
    """Resizes so the longer side is `longer_size`, keeping the aspect ratio."""

    def _resize_long(image):
        shape = tf.shape(image)
        factor = tf.cast(longer_size, tf.float32) / tf.cast(tf.maximum(shape[0], shape[1]), tf.float32)
        return _resize_factor(image, factor, method, antialias)

    return _resize_long


def _sample_box(shape, seed, area_min, area_max, ratio_min, ratio_max):
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape,
        tf.zeros([0, 0, 4], tf.float32),
        seed=seed,
        area_range=(area_min / 100, area_max / 100),
        aspect_ratio_range=(ratio_min, ratio_max),
        min_object_covered=0,  # big_vision: no minimum area.
        use_image_if_no_bounding_boxes=True,
    )
    return begin, size


def _inception_crop(image, seed, size, area_min, area_max, ratio_min, ratio_max, method, antialias):
    begin, crop_size = _sample_box(tf.shape(image), seed, area_min, area_max, ratio_min, ratio_max)
    crop = tf.slice(image, begin, crop_size)
    crop.set_shape([None, None, image.shape[-1]])
    if size:
        crop = _resize(crop, maybe_repeat(size, 2), method, antialias)
    return crop


@register("inception_crop")
@in_key_out_key(with_rng=True)
def get_inception_crop(
    size=None, area_min=5, area_max=100, method="bilinear", antialias=False, ratio_min=0.75, ratio_max=1.33
):
    """Inception-style random crop (area in [area_min, area_max] % of the image), then
    an optional resize to `size`. `ratio_min/max` (aspect range) default to TF's 3/4-4/3."""

    def _op(image, seed):
        return _inception_crop(image, seed, size, area_min, area_max, ratio_min, ratio_max, method, antialias)

    return _op


@register("decode_jpeg_and_inception_crop")
@in_key_out_key(with_data=True, with_rng=True)
def get_decode_jpeg_and_inception_crop(
    size=None, area_min=5, area_max=100, ratio_min=0.75, ratio_max=1.33, method="bilinear", antialias=False
):
    """Samples an inception crop from the JPEG header, decodes only that window, resizes.

    Non-JPEG bytes (PNG, ...) are decoded fully and cropped the same way; an already
    decoded image is just cropped.
    """

    def _op(image, seed, data=None):
        if image.dtype != tf.string:
            return _inception_crop(
                image, seed, size, area_min, area_max, ratio_min, ratio_max, method, antialias
            )

        def jpeg():
            shape = tf.image.extract_jpeg_shape(image)
            begin, crop_size = _sample_box(shape, seed, area_min, area_max, ratio_min, ratio_max)
            window = tf.stack([begin[0], begin[1], crop_size[0], crop_size[1]])
            return tf.image.decode_and_crop_jpeg(image, window, channels=3)

        def other():
            decoded = tf.io.decode_image(image, channels=3, expand_animations=False)
            decoded.set_shape([None, None, 3])
            return _inception_crop(
                decoded, seed, None, area_min, area_max, ratio_min, ratio_max, method, antialias
            )

        with tf.control_dependencies(_file_check(data, image)):
            crop = tf.cond(tf.io.is_jpeg(image), jpeg, other)
        crop.set_shape([None, None, 3])
        if size:
            crop = _resize(crop, maybe_repeat(size, 2), method, antialias)
        return crop

    return _op


@register("random_crop")
@in_key_out_key(with_rng=True)
def get_random_crop(crop_size):
    """Random crop of `crop_size` (int or [H, W]) at a uniformly random offset."""
    crop_size = maybe_repeat(crop_size, 2)

    def _op(image, seed):
        return tf.image.stateless_random_crop(image, (*crop_size, tf.shape(image)[-1]), seed=seed)

    return _op


@register("central_crop")
@in_key_out_key()
def get_central_crop(crop_size=None):
    """Central crop of `crop_size` (offset (H - h) // 2); None: the largest square."""
    crop_size = maybe_repeat(crop_size, 2) if crop_size else None

    def _crop(image):
        shape = tf.shape(image)
        if crop_size:
            h, w = crop_size
        else:
            h = w = tf.minimum(shape[0], shape[1])
        return tf.image.crop_to_bounding_box(image, (shape[0] - h) // 2, (shape[1] - w) // 2, h, w)

    return _crop


@register("flip_lr")
@in_key_out_key(with_rng=True)
def get_random_flip_lr():
    """Flips the image left-right with probability 50%."""
    return lambda image, seed: tf.image.stateless_random_flip_left_right(image, seed=seed)


@register("vgg_value_range")
@in_key_out_key()
def get_vgg_value_range(
    mean=(0.485 * 255, 0.456 * 255, 0.406 * 255), std=(0.229 * 255, 0.224 * 255, 0.225 * 255)
):
    """(image - mean) / std per channel (ImageNet statistics in 0..255 by default)."""
    return lambda image: (tf.cast(image, tf.float32) - tf.constant(mean, tf.float32)) / tf.constant(
        std, tf.float32
    )


@register("clip_value_range")
@in_key_out_key()
def get_clip_value_range():
    """OpenAI CLIP's normalization: (image - mean) / std with CLIP's statistics."""
    mean = (0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255)
    std = (0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255)
    return lambda image: (tf.cast(image, tf.float32) - tf.constant(mean, tf.float32)) / tf.constant(
        std, tf.float32
    )
