"""Contrastive losses vs big_vision goldens (losses_contrastive, two_towers_siglip)."""

import numpy as np
import pytest
from keras import ops

from keras_vision.losses import contrastive as C

pytestmark = pytest.mark.multibackend
ATOL = 1e-5


@pytest.fixture
def lc(golden):
    return golden("losses_contrastive")


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def test_siglip_trainer_loss(lc):
    loss = C.sigmoid_loss(lc["inputs/zimg"], lc["inputs/ztxt"], lc["inputs/t"], lc["inputs/b"])
    np.testing.assert_allclose(_np(loss), lc["outputs/siglip_trainer_loss"], atol=ATOL)
    # The all-gather and chunked multi-device versions reduce to the same number.
    for key in ("sigmoid_loss_allgather_2dev", "sigmoid_loss_allgather_4dev", "sigmoid_loss_chunked_4dev"):
        np.testing.assert_allclose(_np(loss), lc[f"outputs/{key}"], atol=ATOL)


def test_sigmoid_loss_chunked_is_dense_on_one_device(lc):
    args = (lc["inputs/zimg"], lc["inputs/ztxt"], lc["inputs/t"], lc["inputs/b"])
    np.testing.assert_allclose(
        _np(C.sigmoid_loss_chunked(*args)), lc["outputs/sigmoid_loss_chunked_4dev"], atol=ATOL
    )


def test_sigmoid_loss_blocks_sum_to_loss(lc):
    zi, zt = lc["inputs/zimg"], lc["inputs/ztxt"]
    t, b = lc["inputs/t"], lc["inputs/b"]
    total = 0.0
    for i in range(4):  # 4 "devices", every (images_i, texts_j) block once.
        for j in range(4):
            sl_i, sl_j = slice(4 * i, 4 * i + 4), slice(4 * j, 4 * j + 4)
            total += _np(C.sigmoid_loss_block(zi[sl_i], zt[sl_j], t, b, i == j))
    np.testing.assert_allclose(total / 16, lc["outputs/siglip_trainer_loss"], atol=ATOL)


def test_logit_stats(lc):
    stats = C.contrastive_logit_stats(lc["inputs/zimg"], lc["inputs/ztxt"], lc["inputs/t"], lc["inputs/b"])
    # Averages are device-count independent in big_vision (pmean of equal-size means).
    for k in ("pos_avg_logit", "neg_avg_logit"):
        np.testing.assert_allclose(_np(stats[k]), lc[f"outputs/sigmoid_loss_allgather_4dev_extras/{k}"], atol=1e-4)
    # Global max of negatives = the max over devices of the per-device maxima.
    assert _np(stats["neg_max_logit"]) >= lc["outputs/sigmoid_loss_allgather_2dev_extras/neg_max_logit"] - 1e-5
    assert _np(stats["pos_min_logit"]) <= lc["outputs/sigmoid_loss_allgather_2dev_extras/pos_min_logit"] + 1e-5


def test_bidirectional_contrastive_loss(lc):
    zi, zt, t = lc["inputs/zimg"], lc["inputs/ztxt"], lc["inputs/t"]
    per_ex, extras = C.bidirectional_contrastive_loss(zi, zt, t)
    np.testing.assert_allclose(_np(per_ex), lc["outputs/bidirectional_contrastive_loss_per_example"], atol=ATOL)
    loss, extras = C.bidirectional_contrastive_loss(zi, zt, t, reduction=True)
    np.testing.assert_allclose(_np(loss), lc["outputs/bidirectional_contrastive_loss"], atol=ATOL)
    np.testing.assert_allclose(_np(extras["ncorrect"]), lc["outputs/bidirectional_contrastive_ncorrect"], atol=ATOL)
    # The golden's mask keeps the first 13 of 16 examples.
    mask = (np.arange(16) < 13).astype("float32")
    loss_m, _ = C.bidirectional_contrastive_loss(zi, zt, t, mask=mask, reduction=True)
    np.testing.assert_allclose(_np(loss_m), lc["outputs/bidirectional_contrastive_loss_masked"], atol=ATOL)


def test_softmax_contrastive_loss(lc):
    zi, zt, t = lc["inputs/zimg"], lc["inputs/ztxt"], lc["inputs/t"]
    loss = C.softmax_contrastive_loss(zi, zt, t)
    for n in (1, 2, 4):
        np.testing.assert_allclose(_np(loss), lc[f"outputs/softmax_loss_clip_{n}dev"], atol=ATOL)


def test_two_towers_losses(golden):
    g = golden("two_towers_siglip")
    zi, zt, t, b = g["outputs/zimg"], g["outputs/ztxt"], g["outputs/t"], g["outputs/b"]
    np.testing.assert_allclose(_np(C.sigmoid_loss(zi, zt, t, b)), g["outputs/siglip_loss"], atol=ATOL)
    np.testing.assert_allclose(
        _np(C.softmax_contrastive_loss(zi, zt, t)), g["outputs/softmax_bidirectional_loss"], atol=ATOL
    )


def test_get_contrastive_loss_unknown_name_lists_known():
    assert C.get_contrastive_loss("sigmoid") is C.sigmoid_loss
    with pytest.raises(ValueError, match="softmax"):
        C.get_contrastive_loss("nope")
