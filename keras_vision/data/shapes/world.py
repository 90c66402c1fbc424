"""The shapes world: configuration, vocabulary and seeded scene sampling (numpy only).

A scene is drawn from `np.random.default_rng([SEED, split_seed, index, 0])` (PCG64 with
integer draws only), so it is the same on every machine and independent of the image
size it is later rendered at: geometry is sampled in resolution-free world units.
"""

import numpy as np

from keras_vision.data.shapes import render

SEED = 20_240_611  # namespace of this world's random streams
SPLIT_SEEDS = {"train": 1, "val": 2, "test": 3}
NUM_EXAMPLES = {"train": 50_000, "val": 1_000, "test": 1_000}

CLASS_NAMES = list(render.SHAPE_FNS)
PLURALS = {name: name + "s" for name in CLASS_NAMES}
PLURALS["cross"] = "crosses"

# Saturated, well separated colours; `num_colors=k` uses the first k.
COLORS = {
    "red": (215, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 225),
    "yellow": (235, 210, 40),
    "white": (235, 235, 235),
    "purple": (145, 60, 200),
    "orange": (245, 135, 20),
    "cyan": (40, 205, 215),
}
COLOR_NAMES = list(COLORS)
_RGB = np.array(list(COLORS.values()), dtype=np.int32)

SIZE_NAMES = ["small", "medium", "large"]
# Radius ranges per size class, in 1/1024 of the image side (disjoint, so "largest" is
# unambiguous): small ~9-11 %, medium ~14-17 %, large ~21-26 % of the side.
_RADIUS_RANGES = [(92, 113), (143, 174), (215, 266)]

# 3x3 zones, row-major; captions use POSITION_PHRASES, answers POSITION_NAMES.
POSITION_NAMES = [
    "top left", "top", "top right",
    "left", "center", "right",
    "bottom left", "bottom", "bottom right",
]
POSITION_PHRASES = [
    "at the top left", "at the top", "at the top right",
    "on the left", "in the center", "on the right",
    "at the bottom left", "at the bottom", "at the bottom right",
]
# Each zone covers a band of the object's admissible centre range (fractions in 1/1024)
# with dead bands between zones, so the position word is never a coin flip.
_ZONE_BANDS = [(0, 256), (384, 640), (768, 1024)]

BACKGROUNDS = ("plain", "gradient", "checker")
NUM_DEPTH_LEVELS = 48  # object depth = 1 m + level / 16 m, level in 1..48 (1.06-4 m)
_REF_SIZE = 32  # visibility is checked at this size whatever the render size
_MAX_TRIES = 24

DEFAULTS = dict(
    image_size=32,
    num_classes=len(CLASS_NAMES),
    num_colors=len(COLOR_NAMES),
    min_objects=1,
    max_objects=4,
    background="plain",
    noise=0,
    color_jitter=12,
    min_visible=0.6,
    medium_main=0.25,
    num_texts=5,
    num_questions=4,
)


def make_config(**kwargs):
    """Validated world configuration: DEFAULTS updated by `kwargs`, as a plain dict."""
    unknown = sorted(set(kwargs) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown shapes world argument(s) {unknown}; expected some of {sorted(DEFAULTS)}.")
    cfg = dict(DEFAULTS, **kwargs)
    checks = [
        ("image_size", 16 <= cfg["image_size"] <= 1024, "an int in [16, 1024]"),
        ("num_classes", 2 <= cfg["num_classes"] <= len(CLASS_NAMES), f"an int in [2, {len(CLASS_NAMES)}]"),
        ("num_colors", 1 <= cfg["num_colors"] <= len(COLOR_NAMES), f"an int in [1, {len(COLOR_NAMES)}]"),
        ("min_objects", 1 <= cfg["min_objects"], "an int >= 1"),
        ("max_objects", cfg["min_objects"] <= cfg["max_objects"] <= 9, "an int in [min_objects, 9]"),
        ("background", cfg["background"] in BACKGROUNDS, f"one of {BACKGROUNDS}"),
        ("noise", 0 <= cfg["noise"] <= 128, "an int in [0, 128]"),
        ("color_jitter", 0 <= cfg["color_jitter"] <= 20, "an int in [0, 20]"),
        ("min_visible", 0.0 < cfg["min_visible"] <= 1.0, "a float in (0, 1]"),
        ("medium_main", 0.0 <= cfg["medium_main"] <= 1.0, "a float in [0, 1]"),
        ("num_texts", 1 <= cfg["num_texts"], "an int >= 1"),
        ("num_questions", 1 <= cfg["num_questions"], "an int >= 1"),
    ]
    for name, ok, expected in checks:
        if not ok:
            raise ValueError(f"Bad shapes world argument {name}={cfg[name]!r}; expected {expected}.")
    for name in ("image_size", "num_classes", "num_colors", "min_objects", "max_objects", "noise",
                 "color_jitter", "num_texts", "num_questions"):
        cfg[name] = int(cfg[name])
    cfg["min_visible"] = float(cfg["min_visible"])
    cfg["medium_main"] = float(cfg["medium_main"])
    return cfg


def split_seed(split):
    if split not in SPLIT_SEEDS:
        raise ValueError(f"Unknown shapes split {split!r}; expected one of {sorted(SPLIT_SEEDS)}.")
    return SPLIT_SEEDS[split]


def rng(split, index, stream):
    """The random stream `stream` (0 scene, 1 texts, 2 pixels) of example `index`."""
    if index < 0:
        raise ValueError(f"Example index must be >= 0, got {index}.")
    return np.random.default_rng([SEED, split_seed(split), int(index), stream])


def _visible_enough(masks, depths, min_visible, main_min_visible):
    inst = render.instance_map(masks, depths)
    area = masks.sum(axis=(1, 2))
    visible = np.bincount(inst.ravel(), minlength=len(depths) + 1)[1:]
    # Integer-safe comparison of visible / area >= threshold (thresholds in 1/1000).
    need = np.full(len(depths), int(round(min_visible * 1000)))
    need[0] = max(need[0], int(round(main_min_visible * 1000)))
    return bool(np.all(visible * 1000 >= need * area) and np.all(area > 0))


def sample_scene(index, split="train", **world_kwargs):
    """Scene description of example `index` of `split`: a dict of numpy arrays.

    Object 0 is the main object: the only one of its size class (large, or medium with
    probability `medium_main`, then the others are all small) and strictly larger than
    every other object; the example's label is its shape.

    Returns:
        dict with "shape", "color", "size", "zone", "depth_level" (N,) int32, "radius"
        (N,) int32 and "center" (N, 2) int32 (y, x) in world units, "rgb" (N, 3) int32,
        "background_rgb" (3,) int32, "background" str and "pixel_seed" int.
    """
    cfg = make_config(**world_kwargs)
    r = rng(split, index, 0)
    n = int(r.integers(cfg["min_objects"], cfg["max_objects"] + 1))
    main_size = 1 if r.integers(0, 1000) < round(cfg["medium_main"] * 1000) else 2
    levels = r.permutation(NUM_DEPTH_LEVELS)[:n] + 1  # distinct depths
    objs = {k: [] for k in ("shape", "color", "size", "zone", "radius", "center", "rgb")}
    accepted_masks = np.zeros((0, _REF_SIZE, _REF_SIZE), dtype=bool)
    for k in range(n):
        for _ in range(_MAX_TRIES):
            size = main_size if k == 0 else int(r.integers(0, main_size))
            lo, hi = _RADIUS_RANGES[size]
            rad = int(r.integers(lo, hi + 1)) * render.WORLD // 1024
            zone = (int(r.integers(0, 3)), int(r.integers(0, 3)))
            center = []
            for z in zone:
                blo, bhi = _ZONE_BANDS[z]
                u = int(r.integers(blo, bhi + 1))
                center.append(rad + (u * (render.WORLD - 2 * rad)) // 1024)
            shape = int(r.integers(0, cfg["num_classes"]))
            color = int(r.integers(0, cfg["num_colors"]))
            jitter = r.integers(-cfg["color_jitter"], cfg["color_jitter"] + 1, size=3)
            mask = render.object_masks([shape], [center], [rad], _REF_SIZE)
            masks = np.concatenate([accepted_masks, mask])
            if _visible_enough(masks, levels[: k + 1], cfg["min_visible"], 0.8):
                break
        else:
            break  # the scene is full: keep the objects placed so far
        accepted_masks = masks
        for key, value in zip(objs, (shape, color, size, zone[0] * 3 + zone[1], rad, center,
                                     np.clip(_RGB[color] + jitter, 0, 255))):
            objs[key].append(value)
    n = len(objs["shape"])
    bg_level = int(r.integers(15, 76))
    scene = {key: np.asarray(v, dtype=np.int32) for key, v in objs.items()}
    scene["depth_level"] = np.asarray(levels[:n], dtype=np.int32)
    scene["background_rgb"] = np.clip(bg_level + r.integers(-6, 7, size=3), 0, 255).astype(np.int32)
    scene["background"] = cfg["background"]
    scene["pixel_seed"] = int(r.integers(0, 2**31))
    return scene


def render_scene(scene, **world_kwargs):
    """Renders a scene at `image_size`: image, gray, maps, depth, boxes (numpy)."""
    cfg = make_config(**world_kwargs)
    size = cfg["image_size"]
    n = len(scene["shape"])
    masks = render.object_masks(scene["shape"], scene["center"], scene["radius"], size)
    inst = render.instance_map(masks, scene["depth_level"])
    boxes, area = render.boxes_from_instances(inst, n)

    bg = render.background(scene["background"], scene["background_rgb"], size, scene["pixel_seed"])
    colors = np.concatenate([np.zeros((1, 3), np.int32), scene["rgb"].reshape(n, 3)])
    img = np.where(inst[..., None] > 0, colors[inst], bg)
    if cfg["noise"]:
        pr = np.random.default_rng([SEED, scene["pixel_seed"], size, 2])
        img = img + pr.integers(-cfg["noise"], cfg["noise"] + 1, size=img.shape)
    image = np.clip(img, 0, 255).astype(np.uint8)

    sem_lut = np.concatenate([[0], scene["shape"] + 1]).astype(np.int32)
    semantic = sem_lut[inst]
    obj_depth = np.float32(1.0) + scene["depth_level"].astype(np.float32) / np.float32(16.0)
    depth = np.where(inst > 0, np.concatenate([[np.float32(0)], obj_depth])[inst],
                     render.background_depth(size)).astype(np.float32)
    return {
        "image": image,
        "gray": render.to_gray(image),
        "semantic": semantic,
        "instances": inst,
        "panoptic": np.stack([semantic, inst], axis=-1),
        "depth": depth,
        "objects/boxes": boxes,
        "objects/area": area,
        "objects/depth": obj_depth.astype(np.float32),
    }
