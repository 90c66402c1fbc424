"""Base of the SavedModel exporters: archive, model endpoints, manifest, parity check."""

import datetime
import os
import pathlib
import shutil

import keras
import numpy as np
import tensorflow as tf

from keras_vision.api_export import keras_vision_export
from keras_vision.export import manifest as manifest_lib
from keras_vision.export.errors import ExportError
from keras_vision.export.serving_image_preprocessor import ServingImagePreprocessor
from keras_vision.presets.image_size import model_image_size
from keras_vision.version import __version__

JAX_PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


def infer_image_size(model):
    """(height, width) of the images `model` (or its backbone / image tower) takes."""
    size = model_image_size(model)
    if size is None:
        raise ExportError(
            f"Cannot infer the input image size of {type(model).__name__}: pass image_size=(height, width)."
        )
    return size


def check_platforms(platforms):
    platforms = ("cpu",) if platforms is None else tuple(platforms)
    unknown = [p for p in platforms if p not in JAX_PLATFORMS]
    if unknown or not platforms:
        raise ExportError(f"Unknown platform(s) {unknown or platforms}; expected some of {JAX_PLATFORMS}.")
    return platforms


def directory_size(path):
    """Bytes of all files under `path`."""
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


@keras_vision_export("keras_vision.export.Exporter")
class Exporter:
    """Writes a SavedModel with named serving signatures for one Keras model.

    Subclasses (`ClassifierExporter`, `TwoTowerExporter`) add the task's signatures in
    `_build(archive)` and give Keras reference outputs for the parity check. The same
    code exports from the JAX backend (jax2tf, lowered for `platforms`) and from the
    TensorFlow backend (plain TF ops).

    Args:
        model: a built Keras model.
        pp: the recipe's eval pp string; its image ops run inside the graph.
        image_size: (height, width) the model takes (inferred when possible).
        platforms: JAX only: platforms the model graph is lowered for, some of
            ("cpu", "cuda", "rocm", "tpu"); default ("cpu",).
        source: JSON-able description of where the model came from (manifest).
    """

    task = None

    def __init__(self, model, *, pp, image_size=None, platforms=None, source=None):
        if not isinstance(model, keras.Model):
            raise ExportError(f"Expected a keras.Model to export, got {type(model).__name__}.")
        if keras.backend.backend() not in ("jax", "tensorflow"):
            raise ExportError(
                f"SavedModel export runs on the jax and tensorflow backends, not {keras.backend.backend()!r}: "
                "set KERAS_BACKEND=jax (or tensorflow), e.g. `keras-vision --backend jax export ...`."
            )
        self.model = model
        self.image_size = tuple(image_size) if image_size else infer_image_size(model)
        try:
            self.preprocessor = ServingImagePreprocessor(pp, self.image_size)
        except (ValueError, TypeError) as e:
            raise ExportError(str(e)) from None
        self.platforms = check_platforms(platforms)
        self.source = source or {"type": "model", "class": type(model).__name__}
        self.endpoints = {}
        self.descriptions = {}

    # --- hooks ---------------------------------------------------------------------------
    def _tracked(self):
        """Models and tf resources (tokenizers) the archive must track."""
        return [self.model]

    def _build(self, archive):
        raise NotImplementedError

    def sample_inputs(self):
        """{signature: {input name: numpy array}} used for the parity check."""
        raise NotImplementedError

    def reference(self, signature, inputs):
        """Keras outputs of `signature` for `inputs` (numpy)."""
        raise NotImplementedError

    def _task_manifest(self):
        return {}

    # --- building blocks -------------------------------------------------------------------
    def _register(self, name, fn, description):
        self.endpoints[name] = fn
        self.descriptions[name] = description

    def _model_endpoint(self, archive, name, fn, input_signature, description):
        """A model function (Keras ops) as an endpoint; jax2tf-converted on JAX."""
        kwargs = {}
        if keras.backend.backend() == "jax":
            kwargs["jax2tf_kwargs"] = {"native_serialization_platforms": self.platforms}
        endpoint = archive.add_endpoint(name, fn, input_signature=input_signature, **kwargs)
        self._register(name, endpoint, description)
        return endpoint

    def _serving_endpoint(self, archive, name, fn, description):
        """A tf.function with an input_signature (TF pre/post-processing) as an endpoint."""
        fn.get_concrete_function()
        archive.add_endpoint(name, fn)
        self._register(name, fn, description)

    def _model_images(self, images):
        """Keras-side model input for `images` (float32 numpy)."""
        return np.asarray(images, np.float32)

    # --- export --------------------------------------------------------------------------
    def export(self, path, *, verify=True, overwrite=False, verbose=False):
        """Writes the SavedModel and `manifest.json` to `path`; returns the manifest."""
        path = pathlib.Path(path)
        if path.exists() and any(path.iterdir()):
            if not overwrite:
                raise FileExistsError(f"Export path {str(path)!r} is not empty; pass overwrite=True to replace it.")
            if not (path / "saved_model.pb").exists():
                raise FileExistsError(
                    f"Refusing to overwrite {str(path)!r}: it is not empty and holds no saved_model.pb."
                )
            shutil.rmtree(path)
        archive = keras.export.ExportArchive()
        # JAX: every model must be tracked before the first endpoint (each jax2tf endpoint
        # binds the variable list as it is when added).
        for obj in self._tracked():
            archive.track(obj)
        self._build(archive)
        archive.write_out(str(path), verbose=verbose)
        size = directory_size(path)
        manifest = self._manifest(path, size)
        if verify:
            manifest["parity"] = self.measure_parity(path)
        manifest_lib.write_manifest(path, manifest)
        return manifest

    def _manifest(self, path, size):
        backend = keras.backend.backend()
        signatures = {}
        for name, fn in self.endpoints.items():
            spec = manifest_lib.describe_function(fn)
            spec["description"] = self.descriptions[name]
            signatures[name] = spec
        return {
            "format": manifest_lib.FORMAT,
            "task": self.task,
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
            "keras_vision_version": __version__,
            "keras_version": keras.__version__,
            "tensorflow_version": tf.__version__,
            "backend": backend,
            "platforms": list(self.platforms) if backend == "jax" else ["any (TensorFlow ops)"],
            "model_class": f"{type(self.model).__module__}.{type(self.model).__name__}",
            "parameter_count": int(self.model.count_params()),
            "source": self.source,
            "preprocessing": self.preprocessor.describe(),
            **self._task_manifest(),
            "signatures": signatures,
            "serving_default": self.descriptions.get("serving_default"),
            "size_bytes": size,
        }

    def measure_parity(self, path):
        """Runs every signature of the SavedModel at `path` on `sample_inputs()` and
        compares with the Keras model: {signature: {output: max abs error | "exact" | "differs"}}."""
        loaded = tf.saved_model.load(str(path))
        parity = {}
        for name, inputs in self.sample_inputs().items():
            served = loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
            served = {k: v.numpy() for k, v in served.items()}
            parity[name] = manifest_lib.compare_outputs(served, self.reference(name, inputs))
        return parity


def sample_images(image_size, seed=0):
    """Three smooth synthetic uint8 images of different sizes (one larger, one equal,
    one of another aspect ratio than `image_size`), for parity checks and tests."""
    rng = np.random.default_rng(seed)
    h, w = image_size
    sizes = [(h + 9, w + 17), (h, w), (max(h * 2 - 5, 8), max(w // 2 + 3, 8))]
    out = []
    for sh, sw in sizes:
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        c = rng.uniform(0.5, 3.0, size=(3, 2))
        img = np.stack([127.5 + 120 * np.sin(c[i, 0] * yy / sh * 3 + c[i, 1] * xx / sw * 3 + i) for i in range(3)], -1)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def encode_images(images):
    """PNG for all but the first image, which is JPEG: both decoders get exercised."""
    out = []
    for i, img in enumerate(images):
        enc = tf.io.encode_jpeg(img, quality=95) if i == 0 else tf.io.encode_png(img)
        out.append(enc.numpy())
    return np.array(out, dtype=object)
