"""big_vision checkpoint conversion: generic readers/fixers and the `load_big_vision` dispatcher.

Family-specific mappings live in `keras_vision/models/<family>/<family>_convert.py` and
register with `register_converter(model_name)`. ViT-like towers (ViT, FlexiViT, SigLIP
image towers) reuse `keras_vision.models.vit.vit_convert.load_vit_params`, also
available here as `keras_vision.convert.load_vit_params`.
"""

from keras_vision.convert.assign import assign_params
from keras_vision.convert.assign import drop_matching
from keras_vision.convert.assign import variables_by_path
from keras_vision.convert.checkpoint import ConversionError
from keras_vision.convert.checkpoint import flatten_params
from keras_vision.convert.checkpoint import read_checkpoint
from keras_vision.convert.checkpoint import recover_dtype
from keras_vision.convert.checkpoint import select_prefix
from keras_vision.convert.checkpoint import strip_default_prefix
from keras_vision.convert.checkpoint import unflatten_params
from keras_vision.convert.registry import get_converter
from keras_vision.convert.registry import load_big_vision
from keras_vision.convert.registry import register_converter
from keras_vision.convert.registry import registered_converters
from keras_vision.convert.vit_layout import convert_pre_linen
from keras_vision.convert.vit_layout import fix_legacy_vit
from keras_vision.convert.vit_layout import pyloop_to_scan
from keras_vision.convert.vit_layout import scan_to_pyloop

_LAZY = {
    "load_vit_params": "keras_vision.models.vit.vit_convert",
    "prepare_vit_params": "keras_vision.models.vit.vit_convert",
    "infer_vit_kwargs": "keras_vision.models.vit.vit_convert",
}


def __getattr__(name):
    # The ViT mapping lives with the ViT family (it imports keras_vision.convert).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_vision.convert' has no attribute {name!r}")
