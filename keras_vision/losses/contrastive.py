"""Image-text contrastive losses: SigLIP sigmoid loss and CLIP/LiT softmax loss.

All functions take L2-normalised embeddings `zimg` (B, D) and `ztxt` (B, D), where
row i of each is a positive pair and every other pairing is a negative, and the
*already exponentiated* temperature `t` (big_vision stores its logarithm as a
parameter and passes `exp(t)` to the loss). Pure `keras.ops`: every backend.

big_vision references: `trainers/proj/image_text/siglip.py` (sigmoid loss),
`trainers/proj/image_text/_deprecated_contrastive.py` (softmax loss) and
`utils.bidirectional_contrastive_loss`.
"""

from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.backend import ring_sigmoid_loss


def _pair_logits(zimg, ztxt, t, b=None):
    logits = ops.matmul(zimg, ops.transpose(ztxt)) * ops.reshape(t, ())
    if b is not None:
        logits = logits + ops.reshape(b, ())
    return logits


def _signs(n, dtype):
    # +1 on the diagonal (positive pairs), -1 everywhere else.
    return 2.0 * ops.eye(n, dtype=dtype) - 1.0


@keras_vision_export("keras_vision.losses.sigmoid_loss")
def sigmoid_loss(zimg, ztxt, t, b=None):
    """SigLIP pairwise sigmoid loss over the global batch.

    `logits = zimg @ ztxt.T * t + b`; every pair is an independent binary
    classification (positive on the diagonal). The loss is summed over texts and
    averaged over images, i.e. divided by B, not by B^2 (as in big_vision).

    Args:
        zimg: (B, D) image embeddings.
        ztxt: (B, D) text embeddings.
        t: scalar or (1,) temperature, already exponentiated (`exp(t_param)`).
        b: optional scalar or (1,) logit bias (raw, e.g. -10 at init).

    Returns:
        The scalar loss.

    Example:
    >>> loss = sigmoid_loss(zimg, ztxt, t=10.0, b=-10.0)

    Paper: "Sigmoid Loss for Language Image Pre-Training" (Zhai et al., 2023).
    """
    logits = _pair_logits(zimg, ztxt, t, b)
    n = ops.shape(logits)[0]
    nll = -ops.sum(ops.log_sigmoid(_signs(n, logits.dtype) * logits), axis=-1)
    return ops.mean(nll)


@keras_vision_export("keras_vision.losses.sigmoid_loss_block")
def sigmoid_loss_block(zimg, ztxt, t, b=None, positives_on_diagonal=True):
    """Un-normalised SigLIP loss of one (b_img, b_txt) block of the logit matrix.

    The building block of the chunked (multi-device) loss: returns the *sum* of
    `-log_sigmoid(sign * logits)` over the block, where sign is +1 on the diagonal
    only if `positives_on_diagonal` (the block pairs a device's own images and
    texts) and -1 everywhere otherwise (texts of another device: negatives only).

    Args:
        zimg: (b, D) image embeddings.
        ztxt: (b, D) text embeddings.
        t: temperature (exponentiated).
        b: optional bias.
        positives_on_diagonal: bool or boolean scalar tensor.

    Returns:
        The scalar sum over the block.

    Example:
    >>> total = sigmoid_loss_block(zi, zt, 10.0, -10.0) / global_batch
    """
    logits = _pair_logits(zimg, ztxt, t, b)
    n = ops.shape(logits)[0]
    eye = ops.eye(n, dtype=logits.dtype)
    pos = ops.cast(positives_on_diagonal, logits.dtype)
    signs = 2.0 * eye * pos - 1.0
    return -ops.sum(ops.log_sigmoid(signs * logits))


@keras_vision_export("keras_vision.losses.sigmoid_loss_chunked")
def sigmoid_loss_chunked(zimg, ztxt, t, b=None):
    """SigLIP loss that never builds the global (B, B) logits when data-parallel.

    Under a `keras.distribution` data-parallel distribution on JAX, each device
    scores its local images against its local texts, then passes the text
    embeddings around a ring of devices (`shard_map` + `ppermute`), so per-device
    memory is O(b^2) instead of O(b*B). Everywhere else (one device, TensorFlow,
    torch) it is exactly `sigmoid_loss`. Value and gradients equal `sigmoid_loss`.

    Args:
        zimg, ztxt, t, b: as `sigmoid_loss`.

    Returns:
        The scalar loss.

    Example:
    >>> keras.distribution.set_distribution(keras.distribution.DataParallel())
    >>> loss = sigmoid_loss_chunked(zimg, ztxt, 10.0, -10.0)

    Paper: "Sigmoid Loss for Language Image Pre-Training" (Zhai et al., 2023), §3.3.
    """
    ring = ring_sigmoid_loss(zimg, ztxt, t, b)
    return sigmoid_loss(zimg, ztxt, t, b) if ring is None else ring


@keras_vision_export("keras_vision.losses.bidirectional_contrastive_loss")
def bidirectional_contrastive_loss(zimg, ztxt, t, mask=None, reduction=False):
    """CLIP/LiT softmax loss in both directions, with big_vision's extras.

    Per example: `0.5 * (NLL(img->txt) + NLL(txt->img))` with `logits =
    zimg @ ztxt.T * t`. A `mask` (B,) of 0/1 drops examples (their rows and columns
    are excluded from every softmax and they count 0).

    Args:
        zimg: (B, D) image embeddings.
        ztxt: (B, D) text embeddings.
        t: temperature (exponentiated).
        mask: optional (B,) validity mask.
        reduction: if True, return the (masked) mean instead of per-example values.

    Returns:
        `(loss, {"ncorrect": ...})`; `ncorrect` is per example (or its masked mean)
        whether the image's best-scoring text is its own.

    Example:
    >>> loss, extras = bidirectional_contrastive_loss(zi, zt, 10.0, reduction=True)

    Paper: "Learning Transferable Visual Models From Natural Language Supervision"
    (Radford et al., 2021); LiT (Zhai et al., 2022).
    """
    logits = _pair_logits(zimg, ztxt, t)
    n = ops.shape(logits)[0]
    eye = ops.eye(n, dtype="bool")
    if mask is not None:
        keep = ops.cast(mask, "bool")
        exclude = ops.logical_or(
            ops.logical_not(keep)[:, None], ops.logical_not(keep)[None, :]
        )
        # A large negative instead of -inf keeps gradients finite; masked rows are
        # zeroed below, and exp(-1e9) is exactly 0 in float32 for the others.
        logits = ops.where(exclude, ops.cast(-1e9, logits.dtype), logits)
    diag = ops.sum(ops.where(eye, logits, 0.0), axis=1)
    i2t = ops.logsumexp(logits, axis=1) - diag
    t2i = ops.logsumexp(logits, axis=0) - diag
    per_example = 0.5 * (i2t + t2i)
    correct = ops.cast(ops.argmax(logits, axis=1) == ops.arange(n), logits.dtype)
    if mask is not None:
        m = ops.cast(mask, logits.dtype)
        per_example = per_example * m
        if reduction:
            denom = ops.sum(m) + 1e-8
            return ops.sum(per_example) / denom, {"ncorrect": ops.sum(correct * m) / denom}
        return per_example, {"ncorrect": correct * m}
    if reduction:
        return ops.mean(per_example), {"ncorrect": ops.mean(correct)}
    return per_example, {"ncorrect": correct}


@keras_vision_export("keras_vision.losses.softmax_contrastive_loss")
def softmax_contrastive_loss(zimg, ztxt, t, b=None):
    """CLIP/LiT softmax contrastive loss: mean of image->text and text->image NLL.

    Args:
        zimg: (B, D) image embeddings.
        ztxt: (B, D) text embeddings.
        t: temperature (exponentiated).
        b: ignored (accepted so every contrastive loss has one signature; a bias
            shifts all logits of a softmax equally and changes nothing).

    Returns:
        The scalar loss `0.5 * (mean NLL_i2t + mean NLL_t2i)`.

    Example:
    >>> loss = softmax_contrastive_loss(zimg, ztxt, t=10.0)

    Paper: CLIP (Radford et al., 2021); LiT (Zhai et al., 2022).
    """
    del b
    loss, _ = bidirectional_contrastive_loss(zimg, ztxt, t, reduction=True)
    return loss


@keras_vision_export("keras_vision.losses.contrastive_logit_stats")
def contrastive_logit_stats(zimg, ztxt, t, b=None):
    """Health metrics of a pairwise logit matrix: min/max/mean of positives and negatives.

    Args:
        zimg, ztxt, t, b: as `sigmoid_loss`.

    Returns:
        Dict with `pos_{min,max,avg}_logit` and `neg_{min,max,avg}_logit`.

    Example:
    >>> stats = contrastive_logit_stats(zimg, ztxt, 10.0, -10.0)
    """
    logits = _pair_logits(zimg, ztxt, t, b)
    n = ops.shape(logits)[0]
    eye = ops.eye(n, dtype="bool")
    big = ops.cast(3e38, logits.dtype)
    nneg = ops.cast(n * n - n, logits.dtype)
    pos = ops.diagonal(logits)
    return {
        "pos_min_logit": ops.min(pos),
        "pos_max_logit": ops.max(pos),
        "pos_avg_logit": ops.mean(pos),
        "neg_min_logit": ops.min(ops.where(eye, big, logits)),
        "neg_max_logit": ops.max(ops.where(eye, -big, logits)),
        "neg_avg_logit": ops.sum(ops.where(eye, 0.0, logits)) / ops.maximum(nneg, 1.0),
    }


# Names by which recipes and `compute_loss` refer to these losses. All share the
# signature (zimg, ztxt, t, b) -> scalar.
CONTRASTIVE_LOSSES = {
    "sigmoid": sigmoid_loss,
    "sigmoid_loss": sigmoid_loss,
    "siglip": sigmoid_loss,
    "sigmoid_chunked": sigmoid_loss_chunked,
    "sigmoid_loss_chunked": sigmoid_loss_chunked,
    "chunked_sigmoid_loss": sigmoid_loss_chunked,
    "softmax": softmax_contrastive_loss,
    "softmax_contrastive": softmax_contrastive_loss,
    "softmax_contrastive_loss": softmax_contrastive_loss,
    "contrastive": softmax_contrastive_loss,
    "clip": softmax_contrastive_loss,
}


def get_contrastive_loss(name):
    """Returns the contrastive loss function called `name` (see CONTRASTIVE_LOSSES)."""
    if callable(name):
        return name
    if name not in CONTRASTIVE_LOSSES:
        raise ValueError(
            f"Unknown contrastive loss {name!r}; expected one of {sorted(CONTRASTIVE_LOSSES)}."
        )
    return CONTRASTIVE_LOSSES[name]
