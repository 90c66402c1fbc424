"""SavedModel export of image classifiers: bytes / uint8 / [-1, 1] images -> classes."""

import keras
import numpy as np
import tensorflow as tf

from keras_vision.api_export import keras_vision_export
from keras_vision.export import exporter as base
from keras_vision.export.errors import ExportError

ACTIVATIONS = ("softmax", "sigmoid", "none")


def _logits(output):
    if isinstance(output, dict):
        for key in ("logits", "predictions", "outputs"):
            if key in output:
                return output[key]
        raise ExportError(f"The classifier returns a dict with keys {sorted(output)}; expected a 'logits' entry.")
    return output


def infer_num_classes(model, image_size):
    try:
        shape = model.output_shape
        if isinstance(shape, tuple) and len(shape) == 2 and shape[-1]:
            return int(shape[-1])
    except (AttributeError, ValueError, RuntimeError):
        pass
    out = _logits(model(np.zeros((1, *image_size, 3), np.float32), training=False))
    if len(out.shape) != 2:
        raise ExportError(
            f"{type(model).__name__} returns shape {tuple(out.shape)}; a classifier must return "
            "logits of shape (batch, num_classes)."
        )
    return int(out.shape[-1])


@keras_vision_export("keras_vision.export.ClassifierExporter")
class ClassifierExporter(base.Exporter):
    """Exports an image classifier with these signatures (batch size is free in all):

    - `serving_default`: `images` tf.string [B], encoded JPEG/PNG/GIF/BMP/WebP of any size.
    - `predict_images`: `images` uint8 [B, h, w, 3], any h, w.
    - `predict_images_float`: `images` float32 [B, h, w, 3] in [-1, 1], any h, w.
    - `model_logits`: `images` float32 [B, H, W, 3] in [-1, 1] at the model's size, no pp.

    The first three run the eval pp in the graph and return `logits` [B, C],
    `probabilities` [B, C], `top_k_indices` int32 [B, k], `top_k_probabilities`
    [B, k] and `top_k_class_names` tf.string [B, k].

    Args:
        model: classifier returning logits (B, num_classes).
        pp: the eval pp string, e.g. "decode|resize(224)|value_range(-1, 1)".
        class_names: one name per class (default "0", "1", ...).
        image_size: (height, width) the model takes (inferred when possible).
        top_k: how many classes to return per image (at most num_classes).
        activation: "softmax" (default), "sigmoid" (models trained with sigmoid_xent)
            or "none" (probabilities = logits).
        platforms, source: see `Exporter`.

    Example:
    >>> ClassifierExporter(model, pp="resize(32)|value_range(-1, 1)",
    ...     class_names=["circle", "square"]).export("saved_models/shapes/1")
    """

    task = "classification"

    def __init__(self, model, *, pp, class_names=None, image_size=None, top_k=5, activation="softmax",
                 platforms=None, source=None):
        super().__init__(model, pp=pp, image_size=image_size, platforms=platforms, source=source)
        if activation not in ACTIVATIONS:
            raise ExportError(f"Unknown activation {activation!r}; expected one of {ACTIVATIONS}.")
        self.num_classes = infer_num_classes(model, self.image_size)
        if class_names is None:
            class_names = [str(i) for i in range(self.num_classes)]
        class_names = [str(c) for c in class_names]
        if len(class_names) != self.num_classes:
            raise ExportError(
                f"Got {len(class_names)} class names for a model with {self.num_classes} classes; "
                f"expected {self.num_classes} (first given: {class_names[:5]})."
            )
        if int(top_k) < 1:
            raise ExportError(f"top_k must be >= 1, got {top_k!r}.")
        self.class_names = class_names
        self.top_k = min(int(top_k), self.num_classes)
        self.activation = activation

    def _head(self, logits):
        logits = tf.cast(logits, tf.float32)
        if self.activation == "softmax":
            probs = tf.nn.softmax(logits, axis=-1)
        elif self.activation == "sigmoid":
            probs = tf.nn.sigmoid(logits)
        else:
            probs = logits
        top_p, top_i = tf.math.top_k(probs, k=self.top_k)
        return {
            "logits": logits,
            "probabilities": probs,
            "top_k_indices": top_i,
            "top_k_probabilities": top_p,
            "top_k_class_names": tf.gather(tf.constant(self.class_names), top_i),
        }

    def _build(self, archive):
        model = self.model
        h, w = self.image_size

        def model_logits(images):
            return {"logits": keras.ops.cast(_logits(model(images, training=False)), "float32")}

        core = self._model_endpoint(
            archive, "model_logits", model_logits,
            [tf.TensorSpec((None, h, w, 3), tf.float32, name="images")],
            f"Raw model: float32 images in [-1, 1] at {h}x{w} (no pp) -> logits.",
        )
        prep = self.preprocessor

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
        def serving_default(images):
            return self._head(core(prep.from_bytes(images, "serving_default"))["logits"])

        @tf.function(input_signature=[tf.TensorSpec(None, tf.uint8, name="images")])
        def predict_images(images):
            return self._head(core(prep.from_uint8(images, "predict_images"))["logits"])

        @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name="images")])
        def predict_images_float(images):
            return self._head(core(prep.from_unit_range(images, "predict_images_float"))["logits"])

        pp = prep.serving_pp
        self._serving_endpoint(archive, "serving_default", serving_default,
                               f"Encoded images (JPEG/PNG/GIF/BMP/WebP bytes, any size) -> pp '{pp}' -> classes.")
        self._serving_endpoint(archive, "predict_images", predict_images,
                               f"uint8 images [B, h, w, 3], any size -> pp '{pp}' -> classes.")
        self._serving_endpoint(archive, "predict_images_float", predict_images_float,
                               f"float32 images [B, h, w, 3] in [-1, 1], any size -> pp '{pp}' -> classes.")

    def _task_manifest(self):
        return {
            "class_names": self.class_names,
            "num_classes": self.num_classes,
            "top_k": self.top_k,
            "activation": self.activation,
        }

    # --- parity ----------------------------------------------------------------------------
    def sample_inputs(self):
        images = base.sample_images(self.image_size)
        encoded = base.encode_images(images)
        same = np.stack([base.sample_images(self.image_size, seed=s)[0] for s in (1, 2)])
        model_in = self.preprocessor.from_uint8(tf.constant(same), "ref").numpy()
        return {
            "serving_default": {"images": encoded},
            "predict_images": {"images": same},
            "predict_images_float": {"images": same.astype(np.float32) / 127.5 - 1.0},
            "model_logits": {"images": model_in},
        }

    def reference(self, signature, inputs):
        images = inputs["images"]
        prep = self.preprocessor
        if signature == "serving_default":
            x = prep.from_bytes(tf.constant(images), "ref")
        elif signature == "predict_images":
            x = prep.from_uint8(tf.constant(images), "ref")
        elif signature == "predict_images_float":
            x = prep.from_unit_range(tf.constant(images), "ref")
        else:
            x = images
        logits = keras.ops.convert_to_numpy(_logits(self.model(np.asarray(x, np.float32), training=False)))
        if signature == "model_logits":
            return {"logits": logits.astype(np.float32)}
        return {k: v.numpy() for k, v in self._head(tf.constant(logits, tf.float32)).items()}


@keras_vision_export("keras_vision.export.export_classifier")
def export_classifier(model, path, *, pp, class_names=None, image_size=None, top_k=5, activation="softmax",
                      platforms=None, source=None, verify=True, overwrite=False):
    """Exports an image classifier as a SavedModel for TF Serving; returns the manifest.

    Signatures: `serving_default` (encoded image bytes), `predict_images` (uint8, any
    size), `predict_images_float` ([-1, 1], any size), `model_logits` (raw model). See
    `ClassifierExporter` for the arguments; `verify` runs every signature of the written
    SavedModel against Keras and records the error in the manifest.

    Example:
    >>> manifest = keras_vision.export.export_classifier(
    ...     model, "saved_models/vit_shapes/1", pp="resize(32)|value_range(-1, 1)",
    ...     class_names=CLASS_NAMES, platforms=("cpu", "cuda"))
    """
    exporter = ClassifierExporter(model, pp=pp, class_names=class_names, image_size=image_size, top_k=top_k,
                                  activation=activation, platforms=platforms, source=source)
    return exporter.export(path, verify=verify, overwrite=overwrite)
