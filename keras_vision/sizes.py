"""`to_pair` / `pair_key`: the one int-or-(height, width) normalisation of image, patch and crop sizes."""

import numpy as np


def to_pair(size, what="size"):
    """`size` as a (height, width) tuple of positive ints; an int means square.

    Raises:
        ValueError: naming `what` and the bad value.
    """
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    try:
        size = tuple(int(s) for s in size)
    except TypeError:
        raise ValueError(f"{what} must be an int or a (height, width) pair, got {size!r}.") from None
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{what} must be an int or a (height, width) pair of positive ints, got {size!r}.")
    return size


def pair_key(size, what="size"):
    """A dict key for a size: an int for a square one, else the (height, width) pair."""
    h, w = to_pair(size, what)
    return h if h == w else (h, w)
