"""Loading: one `load_model(spec)` for every kind of model spec, and training workdirs.

A spec is a `keras.Model`, a `.keras` file, a big_vision `.npz`, a training workdir, a
preset folder or name, or a `{"model_name", "model", "init"}` dict (`spec_kind` tells
which). `model_from_config(config)` builds a recipe's model; `load_run(workdir)` a
run's model with a checkpoint's weights; `CheckpointManager` writes and reads those
checkpoints.
"""

from keras_vision.loading.checkpoint_manager import CheckpointManager
from keras_vision.loading.load_model import load_model
from keras_vision.loading.load_model import load_run
from keras_vision.loading.load_model import model_from_config
from keras_vision.loading.model_spec import CONFIG_NAME
from keras_vision.loading.model_spec import ModelSpecError
from keras_vision.loading.model_spec import is_big_vision_checkpoint
from keras_vision.loading.model_spec import is_run_dir
from keras_vision.loading.model_spec import spec_kind
