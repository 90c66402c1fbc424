"""shapes: a procedural world of coloured shapes, the embedded default data set.

Every example is a small scene (1-4 objects by default) of flat coloured shapes on a
dark background, rendered with exact integer arithmetic from a seeded numpy stream, so
example i of a split is byte-identical on every machine, needs no download and serves
every task of the project: classification ("label" = shape of the main, largest object),
image-text ("texts" captions naming shape, colour, size, position and count), VQA
("questions"/"answers"), detection ("objects/boxes", "objects/label"), segmentation
("semantic", "instances", "panoptic"), depth ("depth") and colorization ("gray" ->
"image").

Splits "train", "val" and "test" draw from disjoint random streams; any index >= 0 is
valid and `num_examples(split)` (50_000 / 1_000 / 1_000) is only the default size of the
dataset built from a split.

World arguments (`DEFAULTS`): image_size=32 (16-1024; the same scene at any size),
num_classes=10 (uses CLASS_NAMES[:num_classes]), num_colors=8 (COLOR_NAMES[:k]),
min_objects=1, max_objects=4, background="plain"|"gradient"|"checker", noise=0
(uniform per-pixel integer noise amplitude), color_jitter=12, min_visible=0.6 (the
least visible fraction of any object; the main object keeps >= 0.8), medium_main=0.25
(probability that the main object is medium rather than large; 0 makes the label
easiest), num_texts=5, num_questions=4.

Example:
>>> from keras_vision.data import shapes
>>> ex = shapes.example(0, "train")
>>> ds = shapes.as_tf_dataset("val", image_size=32, keys=("image", "label", "texts"))
"""

from keras_vision.data.shapes.captions import NUMBER_WORDS
from keras_vision.data.shapes.dataset import OBJECT_PAD
from keras_vision.data.shapes.dataset import as_tf_dataset
from keras_vision.data.shapes.dataset import batch
from keras_vision.data.shapes.dataset import clear_cache
from keras_vision.data.shapes.dataset import field_specs
from keras_vision.data.shapes.example import example
from keras_vision.data.shapes.render import to_gray
from keras_vision.data.shapes.world import BACKGROUNDS
from keras_vision.data.shapes.world import CLASS_NAMES
from keras_vision.data.shapes.world import COLOR_NAMES
from keras_vision.data.shapes.world import COLORS
from keras_vision.data.shapes.world import DEFAULTS
from keras_vision.data.shapes.world import NUM_EXAMPLES
from keras_vision.data.shapes.world import PLURALS
from keras_vision.data.shapes.world import POSITION_NAMES
from keras_vision.data.shapes.world import SIZE_NAMES
from keras_vision.data.shapes.world import make_config
from keras_vision.data.shapes.world import render_scene
from keras_vision.data.shapes.world import sample_scene

SPLITS = ("train", "val", "test")
SEMANTIC_NAMES = ["background"] + CLASS_NAMES


def class_names(num_classes=None):
    """Names of the labels of a world with `num_classes` classes (default: all)."""
    k = make_config(**({} if num_classes is None else {"num_classes": num_classes}))["num_classes"]
    return CLASS_NAMES[:k]


def num_examples(split):
    """Default number of examples of `split` ("train" 50_000, "val" 1_000, "test" 1_000)."""
    if split not in NUM_EXAMPLES:
        raise ValueError(f"Unknown shapes split {split!r}; expected one of {list(NUM_EXAMPLES)}.")
    return NUM_EXAMPLES[split]
