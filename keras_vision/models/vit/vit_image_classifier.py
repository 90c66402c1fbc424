"""ViT image classifier: a `ViTBackbone` plus the big_vision `head` Dense."""

import keras
from keras_hub.models import Task

from keras_vision.api_export import keras_vision_export
from keras_vision.models._utils import select_intermediates
from keras_vision.models.vit.vit_backbone import ViTBackbone

DEFAULT_LOSS = "softmax_xent"
# Constructor arguments of the head, stored as attributes and in get_config.
HEAD_CONFIG = ("num_classes", "head_zeroinit", "init_head_bias", "activation", "head_dtype")


def _resolve_loss(loss):
    """A registered keras_vision loss name -> `BigVisionLoss(name)`; anything else unchanged."""
    if not isinstance(loss, str):
        return loss
    from keras_vision import losses  # lazy: the losses package is optional at import time

    try:
        losses.get(loss)
    except ValueError:
        return loss  # a Keras loss name such as "categorical_crossentropy"
    return losses.BigVisionLoss(loss)


@keras_vision_export("keras_vision.models.ViTImageClassifier")
class ViTImageClassifier(Task):
    """Image classifier: `ViTBackbone` pre-logits -> Dense(num_classes) named "head" -> logits.

    As big_vision's `vit.Model(num_classes=...)`: the head kernel is zero-initialized by
    default (`head_zeroinit`), so all logits start equal; `init_head_bias` sets the
    initial bias (big_vision recipes use -6.9 or -10 with `sigmoid_xent`). With backbone
    pooling "none" the head is applied per token (logits (B, N, C)).

    `compile()` defaults: Adam(1e-3), loss "softmax_xent" (any name registered in
    `keras_vision.losses`, e.g. "sigmoid_xent", is wrapped in `BigVisionLoss`; other
    values go to Keras as-is), categorical accuracy. `fit` takes images and one-hot
    (or multi-hot) labels.

    Args:
        backbone: a `ViTBackbone`.
        num_classes: int.
        head_zeroinit: bool, zero-initialized head kernel (else lecun-normal, flax default).
        init_head_bias: float, initial value of the head bias.
        activation: optional activation of the head (None: logits).
        preprocessor: optional preprocessing layer (KerasHub Task interface).
        head_dtype: optional dtype policy of the head; default the backbone's variable
            dtype (float32 logits also under a mixed policy).
        **kwargs: `keras_hub.models.Task` arguments.

    Example:
        >>> backbone = ViTBackbone.from_variant("mu/8", image_shape=(32, 32, 3))
        >>> model = ViTImageClassifier(backbone, num_classes=10)
        >>> model.compile(loss="sigmoid_xent")
        >>> model.fit(images, one_hot_labels, epochs=1)

    Paper: "An Image is Worth 16x16 Words" (https://arxiv.org/abs/2010.11929).
    """

    backbone_cls = ViTBackbone

    def __init__(
        self,
        backbone,
        num_classes,
        head_zeroinit=True,
        init_head_bias=0.0,
        activation=None,
        preprocessor=None,
        head_dtype=None,
        **kwargs,
    ):
        if isinstance(num_classes, bool) or int(num_classes) < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}.")
        # Logits in the variable dtype (float32 under "mixed_bfloat16"), as big_vision's
        # f32 head: the loss should not see bfloat16-rounded logits.
        head = keras.layers.Dense(
            int(num_classes),
            activation=activation,
            kernel_initializer="zeros" if head_zeroinit else "lecun_normal",
            bias_initializer=keras.initializers.Constant(float(init_head_bias)),
            name="head",
            dtype=head_dtype or backbone.dtype_policy.variable_dtype,
        )
        config = dict(
            num_classes=int(num_classes),
            head_zeroinit=bool(head_zeroinit),
            init_head_bias=float(init_head_bias),
            activation=activation,
            head_dtype=head_dtype,
        )
        self._assemble(backbone, head, preprocessor, config, **kwargs)

    def _assemble(self, backbone, head, preprocessor, config, **kwargs):
        """Builds the functional model backbone -> head and stores `config` (HEAD_CONFIG) as attributes.

        FlexiViT's weight-sharing copies call it with an existing head.
        """
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.head = head

        # === Functional Model ===
        inputs = backbone.input
        features = backbone(inputs)["pre_logits"]
        outputs = self.head(features)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        for key in HEAD_CONFIG:
            setattr(self, key, config[key])

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """`keras.Model.compile` with defaults; loss names of `keras_vision.losses` work directly."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(1e-3)
        if loss == "auto":
            loss = DEFAULT_LOSS
        if metrics == "auto":
            metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=_resolve_loss(loss), metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        """Restores `compile()` after `.keras` loading (Keras skips it for custom `compile`)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def get_intermediates(self, images, names=None, training=False):
        """`backbone.get_intermediates` plus "logits" and "logits_2d" (head on the token grid)."""
        out = self.backbone.get_intermediates(images, training=training)
        out["logits"] = self.head(out["pre_logits"])
        out["logits_2d"] = self.head(out["pre_logits_2d"])
        return select_intermediates(out, names)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "head_zeroinit": self.head_zeroinit,
                "init_head_bias": self.init_head_bias,
                "activation": self.activation,
                "head_dtype": keras.dtype_policies.serialize(self.head_dtype)
                if isinstance(self.head_dtype, keras.DTypePolicy)
                else self.head_dtype,
            }
        )
        return config
