"""Distillation distances vs big_vision's `distance.dist` golden (losses_distill.npz)."""

import numpy as np
import pytest
from keras import ops

import keras_vision.losses as L

pytestmark = pytest.mark.multibackend
ATOL = 1e-5


@pytest.fixture
def ld(golden):
    return golden("losses_distill")


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


CASES = [
    ("euclidean", {}, "euclidean"),
    ("l2", {}, "l2"),
    ("hard", {}, "hard"),
    ("hard", {"ls": 0.1}, "hard_ls0.1"),
    ("kl", {"t": 1.0}, "kl_t1.0"),
    ("kl", {"t": 2.0}, "kl_t2.0"),
    ("logsoftmax_euclidean", {}, "logsoftmax_euclidean"),
]


@pytest.mark.parametrize("kind, kw, key", CASES)
def test_dist_golden(ld, kind, kw, key):
    got = L.dist(ld["inputs/student_logits"], ld["inputs/teacher_logits"], kind, **kw)
    want = ld[f"outputs/{key}"]
    assert tuple(got.shape) == want.shape
    # l2 values are ~100: compare relative there.
    np.testing.assert_allclose(_np(got), want, atol=ATOL, rtol=1e-6)


@pytest.mark.parametrize("k", [1, 5])
def test_dist_agree(ld, k):
    got = L.dist(ld["inputs/student_logits"], ld["inputs/teacher_logits"], "agree", k=k)
    np.testing.assert_array_equal(_np(got), ld[f"outputs/agree_k{k}"])


@pytest.mark.parametrize("kind, kw, key", CASES + [("agree", {"k": 5}, "agree_k5")])
def test_dist_feat_axis(ld, kind, kw, key):
    s, t = ld["inputs/student_logits"], ld["inputs/teacher_logits"]
    got = L.dist(s.T, t.T, kind, feat_axis=0, **kw)
    np.testing.assert_allclose(_np(got), ld[f"outputs/{key}"], atol=ATOL, rtol=1e-6)


def test_kl_is_zero_for_identical_and_scales_with_t_squared(ld):
    s = ld["inputs/student_logits"]
    np.testing.assert_allclose(_np(L.dist(s, s, "kl")), 0.0, atol=1e-5)
    # t^2 scaling: for logits scaled by t, kl at temperature t is t^2 times kl at 1.
    t = ld["inputs/teacher_logits"]
    np.testing.assert_allclose(
        _np(L.dist(3 * s, 3 * t, "kl", t=3.0)), 9 * _np(L.dist(s, t, "kl")), rtol=1e-4)


def test_distillation_loss_through_wrapper(ld):
    s, t = ld["inputs/student_logits"], ld["inputs/teacher_logits"]
    loss = L.BigVisionLoss("dist", kind="kl", t=2.0)
    np.testing.assert_allclose(_np(loss(t, s)), ld["outputs/kl_t2.0"].mean(), atol=ATOL)
    clone = L.BigVisionLoss.from_config(loss.get_config())
    np.testing.assert_allclose(_np(clone(t, s)), ld["outputs/kl_t2.0"].mean(), atol=ATOL)


def test_unknown_kind(ld):
    with pytest.raises(ValueError, match=r"Unknown kind of distance 'kld'.*'kl'"):
        L.dist(ld["inputs/student_logits"], ld["inputs/teacher_logits"], "kld")
