"""FlexiViT preset table: the released big_vision checkpoints, converted locally.

Nothing is downloaded: each entry names the folder `keras-vision convert` writes from
the released `.npz` (`source`), and the command that makes it (`produced_by`).
"""

_GCS = "gs://big_vision/flexivit"
_I1K_PP = "decode|resize(274)|central_crop(240)|value_range(-1, 1)"
_I1K = "ImageNet-1k, distilled from DeiT III (big_vision configs/proj/flexivit/i1k_deit3_distill.py)"


def _entry(file, description, config):
    config_text = ", ".join(f'"{k}": {v!r}'.replace("'", '"') for k, v in config.items())
    return {
        "path": f"saved_models/presets/{file}",
        "description": description,
        "source": f"{_GCS}/{file}.npz",
        "model_name": "proj.flexi.vit",
        "config": config,
        "produced_by": (
            f"keras-vision convert {file}.npz --model proj.flexi.vit --config '{{{config_text}}}' "
            f"--pp '{_I1K_PP}' --out saved_models/presets/{file}"
        ),
    }


_CLS = dict(pool_type="tok", image_size=240, seqhw=15)

# Checkpoint name (big_vision VANITY_NAMES) -> entry.
FLEXIVIT_CHECKPOINTS = {
    "flexivit_s_i1k": _entry("flexivit_s_i1k", f"FlexiViT-S, 1200 epochs, {_I1K}.", dict(variant="S", **_CLS)),
    "flexivit_b_i1k": _entry("flexivit_b_i1k", f"FlexiViT-B, 1200 epochs, {_I1K}.", dict(variant="B", **_CLS)),
    "flexivit_l_i1k": _entry("flexivit_l_i1k", f"FlexiViT-L, 1200 epochs, {_I1K}.", dict(variant="L", **_CLS)),
    "flexivit_b_i21k_300ep": _entry(
        "flexivit_b_i21k_300ep",
        "FlexiViT-B, ImageNet-21k, 300 epochs (the paper's backbone; big_vision i21k_sup.py).",
        dict(variant="B", **_CLS),
    ),
    "flexivit_b_i21k_1000ep": _entry(
        "flexivit_b_i21k_1000ep",
        "FlexiViT-B, ImageNet-21k, 1000 epochs (best released -B).",
        dict(variant="B", **_CLS),
    ),
}

PRESETS = FLEXIVIT_CHECKPOINTS
