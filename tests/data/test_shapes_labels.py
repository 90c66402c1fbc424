"""shapes world: every annotation agrees with the pixels and with the other annotations."""

import re

import numpy as np
import pytest

from keras_vision.data import shapes
from keras_vision.data.shapes import render

CONFIGS = [
    dict(),
    dict(image_size=48, max_objects=6, background="gradient", num_texts=7, num_questions=6),
    dict(image_size=40, num_classes=5, num_colors=4, background="checker", noise=6),
]
CASES = [(split, i, kw) for kw in CONFIGS for split in ("train", "val") for i in range(25)]


def _cases():
    for split, i, kw in CASES:
        yield split, i, kw, shapes.example(i, split, **kw), shapes.sample_scene(i, split, **kw)


def test_boxes_are_instance_mask_extents_inside_the_object_extent():
    for split, i, kw, ex, scene in _cases():
        size = ex["image"].shape[0]
        n = int(ex["objects/count"])
        for k in range(n):
            ys, xs = np.nonzero(ex["instances"] == k + 1)
            assert len(ys) == ex["objects/area"][k] > 0, (split, i, k)
            box_px = np.round(ex["objects/boxes"][k] * size).astype(int)
            np.testing.assert_array_equal(box_px, [ys.min(), xs.min(), ys.max() + 1, xs.max() + 1])
            # Independent of the renderer: inside centre +- radius, in pixels.
            (cy, cx), r = scene["center"][k] * size / render.WORLD, scene["radius"][k] * size / render.WORLD
            assert box_px[0] >= np.floor(cy - r) and box_px[2] <= np.ceil(cy + r)
            assert box_px[1] >= np.floor(cx - r) and box_px[3] <= np.ceil(cx + r)
        assert set(np.unique(ex["instances"])) <= set(range(n + 1))


def test_semantic_panoptic_and_label_agree_with_instances():
    for split, i, kw, ex, scene in _cases():
        inst = ex["instances"]
        lut = np.concatenate([[0], ex["objects/label"] + 1])
        np.testing.assert_array_equal(ex["semantic"], lut[inst])
        np.testing.assert_array_equal(ex["panoptic"][..., 0], ex["semantic"])
        np.testing.assert_array_equal(ex["panoptic"][..., 1], inst)
        # The label is the shape of the main object: the only one of the biggest size class.
        sizes = ex["objects/size"]
        assert int(ex["label"]) == ex["objects/label"][0]
        assert sizes[0] >= 1 and np.all(sizes[1:] < sizes[0])
        assert np.all(scene["radius"][1:] < scene["radius"][0])


def test_depth_ordering_consistent_with_occlusion():
    for split, i, kw, ex, scene in _cases():
        size = ex["image"].shape[0]
        amodal = render.object_masks(scene["shape"], scene["center"], scene["radius"], size)
        obj_depth = ex["objects/depth"]
        stacked = np.where(amodal, obj_depth[:, None, None], np.inf)
        nearest = np.where(amodal.any(0), np.argmin(stacked, axis=0) + 1, 0)
        np.testing.assert_array_equal(ex["instances"], nearest)
        fg = ex["instances"] > 0
        np.testing.assert_array_equal(ex["depth"][fg], obj_depth[ex["instances"][fg] - 1])
        assert ex["depth"][~fg].min() >= 5.0 > obj_depth.max()
        assert len(set(obj_depth.tolist())) == len(obj_depth)
        # Every object stays mostly visible (the main object at least 80 % at 32 px).
        if size == 32:
            vis = ex["objects/area"] / amodal.sum(axis=(1, 2))
            assert vis[0] >= 0.8 and vis.min() >= 0.6


def test_pixels_have_the_object_colors_and_gray_is_luma():
    for split, i, kw, ex, scene in _cases():
        img = ex["image"].astype(int)
        jitter = shapes.DEFAULTS["color_jitter"] + kw.get("noise", 0)
        for k, c in enumerate(ex["objects/color"]):
            rgb = np.array(shapes.COLORS[shapes.COLOR_NAMES[c]])
            pix = img[ex["instances"] == k + 1]
            assert np.abs(pix - rgb).max() <= jitter, (split, i, k)
        luma = (299 * img[..., 0] + 587 * img[..., 1] + 114 * img[..., 2] + 500) // 1000
        np.testing.assert_array_equal(ex["gray"][..., 0], luma)
        # Background is dark, so objects stand out.
        assert img[ex["instances"] == 0].mean() < 120


def _words(text):
    return re.findall(r"[a-z]+", text)


def test_captions_name_the_objects_their_colors_sizes_positions_and_count():
    for split, i, kw, ex, scene in _cases():
        texts = [str(t) for t in ex["texts"]]
        n = int(ex["objects/count"])
        names = [shapes.CLASS_NAMES[s] for s in ex["objects/label"]]
        colors = [shapes.COLOR_NAMES[c] for c in ex["objects/color"]]
        size_words = [shapes.SIZE_NAMES[s] for s in ex["objects/size"]]
        pos = [shapes.POSITION_NAMES[p] for p in ex["objects/position"]]
        full = texts[0]
        if len(texts) > 6:  # slot kinds cycle: 5 is "full" again, 6 "short"
            assert texts[6].endswith(f" {names[0]}") and texts[5].count(",") == full.count(",")
        for k in range(n):
            assert f"{size_words[k]} {colors[k]} {names[k]}" in full, (full, k)
            assert pos[k] in full
        # Shapes and colors that are absent are never named.
        words = set(_words(" ".join(texts)))
        for s in shapes.CLASS_NAMES:
            if s not in names:
                assert s not in words and shapes.PLURALS[s] not in words, (s, texts)
        for c in shapes.COLOR_NAMES:
            assert (c in words) == (c in colors), (c, texts)
        assert full.count(",") + full.count(" and ") == n - 1
        # Slot 1 reads like a zero-shot prompt: "a photo of a circle".
        assert re.fullmatch(rf"(a photo of |a picture of )?an? {names[0]}", texts[1]), texts[1]
        # The count caption names each shape with its multiplicity.
        for s in set(names):
            k = names.count(s)
            word = shapes.PLURALS[s] if k > 1 else s
            assert word in _words(texts[2]) and (k == 1 or shapes.NUMBER_WORDS[k] in _words(texts[2]))
        assert pos[0] in texts[3] and f"{colors[0]} {names[0]}" in texts[3]
        assert texts[4].split(" on a ")[0].count(" and ") == (n > 1)


def test_answers_are_correct():
    seen = set()
    for split, i, kw, ex, scene in _cases():
        names = [shapes.CLASS_NAMES[s] for s in ex["objects/label"]]
        colors = [shapes.COLOR_NAMES[c] for c in ex["objects/color"]]
        sizes = [shapes.SIZE_NAMES[s] for s in ex["objects/size"]]
        pos = [shapes.POSITION_NAMES[p] for p in ex["objects/position"]]
        for q, a in zip(ex["questions"], ex["answers"]):
            q, a = str(q), str(a)
            if m := re.fullmatch(r"(what shape is the largest object|what is the biggest shape)\?", q):
                seen.add("largest")
                assert a == names[0]
            elif m := re.fullmatch(r"how many (\w+) are there\?", q):
                seen.add("count")
                target = m.group(1)
                expect = len(names) if target == "shapes" else sum(shapes.PLURALS[s] == target for s in names)
                assert a == str(expect), (q, a, names)
            elif m := re.fullmatch(r"what color is the (\w+) (\w+)\?", q):
                seen.add("color")
                hits = [k for k in range(len(names)) if (sizes[k], names[k]) == m.groups()]
                assert len(hits) == 1 and a == colors[hits[0]], (q, a)
            elif m := re.fullmatch(r"where is the (?:(\w+) )?(\w+) (\w+)\?", q):
                seen.add("where")
                size, color, shape = m.groups()
                hits = [k for k in range(len(names)) if (colors[k], names[k]) == (color, shape)
                        and (size is None or sizes[k] == size)]
                assert len(hits) == 1 and a == pos[hits[0]], (q, a)
            elif m := re.fullmatch(r"is there an? (\w+)\?", q):
                seen.add("is there")
                assert a == ("yes" if m.group(1) in names else "no"), (q, a)
            else:
                pytest.fail(f"unexpected question {q!r}")
    assert seen == {"largest", "count", "color", "where", "is there"}
