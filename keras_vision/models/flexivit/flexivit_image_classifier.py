"""FlexiViT image classifier: a `FlexiViTBackbone` plus the big_vision `head` Dense."""

from keras_vision.api_export import keras_vision_export
from keras_vision.models.flexivit.flexivit_backbone import FlexiViTBackbone
from keras_vision.models.vit.vit_image_classifier import HEAD_CONFIG
from keras_vision.models.vit.vit_image_classifier import ViTImageClassifier


@keras_vision_export("keras_vision.models.FlexiViTImageClassifier")
class FlexiViTImageClassifier(ViTImageClassifier):
    """`ViTImageClassifier` on a `FlexiViTBackbone`, runnable at any patch size.

    Same head, defaults, `compile()` and outputs as `ViTImageClassifier` (big_vision's
    `proj.flexi.vit` has the same parameter names as `vit`). `with_patch_size(p)`
    returns a classifier sharing the backbone's AND the head's weights at patch size `p`.

    Args:
        backbone: a `FlexiViTBackbone`.
        num_classes, head_zeroinit, init_head_bias, activation, preprocessor,
        head_dtype: as `ViTImageClassifier`.

    Example:
        >>> backbone = FlexiViTBackbone.from_variant("mu", image_shape=(32, 32, 3),
        ...     patch_size=8, base_patch_size=8, posemb_grid_size=4)
        >>> model = FlexiViTImageClassifier(backbone, num_classes=10)
        >>> coarse = model.with_patch_size(16)   # 2x2 tokens, same weights
        >>> coarse.predict(images)

    Paper: "FlexiViT: One Model for All Patch Sizes" (https://arxiv.org/abs/2212.08013).
    """

    backbone_cls = FlexiViTBackbone

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
        if not isinstance(backbone, FlexiViTBackbone):
            raise TypeError(f"FlexiViTImageClassifier needs a FlexiViTBackbone, got {type(backbone).__name__}.")
        kwargs.setdefault("name", "flexivit_image_classifier")
        super().__init__(
            backbone, num_classes, head_zeroinit, init_head_bias, activation, preprocessor, head_dtype, **kwargs
        )

    @property
    def patch_size(self):
        """The patch size this model runs at (its backbone's)."""
        return self.backbone.patch_size

    def with_patch_size(self, patch_size, image_shape=None, name=None):
        """A classifier at another patch size (optionally resolution) sharing all weights.

        Args:
            patch_size: int or (h, w).
            image_shape: optional (h, w, c); default this model's.
            name: optional model name; default "<name>_p<h>x<w>".
        """
        backbone = self.backbone.with_patch_size(patch_size, image_shape=image_shape)
        h, w = backbone.patch_size
        # A second constructor: `ViTImageClassifier._assemble` (what __init__ ends with)
        # on the weight-sharing backbone and this very head layer.
        copy = self.__class__.__new__(self.__class__)
        config = {key: getattr(self, key) for key in HEAD_CONFIG}
        copy._assemble(backbone, self.head, self.preprocessor, config, name=name or f"{self.name}_p{h}x{w}")
        return copy
