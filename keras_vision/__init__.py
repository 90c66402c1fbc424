"""keras_vision: big_vision's models and recipes on Keras 3 (JAX first, then TF, torch)."""

import os

# Keras reads the backend once, at its first import; never fall back to ~/.keras/keras.json.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_vision.version import __version__  # noqa: E402

# The model families register their builders and their big_vision converters into the
# lower packages' registries (`keras_vision.convert` sits below the models it converts
# to), so they are imported with the package, as KerasHub does.
from keras_vision import models  # noqa: E402,F401
