"""Classification losses with big_vision's names and semantics (`big_vision/utils.py`).

Pure `keras.ops`, every backend. Argument order is (logits, labels) like
big_vision's keyword-only functions, which recipes call as
`loss_fn(logits=logits, labels=labels)`; keyword calls work the same here.
The traps: `sigmoid_xent` SUMS over classes (then averages over the batch), and
`softmax_xent(kl=True)` adds the label entropy so that it is a KL divergence.
"""

from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.losses.registry import register_loss


def _labels_like(labels, logits):
    return ops.cast(ops.convert_to_tensor(labels), logits.dtype)


@keras_vision_export("keras_vision.losses.softmax_xent")
@register_loss("softmax_xent")
def softmax_xent(logits, labels, reduction=True, kl=False, axis=-1):
    """Softmax cross-entropy with (soft) labels, optionally as a KL divergence.

    `-sum(labels * log_softmax(logits))` over `axis`; with `kl=True` it adds
    `sum(labels * log(max(labels, 1e-8)))`, the negative label entropy, which
    turns it into `KL(labels || softmax(logits))`.

    Args:
        logits: (..., C) float tensor.
        labels: (..., C) probabilities (one-hot, multi-hot or soft).
        reduction: bool, mean over all remaining axes if True, else per example.
        kl: bool, return the KL divergence instead of the cross-entropy.
        axis: the class axis.

    Returns:
        A scalar if `reduction`, else the per-example losses (...,).

    Example:
    >>> loss = softmax_xent(logits=logits, labels=keras.ops.one_hot(y, 10))
    """
    logits = ops.convert_to_tensor(logits)
    labels = _labels_like(labels, logits)
    nll = -ops.sum(labels * ops.log_softmax(logits, axis=axis), axis=axis)
    if kl:
        nll = nll + ops.sum(labels * ops.log(ops.maximum(labels, 1e-8)), axis=axis)
    return ops.mean(nll) if reduction else nll


@keras_vision_export("keras_vision.losses.sigmoid_xent")
@register_loss("sigmoid_xent")
def sigmoid_xent(logits, labels, reduction=True):
    """Sigmoid (per-class binary) cross-entropy, SUMMED over classes.

    `-sum(labels * log_sigmoid(l) + (1 - labels) * log_sigmoid(-l), -1)`, then
    the mean over the batch if `reduction`. Summing (not averaging) over classes
    is what big_vision does; with `init_head_bias=-6.9` and a zero head the
    initial loss is ~C * 0.001 + 6.9 per example.

    Args:
        logits: (..., C) float tensor.
        labels: (..., C) multi-hot (or soft) targets.
        reduction: bool, mean over the batch if True, else per example.

    Returns:
        A scalar if `reduction`, else the per-example losses (...,).

    Example:
    >>> loss = sigmoid_xent(logits=logits, labels=multi_hot)
    """
    logits = ops.convert_to_tensor(logits)
    labels = _labels_like(labels, logits)
    log_p = ops.log_sigmoid(logits)
    log_not_p = ops.log_sigmoid(-logits)
    nll = -ops.sum(labels * log_p + (1.0 - labels) * log_not_p, axis=-1)
    return ops.mean(nll) if reduction else nll


@keras_vision_export("keras_vision.losses.weighted_softmax_xent")
@register_loss("weighted_softmax_xent")
def weighted_softmax_xent(
    logits, labels, reduction=True, weights=None, label_smoothing=0.0, normalize=True
):
    """Per-token softmax cross-entropy of sequences, with weights and label smoothing.

    Targets are one-hot with `1 - label_smoothing` on the label and
    `label_smoothing / (V - 1)` elsewhere. Token losses are multiplied by
    `weights`, summed over the sequence (axis 1) and, if `normalize`, divided by
    the sum of the weights of the sequence (or by its length without weights).

    Args:
        logits: (B, L, V) float tensor.
        labels: (B, L) integer token ids.
        reduction: bool, mean over the batch if True, else per sequence.
        weights: optional (B, L) token weights (e.g. 0 on padding).
        label_smoothing: float in [0, 1).
        normalize: bool, divide each sequence's loss by its weight sum.

    Returns:
        A scalar if `reduction`, else the per-sequence losses (B,).

    Example:
    >>> loss = weighted_softmax_xent(logits=logits, labels=codes, weights=mask)

    Used by UViM stage II ("UViM: A Unified Modeling Approach for Vision with
    Learned Guiding Codes", Kolesnikov et al., 2022).
    """
    logits = ops.convert_to_tensor(logits)
    labels = ops.convert_to_tensor(labels)
    if len(logits.shape) != len(labels.shape) + 1:
        raise ValueError(
            "Incorrect shapes: expected logits of rank labels.rank + 1, got logits "
            f"{tuple(logits.shape)} and labels {tuple(labels.shape)}."
        )
    vocab_size = logits.shape[-1]
    confidence = 1.0 - label_smoothing
    low_confidence = (1.0 - confidence) / (vocab_size - 1)
    # Keras losses hand labels over as floats; the token ids are integers.
    hot = ops.equal(
        ops.expand_dims(ops.cast(labels, "int32"), -1), ops.arange(vocab_size, dtype="int32")
    )
    soft_targets = ops.cast(ops.where(hot, confidence, low_confidence), logits.dtype)
    loss = -ops.sum(soft_targets * ops.log_softmax(logits, axis=-1), axis=-1)

    normalizing_factor = labels.shape[1]
    if weights is not None:
        weights = ops.cast(ops.convert_to_tensor(weights), loss.dtype)
        loss = loss * weights
        normalizing_factor = ops.maximum(ops.sum(weights, axis=1), 2e-38)

    loss = ops.sum(loss, axis=1)
    if normalize:
        loss = loss / normalizing_factor
    return ops.mean(loss) if reduction else loss
