"""Fixed-length batches of shapes examples and their tf.data wrapper (with a memory cache)."""

import collections
import threading

import numpy as np
import tensorflow as tf

from keras_vision.data.shapes import world
from keras_vision.data.shapes.example import example

CHUNK = 500  # examples generated (and cached) together
CACHE_BYTES = 384 * 2**20  # in-memory cache budget for generated chunks, all worlds together

# Padding value of each per-object field beyond objects/count.
OBJECT_PAD = {
    "objects/boxes": 0.0,
    "objects/label": -1,
    "objects/color": -1,
    "objects/size": -1,
    "objects/position": -1,
    "objects/depth": 0.0,
    "objects/area": 0,
}

_lock = threading.Lock()
_cache = collections.OrderedDict()
_cache_bytes = 0


def field_specs(cfg):
    """{key: (shape, numpy dtype)} of one fixed-length example of world `cfg`."""
    s, m = cfg["image_size"], cfg["max_objects"]
    return {
        "image": ((s, s, 3), np.uint8),
        "gray": ((s, s, 1), np.uint8),
        "label": ((), np.int32),
        "image/id": ((), np.int32),
        "texts": ((cfg["num_texts"],), object),
        "questions": ((cfg["num_questions"],), object),
        "answers": ((cfg["num_questions"],), object),
        "objects/count": ((), np.int32),
        "objects/boxes": ((m, 4), np.float32),
        "objects/label": ((m,), np.int32),
        "objects/color": ((m,), np.int32),
        "objects/size": ((m,), np.int32),
        "objects/position": ((m,), np.int32),
        "objects/depth": ((m,), np.float32),
        "objects/area": ((m,), np.int32),
        "semantic": ((s, s), np.int32),
        "instances": ((s, s), np.int32),
        "panoptic": ((s, s, 2), np.int32),
        "depth": ((s, s), np.float32),
    }


def select_keys(cfg, keys):
    specs = field_specs(cfg)
    if keys is None:
        return specs
    unknown = [k for k in keys if k not in specs]
    if unknown:
        raise ValueError(f"Unknown shapes field(s) {unknown}; expected some of {list(specs)}.")
    return {k: specs[k] for k in keys}


def _generate(split, start, stop, cfg, keys):
    specs = select_keys(cfg, keys)
    out = {k: np.zeros((stop - start,) + shape, dtype=dt) for k, (shape, dt) in specs.items()}
    for k, pad in OBJECT_PAD.items():
        if k in out:
            out[k][...] = pad
    for j, i in enumerate(range(start, stop)):
        ex = example(i, split, **cfg)
        for k in specs:
            v = ex[k]
            if k.startswith("objects/") and k != "objects/count":
                out[k][j, : len(v)] = v
            elif specs[k][1] is object:
                out[k][j] = [t.encode("utf-8") for t in v]
            else:
                out[k][j] = v
    return out


def _nbytes(arrays):
    return sum(a.nbytes if a.dtype != object else sum(len(b) + 50 for b in a.ravel()) for a in arrays.values())


def batch(split, start, stop, keys=None, **world_kwargs):
    """Examples [start, stop) of `split` as fixed-length stacked numpy arrays.

    Per-object fields are padded to `max_objects` with OBJECT_PAD (labels -1, boxes 0);
    `objects/count` says how many are real. Strings are UTF-8 `bytes` (dtype object).
    Chunks of CHUNK examples are cached in memory (LRU, CACHE_BYTES in total).
    """
    cfg = world.make_config(**world_kwargs)
    world.split_seed(split)
    with _lock:  # tf.data may call this from several threads
        return _batch(split, start, stop, cfg, keys)


def _batch(split, start, stop, cfg, keys):
    global _cache_bytes
    key_fields = tuple(select_keys(cfg, keys))
    cfg_key = tuple(sorted(cfg.items()))
    parts = []
    for c in range(start // CHUNK, (stop - 1) // CHUNK + 1 if stop > start else start // CHUNK):
        lo, hi = max(start - c * CHUNK, 0), min(stop - c * CHUNK, CHUNK)
        ck = (split, cfg_key, key_fields, c)
        chunk, size = _cache.pop(ck, (None, 0))
        _cache_bytes -= size
        have = 0 if chunk is None else len(chunk[key_fields[0]])
        if have < hi:  # generate only the missing tail of this chunk
            tail = _generate(split, c * CHUNK + have, c * CHUNK + hi, cfg, key_fields)
            chunk = tail if chunk is None else {k: np.concatenate([chunk[k], tail[k]]) for k in chunk}
            size = _nbytes(chunk)
        if size <= CACHE_BYTES:
            _cache[ck] = (chunk, size)
            _cache_bytes += size
            while _cache_bytes > CACHE_BYTES:
                _, (_, old_size) = _cache.popitem(last=False)
                _cache_bytes -= old_size
        parts.append({k: v[lo:hi] for k, v in chunk.items()})
    if not parts:
        specs = select_keys(cfg, keys)
        return {k: np.zeros((0,) + shape, dtype=dt) for k, (shape, dt) in specs.items()}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def clear_cache():
    """Drops every cached chunk."""
    global _cache_bytes
    with _lock:
        _cache.clear()
        _cache_bytes = 0


def as_tf_dataset(split="train", num_examples=None, *, start=0, keys=None, **world_kwargs):
    """tf.data.Dataset of fixed-length example dicts, in index order start, start+1, ...

    See `keras_vision.data.shapes` for the fields; strings are tf.string, per-object
    fields padded to `max_objects`. Examples are generated lazily CHUNK at a time.
    """
    cfg = world.make_config(**world_kwargs)
    n = world.NUM_EXAMPLES[split] if num_examples is None and split in world.SPLIT_SEEDS else num_examples
    world.split_seed(split)
    if n is None or n < 0:
        raise ValueError(f"num_examples must be >= 0, got {num_examples!r}.")
    specs = select_keys(cfg, keys)
    tf_dtypes = {np.uint8: tf.uint8, np.int32: tf.int32, np.float32: tf.float32, object: tf.string}
    signature = {k: tf.TensorSpec((None,) + shape, tf_dtypes[dt]) for k, (shape, dt) in specs.items()}
    stop = start + n

    def chunks():
        for c0 in range(start, stop, CHUNK):
            yield batch(split, c0, min(c0 + CHUNK, stop), keys=keys, **cfg)

    ds = tf.data.Dataset.from_generator(chunks, output_signature=signature).unbatch()
    return ds.apply(tf.data.experimental.assert_cardinality(n))
