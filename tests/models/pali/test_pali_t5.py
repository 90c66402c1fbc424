"""PaLI's T5 layers: parity with KerasHub's T5Backbone (the public, HF-matching reference), buckets, layer checks."""

import keras
import keras_hub
import numpy as np
import pytest
from keras import ops

from keras_vision.models.pali import PaLIBackbone
from keras_vision.models.pali import T5MLP
from keras_vision.models.pali import T5Attention
from keras_vision.models.pali import T5DecoderBlock
from keras_vision.models.pali import T5EncoderBlock
from keras_vision.models.pali import T5RMSNorm
from keras_vision.models.pali.t5_attention import t5_relative_position_bucket
from keras_vision.testing import randomize_weights
from keras_vision.testing import run_layer_test

TINY = dict(vocabulary_size=97, image_shape=(32, 32, 3), vit_patch_size=8, vit_hidden_dim=32, vit_num_layers=1,
            vit_num_heads=2, vit_intermediate_dim=64, hidden_dim=32, num_layers=2, num_heads=2, head_dim=16,
            intermediate_dim=64)


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _gelu_tanh(x):
    return keras.activations.gelu(x, approximate=True)


def _keras_hub_t5(tie, seed=0):
    """KerasHub's T5Backbone in the mT5 / T5 v1.1 configuration (gated tanh-GELU), random weights."""
    ref = keras_hub.models.T5Backbone(
        vocabulary_size=TINY["vocabulary_size"], num_layers=TINY["num_layers"], num_heads=TINY["num_heads"],
        hidden_dim=TINY["hidden_dim"], intermediate_dim=TINY["intermediate_dim"], key_value_dim=TINY["head_dim"],
        dropout=0.0, activation=_gelu_tanh, use_gated_activation=True, layer_norm_epsilon=1e-6,
        tie_embedding_weights=tie,
    )
    return randomize_weights(ref, seed)  # norm gains start at ones: random values make every weight matter


def copy_keras_hub_t5_weights(ref, backbone):
    """KerasHub T5Backbone -> PaLIBackbone's T5 part (the ViT and image head are untouched).

    Mapping (KerasHub Dense kernels are (D, heads * head_dim) / (heads * head_dim, D); ours
    are einsum-shaped (D, heads, head_dim) / (heads, head_dim, D): a reshape, same order):
        token_embedding/embeddings          -> llm/token_embedding/embeddings
        token_embedding/reverse_embeddings  -> llm/lm_head/kernel (untied)
        {encoder,decoder}_layer_i/self_attention/{query,key,value,output}_projector/kernel
                                            -> {encoder,decoder}_layers_i/self_attention/{q,k,v,o}
        .../self_attention/embeddings (layer 0, (32, heads)) -> .../self_attention/relative_attention_bias
        .../cross_attention/*_projector     -> decoder_layers_i/cross_attention/{q,k,v,o}
        self_attention_layer_norm / cross_attention_layer_norm / layer_norm (weight)
                                            -> pre_self_attention_norm / pre_cross_attention_norm / pre_mlp_norm (scale)
        input_projector (with the activation) / gate_projector / output_projector
                                            -> mlp/wi_0 / mlp/wi_1 / mlp/wo
        encoder_output_layer_norm / decoder_output_layer_norm -> encoder_norm / decoder_norm
    """

    def put(src, dst):
        dst.assign(np.reshape(_np(src), dst.shape))

    def attention(r, m):
        for a, b in (("query", m.q), ("key", m.k), ("value", m.v), ("output", m.o)):
            put(getattr(r, f"{a}_projector").kernel, b)
        if r.use_relative_attention_bias:
            put(r.relative_attention_bias, m.relative_attention_bias)

    put(ref.token_embedding.embeddings, backbone.token_embedding.embeddings)
    if not backbone.tie_embeddings:
        put(ref.token_embedding.reverse_embeddings, backbone.lm_head.kernel)
    pairs = list(zip(ref.encoder_transformer_layers, backbone.encoder_blocks))
    pairs += list(zip(ref.decoder_transformer_layers, backbone.decoder_blocks))
    for r, m in pairs:
        attention(r.self_attention, m.self_attention)
        put(r.self_attention_layer_norm.weight, m.pre_self_attention_norm.scale)
        if r.is_decoder:
            attention(r.cross_attention, m.cross_attention)
            put(r.cross_attention_layer_norm.weight, m.pre_cross_attention_norm.scale)
        put(r.layer_norm.weight, m.pre_mlp_norm.scale)
        put(r.input_projector.kernel, m.mlp.wi_0)
        put(r.gate_projector.kernel, m.mlp.wi_1)
        put(r.output_projector.kernel, m.mlp.wo)
    put(ref.encoder_layer_norm.weight, backbone.encoder_norm.scale)
    put(ref.decoder_layer_norm.weight, backbone.decoder_norm.scale)


@pytest.mark.multibackend
@pytest.mark.filterwarnings("ignore:Layer '.*' \\(of type T5MultiHeadAttention\\) was passed an input with a mask")
@pytest.mark.parametrize("tie", [False, True], ids=["mt5_untied", "t5_v1_0_tied"])
def test_t5_stack_matches_keras_hub_t5_backbone(tie):
    ref = _keras_hub_t5(tie)
    backbone = PaLIBackbone(**TINY, tie_embeddings=tie)
    copy_keras_hub_t5_weights(ref, backbone)
    rng = np.random.default_rng(1)
    # 80 encoder positions cross the bidirectional bucket edges at distances 16, 32 and 64;
    # 24 decoder positions reach the first causal log buckets (from 16). Both carry padding.
    enc_tokens = rng.integers(0, 97, (2, 80)).astype("int32")
    enc_mask = np.ones((2, 80), "int32")
    enc_mask[1, 57:] = 0
    dec_tokens = rng.integers(0, 97, (2, 24)).astype("int32")
    dec_mask = np.ones((2, 24), "int32")
    dec_mask[1, 19:] = 0
    inputs = {"encoder_token_ids": enc_tokens, "encoder_padding_mask": enc_mask,
              "decoder_token_ids": dec_tokens, "decoder_padding_mask": dec_mask}
    expected = ref(inputs)
    # The public T5Seq2SeqLM applies T5's logit rule (scale by hidden_dim ** -0.5 when tied).
    expected_logits = _np(keras_hub.models.T5Seq2SeqLM(ref, preprocessor=None)(inputs))

    encoder_output = backbone.run_encoder(backbone.token_embedding(enc_tokens), enc_mask)
    decoder_output = backbone.run_decoder(dec_tokens, dec_mask, encoder_output, enc_mask)
    np.testing.assert_allclose(_np(encoder_output), _np(expected["encoder_sequence_output"]), atol=1e-5, rtol=0)
    np.testing.assert_allclose(_np(decoder_output), _np(expected["decoder_sequence_output"]), atol=1e-5, rtol=0)
    np.testing.assert_allclose(_np(backbone.compute_logits(decoder_output)), expected_logits, atol=1e-5, rtol=0)
    assert np.abs(expected_logits).max() > 0.1  # not a vacuous comparison


def test_relative_position_buckets():
    rel = np.arange(-300, 301, dtype="int32")
    bidir = _np(t5_relative_position_bucket(rel, bidirectional=True))
    causal = _np(t5_relative_position_bucket(rel, bidirectional=False))
    # Bidirectional: keys before the query in buckets 0..15, after it in 16..31; exact below 8.
    np.testing.assert_array_equal(bidir[300 - 7 : 301], np.arange(7, -1, -1))
    np.testing.assert_array_equal(bidir[301:308], 16 + np.arange(1, 8))
    assert bidir[rel <= 0].max() == 15 and bidir[rel > 0].min() == 17 and bidir.max() == 31
    # Causal: every later key is bucket 0; earlier keys exact below 16, log up to 128, then 31.
    assert (causal[rel > 0] == 0).all()
    np.testing.assert_array_equal(causal[300 - 15 : 301], np.arange(15, -1, -1))
    assert (causal[rel <= -113] == 31).all() and causal[rel == -112][0] == 30
    # The log-bucket edges that sit on a float32 rounding: distance 16, 32 and 64 open buckets 10, 12, 14.
    assert [bidir[rel == -d][0] for d in (15, 16, 31, 32, 63, 64)] == [9, 10, 11, 12, 13, 14]
    assert (bidir[np.abs(rel) >= 128] % 16 == 15).all()
    # Monotone in the distance on each side.
    assert (np.diff(causal[:301]) <= 0).all() and (np.diff(bidir[:301]) <= 0).all()
    assert (np.diff(bidir[301:]) >= 0).all()


def test_rms_norm_and_mlp_formulas():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 8)).astype("float32") + 1.0  # a mean, which T5's norm must keep
    norm = T5RMSNorm(epsilon=1e-6)
    norm.build(x.shape)
    scale = rng.normal(size=8).astype("float32")
    norm.scale.assign(scale)
    expected = x / np.sqrt((x.astype("float64") ** 2).mean(-1, keepdims=True) + 1e-6) * scale
    np.testing.assert_allclose(_np(norm(x)), expected, atol=1e-5, rtol=0)

    relu = T5MLP(16, activation="relu", use_gated_activation=False)
    relu.build(x.shape)
    wi, wo = rng.normal(size=(8, 16)).astype("float32"), rng.normal(size=(16, 8)).astype("float32")
    relu.wi.assign(wi)
    relu.wo.assign(wo)
    assert relu.wi_0 is None and relu.wi_1 is None
    np.testing.assert_allclose(_np(relu(x)), np.maximum(x @ wi, 0) @ wo, atol=1e-4, rtol=1e-5)
    with pytest.raises(ValueError, match=r"Unknown T5MLP activation 'swish'; expected one of \('gelu', 'relu'\)"):
        T5MLP(16, activation="swish")


def test_cross_attention_cache_equals_encoder_inputs():
    rng = np.random.default_rng(2)
    x, enc = rng.normal(size=(2, 3, 32)).astype("float32"), rng.normal(size=(2, 7, 32)).astype("float32")
    mask = np.ones((2, 1, 7), "int32")
    mask[1, :, 5:] = 0
    attn = T5Attention(num_heads=2, head_dim=16)
    out, bias = attn(x, attention_mask=mask, key_value_inputs=enc)
    assert bias is None
    cached, _, kv = attn(x, attention_mask=mask, cache=attn.compute_key_value(enc))
    assert tuple(kv.shape) == (2, 2, 7, 2, 16)
    np.testing.assert_allclose(_np(cached), _np(out), atol=1e-6, rtol=0)
    # A masked encoder key changes nothing.
    enc2 = enc.copy()
    enc2[1, 6] += 3.0
    np.testing.assert_allclose(_np(attn(x, attention_mask=mask, key_value_inputs=enc2)[0]), _np(out), atol=1e-6)


# The shapes of the backbone tests (encoder 80 positions, decoder 24): JAX reuses their compiled ops.
ENC, DEC = np.zeros((2, 80, 32), "float32"), np.zeros((2, 24, 32), "float32")


@pytest.mark.multibackend
@pytest.mark.parametrize(
    "make, inputs, shape",
    [
        (lambda: T5RMSNorm(epsilon=1e-6), (ENC,), (2, 80, 32)),
        (lambda: T5MLP(64, activation="gelu"), (ENC,), (2, 80, 32)),
        (lambda: T5Attention(2, 16, causal=True, use_relative_attention_bias=True, relative_attention_num_buckets=8,
                             relative_attention_max_distance=16), (DEC,), [(2, 24, 32), (1, 2, 24, 24)]),
        (lambda: T5EncoderBlock(2, 16, 64, use_relative_attention_bias=True), (ENC,), [(2, 80, 32), (1, 2, 80, 80)]),
        (lambda: T5DecoderBlock(2, 16, 64, activation="relu", use_gated_activation=False,
                                use_relative_attention_bias=True), (DEC, ENC), [(2, 24, 32), (1, 2, 24, 24)]),
    ],
    ids=["rms_norm", "mlp", "attention", "encoder_block", "decoder_block"],
)
def test_layer_standard_checks(make, inputs, shape, tmp_path):
    layer = make()
    rng = np.random.default_rng(3)
    inputs = tuple(rng.normal(size=a.shape).astype("float32") for a in inputs)
    layer(*inputs)
    randomize_weights(layer, 4)
    run_layer_test(layer, inputs if len(inputs) > 1 else inputs[0], tmp_path, expected_output_shape=shape, atol=1e-5)
