"""Hand-written numpy references (float64) of big_vision's ViT pieces, for layer tests."""

import numpy as np


def layer_norm(x, scale=None, bias=None, eps=1e-6):
    x = np.asarray(x, np.float64)
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if scale is not None:
        y = y * scale
    if bias is not None:
        y = y + bias
    return y


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def attention(q_in, kv_in, w, mask=None, qk_norm_eps=None):
    """w: dict with query/key/value/out kernels (and optional biases, query_ln/key_ln scales)."""
    q = np.einsum("btd,dhk->bthk", q_in, w["query/kernel"]) + w.get("query/bias", 0.0)
    k = np.einsum("btd,dhk->bthk", kv_in, w["key/kernel"]) + w.get("key/bias", 0.0)
    v = np.einsum("btd,dhk->bthk", kv_in, w["value/kernel"]) + w.get("value/bias", 0.0)
    if qk_norm_eps is not None:
        q = layer_norm(q, w.get("query_ln/scale"), None, qk_norm_eps)
        k = layer_norm(k, w.get("key_ln/scale"), None, qk_norm_eps)
    q = q / np.sqrt(q.shape[-1])
    logits = np.einsum("bqhd,bkhd->bhqk", q, k)
    if mask is not None:
        logits = np.where(mask, logits, -1e30)
    probs = softmax(logits)
    o = np.einsum("bhqk,bkhd->bqhd", probs, v)
    return np.einsum("bthk,hkd->btd", o, w["out/kernel"]) + w.get("out/bias", 0.0)


def mlp(x, w):
    h = gelu_tanh(x @ w["Dense_0/kernel"] + w.get("Dense_0/bias", 0.0))
    return h @ w["Dense_1/kernel"] + w.get("Dense_1/bias", 0.0)


def sub(w, prefix):
    prefix = prefix + "/"
    return {k[len(prefix) :]: v for k, v in w.items() if k.startswith(prefix)}


def encoder_block(x, w, block_type="sequential", qk_norm_eps=None, mask=None):
    """w: flat big_vision-named dict of one encoderblock (LayerNorm_0/scale, ...)."""
    ln0 = layer_norm(x, w.get("LayerNorm_0/scale"), w.get("LayerNorm_0/bias"))
    sa = attention(ln0, ln0, sub(w, "MultiHeadDotProductAttention_0"), mask=mask, qk_norm_eps=qk_norm_eps)
    if block_type == "parallel":
        # ViT-22B: one LayerNorm feeds both branches, both added to the input.
        return x + sa + mlp(ln0, sub(w, "MlpBlock_0"))
    x = x + sa
    ln1 = layer_norm(x, w.get("LayerNorm_1/scale"), w.get("LayerNorm_1/bias"))
    return x + mlp(ln1, sub(w, "MlpBlock_0"))


def map_head(x, w):
    probe = np.broadcast_to(w["probe"], (x.shape[0], 1, x.shape[-1]))
    h = attention(probe, x, sub(w, "MultiHeadDotProductAttention_0"))
    h = h + mlp(layer_norm(h, w["LayerNorm_0/scale"], w["LayerNorm_0/bias"]), sub(w, "MlpBlock_0"))
    return h[:, 0]


def weights_by_name(layer):
    """{path relative to the layer: numpy float64} of a built Keras layer."""
    from keras import ops

    prefix = layer.name + "/"
    out = {}
    for v in layer.weights:
        path = v.path
        path = path[path.index(prefix) + len(prefix) :] if prefix in path else path
        out[path] = ops.convert_to_numpy(v).astype(np.float64)
    return out


def randomize(layer, seed=0, scale=0.5):
    """Fills every weight of `layer` with normal noise (so biases/scales matter in tests)."""
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign((rng.normal(size=v.shape) * scale + (1.0 if v.path.endswith("scale") else 0.0)).astype(v.dtype))
