import logging

import numpy as np
import pytest
import tensorflow as tf

from keras_vision.data import make_pipeline

PP = "decode|resize(8)|flip_lr|value_range(-1, 1)|onehot(3)|keep('image', 'labels', 'image/path')"


def _take(ds, n):
    return [{k: v.numpy() for k, v in b.items()} for _, b in zip(range(n), ds)]


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert sorted(x) == sorted(y)
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def _folder_config(root, split="train"):
    return dict(name="imagefolder", data_dir=str(root), split=split)


def test_random_access_determinism_epochs_and_resume(image_folder):
    cfg = _folder_config(image_folder)
    kw = dict(train=True, seed=3, mixup=dict(p=0.5))
    run = _take(make_pipeline(cfg, PP, 5, **kw), 7)  # 35 examples: ~3 epochs of 12
    _same(run, _take(make_pipeline(cfg, PP, 5, **kw), 7))
    for start in (1, 2, 5):  # inside the first epoch, across epochs
        _same(run[start:], _take(make_pipeline(cfg, PP, 5, start_step=start, **kw), 7 - start))
    other = _take(make_pipeline(cfg, PP, 5, train=True, seed=4, mixup=dict(p=0.5)), 2)
    assert not np.array_equal(other[0]["image/path"], run[0]["image/path"])
    # Without mixup: each epoch is a permutation of the 12 files; epochs differ.
    plain = _take(make_pipeline(cfg, PP, 4, train=True, seed=3), 6)
    paths = np.concatenate([b["image/path"] for b in plain])
    assert sorted(paths[:12]) == sorted(paths[12:24]) and len(set(paths[:12])) == 12
    assert list(paths[:12]) != list(paths[12:24])
    assert plain[0]["image"].shape == (4, 8, 8, 3) and plain[0]["labels"].shape == (4, 3)


def test_stream_source_determinism_and_resume():
    cfg = dict(name="shapes", split="val[:10]", image_size=16, keys=("image", "label"))
    pp = "decode|inception_crop(8)|value_range(-1, 1)|onehot(10)|keep('image', 'labels')"
    kw = dict(train=True, seed=0, shuffle_buffer_size=6)
    run = _take(make_pipeline(cfg, pp, 4, **kw), 6)  # 24 examples over 3 epochs of 10
    tf.random.set_seed(123)  # TF's global seed must not matter
    _same(run, _take(make_pipeline(cfg, pp, 4, **kw), 6))
    for start in (2, 3):
        _same(run[start:], _take(make_pipeline(cfg, pp, 4, start_step=start, **kw), 6 - start))
    assert run[0]["image"].shape == (4, 8, 8, 3)


def test_eval_mode_keeps_order_and_last_batch(image_folder):
    ds = make_pipeline(
        _folder_config(image_folder, "val"), "decode|resize(4)|keep('image', 'image/path')", 4, train=False
    )
    batches = _take(ds, 10)
    assert [len(b["image"]) for b in batches] == [4, 2]
    paths = [p.decode() for b in batches for p in b["image/path"]]
    assert paths == sorted(paths, key=lambda p: (p.split("/")[-2], p)) and len(paths) == 6
    assert ds.num_examples == 6 and ds.source.class_names == ["cat", "dog", "emu"]
    with pytest.raises(ValueError, match="start_step"):
        make_pipeline(_folder_config(image_folder, "val"), "decode", 4, train=False, start_step=3)


def test_contract_example_on_shapes():
    ds = make_pipeline(
        dict(name="shapes", split="train[:16]"),
        "decode|resize(32)|value_range(-1,1)|onehot(10)|keep('image','labels')",
        8,
        train=True,
        seed=0,
        shuffle_buffer_size=1000,
        mixup=dict(p=0.2),
    )
    (b,) = _take(ds, 1)
    assert b["image"].shape == (8, 32, 32, 3) and b["image"].dtype == np.float32
    np.testing.assert_allclose(b["labels"].sum(1), 1, rtol=1e-5)
    assert b["image"].min() >= -1 and b["image"].max() <= 1


def _corrupt_folder(image_folder):
    bad = image_folder / "train" / "dog" / "99_truncated.jpg"
    good = (image_folder / "train" / "dog" / "01.jpg").read_bytes()
    bad.write_bytes(good[: len(good) // 3])
    (image_folder / "train" / "emu" / "98_empty.png").write_bytes(b"")
    (image_folder / "train" / "emu" / "97_text.jpg").write_text("this is not a jpeg")
    return bad


def test_corrupt_file_error_names_the_file(image_folder):
    bad = _corrupt_folder(image_folder)
    cfg = dict(name="imagefolder", data_dir=str(image_folder), split="train")
    ds = make_pipeline(cfg, "decode|resize(4)", 32, train=False)
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        _take(ds, 1)
    msg = str(e.value)
    assert "Cannot decode image file" in msg and "expected a complete JPEG" in msg
    assert any(name in msg for name in (str(bad), "98_empty.png", "97_text.jpg"))


def test_skip_decode_errors_counts_and_logs(image_folder, caplog):
    _corrupt_folder(image_folder)
    cfg = dict(name="imagefolder", data_dir=str(image_folder), split="train")
    with caplog.at_level(logging.WARNING, logger="keras_vision.data.pipeline"):
        ds = make_pipeline(
            cfg, "decode|resize(4)|keep('image', 'image/path')", 32, train=False, skip_decode_errors=True
        )
        (b,) = _take(ds, 5)
    assert len(b["image"]) == 12  # 15 files, 3 undecodable
    assert ds.decode_errors.count == 3
    reasons = dict(ds.decode_errors.recent)
    assert any("truncated JPEG" in r for r in reasons.values())
    assert any(p.endswith("98_empty.png") and "empty" in r for p, r in reasons.items())
    assert "97_text.jpg" in caplog.text
    # Training: skipped files are skipped in every epoch.
    ds = make_pipeline(cfg, "decode|resize(4)", 6, train=True, seed=0, skip_decode_errors=True)
    assert all(b["image"].shape == (6, 4, 4, 3) for b in _take(ds, 5))
    assert ds.decode_errors.count >= 3


def test_missing_path_and_unknown_op(tmp_path, image_folder):
    with pytest.raises(FileNotFoundError, match="no_data_here"):
        make_pipeline(
            dict(name="imagefolder", data_dir=str(tmp_path / "no_data_here")), "decode", 2, train=True
        )
    with pytest.raises(ValueError, match=r"Unknown pp op 'decode_png'.*resize_small"):
        make_pipeline(_folder_config(image_folder), "decode_png|resize(4)", 2, train=True)
    with pytest.raises(ValueError, match="mixup: unknown options"):
        make_pipeline(_folder_config(image_folder), "decode", 2, train=True, mixup=dict(p=0.1, alpha=1))


def test_tokenized_image_text_pipeline(tmp_path, write_image, random_image):
    from tests.conftest import shared_data

    model = shared_data("sentencepiece_test_assets/seqio_t5style_vocab26.model")
    for i in range(4):
        write_image(tmp_path / f"{i}.png", random_image(5, 5, seed=i))
    (tmp_path / "c.csv").write_text(
        "image,caption\n" + "".join(f"{i}.png,a test|the test {i}\n" for i in range(4))
    )
    pp = "decode|resize(4)|value_range(-1, 1)|"
    pp += f"tokenize(6, model='{model}', eos='sticky', pad_value=1)|keep('image', 'labels')"
    cfg = dict(name="image_text_csv", path=str(tmp_path / "c.csv"), text_separator="|")
    a = _take(make_pipeline(cfg, pp, 2, train=True, seed=1), 4)
    _same(a, _take(make_pipeline(cfg, pp, 2, train=True, seed=1), 4))
    _same(a[2:], _take(make_pipeline(cfg, pp, 2, train=True, seed=1, start_step=2), 2))
    assert a[0]["labels"].shape == (2, 6) and (a[0]["labels"][:, -1] == 1).all()


def test_process_sharding_is_disjoint(image_folder):
    cfg = _folder_config(image_folder)
    pp = "keep('image/path')"
    hosts = [
        make_pipeline(cfg, pp, 3, train=True, seed=2, process_index=i, process_count=2) for i in range(2)
    ]
    assert [h.num_examples for h in hosts] == [6, 6]
    epoch = [set(np.concatenate([b["image/path"] for b in _take(h, 2)])) for h in hosts]
    assert not epoch[0] & epoch[1] and len(epoch[0] | epoch[1]) == 12
    resumed = make_pipeline(cfg, pp, 3, train=True, seed=2, process_index=1, process_count=2, start_step=3)
    _same(_take(hosts[1], 5)[3:], _take(resumed, 2))
    with pytest.raises(ValueError, match="process_index"):
        make_pipeline(cfg, pp, 3, train=True, process_index=2, process_count=2)
