import numpy as np
import pytest

from keras_vision.data import get_preprocess_fn
from keras_vision.data.randaug import OPS


def _image(random_image):
    # Smooth + noisy content so every op visibly changes something.
    yy, xx = np.mgrid[0:24, 0:20]
    base = np.stack([yy * 10, xx * 12, (yy + xx) * 5], -1).astype(np.uint8)
    return (base // 2 + random_image(24, 20) // 2).astype(np.uint8)


def test_randaug_deterministic_eager_and_tfdata(run_pp, random_image):
    img = _image(random_image)
    eager, graph = run_pp("randaug(2, 10)", {"image": img}, seed=(1, 2))
    assert eager["image"].shape == img.shape and eager["image"].dtype == np.uint8
    np.testing.assert_array_equal(eager["image"], graph["image"])
    outs = {run_pp("randaug(2, 10)", {"image": img}, seed=(s, 0))[0]["image"].tobytes() for s in range(6)}
    assert len(outs) > 1


@pytest.mark.parametrize("op", OPS)
def test_each_randaug_op_alone(run_pp, random_image, op):
    img = _image(random_image)
    pp = f"randaug(1, 10, exclude_ops={[o for o in OPS if o != op]!r})"
    out, _ = run_pp(pp, {"image": img}, seed=(0, 0))
    out = out["image"]
    assert out.shape == img.shape and out.dtype == np.uint8
    if op in ("Invert", "Solarize"):  # Solarize: threshold 256 wraps to 0 in uint8 (as in big_vision)
        np.testing.assert_array_equal(out, 255 - img)
    elif op == "Posterize":  # 4 bits
        np.testing.assert_array_equal(out, img & 0xF0)
    elif op == "Cutout":  # a gray square of half-size 40 px covers this small image
        assert (out == 128).mean() > 0.2
    else:
        assert not np.array_equal(out, img), op
    if op in ("TranslateX", "TranslateY"):  # 100 px at M=10: all gray (constant fill), like big_vision
        assert (out == 128).all()


def test_randaug_magnitude_zero_geometric_is_identity(run_pp, random_image):
    img = _image(random_image)
    keep = ["Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY"]
    pp = f"randaug(3, 0, exclude_ops={[o for o in OPS if o not in keep]!r})"
    out, _ = run_pp(pp, {"image": img}, seed=(5, 5))
    np.testing.assert_array_equal(out["image"], img)


def test_randaug_float_input(run_pp, random_image):
    img = _image(random_image)
    out, _ = run_pp("randaug(2, 10)", {"image": img.astype(np.float32)}, seed=(0, 1))
    ref, _ = run_pp("randaug(2, 10)", {"image": img}, seed=(0, 1))
    assert out["image"].dtype == np.float32
    np.testing.assert_array_equal(out["image"], ref["image"])


def test_randaug_official_impl_in_tfdata(random_image):
    import tensorflow as tf

    img = _image(random_image)
    ds = tf.data.Dataset.from_tensors({"image": img}).map(
        get_preprocess_fn("randaug(1, 10, impl='official')")
    )
    out = next(iter(ds))["image"].numpy()
    assert out.shape == img.shape and out.dtype == np.uint8


def test_randaug_errors():
    with pytest.raises(ValueError, match="Blur"):
        get_preprocess_fn("randaug(2, 10, exclude_ops=['Blur'])")
    with pytest.raises(ValueError, match="impl"):
        get_preprocess_fn("randaug(impl='keras')")
