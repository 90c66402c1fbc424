"""big_vision's ViT size table (`vit.decode_variant`), e.g. "S/16" -> explicit numbers."""

# name: (hidden_dim, num_layers, intermediate_dim, num_heads). Table 2 of
# "Scaling Vision Transformers" (https://arxiv.org/abs/2106.04560) plus big_vision's
# additions (mu, So400m from https://arxiv.org/abs/2305.13035, the -opt shapes).
VIT_VARIANTS = {
    "mu": (32, 1, 128, 2),
    "Ti": (192, 12, 768, 3),
    "S": (384, 12, 1536, 6),
    "M": (512, 12, 2048, 8),
    "B": (768, 12, 3072, 12),
    "L": (1024, 24, 4096, 16),
    "So400m": (1152, 27, 4304, 16),
    "H": (1280, 32, 5120, 16),
    "g": (1408, 40, 6144, 16),
    "g-opt": (1536, 40, 6144, 16),
    "G": (1664, 48, 8192, 16),
    "G-opt": (1536, 48, 8192, 16),
    "e": (1792, 56, 15360, 16),
}


def decode_variant(variant):
    """"B/16" -> dict(hidden_dim=768, num_layers=12, intermediate_dim=3072, num_heads=12, patch_size=16).

    The patch part is optional ("B" gives no patch_size). Unknown names raise a
    ValueError listing the known ones.
    """
    if variant is None:
        return {}
    if not isinstance(variant, str):
        raise ValueError(f"A ViT variant is a string like 'B/16', got {variant!r}.")
    name, _, patch = variant.partition("/")
    if name not in VIT_VARIANTS:
        raise ValueError(f"Unknown ViT variant {name!r} (from {variant!r}); expected one of {list(VIT_VARIANTS)}.")
    hidden_dim, num_layers, intermediate_dim, num_heads = VIT_VARIANTS[name]
    out = dict(hidden_dim=hidden_dim, num_layers=num_layers, intermediate_dim=intermediate_dim, num_heads=num_heads)
    if patch:
        try:
            out["patch_size"] = int(patch)
        except ValueError:
            raise ValueError(f"Bad patch size {patch!r} in ViT variant {variant!r}; expected e.g. 'B/16'.") from None
    return out
