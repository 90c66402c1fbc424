"""keras_vision: big_vision's models and recipes on Keras 3 (JAX first, then TF, torch)."""

import os

# Keras reads the backend once, at its first import; never fall back to ~/.keras/keras.json.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
