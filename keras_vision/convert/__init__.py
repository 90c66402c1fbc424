"""big_vision checkpoint conversion: generic readers/fixers and the `load_big_vision` dispatcher.

This package sits below the model families: family-specific mappings live in
`keras_vision/models/<family>/<family>_convert.py` and register with
`register_converter(model_name)` when `keras_vision` (its root imports the families) is
imported. ViT-like towers (ViT, FlexiViT, SigLIP image towers) reuse
`keras_vision.models.vit.vit_convert.load_vit_params`.
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
from keras_vision.convert.registry import CONVERTERS
from keras_vision.convert.registry import get_converter
from keras_vision.convert.registry import load_big_vision
from keras_vision.convert.registry import register_converter
from keras_vision.convert.registry import registered_converters
from keras_vision.convert.vit_layout import convert_pre_linen
from keras_vision.convert.vit_layout import fix_legacy_vit
from keras_vision.convert.vit_layout import pyloop_to_scan
from keras_vision.convert.vit_layout import scan_to_pyloop
