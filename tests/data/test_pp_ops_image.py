import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from keras_vision.data import get_preprocess_fn

SEED = (3, 7)


def _golden_cases():
    with np.load(pathlib.Path(__file__).parents[1] / "fixtures" / "pp_ops.npz") as f:
        specs = json.loads(str(f["meta/config"]))["specs"]
    return sorted(specs.items())


@pytest.mark.parametrize("name, spec", _golden_cases())
def test_golden_pp_ops_eager_and_tfdata(golden, run_pp, name, spec):
    g = golden("pp_ops")
    eager, graph = run_pp(spec, {"image": g["inputs/image_uint8"]})
    want = g[f"outputs/{name}"]
    for out in (eager["image"], graph["image"]):
        assert out.shape == want.shape and out.dtype == want.dtype
        np.testing.assert_allclose(out, want, atol=1e-6, rtol=0)


def _encode(image, fmt):
    return (tf.io.encode_png(image) if fmt == "png" else tf.io.encode_jpeg(image, quality=100)).numpy()


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_decode(run_pp, fmt, random_image):
    img = random_image(9, 7)
    eager, graph = run_pp("decode", {"image": _encode(img, fmt)})
    for out in (eager["image"], graph["image"]):
        assert out.shape == (9, 7, 3) and out.dtype == np.uint8
        want = img if fmt == "png" else tf.io.decode_jpeg(_encode(img, fmt)).numpy()
        np.testing.assert_array_equal(out, want)
    precise, _ = run_pp("decode(precise=True)", {"image": _encode(img, fmt)})
    assert precise["image"].shape == (9, 7, 3)


def test_decode_passes_decoded_images_through(run_pp, random_image):
    img = random_image(5, 4)
    eager, graph = run_pp("decode|resize(2)", {"image": img})
    assert eager["image"].shape == graph["image"].shape == (2, 2, 3)


def test_decode_names_bad_file_eager_and_tfdata(random_image):
    fn = get_preprocess_fn("decode")
    good = _encode(random_image(4, 4), "jpeg")
    cases = {
        "/d/empty.jpg": (b"", "the file is empty"),
        "/d/trunc.jpg": (good[: len(good) // 2], "truncated JPEG"),
        "/d/text.png": (b"hello, I am text", "unknown file signature"),
        "/d/trunc.png": (_encode(random_image(4, 4), "png")[:30], "truncated PNG"),
    }
    for path, (contents, reason) in cases.items():
        ex = {"image": tf.constant(contents), "image/path": tf.constant(path)}
        with pytest.raises(tf.errors.InvalidArgumentError) as e:
            fn(dict(ex))
        assert path in str(e.value) and reason in str(e.value) and "expected a complete JPEG" in str(e.value)
        ds = tf.data.Dataset.from_tensors(ex).map(get_preprocess_fn("decode"))
        with pytest.raises(tf.errors.InvalidArgumentError, match=path):
            next(iter(ds))
    # Good bytes with a path decode normally.
    out = fn({"image": tf.constant(good), "image/path": tf.constant("/d/ok.jpg")})
    assert out["image"].shape == (4, 4, 3)


def test_resize_variants(run_pp, random_image):
    img = random_image(20, 10)
    cases = {
        "resize(8)": (8, 8),
        "resize((6, 4))": (6, 4),
        "resize(8, method='nearest')": (8, 8),
        "resize(8, antialias=True, method='bicubic')": (8, 8),
        "resize_small(5)": (10, 5),
        "resize_small(5, method='bilinear', antialias=True)": (10, 5),
        "resize_long(10)": (10, 5),
        "central_crop(4)": (4, 4),
        "central_crop((6, 2))": (6, 2),
        "central_crop": (10, 10),
    }
    for pp, shape in cases.items():
        eager, graph = run_pp(pp, {"image": img})
        assert eager["image"].shape == (*shape, 3), pp
        assert eager["image"].dtype == np.uint8, pp
        np.testing.assert_array_equal(eager["image"], graph["image"])
    # Float images keep their dtype and are not clipped to uint8 limits.
    out, _ = run_pp("value_range(-1, 1)|resize(4)", {"image": img})
    assert out["image"].dtype == np.float32 and out["image"].min() < 0


def test_central_crop_offsets(run_pp):
    img = np.arange(7 * 6 * 3, dtype=np.int32).reshape(7, 6, 3)
    out, _ = run_pp("central_crop((3, 2))", {"image": img})
    np.testing.assert_array_equal(out["image"], img[2:5, 2:4])


def test_key_inkey_outkey(run_pp, random_image):
    img = random_image(8, 8)
    out, _ = run_pp("resize(4, inkey='image', outkey='small')|central_crop(2, key='image')", {"image": img})
    assert out["small"].shape == (4, 4, 3) and out["image"].shape == (2, 2, 3)


@pytest.mark.parametrize(
    "pp, shape",
    [
        ("flip_lr", (12, 10, 3)),
        ("random_crop(6)", (6, 6, 3)),
        ("random_crop((4, 8))", (4, 8, 3)),
        ("inception_crop", None),
        ("inception_crop(8)", (8, 8, 3)),
        ("inception_crop(8, area_min=50, ratio_min=1.0, ratio_max=1.0, antialias=True)", (8, 8, 3)),
    ],
)
def test_random_ops_deterministic_given_seed(run_pp, pp, shape, random_image):
    img = random_image(12, 10)
    eager, graph = run_pp(pp, {"image": img}, seed=SEED)
    np.testing.assert_array_equal(eager["image"], graph["image"])
    if shape:
        assert eager["image"].shape == shape
    again, _ = run_pp(pp, {"image": img}, seed=SEED)
    np.testing.assert_array_equal(eager["image"], again["image"])
    outs = {run_pp(pp, {"image": img}, seed=(s, 0))[0]["image"].tobytes() for s in range(12)}
    assert len(outs) > 1  # the seed matters


def test_flip_lr_flips_about_half_the_time(random_image):
    from keras_vision.data.registry import RNG_KEY

    img = random_image(4, 5)
    fn = get_preprocess_fn("flip_lr")
    flips = 0
    for s in range(40):
        out = fn({"image": img, RNG_KEY: tf.constant([s, 1], tf.int64)})
        if np.array_equal(out["image"], img[:, ::-1]):
            flips += 1
        else:
            np.testing.assert_array_equal(out["image"], img)
    assert 10 <= flips <= 30


def test_random_crop_is_a_crop(run_pp):
    img = np.arange(10 * 10 * 3, dtype=np.int32).reshape(10, 10, 3)
    out, _ = run_pp("random_crop(4)", {"image": img}, seed=SEED)
    y, x = np.argwhere(img[..., 0] == out["image"][0, 0, 0])[0]
    np.testing.assert_array_equal(out["image"], img[y : y + 4, x : x + 4])


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_decode_jpeg_and_inception_crop(run_pp, fmt, random_image):
    img = random_image(24, 20)
    pp = "decode_jpeg_and_inception_crop(8)"
    eager, graph = run_pp(pp, {"image": _encode(img, fmt)}, seed=SEED)
    assert eager["image"].shape == (8, 8, 3) and eager["image"].dtype == np.uint8
    np.testing.assert_array_equal(eager["image"], graph["image"])
    # Without size: the crop itself, at most the image.
    crop, _ = run_pp("decode_jpeg_and_inception_crop", {"image": _encode(img, fmt)}, seed=SEED)
    assert crop["image"].shape[0] <= 24 and crop["image"].shape[1] <= 20
    # PNG path == decode + inception_crop with the same seed.
    if fmt == "png":
        ref, _ = run_pp("decode|inception_crop", {"image": _encode(img, fmt)}, seed=SEED)
        np.testing.assert_array_equal(crop["image"], ref["image"])


def test_vgg_and_clip_value_range(run_pp):
    img = np.full((2, 2, 3), 128, np.uint8)
    vgg, graph = run_pp("vgg_value_range", {"image": img})
    np.testing.assert_allclose(
        vgg["image"][0, 0],
        (128 - np.array([0.485, 0.456, 0.406]) * 255) / (np.array([0.229, 0.224, 0.225]) * 255),
        rtol=1e-5,
    )
    np.testing.assert_array_equal(vgg["image"], graph["image"])
    clip, _ = run_pp("clip_value_range", {"image": img})
    np.testing.assert_allclose(
        clip["image"][0, 0, 0], (128 - 0.48145466 * 255) / (0.26862954 * 255), rtol=1e-5
    )
