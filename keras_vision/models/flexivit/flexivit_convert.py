"""big_vision FlexiViT (and plain ViT) checkpoints -> `FlexiViTBackbone` / `FlexiViTImageClassifier`.

As big_vision's `models/proj/flexi/vit.load`: legacy fixes (`fix_old_checkpoints`),
the position embedding resampled (align-corners, `vit.resample_posemb`) to the model's
stored grid (`posemb_size`, default 7x7) and the patch-embedding kernel PI-resized to
the model's stored patch size. So a released FlexiViT, or any ViT (e.g. ViT-B/16 i21k),
loads into a FlexiViT that then runs at every patch size.
"""

import numpy as np

from keras_vision.convert.registry import register_converter
from keras_vision.layers.pi_resize import resample_patch_kernel
from keras_vision.layers.posemb_utils import resample_posemb_align_corners
from keras_vision.models.flexivit.flexivit_builder import build_flexivit
from keras_vision.models.vit.vit_convert import converter_model_kwargs
from keras_vision.models.vit.vit_convert import load_vit_model_params
from keras_vision.models.vit.vit_convert import prepare_vit_params

KERNEL = "embedding/kernel"
POSEMB = "pos_embedding"


def load_flexivit_params(model, params, dont_load=()):
    """Loads a flat big_vision ViT/FlexiViT param dict into a FlexiViT backbone or classifier.

    The kernel is PI-resized to the model's `base_patch_size` and the position
    embedding resampled (align-corners) to its `posemb_grid_size`; head parameters go
    to a classifier's head.
    """
    params = prepare_vit_params(params)
    backbone = getattr(model, "backbone", model)
    if KERNEL in params:
        params[KERNEL] = resample_patch_kernel(np.asarray(params[KERNEL]), backbone.base_patch_size)
    if POSEMB in params and np.ndim(params[POSEMB]) == 3 and backbone.position_embedding_type == "learn":
        grid = backbone.posemb_grid_size
        if params[POSEMB].shape[1] != grid[0] * grid[1]:
            # big_vision flexi `load`: vit.resample_posemb (align-corners) to the stored grid.
            params[POSEMB] = resample_posemb_align_corners(params[POSEMB], grid)
    return load_vit_model_params(model, params, dont_load=dont_load)


@register_converter("proj.flexi.vit", "flexivit")
def convert_flexivit(params, config=None, image_shape=None, dont_load=(), **kwargs):
    """The "proj.flexi.vit" converter of `keras_vision.convert.load_big_vision`.

    Model kwargs = what the checkpoint shows (sizes, pooling, classes; the stored kernel
    size becomes `patch_size` unless the config sets one) overridden by `config`
    (big_vision `config.model`: variant, patch_size, posemb_size, seqhw, image_size,
    ...). The posemb grid defaults to 7x7 as in big_vision, whatever the checkpoint's.
    Without `image_shape`, an image size in `config` or a `seqhw` (which fixes the token
    grid, so needs a resolution: then big_vision FlexiViT's 240 px), the model takes
    images of any size (image_shape (None, None, C)) at the stored patch size (or
    config's), its position embedding resized to each call's grid as big_vision does.

    Example:
        >>> load_big_vision("flexivit_b_i1k.npz", model="proj.flexi.vit",
        ...                 config=dict(variant="B", pool_type="tok", seqhw=15))
    """
    if kwargs:
        raise ValueError(f"Unknown option(s) {sorted(kwargs)} for the 'proj.flexi.vit' converter; expected dont_load.")
    params = prepare_vit_params(params)
    # A learned posemb grid says nothing about a FlexiViT's resolution.
    kwargs = converter_model_kwargs(
        params, config, image_shape, image_size_from_checkpoint=False,
        any_resolution="seqhw" not in dict(config or {}),
    )
    return load_flexivit_params(build_flexivit(**kwargs), params, dont_load=dont_load)
