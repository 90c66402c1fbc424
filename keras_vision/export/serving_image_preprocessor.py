"""In-graph image preprocessing for serving signatures: bytes / uint8 / [-1, 1] -> model input."""

import tensorflow as tf

from keras_vision.api_export import keras_vision_export
from keras_vision.data.builder import parse_pp
from keras_vision.export import serving_pp

# Leading bytes (at an offset) of the formats `tf.io.decode_image` reads.
_MAGIC = (
    (0, b"\xff\xd8\xff", "JPEG"), (0, b"\x89PNG", "PNG"), (0, b"GIF8", "GIF"), (0, b"BM", "BMP"),
    (8, b"WEBP", "WebP"),
)
FORMATS = tuple(name for _, _, name in _MAGIC)


def _checked(tensor, checks):
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


@keras_vision_export("keras_vision.export.ServingImagePreprocessor")
class ServingImagePreprocessor:
    """Turns a recipe's eval pp string into TF functions for serving signatures.

    The deterministic image ops of the pp string (`decode`, `resize`, `resize_small`,
    `resize_long`, `central_crop`, `value_range`, ...) run inside the SavedModel graph,
    per example, so requests may carry images of any size. Label and text ops
    (`onehot`, `keep`, `tokenize`, ...) are dropped; random training ops are an error.
    The pp string is parsed and its ops are built by `keras_vision.data` (the same
    parser and op functions as training and evaluation); `keras_vision.export.serving_pp`
    only decides which ops serving keeps.

    Args:
        pp: the eval pp string, e.g. `"decode|resize(32)|value_range(-1, 1)"`.
        image_size: (height, width) the model takes; the pp must produce it.
        auto_resize: when the pp has no resize or crop at all (recipes whose data is
            already at the model's size, e.g. the shapes world), put `resize(size)`
            first so that requests of any size work; recorded in `describe()`.

    Example:
    >>> prep = ServingImagePreprocessor("resize(32)|value_range(-1,1)", (32, 32))
    >>> prep.from_bytes(tf.constant([jpeg_bytes]), "serving_default").shape
    TensorShape([1, 32, 32, 3])
    """

    def __init__(self, pp, image_size, auto_resize=True):
        self.pp = pp
        self.image_size = tuple(int(s) for s in image_size)
        if len(self.image_size) != 2:
            raise ValueError(f"image_size must be (height, width), got {image_size!r}.")
        self.decode_op, self.image_ops, self.dropped_ops = serving_pp.split_serving_ops(pp)
        self.added_ops = []
        if auto_resize and not any(op.name in serving_pp.GEOMETRIC_OPS for op in self.image_ops):
            h, w = self.image_size
            self.added_ops = parse_pp(f"resize({h})" if h == w else f"resize(({h}, {w}))")
            self.image_ops = self.added_ops + self.image_ops
        self._decode = serving_pp.image_fn([self.decode_op] if self.decode_op else parse_pp("decode"))
        self._image_fn = serving_pp.image_fn(self.image_ops)
        self.implementation = serving_pp.IMPLEMENTATION
        self._check_output()

    @property
    def serving_pp(self):
        """The image ops run in the graph, as a pp string."""
        return "|".join(op.text for op in self.image_ops)

    @property
    def output_spec(self):
        return tf.TensorSpec((*self.image_size, 3), tf.float32)

    def _check_output(self):
        # Run the pp once on an odd-sized image: it must give the model's input size.
        probe = tf.zeros((37, 53, 3), tf.uint8)
        out = self._image_fn(probe)
        if tuple(out.shape) != (*self.image_size, 3):
            raise ValueError(
                f"The pp {self.pp!r} turns a 37x53 image into shape {tuple(out.shape)}, but the "
                f"model takes {self.image_size[0]}x{self.image_size[1]}x3 images: add a resize "
                f"(e.g. 'resize({self.image_size[0]})') or pass the matching image_size."
            )

    def _finish(self, image):
        image = tf.cast(self._image_fn(image), tf.float32)
        return tf.ensure_shape(image, self.output_spec.shape)

    # --- batch entry points (used inside tf.function signatures) -------------------------
    def from_bytes(self, images, signature):
        """tf.string [B] of encoded JPEG/PNG/GIF/BMP/WebP images -> float32 [B, H, W, 3]."""
        ok = tf.zeros(tf.shape(images), tf.bool)
        padded = tf.strings.join([images, b"\0" * 12])  # substr fails past the end of short inputs
        for offset, magic, _ in _MAGIC:
            ok = ok | tf.equal(tf.strings.substr(padded, offset, len(magic)), magic)
        bad = tf.reshape(tf.where(tf.logical_not(ok)), [-1])
        check = tf.debugging.Assert(
            tf.equal(tf.size(bad), 0),
            [f"{signature}: these inputs (0-based positions in the batch) are not encoded "
             f"images ({'/'.join(FORMATS)}; bytes, base64-encoded as {{\"b64\": ...}} in "
             "REST requests):", bad],
            summarize=32,
        )
        images = _checked(images, [check])

        def one(data):
            image = self._decode(data)
            image.set_shape([None, None, 3])
            return self._finish(image)

        return tf.map_fn(one, images, fn_output_signature=self.output_spec)

    def _check_batch(self, images, signature, kind):
        shape = tf.shape(images)
        rank_ok = tf.equal(tf.size(shape), 4)
        check = tf.debugging.Assert(
            tf.logical_and(rank_ok, tf.reduce_all(tf.equal(shape[-1:], 3))),
            [f"{signature}: images must be a 4-D {kind} batch (batch, height, width, 3 RGB "
             "channels); got shape", shape],
        )
        images = _checked(images, [check])
        return tf.ensure_shape(images, [None, None, None, 3])

    def from_uint8(self, images, signature):
        """uint8 [B, h, w, 3] (any h, w) -> float32 [B, H, W, 3] through the pp."""
        images = self._check_batch(images, signature, "uint8")
        return tf.map_fn(self._finish, images, fn_output_signature=self.output_spec)

    def from_unit_range(self, images, signature):
        """float32 [B, h, w, 3] already in [-1, 1] -> float32 [B, H, W, 3].

        The geometric ops of the pp run on the values mapped back to [0, 255] and the
        value-range ops after them, so an image `u8 / 127.5 - 1` gives the same model
        input as `u8` through `from_uint8` up to float rounding (the uint8 path rounds
        resized pixels back to integers, as in training).
        """
        images = self._check_batch(images, signature, "float32")
        pixels = (images + 1.0) * 127.5
        return tf.map_fn(self._finish, pixels, fn_output_signature=self.output_spec)

    def describe(self):
        return {
            "pp": self.pp,
            "serving_pp": self.serving_pp,
            "decode": self.decode_op.text if self.decode_op is not None else "decode (default)",
            "dropped_ops": [op.text for op in self.dropped_ops],
            "added_ops": [op.text for op in self.added_ops],
            "image_size": list(self.image_size),
            "implementation": self.implementation,
        }
