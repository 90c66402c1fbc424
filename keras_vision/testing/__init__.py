"""The shared test harness: the standard checks every layer, backbone and task test runs.

`run_layer_test`, `run_backbone_test` and `run_task_test` each run a forward pass on the
current backend (shapes checked), a config round trip (same config and, with the same
weights, the same outputs), a `.keras` save/load and, for Backbones and Tasks, a preset
round trip. The single checks they are made of are exported too, for a family's own tests.
The harness uses only public Keras/KerasHub API and NumPy (no pytest), and raises
`AssertionError` naming what differs.

Example:
    >>> from keras_vision.testing import run_backbone_test
    >>> run_backbone_test(ViTBackbone(**TINY), images, tmp_path)
"""

from keras_vision.testing.checks import assert_config_round_trip
from keras_vision.testing.checks import assert_keras_round_trip
from keras_vision.testing.checks import assert_output_shape
from keras_vision.testing.checks import assert_outputs_close
from keras_vision.testing.checks import assert_preset_round_trip
from keras_vision.testing.checks import assert_same_variable_paths
from keras_vision.testing.checks import copy_weights
from keras_vision.testing.checks import randomize_weights
from keras_vision.testing.checks import to_numpy
from keras_vision.testing.layer_test import run_layer_test
from keras_vision.testing.model_test import run_backbone_test
from keras_vision.testing.model_test import run_task_test

