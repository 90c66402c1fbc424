"""PaliGemma parity with big_vision's own outputs (paligemma_tiny golden) and the converter's layouts and errors."""

import json

import numpy as np
import pytest
from keras import ops

from keras_vision.convert import ConversionError
from keras_vision.convert import load_big_vision
from keras_vision.models.pali import PaliGemmaBackbone
from keras_vision.models.pali import PaliGemmaCausalLM

# Measured max abs errors (CPU): jax text_logits 1.7e-6, causal 1.9e-6, zimg 3.1e-7,
# pre_logits 3.5e-6; tensorflow 1.6e-6, 1.9e-6, 3.6e-7, 3.6e-6.
ATOL = 1e-5
MODEL = "proj.paligemma.paligemma"


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _case(golden):
    g = golden("paligemma_tiny")
    meta = json.loads(str(g["meta/config"]))
    params = {k: v for k, v in g.items() if k.startswith("params/")}
    return g, meta, params


def _assert_golden(model, g):
    backbone = model.backbone
    out = backbone({"images": g["inputs/image"], "tokens": g["inputs/text"], "mask_ar": g["inputs/mask_ar"]})
    for name in ("zimg", "pre_logits", "text_logits"):
        np.testing.assert_allclose(_np(out[name]), g[f"outputs/{name}"], atol=ATOL, rtol=0, err_msg=name)
    causal = model.text_logits(g["inputs/image"], g["inputs/text"])  # mask_ar None: all ones
    np.testing.assert_allclose(_np(causal), g["outputs/text_logits_causal"], atol=ATOL, rtol=0)
    # The two goldens differ, so the mask matters (and is not trivially all-causal).
    assert np.abs(g["outputs/text_logits"] - g["outputs/text_logits_causal"]).max() > 1e-2


@pytest.mark.multibackend
def test_golden_parity_with_the_golden_config(golden):
    g, meta, params = _case(golden)
    # The literal big_vision kwargs: llm variant "gemma_tiny" is not in big_vision's table,
    # so every size is read off the checkpoint.
    model = load_big_vision(params, model=MODEL, config=meta["kwargs"])
    assert isinstance(model, PaliGemmaCausalLM) and isinstance(model.backbone, PaliGemmaBackbone)
    _assert_golden(model, g)
    # The task's own call is the backbone's text logits.
    logits = model({"image": g["inputs/image"], "text": g["inputs/text"], "mask_ar": g["inputs/mask_ar"]})
    np.testing.assert_allclose(_np(logits), g["outputs/text_logits"], atol=ATOL, rtol=0)


@pytest.mark.multibackend
def test_golden_parity_with_explicit_llm_fields(golden):
    g, meta, params = _case(golden)
    kwargs = dict(meta["kwargs"])
    kwargs["llm"] = {**kwargs["llm"], **meta["llm_config"]}
    model = load_big_vision(params, model=MODEL, config=kwargs)
    backbone = model.backbone
    assert (backbone.hidden_dim, backbone.num_layers, backbone.num_heads, backbone.num_key_value_heads,
            backbone.head_dim, backbone.intermediate_dim, backbone.vocabulary_size) == (32, 2, 2, 1, 16, 64, 97)
    assert backbone.image_shape == (32, 32, 3)  # read off the learned position embedding
    _assert_golden(model, g)


def _per_layer(params, fmt):
    out = {}
    for key, value in params.items():
        if key.startswith("params/llm/layers/"):
            tail = key[len("params/llm/layers/") :]
            for i in range(value.shape[0]):
                out[f"params/llm/{fmt.format(i)}/{tail}"] = value[i]
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("fmt", ["layers/{}", "layers_{}"])
def test_per_layer_layouts_give_the_same_model(golden, fmt):
    g, meta, params = _case(golden)
    per_layer = _per_layer(params, fmt)
    assert not any(k.startswith("params/llm/layers/attn") for k in per_layer)
    _assert_golden(load_big_vision(per_layer, model=MODEL, config=meta["kwargs"]), g)


def test_variable_paths_follow_big_vision_names(golden):
    _, meta, params = _case(golden)
    paths = {v.path for v in load_big_vision(params, model=MODEL, config=meta["kwargs"]).backbone.weights}
    for expected in ("img/embedding/kernel", "img/Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel",
                     "img/head/kernel", "llm/embedder/embeddings", "llm/layers_1/attn/q_einsum",
                     "llm/layers_1/attn/kv_einsum", "llm/layers_0/mlp/gating_einsum", "llm/final_norm/scale"):
        assert expected in paths, expected


def test_checkpoint_dims_that_mismatch_the_config_raise(golden):
    _, meta, params = _case(golden)
    kwargs = dict(meta["kwargs"])
    with pytest.raises(ValueError, match=r"llm width=64 in the config but 32 in the checkpoint"):
        load_big_vision(params, model=MODEL, config={**kwargs, "llm": {"width": 64}})
    with pytest.raises(ValueError, match=r"llm num_kv_heads=2 in the config but 1 .*kv_einsum"):
        load_big_vision(params, model=MODEL, config={**kwargs, "llm": {"num_kv_heads": 2}})
    # A real variant's numbers are checked too (gemma_2b is 2048 wide, 18 layers).
    with pytest.raises(ConversionError, match=r"width=2048 .* 32 in the checkpoint.*depth=18"):
        load_big_vision(params, model=MODEL, config={**kwargs, "llm": {"variant": "gemma_2b"}})
    # An image tower whose size disagrees is reported by the ViT loader.
    with pytest.raises(ValueError, match=r"shape mismatches"):
        load_big_vision(params, model=MODEL, config={**kwargs, "img": {**kwargs["img"], "mlp_dim": 64}})


def test_not_a_paligemma_checkpoint(golden):
    _, meta, params = _case(golden)
    img_only = {k: v for k, v in params.items() if k.startswith("params/img/")}
    with pytest.raises(ConversionError, match=r"top-level names \['img'\]"):
        load_big_vision(img_only, model=MODEL, config=meta["kwargs"])


@pytest.mark.multibackend
def test_bad_mask_ar_shape_raises(golden):
    g, meta, params = _case(golden)
    model = load_big_vision(params, model=MODEL, config=meta["kwargs"])
    with pytest.raises(ValueError, match=r"mask_ar has shape \(2, 8\) but tokens have shape \(2, 9\)"):
        model.text_logits(g["inputs/image"], g["inputs/text"], g["inputs/mask_ar"][:, :8])
    with pytest.raises(ValueError, match=r"mask_ar must be \(batch, text_length\)"):
        model.text_logits(g["inputs/image"], g["inputs/text"], g["inputs/mask_ar"][0])


def _to_big_vision(model):
    """A model's weights as a big_vision PaliGemma checkpoint (scan-stacked llm layers)."""
    from keras_vision.models.pali.paligemma_convert import gemma_variables
    from keras_vision.models.vit.vit_convert import vit_variables

    backbone = model.backbone
    params = {f"params/img/{k}": _np(v) for k, v in vit_variables(backbone.vit).items()}
    params["params/img/head/kernel"] = _np(backbone.vit_head.kernel)
    params["params/img/head/bias"] = _np(backbone.vit_head.bias)
    layers = {}
    for name, variable in gemma_variables(backbone).items():
        if name.startswith("layers/"):
            _, i, tail = name.split("/", 2)
            layers.setdefault(tail, {})[int(i)] = _np(variable)
        else:
            params[f"params/llm/{name}"] = _np(variable)
    for tail, by_layer in layers.items():
        params[f"params/llm/layers/{tail}"] = np.stack([by_layer[i] for i in sorted(by_layer)])
    return params


def test_gemma2_style_checkpoint_round_trip():
    from keras_vision.models import build_model

    llm = dict(width=32, depth=2, mlp_dim=64, num_heads=4, num_kv_heads=2, head_dim=8, vocab_size=97,
               post_norms=True, attn_logits_softcap=1.5)
    img = dict(variant="mu/8", pool_type="none")
    model = build_model(MODEL, img=img, llm=llm, image_size=32)
    rng = np.random.default_rng(0)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, 0.2, variable.shape).astype("float32"))
    params = _to_big_vision(model)
    assert params["params/llm/layers/post_ffw_norm/scale"].shape == (2, 32)
    assert params["params/llm/layers/attn/kv_einsum/w"].shape == (2, 2, 2, 32, 8)
    config = {"img": img, "llm": {"variant": "my_gemma2", "attn_logits_softcap": 1.5}}
    loaded = load_big_vision(params, model=MODEL, config=config)
    assert loaded.backbone.use_post_ffw_norm and loaded.backbone.num_key_value_heads == 2
    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    tokens = rng.integers(0, 97, (2, 9)).astype("int32")
    np.testing.assert_allclose(_np(loaded.text_logits(images, tokens)), _np(model.text_logits(images, tokens)),
                               atol=1e-6, rtol=0)
    # Gemma 2 layout under a name big_vision does not know: the soft-cap cannot be guessed.
    with pytest.raises(ConversionError, match="my_gemma2.*give attn_logits_softcap explicitly"):
        load_big_vision(params, model=MODEL, config={"img": img, "llm": {"variant": "my_gemma2"}})
