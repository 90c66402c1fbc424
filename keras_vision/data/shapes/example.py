"""One shapes example: scene + rendering + captions + questions, as numpy arrays."""

import numpy as np

from keras_vision.data.shapes import captions
from keras_vision.data.shapes import world


def example(index, split="train", **world_kwargs):
    """Example `index` of `split` as a dict of numpy arrays (identical on every machine).

    Args:
        index: int >= 0. Any index is valid; `num_examples(split)` is only the default
            size of the split when it is turned into a dataset.
        split: "train", "val" or "test" (disjoint random streams).
        **world_kwargs: world configuration, see `keras_vision.data.shapes.DEFAULTS`.

    Returns:
        dict, N = number of objects (object 0 is the main, largest object), S = image_size:
        "image" uint8 (S, S, 3); "gray" uint8 (S, S, 1) integer luma of "image";
        "label" int32 () shape class of the main object; "image/id" int32 () = index;
        "texts" str (num_texts,); "questions", "answers" str (num_questions,);
        "objects/count" int32 () = N; "objects/boxes" float32 (N, 4) normalised
        [ymin, xmin, ymax, xmax] of each visible instance mask; "objects/label",
        "objects/color", "objects/size", "objects/position" int32 (N,) (indices into
        CLASS_NAMES, COLOR_NAMES, SIZE_NAMES, POSITION_NAMES); "objects/depth" float32
        (N,) metres; "objects/area" int32 (N,) visible pixels; "semantic" int32 (S, S)
        0 background else 1 + shape class; "instances" int32 (S, S) 0 background else
        1 + object index; "panoptic" int32 (S, S, 2) = stack(semantic, instances);
        "depth" float32 (S, S) metres (objects 1.06-4 m, background floor 5-8 m).

    Example:
    >>> ex = example(0, "train", image_size=32)
    >>> ex["image"].shape, ex["texts"][0]
    """
    cfg = world.make_config(**world_kwargs)
    scene = world.sample_scene(index, split, **cfg)
    out = world.render_scene(scene, **cfg)
    text_rng = world.rng(split, index, 1)
    texts = captions.captions(scene, text_rng, cfg["num_texts"])
    questions, answers = captions.questions_answers(scene, text_rng, cfg["num_questions"], cfg["num_classes"])
    out.update({
        "label": np.int32(scene["shape"][0]),
        "image/id": np.int32(index),
        "texts": np.array(texts, dtype=str),
        "questions": np.array(questions, dtype=str),
        "answers": np.array(answers, dtype=str),
        "objects/count": np.int32(len(scene["shape"])),
        "objects/label": scene["shape"].copy(),
        "objects/color": scene["color"].copy(),
        "objects/size": scene["size"].copy(),
        "objects/position": scene["zone"].copy(),
    })
    return out
