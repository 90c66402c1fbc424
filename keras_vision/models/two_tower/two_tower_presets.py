"""Model configurations of big_vision's released SigLIP checkpoints (for conversion).

No weights are shipped: `keras_vision.convert.load_big_vision(npz,
model="proj.image_text.two_towers", config=SIGLIP_CONFIGS[name])` builds the model and
loads a downloaded big_vision checkpoint (sizes are also inferred from the checkpoint;
these configs pin what cannot be: the text length and the tokenizer). Values follow
big_vision's `SigLIP_demo.ipynb` as summarised in the project's notes: image
`variant=V, pool_type="map"`, text transformer of the same size class, `out_dim=(None, D)`,
`temperature_init=10`, `bias_init=-10`, 64 text tokens (16 for So400m/14 at 224 px),
English c4_en (32k) or multilingual mc4 (250k) SentencePiece vocabularies.
"""


def _siglip(image_variant, text_variant, res, seq_len=64, vocab_size=32_000):
    return dict(
        image=dict(variant=image_variant, pool_type="map", image_size=res),
        text=dict(variant=text_variant, vocab_size=vocab_size, seq_len=seq_len),
        out_dim=(None, None),  # read from the checkpoint: the text head matches the image width
        temperature_init=10.0,
        bias_init=-10.0,
    )


# name -> big_vision two_towers kwargs (+ image_size / seq_len) and the tokenizer it needs.
SIGLIP_CONFIGS = {
    "siglip_b16_224": dict(model=_siglip("B/16", "B", 224), tokenizer="c4_en"),
    "siglip_b16_256": dict(model=_siglip("B/16", "B", 256), tokenizer="c4_en"),
    "siglip_b16_384": dict(model=_siglip("B/16", "B", 384), tokenizer="c4_en"),
    "siglip_b16_512": dict(model=_siglip("B/16", "B", 512), tokenizer="c4_en"),
    "siglip_l16_256": dict(model=_siglip("L/16", "L", 256), tokenizer="c4_en"),
    "siglip_l16_384": dict(model=_siglip("L/16", "L", 384), tokenizer="c4_en"),
    "siglip_so400m14_224": dict(model=_siglip("So400m/14", "So400m", 224, seq_len=16), tokenizer="c4_en"),
    "siglip_so400m14_384": dict(model=_siglip("So400m/14", "So400m", 384), tokenizer="c4_en"),
    "siglip_i18n_b16_256": dict(model=_siglip("B/16", "B", 256, vocab_size=250_000), tokenizer="mc4"),
}


def siglip_config(name):
    """The two_towers kwargs of a released SigLIP model (see `SIGLIP_CONFIGS`)."""
    if name not in SIGLIP_CONFIGS:
        raise ValueError(f"Unknown SigLIP config {name!r}; expected one of {sorted(SIGLIP_CONFIGS)}.")
    return dict(SIGLIP_CONFIGS[name]["model"])
