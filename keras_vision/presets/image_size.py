"""The fixed image size a model takes: what a preset records and an export serves at."""


def _shape_of(obj):
    shape = getattr(obj, "image_shape", None)
    if shape is not None and len(tuple(shape)) == 3 and None not in tuple(shape)[:2]:
        return tuple(int(s) for s in tuple(shape)[:2])
    try:
        shape = obj.input_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    # One image input (B, H, W, C); a multi-input model's list of shapes says nothing here.
    is_one_shape = isinstance(shape, (list, tuple)) and all(d is None or isinstance(d, int) for d in shape)
    if is_one_shape and len(shape) == 4 and None not in shape[1:3]:
        return int(shape[1]), int(shape[2])
    return None


def model_image_size(model):
    """(height, width) of the images `model` (or its backbone / image tower) takes, or
    None when no part of it fixes the size (e.g. `image_shape=(None, None, 3)`)."""
    for obj in (model, getattr(model, "backbone", None), getattr(model, "image_encoder", None)):
        if obj is not None:
            size = _shape_of(obj)
            if size:
                return size
    return None
