"""big_vision/TFDS split strings for keras_vision's own sources.

"train", "train[:90%]", "train[90%:]", "val[10:200]", "train[-1000:]", "train[:50%]+val".
Percent boundaries round to the closest example (TFDS's default), so "x[:p%]" and
"x[p%:]" partition x exactly. A bare "[...]" slices the default split.
"""

import re

_PART = re.compile(r"^\s*(?P<name>[^\[\]+]*?)\s*(?:\[(?P<start>[^:\]]*):(?P<stop>[^\]]*)\])?\s*$")
_BOUND = re.compile(r"^\s*(-?\d+)\s*(%?)\s*$")


class SplitPart:
    """One `name[start:stop]` part of a split string (bounds as given, None = open)."""

    def __init__(self, name, start=None, stop=None, text=""):
        self.name, self.start, self.stop, self.text = name, start, stop, text

    @property
    def is_sliced(self):
        return self.start is not None or self.stop is not None

    def bounds(self, n):
        """[lo, hi) of this part in a split of n examples."""
        return _resolve(self.start, n, 0), _resolve(self.stop, n, n)

    def __repr__(self):
        return f"SplitPart({self.text!r})"


def _parse_bound(text, split):
    if text is None or not text.strip():
        return None
    m = _BOUND.match(text)
    if not m:
        raise ValueError(f"Malformed split {split!r}: bound {text!r} is not an int or a percentage like 90%.")
    value, pct = int(m.group(1)), m.group(2) == "%"
    if pct and not -100 <= value <= 100:
        raise ValueError(f"Malformed split {split!r}: {text!r} is outside -100%..100%.")
    return value, pct


def _resolve(bound, n, default):
    if bound is None:
        return default
    value, pct = bound
    if pct:
        value = int(round(value * n / 100.0))
    if value < 0:
        value += n
    return min(max(value, 0), n)


def parse_split(split, default_name=""):
    """'train[:90%]+val' -> [SplitPart('train[:90%]'), SplitPart('val')]."""
    if split is None:
        split = default_name
    if not isinstance(split, str):
        raise ValueError(f"split must be a string like 'train[:90%]', got {split!r}.")
    parts = []
    for text in split.split("+"):
        m = _PART.match(text)
        if not m:
            raise ValueError(
                f"Malformed split {split!r}: part {text!r} should look like 'name', 'name[a:b]' or "
                "'name[a%:b%]'."
            )
        name = m.group("name") or default_name
        if m.group("start") is None:
            start = stop = None
        else:
            start, stop = _parse_bound(m.group("start"), split), _parse_bound(m.group("stop"), split)
        parts.append(SplitPart(name, start, stop, text.strip()))
    return parts
