"""Exact integer rasterisation of a shapes scene into image, maps and boxes.

Every pixel decision is an integer comparison (no floating point, no trigonometry at
run time), so a scene renders to the same bytes on every machine. A scene lives in
world units: the image spans [0, WORLD) on both axes. At image size S the centre of
pixel p is at (p + 1/2) * WORLD / S; multiplying every length by 2 S keeps all the
arithmetic in integers: offsets are `(2p + 1) * WORLD - 2 S * centre`.
"""

import numpy as np

WORLD = 4096  # world units per image side

# A unit of shape geometry: vertex tables below are in 1/1024 of an object's radius.
_UNIT = 1024

# Five-pointed star, point up, outer radius 1024, inner 410, shifted down by 98 so its
# vertical extent is symmetric (-926..926). Values are round(r * sin/cos(angle)).
_STAR_OUTER = [(-926, 0), (-218, 974), (926, 602), (926, -602), (-218, -974)]
_STAR_INNER = [(-234, 241), (225, 390), (508, 0), (225, -390), (-234, -241)]

# Heart: two lobes (circles) on top of a downward triangle.
_HEART_LOBE_Y, _HEART_LOBE_X, _HEART_LOBE_R = -384, 460, 520
_HEART_TRIANGLE = [(-150, -968), (-150, 968), (960, 0)]


def _convex(dy, dx, vertices, radius):
    """Pixels inside a convex polygon given in 1/1024 radius units (any orientation)."""
    pts = [((vy * radius) // _UNIT, (vx * radius) // _UNIT) for vy, vx in vertices]
    inside_pos = None
    inside_neg = None
    for (ay, ax), (by, bx) in zip(pts, pts[1:] + pts[:1]):
        cross = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax)
        pos, neg = cross >= 0, cross <= 0
        inside_pos = pos if inside_pos is None else inside_pos & pos
        inside_neg = neg if inside_neg is None else inside_neg & neg
    return inside_pos | inside_neg


def _circle(dy, dx, r):
    return dy * dy + dx * dx <= r * r


def _square(dy, dx, r):
    return np.maximum(np.abs(dy), np.abs(dx)) <= (r * 13) // 16


def _triangle(dy, dx, r):
    # Apex up at -r, base at +7r/8 with half-width r.
    h = r + (r * 7) // 8
    return (dy >= -r) & (dy <= (r * 7) // 8) & (np.abs(dx) * h <= (dy + r) * r)


def _diamond(dy, dx, r):
    return np.abs(dy) + np.abs(dx) <= r


def _cross(dy, dx, r):
    t, arm = (r * 3) // 8, (r * 7) // 8
    ady, adx = np.abs(dy), np.abs(dx)
    return ((adx <= t) & (ady <= arm)) | ((ady <= t) & (adx <= arm))


def _ring(dy, dx, r):
    inner = (r * 9) // 16
    d2 = dy * dy + dx * dx
    return (d2 <= r * r) & (d2 > inner * inner)


def _star(dy, dx, r):
    mask = _convex(dy, dx, _STAR_INNER, r)
    for k in range(5):
        tip = [_STAR_OUTER[k], _STAR_INNER[k], _STAR_INNER[k - 1]]
        mask |= _convex(dy, dx, tip, r)
    return mask


def _heart(dy, dx, r):
    ly, lx, lr = (_HEART_LOBE_Y * r) // _UNIT, (_HEART_LOBE_X * r) // _UNIT, (_HEART_LOBE_R * r) // _UNIT
    mask = _convex(dy, dx, _HEART_TRIANGLE, r)
    mask |= _circle(dy - ly, dx - lx, lr) | _circle(dy - ly, dx + lx, lr)
    return mask


def _frame(dy, dx, r):
    m = np.maximum(np.abs(dy), np.abs(dx))
    return (m <= (r * 13) // 16) & (m > (r * 7) // 16)


def _crescent(dy, dx, r):
    # A disk minus a smaller disk shifted right: the horns point right.
    shift, inner = r // 2, (r * 13) // 16
    return _circle(dy, dx, r) & ~_circle(dy, dx - shift, inner)


# Order is the class order (CLASS_NAMES): the most distinct shapes first, so that a
# world with fewer classes (num_classes=k uses the first k) stays easy.
SHAPE_FNS = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "diamond": _diamond,
    "cross": _cross,
    "ring": _ring,
    "star": _star,
    "heart": _heart,
    "frame": _frame,
    "crescent": _crescent,
}
_SHAPE_LIST = list(SHAPE_FNS.values())

_GRID_CACHE = {}


def _grid(size):
    """Pixel-centre coordinates at image size `size`, in units of WORLD / (2 size)."""
    if size not in _GRID_CACHE:
        c = (2 * np.arange(size, dtype=np.int64) + 1) * WORLD
        _GRID_CACHE[size] = (c[:, None], c[None, :])
    return _GRID_CACHE[size]


def object_masks(shapes, centers, radii, size):
    """Amodal (unoccluded) boolean masks (N, size, size) of objects at image size `size`.

    Args:
        shapes: (N,) int shape indices into SHAPE_FNS.
        centers: (N, 2) int (y, x) centres in world units.
        radii: (N,) int radii in world units.
        size: int, image side in pixels.
    """
    ys, xs = _grid(size)
    scale = 2 * size
    masks = np.zeros((len(shapes), size, size), dtype=bool)
    for k, (s, (cy, cx), r) in enumerate(zip(shapes, centers, radii)):
        masks[k] = _SHAPE_LIST[int(s)](ys - int(cy) * scale, xs - int(cx) * scale, int(r) * scale)
    return masks


def instance_map(masks, depths):
    """Instance ids (S, S) int32: 1 + index of the nearest object covering each pixel.

    Objects are painted far to near (depth descending), so a nearer object occludes a
    farther one wherever they overlap; 0 is background.
    """
    size = masks.shape[-1]
    inst = np.zeros((size, size), dtype=np.int32)
    # Stable order on (-depth, index): ties are impossible (depths are distinct) but
    # the order must not depend on the sort implementation.
    for k in np.lexsort((np.arange(len(depths)), -np.asarray(depths))):
        inst[masks[k]] = k + 1
    return inst


def boxes_from_instances(inst, num_objects):
    """Tight boxes of each visible instance mask, normalised [ymin, xmin, ymax, xmax].

    ymax/xmax are exclusive pixel edges divided by the size, so a mask covering rows
    3..5 of a 32-pixel image gives ymin = 3/32, ymax = 6/32. Invisible objects get zeros.
    """
    size = inst.shape[0]
    ids = np.arange(1, num_objects + 1, dtype=np.int32)[:, None, None]
    vis = inst[None] == ids
    rows, cols = vis.any(axis=2), vis.any(axis=1)
    present = rows.any(axis=1)
    ymin = np.argmax(rows, axis=1)
    ymax = size - np.argmax(rows[:, ::-1], axis=1)
    xmin = np.argmax(cols, axis=1)
    xmax = size - np.argmax(cols[:, ::-1], axis=1)
    boxes = np.stack([ymin, xmin, ymax, xmax], axis=1).astype(np.float32) / np.float32(size)
    boxes[~present] = 0.0
    return boxes, vis.sum(axis=(1, 2)).astype(np.int32)


def background(kind, rgb, size, seed):
    """Background image (S, S, 3) int32 for background `kind` ("plain", "gradient", "checker")."""
    base = np.asarray(rgb, dtype=np.int32)
    img = np.broadcast_to(base, (size, size, 3)).astype(np.int32)
    rows = np.arange(size, dtype=np.int32)
    if kind == "gradient":
        # Brighter towards the bottom (the "floor" is nearer), up to +40.
        img = img + ((40 * (2 * rows + 1)) // (2 * size))[:, None, None]
    elif kind == "checker":
        rng = np.random.default_rng(seed)
        cells = int(rng.integers(3, 7))
        contrast = int(rng.integers(10, 21))
        cell = (rows * cells) // size
        img = img + (((cell[:, None] + cell[None, :]) % 2) * contrast)[:, :, None]
    return img


def background_depth(size):
    """Depth (S, S) float32 of the background: a floor from 8 m (top row) to 5 m (bottom)."""
    rows = np.arange(size, dtype=np.float32)
    d = np.float32(8.0) - np.float32(3.0) * (np.float32(2.0) * rows + np.float32(1.0)) / np.float32(2 * size)
    return np.broadcast_to(d[:, None], (size, size)).astype(np.float32)


def to_gray(image):
    """Integer ITU-R 601 luma (H, W, 1) uint8 of an RGB uint8 image; exact on every machine."""
    img = image.astype(np.int32)
    y = (299 * img[..., 0] + 587 * img[..., 1] + 114 * img[..., 2] + 500) // 1000
    return y.astype(np.uint8)[..., None]
