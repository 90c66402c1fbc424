"""SavedModel export of image-text two-tower models (SigLIP, LiT, CLIP)."""

import keras
import numpy as np
import tensorflow as tf

from keras_vision.api_export import keras_vision_export
from keras_vision.data.ops_text import tokenize_settings
from keras_vision.data.sentencepiece_tokenizer import SentencePieceTextTokenizer
from keras_vision.export import exporter as base
from keras_vision.export.errors import ExportError

ACTIVATIONS = ("sigmoid", "softmax", "none")
SAMPLE_TEXTS = (
    "a red circle",
    "A photo of a BLUE square on a white background, with many more words than fit in the text length",
    "",
    "ünïcödé tëxt",
)
SAMPLE_CLASSES = ("circle", "square", "small green triangle")


def _scalar(variable):
    return float(np.asarray(keras.ops.convert_to_numpy(variable), np.float64).reshape(-1)[0])


def tokenizer_kwargs_from_pp(text_pp):
    """The settings of the `tokenize(...)` op of a big_vision text pp string (the training
    op's defaults filled in: `keras_vision.data.ops_text.tokenize_settings`) as tokenizer
    kwargs, "model" included."""
    try:
        return tokenize_settings(text_pp)
    except ValueError as e:
        raise ExportError(str(e)) from None


def _text_length(model):
    encoder = getattr(model, "text_encoder", None)
    try:
        shape = encoder.input_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(shape, tuple) and len(shape) == 2 and shape[1]:
        return int(shape[1])
    return None


def _vocab_size(model):
    encoder = getattr(model, "text_encoder", None)
    for attr in ("vocabulary_size", "vocab_size"):
        value = getattr(encoder, attr, None)
        if isinstance(value, int):
            return value
    return None


@keras_vision_export("keras_vision.export.TwoTowerExporter")
class TwoTowerExporter(base.Exporter):
    """Exports an image-text model with these signatures (batch size free in all):

    - `embed_images`: `images` tf.string [B] encoded images -> `embeddings` [B, D].
    - `embed_images_uint8`: `images` uint8 [B, h, w, 3], any size -> `embeddings`.
    - `embed_texts`: `texts` tf.string [B] -> `embeddings` [B, D], `token_ids` [B, L]
      (SentencePiece in the graph, big_vision `tokenize` semantics).
    - `zero_shot`: `images` tf.string [N] + `class_names` tf.string [C] -> `logits`,
      `probabilities` [N, C], `top_k_indices` / `top_k_probabilities` /
      `top_k_class_names` [N, min(k, C)]. Class texts are `prompt_templates` filled
      with each name; their embeddings are averaged and re-normalised.
    - `serving_default`: zero-shot over the export's `class_names` when given
      (input `images` only), else `embed_images`.
    - `model_encode_images` / `model_encode_texts`: the raw towers, no pp.

    The model needs `encode_image(images)`, `encode_text(token_ids)` (L2-normalised
    embeddings) and big_vision's log-temperature `t` and optional bias `b`
    (`keras_vision.models.TwoTowerModel`); logits = zimg @ ztxt.T * exp(t) + b.

    Args:
        model: the two-tower model.
        pp: image eval pp string, e.g. "resize(224)|value_range(-1, 1)".
        tokenizer: a `SentencePieceTextTokenizer`, or a SentencePiece model (path /
            bytes) built into one with `text_kwargs`.
        text_kwargs: max_len (default: the text tower's input length), eos
            ("sticky"), lower (True), pad_value (0), add_bos (False).
        class_names: optional default classes for `serving_default`.
        prompt_templates: strings with one "{}" each (default ("{}",)).
        activation: "sigmoid" (default with a bias b: SigLIP), "softmax" (default
            without: CLIP/LiT) or "none".
        top_k, image_size, platforms, source: see `ClassifierExporter` / `Exporter`.

    Example:
    >>> TwoTowerExporter(model, pp="resize(32)|value_range(-1, 1)", tokenizer="spm.model",
    ...     text_kwargs=dict(max_len=16, pad_value=1)).export("saved_models/siglip/1")
    """

    task = "two_tower"

    def __init__(self, model, *, pp, tokenizer, text_kwargs=None, class_names=None, prompt_templates=("{}",),
                 activation=None, top_k=5, image_size=None, platforms=None, source=None):
        for method in ("encode_image", "encode_text"):
            if not callable(getattr(model, method, None)):
                raise ExportError(
                    f"{type(model).__name__} has no {method}(); a two-tower export needs encode_image and encode_text."
                )
        if image_size is None:
            image_size = base.infer_image_size(getattr(model, "image_encoder", None) or model)
        super().__init__(model, pp=pp, image_size=image_size, platforms=platforms, source=source)
        self.tokenizer = self._make_tokenizer(tokenizer, dict(text_kwargs or {}))
        vocab = _vocab_size(model)
        if vocab is not None and self.tokenizer.vocab_size > vocab:
            raise ExportError(
                f"The tokenizer has {self.tokenizer.vocab_size} pieces but the text tower's vocabulary is "
                f"{vocab}: wrong SentencePiece model for this checkpoint?"
            )
        if getattr(model, "t", None) is None:
            raise ExportError(f"{type(model).__name__} has no log-temperature `t` (big_vision's name).")
        self.scale = float(np.exp(_scalar(model.t)))
        self.bias = None if getattr(model, "b", None) is None else _scalar(model.b)
        activation = activation or ("sigmoid" if self.bias is not None else "softmax")
        if activation not in ACTIVATIONS:
            raise ExportError(f"Unknown activation {activation!r}; expected one of {ACTIVATIONS}.")
        self.activation = activation
        templates = tuple(prompt_templates)
        bad = [t for t in templates if not isinstance(t, str) or t.count("{}") != 1]
        if bad or not templates:
            raise ExportError(f"Each prompt template needs exactly one '{{}}'; got {bad or templates!r}.")
        self.prompt_templates = templates
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        if self.class_names is not None and not self.class_names:
            raise ExportError("class_names is empty; give at least one class or None.")
        if int(top_k) < 1:
            raise ExportError(f"top_k must be >= 1, got {top_k!r}.")
        self.top_k = int(top_k)

    def _make_tokenizer(self, tokenizer, text_kwargs):
        if isinstance(tokenizer, SentencePieceTextTokenizer):
            if text_kwargs:
                raise ExportError("Pass text_kwargs only with a SentencePiece model, not a built tokenizer.")
            tok = tokenizer
        else:
            if tokenizer is None:
                raise ExportError("A two-tower export needs tokenizer= (SentencePiece model path or bytes).")
            text_kwargs.pop("model", None)
            max_len = text_kwargs.pop("max_len", None) or _text_length(self.model)
            if max_len is None:
                raise ExportError("Cannot infer the text length of the text tower: pass text_kwargs={'max_len': L}.")
            try:
                tok = SentencePieceTextTokenizer(tokenizer, max_len, **text_kwargs)
            except TypeError as e:
                raise ExportError(f"Bad text_kwargs {text_kwargs}: {e}") from None
        expected = _text_length(self.model)
        if expected is not None and expected != tok.max_len:
            raise ExportError(
                f"The tokenizer's max_len is {tok.max_len} but the text tower takes sequences of {expected}."
            )
        return tok

    def _tracked(self):
        return [self.model, self.tokenizer]

    # --- graph pieces ----------------------------------------------------------------------
    def _logits(self, zimg, ztxt):
        logits = tf.matmul(zimg, ztxt, transpose_b=True) * self.scale
        return logits if self.bias is None else logits + self.bias

    def _probabilities(self, logits):
        if self.activation == "sigmoid":
            return tf.nn.sigmoid(logits)
        if self.activation == "softmax":
            return tf.nn.softmax(logits, axis=-1)
        return logits

    def _prompts(self, class_names):
        parts = [t.split("{}") for t in self.prompt_templates]
        return tf.concat([tf.strings.join([pre, class_names, post]) for pre, post in parts], axis=0)

    def _class_embeddings(self, class_names, encode_texts):
        z = encode_texts(self.tokenizer(self._prompts(class_names)))["embeddings"]
        if len(self.prompt_templates) == 1:
            return z
        z = tf.reduce_mean(tf.reshape(z, [len(self.prompt_templates), tf.shape(class_names)[0], -1]), axis=0)
        return z / (tf.norm(z, axis=-1, keepdims=True) + 1e-8)

    def _classify(self, zimg, zcls, class_names):
        logits = self._logits(zimg, zcls)
        probs = self._probabilities(logits)
        k = tf.minimum(self.top_k, tf.shape(class_names)[0])
        top_p, top_i = tf.math.top_k(probs, k=k)
        return {
            "logits": logits,
            "probabilities": probs,
            "top_k_indices": top_i,
            "top_k_probabilities": top_p,
            "top_k_class_names": tf.gather(class_names, top_i),
        }

    def _build(self, archive):
        model, (h, w) = self.model, self.image_size
        length = self.tokenizer.max_len

        def encode_images(images):
            return {"embeddings": keras.ops.cast(model.encode_image(images, training=False), "float32")}

        def encode_texts(token_ids):
            return {"embeddings": keras.ops.cast(model.encode_text(token_ids, training=False), "float32")}

        img = self._model_endpoint(
            archive, "model_encode_images", encode_images,
            [tf.TensorSpec((None, h, w, 3), tf.float32, name="images")],
            f"Raw image tower: float32 images in [-1, 1] at {h}x{w} (no pp) -> embeddings.",
        )
        txt = self._model_endpoint(
            archive, "model_encode_texts", encode_texts,
            [tf.TensorSpec((None, length), tf.int32, name="token_ids")],
            f"Raw text tower: int32 token ids [B, {length}] -> embeddings.",
        )
        prep, tok = self.preprocessor, self.tokenizer

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
        def embed_images(images):
            return img(prep.from_bytes(images, "embed_images"))

        @tf.function(input_signature=[tf.TensorSpec(None, tf.uint8, name="images")])
        def embed_images_uint8(images):
            return img(prep.from_uint8(images, "embed_images_uint8"))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
        def embed_texts(texts):
            ids = tok(texts)
            return {"embeddings": txt(ids)["embeddings"], "token_ids": ids}

        def check_classes(class_names, signature):
            check = tf.debugging.Assert(
                tf.size(class_names) > 0, [f"{signature}: class_names must hold at least one class name."]
            )
            with tf.control_dependencies([check]):
                return tf.identity(class_names)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images"),
                                      tf.TensorSpec([None], tf.string, name="class_names")])
        def zero_shot(images, class_names):
            class_names = check_classes(class_names, "zero_shot")
            zimg = img(prep.from_bytes(images, "zero_shot"))["embeddings"]
            return self._classify(zimg, self._class_embeddings(class_names, txt), class_names)

        pp = prep.serving_pp
        tpl = list(self.prompt_templates)
        if self.class_names is not None:
            names = tf.constant(self.class_names)

            @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
            def serving_default(images):
                zimg = img(prep.from_bytes(images, "serving_default"))["embeddings"]
                return self._classify(zimg, self._class_embeddings(names, txt), names)

            default_doc = (f"Encoded images -> pp '{pp}' -> zero-shot over the {len(self.class_names)} export "
                           f"class names (templates {tpl}).")
        else:
            @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
            def serving_default(images):
                return img(prep.from_bytes(images, "serving_default"))

            default_doc = f"Encoded images -> pp '{pp}' -> L2-normalised image embeddings (as embed_images)."
        self._serving_endpoint(archive, "serving_default", serving_default, default_doc)
        self._serving_endpoint(archive, "embed_images", embed_images,
                               f"Encoded images (JPEG/PNG/GIF/BMP/WebP bytes, any size) -> pp '{pp}' -> embeddings.")
        self._serving_endpoint(archive, "embed_images_uint8", embed_images_uint8,
                               f"uint8 images [B, h, w, 3], any size -> pp '{pp}' -> embeddings.")
        self._serving_endpoint(archive, "embed_texts", embed_texts,
                               f"Texts -> SentencePiece ({self.tokenizer.config()}) -> embeddings and token ids.")
        self._serving_endpoint(archive, "zero_shot", zero_shot,
                               f"Encoded images + class names -> templates {tpl} -> {self.activation} "
                               "probabilities over the classes.")

    def _task_manifest(self):
        return {
            "text": {**self.tokenizer.config(), "tokenizer": "SentencePiece (in the graph, tensorflow_text)"},
            "class_names": self.class_names,
            "prompt_templates": list(self.prompt_templates),
            "activation": self.activation,
            "top_k": self.top_k,
            "temperature": self.scale,
            "bias": self.bias,
        }

    # --- parity ----------------------------------------------------------------------------
    def sample_inputs(self):
        images = base.sample_images(self.image_size)
        encoded = base.encode_images(images)
        same = np.stack([base.sample_images(self.image_size, seed=s)[0] for s in (1, 2)])
        texts = np.array([t.encode() for t in SAMPLE_TEXTS], dtype=object)
        classes = np.array([c.encode() for c in (self.class_names or SAMPLE_CLASSES)], dtype=object)
        model_images = self.preprocessor.from_uint8(tf.constant(same), "ref").numpy()
        inputs = {
            "embed_images": {"images": encoded},
            "embed_images_uint8": {"images": same},
            "embed_texts": {"texts": texts},
            "zero_shot": {"images": encoded, "class_names": np.array(classes[:2], dtype=object)},
            "serving_default": {"images": encoded},
            "model_encode_images": {"images": model_images},
            "model_encode_texts": {"token_ids": self.tokenizer(tf.constant(texts)).numpy()},
        }
        return inputs

    def _encode_image(self, x):
        return keras.ops.convert_to_numpy(self.model.encode_image(np.asarray(x, np.float32), training=False))

    def _encode_text(self, ids):
        return keras.ops.convert_to_numpy(self.model.encode_text(np.asarray(ids, np.int32), training=False))

    def _reference_classify(self, zimg, class_names):
        names = [c.decode() if isinstance(c, bytes) else c for c in class_names]
        prompts = [t.format(n) for t in self.prompt_templates for n in names]
        z = self._encode_text(self.tokenizer(tf.constant(prompts)).numpy())
        if len(self.prompt_templates) > 1:
            z = z.reshape(len(self.prompt_templates), len(names), -1).mean(0)
            z = z / (np.linalg.norm(z, axis=-1, keepdims=True) + 1e-8)
        out = self._classify(tf.constant(zimg, tf.float32), tf.constant(z, tf.float32), tf.constant(names))
        return {k: v.numpy() for k, v in out.items()}

    def reference(self, signature, inputs):
        prep = self.preprocessor
        if signature in ("embed_images", "zero_shot", "serving_default"):
            zimg = self._encode_image(prep.from_bytes(tf.constant(inputs["images"]), "ref"))
            if signature == "zero_shot":
                return self._reference_classify(zimg, inputs["class_names"])
            if signature == "serving_default" and self.class_names is not None:
                return self._reference_classify(zimg, self.class_names)
            return {"embeddings": zimg}
        if signature == "embed_images_uint8":
            return {"embeddings": self._encode_image(prep.from_uint8(tf.constant(inputs["images"]), "ref"))}
        if signature == "embed_texts":
            ids = self.tokenizer(tf.constant(inputs["texts"])).numpy()
            return {"embeddings": self._encode_text(ids), "token_ids": ids}
        if signature == "model_encode_images":
            return {"embeddings": self._encode_image(inputs["images"])}
        if signature == "model_encode_texts":
            return {"embeddings": self._encode_text(inputs["token_ids"])}
        raise KeyError(f"Unknown signature {signature!r}.")


@keras_vision_export("keras_vision.export.export_two_tower")
def export_two_tower(model, path, *, pp, tokenizer, text_pp=None, max_len=None, eos="sticky", lower=True,
                     pad_value=0, add_bos=False, class_names=None, prompt_templates=("{}",), activation=None,
                     top_k=5, image_size=None, platforms=None, source=None, verify=True, overwrite=False):
    """Exports an image-text two-tower model (SigLIP/LiT/CLIP) as a SavedModel; returns the manifest.

    Signatures: `embed_images`, `embed_images_uint8`, `embed_texts` (SentencePiece in
    the graph), `zero_shot`, `serving_default`, `model_encode_images/texts` (see
    `TwoTowerExporter`). Text settings come from `max_len`/`eos`/`lower`/`pad_value`/
    `add_bos`, or, when given, from a big_vision text pp string `text_pp` holding a
    `tokenize(max_len, eos, ...)` op: then every setting is the training op's (its
    defaults for what the pp omits), so served ids are the training ids; its `model=`
    is ignored (`tokenizer` is the SentencePiece model).

    Example:
    >>> export_two_tower(model, "saved_models/siglip_shapes/1", pp="resize(32)|value_range(-1, 1)",
    ...     tokenizer="spm.model", max_len=16, pad_value=1, class_names=["circle", "square"],
    ...     prompt_templates=("a photo of a {}.",))
    """
    text_kwargs = dict(max_len=max_len, eos=eos, lower=lower, pad_value=pad_value, add_bos=add_bos)
    if text_pp is not None:
        text_kwargs.update(tokenizer_kwargs_from_pp(text_pp))
    if isinstance(tokenizer, SentencePieceTextTokenizer):
        text_kwargs = None
    exporter = TwoTowerExporter(model, pp=pp, tokenizer=tokenizer, text_kwargs=text_kwargs, class_names=class_names,
                                prompt_templates=prompt_templates, activation=activation, top_k=top_k,
                                image_size=image_size, platforms=platforms, source=source)
    return exporter.export(path, verify=verify, overwrite=overwrite)
