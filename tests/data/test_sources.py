import json

import numpy as np
import pytest
import tensorflow as tf

from keras_vision.data import get_preprocess_fn
from keras_vision.data import get_source
from keras_vision.data import parse_split


def _all(ds):
    return list(ds.as_numpy_iterator())


def test_parse_split():
    (p,) = parse_split("train[:90%]")
    assert (p.name, p.bounds(1000), p.bounds(7)) == ("train", (0, 900), (0, 6))
    (q,) = parse_split("train[90%:]")
    assert q.bounds(7) == (6, 7)  # [:90%] and [90%:] partition
    assert parse_split("val[10:-5]")[0].bounds(100) == (10, 95)
    assert parse_split("x[-20%:]")[0].bounds(10) == (8, 10)
    assert [r.name for r in parse_split("train[:5]+val")] == ["train", "val"]
    assert parse_split("[:3]", default_name="all")[0].name == "all"
    for bad in ("train[a:b]", "train[:150%]", "train[1]"):
        with pytest.raises(ValueError, match="Malformed split"):
            parse_split(bad)


def test_imagefolder(image_folder):
    src = get_source(dict(name="imagefolder", data_dir=str(image_folder), split="train"))
    assert src.class_names == ["cat", "dog", "emu"] and src.num_examples == 12 and src.random_access
    exs = _all(src.as_dataset())
    assert [int(e["label"]) for e in exs] == [0] * 4 + [1] * 4 + [2] * 4
    assert exs[0]["image/path"].decode().endswith("train/cat/00.png")
    assert all(not e["image/path"].endswith(b".txt") for e in exs)
    img = get_preprocess_fn("decode")(exs[5])["image"]
    assert img.shape[-1] == 3
    # Shuffled order: a permutation fixed by the seed.
    a = [e["image/path"] for e in _all(src.as_dataset(shuffle=True, seed=1))]
    b = [e["image/path"] for e in _all(src.as_dataset(shuffle=True, seed=1))]
    c = [e["image/path"] for e in _all(src.as_dataset(shuffle=True, seed=2))]
    assert a == b and sorted(a) == sorted(e["image/path"] for e in exs) and a != c


def test_imagefolder_splits_and_slices(image_folder):
    both = get_source(dict(name="imagefolder", data_dir=str(image_folder), split="train+val"))
    assert both.num_examples == 18
    head = get_source(dict(name="imagefolder", data_dir=str(image_folder), split="train[:75%]"))
    tail = get_source(dict(name="imagefolder", data_dir=str(image_folder), split="train[75%:]"))
    assert head.num_examples == 9 and tail.num_examples == 3
    assert not set(head.paths) & set(tail.paths)
    assert len({int(x) for x in tail.labels}) > 1 or len(set(head.labels)) == 3  # not just the last class
    flat = get_source(dict(name="imagefolder", data_dir=str(image_folder / "val"), split="all[:50%]"))
    assert flat.num_examples == 3 and flat.class_names == ["cat", "dog", "emu"]


def test_imagefolder_errors(image_folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        get_source(dict(name="imagefolder", data_dir=str(tmp_path / "nope"), split="train"))
    with pytest.raises(FileNotFoundError, match=r"'test'.*\['train', 'val'\]"):
        get_source(dict(name="imagefolder", data_dir=str(image_folder), split="test"))
    with pytest.raises(ValueError, match="unknown data config keys.*'bogus'"):
        get_source(dict(name="imagefolder", data_dir=str(image_folder), bogus=1))
    with pytest.raises(ValueError, match="class folder 'emu'"):
        get_source(
            dict(name="imagefolder", data_dir=str(image_folder), split="train", class_names=["cat", "dog"])
        )


def _write_captioned(tmp_path, write_image, random_image):
    for i in range(5):
        write_image(tmp_path / "imgs" / f"{i}.jpg", random_image(6, 6, seed=i))
    return [f"imgs/{i}.jpg" for i in range(5)]


def test_image_text_csv(tmp_path, write_image, random_image):
    rels = _write_captioned(tmp_path, write_image, random_image)
    lines = ["image,caption,label"] + [f'{r},"a photo|of {i}",{i % 2}' for i, r in enumerate(rels)]
    (tmp_path / "captions_train.csv").write_text("\n".join(lines))
    src = get_source(
        dict(
            name="image_text_csv",
            path=str(tmp_path / "captions_{split}.csv"),
            split="train[1:4]",
            text_separator="|",
            label_key="label",
        )
    )
    assert src.num_examples == 3
    exs = _all(src.as_dataset())
    assert exs[0]["texts"].tolist() == [b"a photo", b"of 1"]
    assert [int(e["label"]) for e in exs] == [1, 0, 1]
    assert exs[2]["image/path"].decode() == str(tmp_path / "imgs" / "3.jpg")
    out = get_preprocess_fn("decode|choice(key='texts')")(exs[0])
    assert out["image"].shape == (6, 6, 3) and out["texts"].numpy() in (b"a photo", b"of 1")


def test_image_text_jsonl(tmp_path, write_image, random_image):
    rels = _write_captioned(tmp_path, write_image, random_image)
    rows = [{"file": r, "caps": [f"cap {i}", "x"] if i % 2 else f"only {i}"} for i, r in enumerate(rels)]
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    src = get_source(
        dict(name="image_text_jsonl", path=str(tmp_path / "data.jsonl"), image_key="file", text_key="caps")
    )
    exs = _all(src.as_dataset())
    assert len(exs) == 5 and src.num_examples == 5
    assert exs[0]["texts"].tolist() == [b"only 0"] and exs[1]["texts"].tolist() == [b"cap 1", b"x"]
    assert "label" not in exs[0]


def test_image_text_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        get_source(dict(name="image_text_csv", path=str(tmp_path / "missing.csv")))
    (tmp_path / "bad.jsonl").write_text('{"image": "a.jpg", "caption": "x"}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2 is not valid JSON"):
        get_source(dict(name="image_text_jsonl", path=str(tmp_path / "bad.jsonl")))
    (tmp_path / "nocap.csv").write_text("image,text\na.jpg,hello\n")
    with pytest.raises(ValueError, match=r"nocap.csv:2 has no text field 'caption'"):
        get_source(dict(name="image_text_csv", path=str(tmp_path / "nocap.csv")))


def _write_tfrecords(tmp_path, n_files=2, per_file=5):
    k = 0
    for f in range(n_files):
        with tf.io.TFRecordWriter(str(tmp_path / f"train-{f:02d}.tfrecord")) as w:
            for _ in range(per_file):
                img = tf.io.encode_png(np.full((4, 4, 3), k, np.uint8)).numpy()
                feat = {
                    "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[img])),
                    "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[k])),
                    "boxes": tf.train.Feature(float_list=tf.train.FloatList(value=[0.1 * k] * (k % 3))),
                }
                w.write(tf.train.Example(features=tf.train.Features(feature=feat)).SerializeToString())
                k += 1


def test_tfrecord(tmp_path):
    _write_tfrecords(tmp_path)
    features = {"image": "string", "label": "int64", "boxes": ("float32", None)}
    src = get_source(dict(name="tfrecord", path=str(tmp_path / "{split}-*.tfrecord"), features=features))
    assert src.num_examples is None
    exs = _all(src.as_dataset())
    assert [int(e["label"]) for e in exs] == list(range(10))
    assert exs[4]["boxes"].shape == (1,) and exs[3]["boxes"].shape == (0,)
    assert get_preprocess_fn("decode")(exs[7])["image"].numpy()[0, 0, 0] == 7
    sliced = get_source(
        dict(
            name="tfrecord",
            path=str(tmp_path / "train-*.tfrecord"),
            features=features,
            split="train[20%:50%]",
        )
    )
    assert sliced.num_examples == 3
    assert [int(e["label"]) for e in _all(sliced.as_dataset())] == [2, 3, 4]
    shuffled = [int(e["label"]) for e in _all(src.as_dataset(shuffle=True, seed=3))]
    assert sorted(shuffled) == list(range(10))
    with pytest.raises(FileNotFoundError, match="nothing-"):
        get_source(dict(name="tfrecord", path=str(tmp_path / "nothing-*.tfrecord"), features=features))
    with pytest.raises(ValueError, match="'label'.*'int8'"):
        get_source(dict(name="tfrecord", path=str(tmp_path / "train-*"), features={"label": "int8"}))


def test_embedded_sources_split_syntax():
    shapes = get_source(dict(name="shapes", split="val[:4]+val[10:12]", image_size=16))
    assert shapes.num_examples == 6 and not shapes.random_access
    exs = _all(shapes.as_dataset())
    assert len(exs) == 6 and exs[0]["image"].shape == (16, 16, 3)
    assert [int(e["image/id"]) for e in exs][-2:] == [10, 11]
    small = get_source(dict(name="shapes", split="train[:50%]", num_examples=10, keys=("image", "label")))
    assert small.num_examples == 5 and sorted(_all(small.as_dataset())[0]) == ["image", "label"]
    digits = get_source(dict(name="digits", split="val[:5%]"))
    assert digits.num_examples == 10 and len(_all(digits.as_dataset())) == 10
    with pytest.raises(ValueError, match="digits.*'bogus'"):
        get_source(dict(name="digits", split="val", bogus=1))


def test_tfds_prepared_on_disk(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")

    class KvTinyImages(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")
        code_path = None  # defined in a test module: no package resources to look up

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict(
                    {
                        "image": tfds.features.Image(shape=(4, 4, 3)),
                        "label": tfds.features.ClassLabel(num_classes=3),
                    }
                ),
            )

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(10), "test": self._generate_examples(4)}

        def _generate_examples(self, n):
            for i in range(n):
                yield i, {"image": np.full((4, 4, 3), i, np.uint8), "label": i % 3}

    KvTinyImages(data_dir=str(tmp_path)).download_and_prepare()
    src = get_source(dict(name="kv_tiny_images", split="train[:60%]", data_dir=str(tmp_path)))
    assert src.num_examples == 6
    exs = _all(src.as_dataset())
    assert len(exs) == 6 and isinstance(exs[0]["image"], bytes)  # encoded: pp "decode" works
    values = sorted(int(get_preprocess_fn("decode")(e)["image"][0, 0, 0]) for e in exs)
    assert len(set(values)) == 6 and set(values) <= set(range(10))  # TFDS stores examples shuffled
    with pytest.raises(ValueError, match="no split 'validation'"):
        get_source(dict(name="kv_tiny_images", split="validation", data_dir=str(tmp_path)))
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(FileNotFoundError, match="'kv_tiny_images' is not prepared"):
        get_source(dict(name="kv_tiny_images", split="train", data_dir=str(other)))


def test_unknown_name_and_missing_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="does_not_exist"):
        get_source(dict(name="cifar10", split="train", data_dir=str(tmp_path / "does_not_exist")))
    with pytest.raises(ValueError, match=r"Unknown data name 'no_such_dataset_kv'.*imagefolder"):
        get_source(dict(name="no_such_dataset_kv", split="train", data_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="unknown data config keys.*'image_size'"):
        get_source(dict(name="cifar10", split="train", data_dir=str(tmp_path), image_size=3))
