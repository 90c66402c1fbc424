"""shapes world: fields, determinism (across processes, pinned hashes), splits, config."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_vision.data import shapes

# sha256 prefixes of whole examples; a change here means every user's data changed.
PINNED = [
    ("train", 0, {}, "369d289b70b5fb46"),
    ("train", 1, {}, "81da86afd095cbc9"),
    ("train", 7, {}, "72c83698e8e63917"),
    ("val", 0, {}, "95731cea5ae7f9c1"),
    ("test", 0, {}, "0631b3908102909e"),
    ("train", 3, dict(image_size=48, background="checker", noise=8, max_objects=6), "2d46374984840f3a"),
    ("val", 5, dict(background="gradient", num_classes=4, num_colors=3), "45e9d46f94bb3c34"),
]


def digest(ex):
    h = hashlib.sha256()
    for k in sorted(ex):
        v = np.asarray(ex[k])
        h.update(k.encode())
        h.update(str(v.dtype).encode())
        h.update(str(v.shape).encode())
        h.update("\x00".join(v.ravel().tolist()).encode() if v.dtype.kind == "U" else v.tobytes())
    return h.hexdigest()[:16]


def test_example_fields_shapes_and_dtypes():
    for size in (32, 48):
        ex = shapes.example(3, "train", image_size=size)
        n = int(ex["objects/count"])
        assert 1 <= n <= shapes.DEFAULTS["max_objects"]
        expected = {
            "image": ((size, size, 3), np.uint8),
            "gray": ((size, size, 1), np.uint8),
            "label": ((), np.int32),
            "image/id": ((), np.int32),
            "texts": ((5,), np.str_),
            "questions": ((4,), np.str_),
            "answers": ((4,), np.str_),
            "objects/count": ((), np.int32),
            "objects/boxes": ((n, 4), np.float32),
            "objects/label": ((n,), np.int32),
            "objects/color": ((n,), np.int32),
            "objects/size": ((n,), np.int32),
            "objects/position": ((n,), np.int32),
            "objects/depth": ((n,), np.float32),
            "objects/area": ((n,), np.int32),
            "semantic": ((size, size), np.int32),
            "instances": ((size, size), np.int32),
            "panoptic": ((size, size, 2), np.int32),
            "depth": ((size, size), np.float32),
        }
        assert sorted(ex) == sorted(expected)
        for k, (shape, dtype) in expected.items():
            assert ex[k].shape == shape, k
            assert ex[k].dtype.type == dtype, k
        assert int(ex["image/id"]) == 3
        assert int(ex["label"]) == int(ex["objects/label"][0])


def test_pinned_hashes():
    got = [digest(shapes.example(i, split, **kw)) for split, i, kw, _ in PINNED]
    assert got == [h for *_, h in PINNED]


def test_deterministic_across_processes():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from test_shapes import digest, PINNED; from keras_vision.data import shapes;"
        "print(' '.join(digest(shapes.example(i, s, **kw)) for s, i, kw, _ in PINNED));"
        "print(' '.join(digest(shapes.example(i, 'train', image_size=24)) for i in range(40, 60)))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")  # set/dict order must not matter
    out = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__)], env=env,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0].split() == [digest(shapes.example(i, s, **kw)) for s, i, kw, _ in PINNED]
    assert out[1].split() == [digest(shapes.example(i, "train", image_size=24)) for i in range(40, 60)]


def test_repeated_calls_identical_and_independent_of_order():
    a = [digest(shapes.example(i, "val")) for i in (9, 2, 5)]
    b = [digest(shapes.example(i, "val")) for i in (5, 2, 9)][::-1]
    assert a == b


def test_splits_are_disjoint():
    hashes = {}
    for split in shapes.SPLITS:
        imgs = shapes.batch(split, 0, 300, keys=("image",))["image"]
        hashes[split] = {hashlib.sha1(x.tobytes()).hexdigest() for x in imgs}
        assert len(hashes[split]) > 280, split  # (single-object scenes may rarely repeat)
    assert not hashes["train"] & hashes["val"]
    assert not hashes["train"] & hashes["test"]
    assert not hashes["val"] & hashes["test"]


def test_same_scene_at_any_resolution():
    for i in range(10):
        small, big = shapes.example(i, image_size=32), shapes.example(i, image_size=96)
        for k in ("label", "texts", "questions", "answers", "objects/label", "objects/color",
                  "objects/position", "objects/size", "objects/depth"):
            np.testing.assert_array_equal(small[k], big[k])
        # Boxes agree up to the pixel grid of the coarser image.
        np.testing.assert_allclose(small["objects/boxes"], big["objects/boxes"], atol=2 / 32)


def test_num_examples_and_class_names():
    assert shapes.num_examples("train") == 50_000
    assert shapes.num_examples("val") == shapes.num_examples("test") == 1000
    assert len(shapes.CLASS_NAMES) == 10 and shapes.CLASS_NAMES[0] == "circle"
    assert shapes.class_names(4) == ["circle", "square", "triangle", "diamond"]
    assert shapes.SEMANTIC_NAMES[0] == "background"
    with pytest.raises(ValueError, match="holdout"):
        shapes.num_examples("holdout")


def test_configuration_is_respected():
    for i in range(40):
        ex = shapes.example(i, num_classes=3, num_colors=2, min_objects=2, max_objects=2)
        assert int(ex["objects/count"]) == 2 or int(ex["objects/count"]) == 1  # placement may give up
        assert ex["objects/label"].max() < 3 and ex["objects/color"].max() < 2
        assert int(ex["semantic"].max()) <= 3
    counts = [int(shapes.example(i, max_objects=6)["objects/count"]) for i in range(60)]
    assert max(counts) >= 5 and min(counts) == 1
    for i in range(30):
        assert int(shapes.example(i, medium_main=0.0)["objects/size"][0]) == 2
        sizes = shapes.example(i, medium_main=1.0)["objects/size"]
        assert sizes[0] == 1 and np.all(sizes[1:] == 0)
    # Background and noise change pixels only, never the annotations.
    plain = shapes.example(4)
    for kw in (dict(background="gradient"), dict(background="checker"), dict(noise=10)):
        other = shapes.example(4, **kw)
        assert not np.array_equal(other["image"], plain["image"])
        for k in ("texts", "instances", "objects/boxes", "depth"):
            np.testing.assert_array_equal(other[k], plain[k])


@pytest.mark.parametrize("kwargs, match", [
    (dict(image_size=8), "image_size=8"),
    (dict(num_classes=11), "num_classes=11"),
    (dict(background="stripes"), "stripes"),
    (dict(colour="red"), "colour"),
    (dict(max_objects=0), "max_objects=0"),
])
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        shapes.example(0, **kwargs)


def test_bad_split_and_index():
    with pytest.raises(ValueError, match="holdout"):
        shapes.example(0, "holdout")
    with pytest.raises(ValueError, match="-1"):
        shapes.example(-1)
