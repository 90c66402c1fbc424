"""KerasHub-style presets: a model, its weights and its preprocessing in one folder.

`save_preset(model, dir, metadata, pp=..., class_names=..., tokenizer=...)` writes the
folder (layout in `preset_format`); `from_preset(name_or_dir)` loads it back through
our classes or KerasHub's (`keras_hub.models.Backbone.from_preset(dir)` works too once
the model classes are imported); `list_presets()` lists the per-family tables and the
preset folders found locally (nothing is downloaded). CLI: `keras-vision presets
list|show`, `keras-vision convert` (big_vision .npz -> preset).
"""

from keras_vision.models.flexivit import flexivit_presets
from keras_vision.presets.preset_error import PresetError
from keras_vision.presets.preset_format import check_preset
from keras_vision.presets.preset_format import preset_problems
from keras_vision.presets.preset_loader import from_preset
from keras_vision.presets.preset_loader import load_preprocessing
from keras_vision.presets.preset_loader import load_tokenizer
from keras_vision.presets.preset_loader import preset_summary
from keras_vision.presets.preset_registry import PRESETS
from keras_vision.presets.preset_registry import get_preset
from keras_vision.presets.preset_registry import list_presets
from keras_vision.presets.preset_registry import register_presets
from keras_vision.presets.preset_registry import resolve_preset
from keras_vision.presets.preset_registry import search_paths
from keras_vision.presets.preset_saver import save_preset

# The families' preset tables.
register_presets(flexivit_presets.PRESETS, "flexivit")
