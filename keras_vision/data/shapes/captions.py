"""Captions and question/answer pairs describing a shapes scene.

Captions are lower case, without final punctuation, and name objects as
"<a|an> <size> <color> <shape> <position>". Slot k of `texts` always has the same kind
(see `captions`), with the wording drawn from a few templates, so a pipeline can pick a
random caption (augmentation) or a fixed slot (evaluation).
"""

from keras_vision.data.shapes.world import CLASS_NAMES
from keras_vision.data.shapes.world import COLOR_NAMES
from keras_vision.data.shapes.world import PLURALS
from keras_vision.data.shapes.world import POSITION_NAMES
from keras_vision.data.shapes.world import POSITION_PHRASES
from keras_vision.data.shapes.world import SIZE_NAMES

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _a(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def _join(parts):
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _objects(scene):
    """Per object (shape, color, size, zone) names; object 0 is the main object."""
    return [
        dict(shape=CLASS_NAMES[s], color=COLOR_NAMES[c], size=SIZE_NAMES[z], zone=int(p))
        for s, c, z, p in zip(scene["shape"], scene["color"], scene["size"], scene["zone"])
    ]


def _reading_order(objs):
    # Main object first, the others top-to-bottom, left-to-right (then by shape name).
    rest = sorted(objs[1:], key=lambda o: (o["zone"], o["shape"], o["color"], o["size"]))
    return objs[:1] + rest


def _count_phrase(objs):
    counts = {}
    for o in objs:
        counts[o["shape"]] = counts.get(o["shape"], 0) + 1
    parts = [(_a(s) if k == 1 else f"{NUMBER_WORDS[k]} {PLURALS[s]}") for s, k in counts.items()]
    return _join(parts)


def captions(scene, rng, num_texts):
    """`num_texts` captions of a scene; slot kinds cycle through:

    0. every object with size, color and position (main object first);
    1. the main object's shape only, like a zero-shot prompt ("a photo of a circle");
    2. how many objects and of which shapes ("three shapes: two circles and a star");
    3. the main object with size and position ("the largest shape is a red circle at the top");
    4. the objects with colors, without sizes or positions.
    """
    objs = _reading_order(_objects(scene))
    main = objs[0]
    n = len(objs)

    def full():
        parts = [f"{_a(o['size'])} {o['color']} {o['shape']} {POSITION_PHRASES[o['zone']]}" for o in objs]
        lead = ["", "a picture of ", "an image with "][rng.integers(0, 3)]
        return lead + _join(parts)

    def short():
        # Shape only, in the wording of zero-shot prompts ("a photo of a circle").
        return [_a(main["shape"]), "a photo of " + _a(main["shape"]),
                "a picture of " + _a(main["shape"])][rng.integers(0, 3)]

    def count():
        noun = "shape" if n == 1 else "shapes"
        return [f"{NUMBER_WORDS[n]} {noun}: {_count_phrase(objs)}",
                f"{_count_phrase(objs)}",
                f"there {'is' if n == 1 else 'are'} {NUMBER_WORDS[n]} {noun}"
                f": {_count_phrase(objs)}"][rng.integers(0, 3)]

    def main_where():
        what = f"{main['color']} {main['shape']} {POSITION_PHRASES[main['zone']]}"
        return [f"the largest shape is {_a(what)}",
                f"{_a(main['size'])} {what}",
                f"a big {what}"][rng.integers(0, 3)]

    def colors():
        parts = [f"{_a(o['color'])} {o['shape']}" for o in objs]
        return _join(parts) + ["", " on a dark background"][rng.integers(0, 2)]

    kinds = [full, short, count, main_where, colors]
    return [kinds[k % len(kinds)]() for k in range(num_texts)]


def questions_answers(scene, rng, num_questions, num_classes):
    """`num_questions` (question, answer) pairs; answers are one word or a number.

    Slot kinds cycle through: shape of the largest object; how many <shape>s (any class
    of the world, often absent: answer "0"); color of a uniquely named object; position
    of a uniquely named object; total number of shapes; "is there a <shape>?" (yes/no).
    """
    objs = _objects(scene)
    main = objs[0]

    def unique(keys):
        """Objects whose (keys) description picks exactly one object."""
        sig = [tuple(o[k] for k in keys) for o in objs]
        return [o for o, s in zip(objs, sig) if sig.count(s) == 1]

    def largest():
        q = ["what shape is the largest object?", "what is the biggest shape?"][rng.integers(0, 2)]
        return q, main["shape"]

    def how_many():
        present = sorted({o["shape"] for o in objs})
        if rng.integers(0, 2):
            shape = present[rng.integers(0, len(present))]
        else:
            shape = CLASS_NAMES[rng.integers(0, num_classes)]
        k = sum(o["shape"] == shape for o in objs)
        return f"how many {PLURALS[shape]} are there?", str(k)

    def color():
        cands = unique(("size", "shape"))  # never empty: the main object's size is unique
        o = cands[rng.integers(0, len(cands))]
        return f"what color is the {o['size']} {o['shape']}?", o["color"]

    def where():
        cands = unique(("color", "shape"))
        if not cands:  # name the main object by its (unique) size instead
            return f"where is the {main['size']} {main['color']} {main['shape']}?", POSITION_NAMES[main["zone"]]
        o = cands[rng.integers(0, len(cands))]
        return f"where is the {o['color']} {o['shape']}?", POSITION_NAMES[o["zone"]]

    def total():
        return "how many shapes are there?", str(len(objs))

    def is_there():
        shape = CLASS_NAMES[rng.integers(0, num_classes)]
        present = any(o["shape"] == shape for o in objs)
        return f"is there {_a(shape)}?", "yes" if present else "no"

    kinds = [largest, how_many, color, where, total, is_there]
    pairs = [kinds[k % len(kinds)]() for k in range(num_questions)]
    return [q for q, _ in pairs], [a for _, a in pairs]
