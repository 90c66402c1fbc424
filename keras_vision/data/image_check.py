"""Cheap in-graph checks that encoded image bytes are decodable, to name bad files.

TF's decoders fail with messages that do not say which file was bad, and a graph cannot
catch their errors. So file-based sources carry the path (`PATH_KEY`) and, before
decoding, `image_bytes_problem` looks at the bytes: a known signature (JPEG, PNG, GIF,
BMP, WebP) and the format's end marker (which catches truncated downloads). Corruption in
the middle of an otherwise complete file is not detected here; TF's own error then
applies.
"""

import tensorflow as tf

# Key under which file-based sources store each example's image file path.
PATH_KEY = "image/path"
EXPECTED = "expected a complete JPEG, PNG, GIF, BMP or WebP file"


def _contains(b, pattern):
    """Whether uint8 vector `b` contains the byte sequence `pattern` (short tuple)."""
    n = tf.shape(b)[0] - len(pattern) + 1
    hit = tf.ones([tf.maximum(n, 0)], tf.bool)
    for j, v in enumerate(pattern):
        hit = hit & tf.equal(b[j : j + tf.maximum(n, 0)], v)
    return tf.reduce_any(hit)


def _starts(padded, size, pattern):
    """Whether the bytes start with `pattern` (`padded`: the bytes + 16 zero bytes)."""
    k = len(pattern)
    return tf.logical_and(size >= k, tf.reduce_all(tf.equal(padded[:k], list(pattern))))


def _le32(b, offset):
    x = tf.cast(b[offset : offset + 4], tf.int64)
    return tf.reduce_sum(x * tf.constant([1, 256, 65536, 16777216], tf.int64))


def image_bytes_problem(contents):
    """A tf.string scalar: "" if `contents` looks decodable, else what is wrong with it."""
    b = tf.io.decode_raw(contents, tf.uint8)
    size = tf.cast(tf.shape(b)[0], tf.int64)
    padded = tf.concat([b, tf.zeros([16], tf.uint8)], 0)  # headers are readable even if short

    is_jpeg = _starts(padded, size, (0xFF, 0xD8, 0xFF))
    is_png = _starts(padded, size, (0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A))
    is_gif = _starts(padded, size, (0x47, 0x49, 0x46, 0x38))
    is_bmp = _starts(padded, size, (0x42, 0x4D))
    is_webp = _starts(padded, size, (0x52, 0x49, 0x46, 0x46)) & tf.reduce_all(
        tf.equal(padded[8:12], [0x57, 0x45, 0x42, 0x50])
    )

    def problem():
        return tf.case(
            [
                (size == 0, lambda: tf.constant("the file is empty")),
                (
                    is_jpeg,
                    lambda: tf.where(
                        _contains(b, (0xFF, 0xD9)), "", "truncated JPEG (no end-of-image marker)"
                    ),
                ),
                (
                    is_png,
                    lambda: tf.where(
                        _contains(b, (0x49, 0x45, 0x4E, 0x44)), "", "truncated PNG (no IEND chunk)"
                    ),
                ),
                (is_gif, lambda: tf.where(_contains(b[6:], (0x3B,)), "", "truncated GIF (no trailer)")),
                (
                    is_bmp,
                    lambda: tf.where(
                        _le32(padded, 2) <= size, "", "truncated BMP (shorter than its header says)"
                    ),
                ),
                (
                    is_webp,
                    lambda: tf.where(
                        _le32(padded, 4) + 8 <= size, "", "truncated WebP (shorter than its header says)"
                    ),
                ),
            ],
            default=lambda: tf.constant("not an image: unknown file signature"),
            exclusive=False,
        )

    return problem()


def assert_decodable(contents, path):
    """An assert op failing with the file `path` and its problem if `contents` is bad."""
    problem = image_bytes_problem(contents)
    msg = tf.strings.join(["Cannot decode image file '", path, "': ", problem, "; ", EXPECTED, "."])
    return tf.debugging.Assert(tf.equal(problem, ""), [msg], summarize=1)
