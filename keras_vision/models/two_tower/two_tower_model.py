"""Two-tower image-text model (SigLIP, LiT, CLIP): image tower, text tower, t and b."""

import math

import keras
from keras import ops
from keras_hub.models import Backbone as _Base

from keras_vision.api_export import keras_vision_export
from keras_vision.losses import contrastive

IMAGE_KEYS = ("image", "images")
TEXT_KEYS = ("labels", "token_ids", "text", "texts")
IMAGE_EMBEDDING_KEY = "image_embeddings"
# Output keys of encoders that return dicts, in order of preference.
FEATURE_KEYS = ("embeddings", "pre_logits", "pooled_output", "pooled", "logits")


def l2_normalize(z, eps=1e-8):
    """`z / (||z|| + eps)` along the last axis (big_vision's normalisation)."""
    return z / (ops.sqrt(ops.sum(ops.square(z), axis=-1, keepdims=True)) + eps)


def _features(out):
    if isinstance(out, dict):
        for key in FEATURE_KEYS:
            if key in out:
                return out[key]
        raise ValueError(
            f"Encoder returned a dict with keys {sorted(out)}; expected one of {FEATURE_KEYS}."
        )
    return out


def _in_scope(encoder, scope):
    """Returns `encoder`, or a copy of it whose variable paths start with `scope/`.

    big_vision names the towers `img` and `txt`, and recipes freeze or re-schedule
    them with regexes such as "img/.*" over variable paths. A functional encoder
    built outside a name scope has unprefixed paths, so it is rebuilt inside one
    (same config, same weights).
    """
    if all(v.path.startswith(scope + "/") for v in encoder.weights):
        return encoder
    config = keras.layers.serialize(encoder)
    with keras.name_scope(scope):
        clone = keras.layers.deserialize(config)
    if encoder.weights:
        clone.set_weights(encoder.get_weights())
    return clone


def _get(inputs, keys):
    for key in keys:
        if key in inputs and inputs[key] is not None:
            return inputs[key]
    return None


@keras_vision_export("keras_vision.models.TwoTowerModel")
class TwoTowerModel(_Base):
    """Image tower + text tower trained contrastively (SigLIP, LiT, CLIP).

    Embeddings are L2-normalised, `z / (||z|| + 1e-8)`; similarity logits are
    `zimg @ ztxt.T * exp(t) + b` with a learnable log-temperature `t` and an
    optional learnable bias `b` (SigLIP). Variables of the towers live under
    `img/` and `txt/`, `t` and `b` at the top, as in big_vision checkpoints, so
    big_vision regexes (e.g. freezing "img/.*" for LiT) apply unchanged.

    Calling the model takes a dict with any of "image" (or "images"),
    "image_embeddings" (precomputed image-tower outputs: the image tower is
    skipped, e.g. for LiT with a locked tower) and "labels" (token ids; also
    "token_ids"/"text") and returns {"zimg", "ztxt"} for the inputs given.
    `fit` on batches {"image", "labels"} trains with the contrastive loss, no
    `loss=` needed in `compile`.

    Args:
        image_encoder: Keras model, images -> features (B, F) (or a dict holding
            "embeddings"/"pre_logits"), e.g. a `keras_vision.models.ViTBackbone`, or
            a `ViTImageClassifier` whose "head" is the projection (big_vision's
            `img/head`, `out_dim[0]`).
        text_encoder: Keras model, token ids -> features (B, E) (or such a dict),
            e.g. a `keras_vision.models.TextTransformerBackbone` (its `output_dim`
            head is big_vision's `txt/head`).
        temperature_init: initial temperature; `t` starts at `log(temperature_init)`.
        bias_init: initial logit bias, or None for no bias (CLIP/LiT softmax).
        loss: "sigmoid" (SigLIP, dense global logits), "sigmoid_chunked" (the same
            loss, ring-chunked over devices under JAX data parallelism, dense
            elsewhere), "softmax" (CLIP/LiT), a callable `(zimg, ztxt, t, b)`, or
            "auto": "sigmoid_chunked" with a bias, "softmax" without.
        dtype: dtype policy.

    Example:
    >>> model = keras_vision.models.build_model("proj.image_text.two_towers",
    ...     image=dict(variant="mu/8", pool_type="map"), text=dict(variant="mu", vocab_size=64),
    ...     out_dim=(None, 64), temperature_init=10.0, bias_init=-10.0)
    >>> model.compile(optimizer="adam")
    >>> model.fit(dataset)  # batches {"image": (B,H,W,3), "labels": (B,L) int}
    >>> zimg = model.encode_image(images); ztxt = model.encode_text(token_ids)

    Papers: SigLIP "Sigmoid Loss for Language Image Pre-Training" (2303.15343);
    LiT "Zero-Shot Transfer with Locked-image Text Tuning" (2111.07991).
    """

    def __init__(
        self,
        image_encoder=None,
        text_encoder=None,
        temperature_init=1.0,
        bias_init=None,
        loss="auto",
        dtype=None,
        **kwargs,
    ):
        if image_encoder is None and text_encoder is None:
            raise ValueError("TwoTowerModel needs an image_encoder, a text_encoder, or both.")
        if temperature_init is None or temperature_init <= 0:
            raise ValueError(f"temperature_init must be > 0, got {temperature_init!r}.")
        # === Layers ===
        self.image_encoder = None if image_encoder is None else _in_scope(image_encoder, "img")
        self.text_encoder = None if text_encoder is None else _in_scope(text_encoder, "txt")

        # === Functional Model ===
        # KerasHub backbones are functional; `call` below also accepts big_vision's
        # batch keys ("image", "labels"), either tower alone and precomputed embeddings.
        inputs, outputs = {}, {}
        if self.image_encoder is not None:
            images = keras.Input(shape=tuple(self.image_encoder.input.shape[1:]), name="images")
            inputs["images"] = images
            outputs["zimg"] = self.encode_image(images)
        if self.text_encoder is not None:
            tokens = keras.Input(shape=tuple(self.text_encoder.input.shape[1:]), dtype="int32", name="token_ids")
            inputs["token_ids"] = tokens
            outputs["ztxt"] = self.encode_text(tokens)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        # `call` takes more input layouts than the graph's {"images", "token_ids"}.
        self.input_spec = None

        # === Weights ===
        # Created outside any layer scope so their paths are plain "t" and "b".
        self.t = keras.Variable(
            ops.full((1,), math.log(float(temperature_init))), name="t", dtype="float32"
        )
        self.b = None
        if bias_init is not None:
            self.b = keras.Variable(ops.full((1,), float(bias_init)), name="b", dtype="float32")

        # === Config ===
        self.temperature_init = float(temperature_init)
        self.bias_init = None if bias_init is None else float(bias_init)
        self.loss_name = loss
        self._loss_fn = self._resolve_loss(loss)

    def _resolve_loss(self, loss):
        if loss == "auto":
            # The chunked loss is the dense one except under JAX data parallelism,
            # where it avoids the global logits: the better default everywhere.
            loss = "sigmoid_chunked" if self.bias_init is not None else "softmax"
        return contrastive.get_contrastive_loss(loss)

    # --- towers ------------------------------------------------------------------------
    def image_features(self, images, training=False):
        """Un-normalised image-tower output (B, D)."""
        if self.image_encoder is None:
            raise ValueError("This TwoTowerModel has no image tower.")
        return _features(self.image_encoder(images, training=training))

    def text_features(self, token_ids, training=False):
        """Un-normalised text-tower output (B, D)."""
        if self.text_encoder is None:
            raise ValueError("This TwoTowerModel has no text tower.")
        return _features(self.text_encoder(token_ids, training=training))

    def encode_image(self, images, training=False):
        """L2-normalised image embeddings (B, D) of images in [-1, 1]."""
        return l2_normalize(self.image_features(images, training=training))

    def encode_text(self, token_ids, training=False):
        """L2-normalised text embeddings (B, D) of token ids (B, L)."""
        return l2_normalize(self.text_features(token_ids, training=training))

    def call(self, inputs, training=None, mask=None):
        if isinstance(inputs, (list, tuple)) and len(inputs) == 2:
            inputs = {"image": inputs[0], "labels": inputs[1]}
        elif not isinstance(inputs, dict):
            # A bare tensor: images, or token ids when the model has no image tower.
            key = "image" if self.image_encoder is not None else "labels"
            inputs = {key: inputs}
        out = {}
        precomputed = inputs.get(IMAGE_EMBEDDING_KEY)
        if precomputed is not None:
            out["zimg"] = l2_normalize(ops.cast(precomputed, self.compute_dtype))
        else:
            images = _get(inputs, IMAGE_KEYS)
            if images is not None:
                out["zimg"] = self.encode_image(images, training=training)
        tokens = _get(inputs, TEXT_KEYS)
        if tokens is not None:
            out["ztxt"] = self.encode_text(tokens, training=training)
        if not out:
            raise ValueError(
                f"No model input among {sorted(inputs)}; expected one of "
                f"{IMAGE_KEYS + (IMAGE_EMBEDDING_KEY,) + TEXT_KEYS}."
            )
        return out

    # --- logits and loss ---------------------------------------------------------------
    @property
    def temperature(self):
        """exp(t), the multiplier of the cosine similarities."""
        return ops.exp(self.t)

    @property
    def logit_bias(self):
        """The bias b, or None."""
        return self.b

    def similarity(self, zimg, ztxt):
        """Pairwise logits (B_img, B_txt) = zimg @ ztxt.T * exp(t) + b."""
        logits = ops.matmul(zimg, ops.transpose(ztxt)) * ops.exp(self.t[0])
        return logits if self.b is None else logits + self.b[0]

    def contrastive_loss(self, zimg, ztxt):
        """The configured contrastive loss of normalised embeddings (a batch of pairs)."""
        b = None if self.b is None else ops.cast(self.b, "float32")
        return self._loss_fn(
            ops.cast(zimg, "float32"), ops.cast(ztxt, "float32"), ops.exp(ops.cast(self.t, "float32")), b
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y_pred is None:
            y_pred = self(x, training=training)
        if "ztxt" not in y_pred and y is not None:
            # fit(x=images, y=token ids), as a recipe runner that pops "labels" calls it.
            y_pred = dict(y_pred, ztxt=self.encode_text(y, training=training))
        if "zimg" not in y_pred or "ztxt" not in y_pred:
            raise ValueError(
                "Training a TwoTowerModel needs both images and texts in each batch "
                "(keys 'image' or 'image_embeddings', and 'labels')."
            )
        loss = self.contrastive_loss(y_pred["zimg"], y_pred["ztxt"])
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def compile(self, optimizer="auto", loss="auto", metrics=None, **kwargs):
        """Configures training; `loss` is a contrastive loss name or callable.

        Args:
            optimizer: "auto" (AdamW 1e-3, weight decay 1e-4) or any Keras optimizer.
            loss: "auto" keeps the constructor's `loss`; otherwise a name of
                `keras_vision.losses.contrastive.CONTRASTIVE_LOSSES` or a callable
                `(zimg, ztxt, t, b) -> scalar`.
            metrics, **kwargs: as `keras.Model.compile`.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(1e-3, weight_decay=1e-4)
        if loss not in ("auto", None):
            self._loss_fn = self._resolve_loss(loss)
            self.loss_name = loss if isinstance(loss, str) else self.loss_name
        super().compile(optimizer=optimizer, loss=None, metrics=metrics, **kwargs)

    def get_compile_config(self):
        if getattr(self, "optimizer", None) is None:
            return None
        return {"optimizer": keras.optimizers.serialize(self.optimizer), "loss": self.loss_name
                if isinstance(self.loss_name, str) else "auto"}

    def compile_from_config(self, config):
        if config:
            self.compile(optimizer=keras.optimizers.deserialize(config["optimizer"]), loss=config.get("loss", "auto"))

    # --- config ------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            image_encoder=None if self.image_encoder is None else keras.layers.serialize(self.image_encoder),
            text_encoder=None if self.text_encoder is None else keras.layers.serialize(self.text_encoder),
            temperature_init=self.temperature_init,
            bias_init=self.bias_init,
            loss=self.loss_name if isinstance(self.loss_name, str) else "auto",
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key, scope in (("image_encoder", "img"), ("text_encoder", "txt")):
            if isinstance(config.get(key), dict):
                with keras.name_scope(scope):
                    config[key] = keras.layers.deserialize(config[key], custom_objects=custom_objects)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.get(config["dtype"])
        return cls(**config)
