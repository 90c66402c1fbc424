"""Autoregressive decoding shared by the language-model families: KerasHub samplers over a fixed-size KV cache."""

from keras_vision.decoding.generate import GenerateMixin
from keras_vision.decoding.generate import generate
from keras_vision.decoding.generate import make_decode_fn
from keras_vision.decoding.samplers import SAMPLERS
from keras_vision.decoding.samplers import get_sampler
