"""Backend-specific compute. The only package that imports jax / tensorflow / torch
for model compute; everything else calls the dispatchers defined here."""

from keras_vision.backend.contrastive import active_data_parallel_mesh
from keras_vision.backend.contrastive import ring_sigmoid_loss
from keras_vision.backend.normalization import layer_norm
