"""Analytic FLOP counts of a ViT (the numerator of MFU).

Counts the matrix multiplications only, 2 FLOPs per multiply-add, per image, with
N tokens (grid cells, +1 for a [cls] token), width D, MLP width M, L blocks, patch
p x p over C channels and K classes:

    patch embedding   2 * (N_grid) * (p*p*C) * D
    per block         2 * N * D * 3D     q, k, v projections
                    + 2 * N * N * D      logits q k^T (all heads)
                    + 2 * N * N * D      weights @ v
                    + 2 * N * D * D      output projection
                    + 2 * N * D * M * 2  MLP (two Dense)
                    = 8 N D^2 + 4 N^2 D + 4 N D M
    head              2 * D * K
    forward           patch + L * block + head
    training step     3 * forward * batch (backward = 2x forward: gradients w.r.t.
                      activations and weights)

Layer norms, softmax, GELU, biases and the optimizer update are left out (about 1-2%
of the total for ViT-S/16 at 224 px; more for tiny widths); XLA's `cost_analysis()`
counts them, which is how the tests cross-check this formula. ViT-S/16, 224 px, gap:
9.15 GFLOP forward per image, 219.6 GFLOP per training step at batch 8.
"""


def vit_forward_flops(image_shape, patch_size, hidden_dim, num_layers, intermediate_dim=None,
                      num_classes=0, pooling="gap", **unused):
    """Matmul FLOPs of one image through the ViT forward pass (see the module docstring)."""
    ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else tuple(patch_size)
    height, width, channels = image_shape
    grid = (height // ph) * (width // pw)
    tokens = grid + (1 if pooling == "tok" else 0)
    d = hidden_dim
    m = intermediate_dim or 4 * d
    patch = 2 * grid * ph * pw * channels * d
    block = 8 * tokens * d * d + 4 * tokens * tokens * d + 4 * tokens * d * m
    head = 2 * d * num_classes
    return int(patch + num_layers * block + head)


def vit_step_flops(batch_size, mode="train", **config):
    """FLOPs of one step on `batch_size` images: 3x forward for "train", 1x for "infer"."""
    factor = {"train": 3, "infer": 1}
    if mode not in factor:
        raise ValueError(f"Unknown mode {mode!r}; expected one of {sorted(factor)}.")
    return factor[mode] * int(batch_size) * vit_forward_flops(**config)


def vit_config_of(model):
    """The `vit_forward_flops` arguments of a Keras `ViTImageClassifier` (or `ViTBackbone`)."""
    backbone = getattr(model, "backbone", model)
    return dict(
        image_shape=tuple(backbone.image_shape),
        patch_size=tuple(backbone.patch_size),
        hidden_dim=backbone.hidden_dim,
        num_layers=backbone.num_layers,
        intermediate_dim=backbone.intermediate_dim or 4 * backbone.hidden_dim,
        num_classes=int(getattr(model, "num_classes", 0) or 0),
        pooling=backbone.pooling,
    )
