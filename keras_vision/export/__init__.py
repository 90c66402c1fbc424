"""SavedModel export for TF Serving: named signatures with the eval pp in the graph.

`export(model_or_preset_or_workdir, path, ...)` picks the exporter for the model;
`export_classifier`, `export_two_tower` and `export_generation` (PaliGemma / PaLI:
images + prompts -> generated text) are the task-specific entry points. Every
export writes `manifest.json` next to `saved_model.pb` (signatures, pp, source,
versions, parity error against Keras, size on disk). See saved_models/README.md for
serving with TF Serving.
"""

from keras_vision.data.sentencepiece_tokenizer import SentencePieceTextTokenizer
from keras_vision.export.classifier_exporter import ClassifierExporter
from keras_vision.export.classifier_exporter import export_classifier
from keras_vision.export.errors import ExportError
from keras_vision.export.export_model import build_exporter
from keras_vision.export.export_model import export
from keras_vision.export.exporter import Exporter
from keras_vision.export.generation_exporter import GenerationExporter
from keras_vision.export.generation_exporter import PromptTokenizer
from keras_vision.export.generation_exporter import export_generation
from keras_vision.export.manifest import MANIFEST_NAME
from keras_vision.export.manifest import read_manifest
from keras_vision.export.rest import make_rest_request
from keras_vision.export.serving_image_preprocessor import ServingImagePreprocessor
from keras_vision.export.tf_only import run_tf_only_check
from keras_vision.export.tf_only import write_parity_bundle
from keras_vision.export.two_tower_exporter import TwoTowerExporter
from keras_vision.export.two_tower_exporter import export_two_tower
