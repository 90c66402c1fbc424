"""The benchmark's baseline: ViT and its training step written directly in `jax.numpy`.

Written from the paper's definition with big_vision's numerics (pre-LN blocks,
tanh-GELU MLP, LayerNorm eps 1e-6 with float32 statistics and flax's "fast variance",
queries scaled by 1/sqrt(head_dim), float32 softmax) and no framework at all:
parameters are a flat dict keyed by the Keras variable paths
("Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel", ...) with the same shapes,
so `params_from_keras(model)` copies a Keras `ViTImageClassifier` exactly and the
benchmark can check that both compute the same function before timing them.

The training step is big_vision's default chain written out by hand: global-norm
gradient clipping, optax `scale_by_adam` (epsilon after bias correction), decoupled
weight decay on `*/kernel` (times the schedule, not the learning rate), one
`jax.jit` with the parameters and optimizer state donated.

Used only by `keras-vision bench` and its tests; models are Keras everywhere else.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from keras_vision.backend.jax.layer_norm import layer_norm as vjp_layer_norm

POOLINGS = ("gap", "tok", "0")


def vit_config_from_keras(model):
    """The architecture of a Keras `ViTImageClassifier` as a plain dict for `apply`."""
    backbone = model.backbone
    if backbone.pooling not in POOLINGS:
        raise ValueError(f"Unknown pooling {backbone.pooling!r} for the native ViT; expected one of {POOLINGS}.")
    if backbone.block_type != "sequential" or backbone.qk_norm or not backbone.use_bias:
        raise ValueError("The native ViT covers the plain ViT only (sequential blocks, biases, no qk_norm).")
    if backbone.representation_size is not None:
        raise ValueError("The native ViT has no pre_logits layer (representation_size must be None).")
    if backbone.position_embedding_type != "learn":
        raise ValueError("The native ViT uses a learned position embedding (position_embedding='learn').")
    hidden = backbone.hidden_dim
    return dict(
        image_shape=tuple(backbone.image_shape),
        patch_size=tuple(backbone.patch_size),
        hidden_dim=hidden,
        num_layers=backbone.num_layers,
        num_heads=backbone.num_heads,
        intermediate_dim=backbone.intermediate_dim or 4 * hidden,
        pooling=backbone.pooling,
        num_classes=int(model.num_classes),
        layer_norm_epsilon=backbone.layer_norm_epsilon,
    )


def params_from_keras(model):
    """{variable path: jax array} copied from a Keras model (float32 variables as they are)."""
    return {v.path: jnp.asarray(np.asarray(v.numpy())) for v in model.weights}


def param_shapes(cfg):
    """{path: shape} of the native ViT, matching the Keras `ViTImageClassifier` paths."""
    d, m, h = cfg["hidden_dim"], cfg["intermediate_dim"], cfg["num_heads"]
    ph, pw = cfg["patch_size"]
    c = cfg["image_shape"][2]
    grid = (cfg["image_shape"][0] // ph) * (cfg["image_shape"][1] // pw)
    shapes = {"embedding/kernel": (ph, pw, c, d), "embedding/bias": (d,), "pos_embedding/embeddings": (1, grid, d)}
    if cfg["pooling"] == "tok":
        shapes["cls/cls"] = (1, 1, d)
    for i in range(cfg["num_layers"]):
        b = f"Transformer/encoderblock_{i}/"
        a = b + "MultiHeadDotProductAttention_0/"
        for ln in ("LayerNorm_0", "LayerNorm_1"):
            shapes[b + ln + "/scale"] = (d,)
            shapes[b + ln + "/bias"] = (d,)
        for proj in ("query", "key", "value"):
            shapes[a + proj + "/kernel"] = (d, h, d // h)
            shapes[a + proj + "/bias"] = (h, d // h)
        shapes[a + "out/kernel"] = (h, d // h, d)
        shapes[a + "out/bias"] = (d,)
        shapes[b + "MlpBlock_0/Dense_0/kernel"] = (d, m)
        shapes[b + "MlpBlock_0/Dense_0/bias"] = (m,)
        shapes[b + "MlpBlock_0/Dense_1/kernel"] = (m, d)
        shapes[b + "MlpBlock_0/Dense_1/bias"] = (d,)
    shapes["Transformer/encoder_norm/scale"] = (d,)
    shapes["Transformer/encoder_norm/bias"] = (d,)
    shapes["head/kernel"] = (d, cfg["num_classes"])
    shapes["head/bias"] = (cfg["num_classes"],)
    return shapes


def init_params(cfg, seed=0):
    """Random parameters (scale ~ 1/sqrt(fan_in); LayerNorm scale 1, biases and head 0)."""
    rng = np.random.default_rng(seed)
    params = {}
    for path, shape in param_shapes(cfg).items():
        if path.endswith("/scale"):
            value = np.ones(shape, "float32")
        elif path.endswith("/bias") or path.startswith("head/"):
            value = np.zeros(shape, "float32")
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            if path.endswith("out/kernel"):
                fan_in = shape[0] * shape[1]
            elif path.endswith(("query/kernel", "key/kernel", "value/kernel")):
                fan_in = shape[0]
            value = (rng.standard_normal(shape) / math.sqrt(max(fan_in, 1))).astype("float32")
        params[path] = jnp.asarray(value)
    return params


def _layer_norm(x, scale, bias, eps):
    """flax `nn.LayerNorm`: float32 statistics, "fast variance" E[x^2] - E[x]^2."""
    x32 = x.astype(jnp.float32)
    mean = jnp.mean(x32, axis=-1, keepdims=True)
    var = jnp.maximum(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) - jnp.square(mean), 0.0)
    y = (x32 - mean) * (jax.lax.rsqrt(var + eps) * scale) + bias
    return y.astype(x.dtype)


def _gelu_tanh(x):
    """flax `nn.gelu`: the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return jax.nn.gelu(x, approximate=True)


LAYER_NORMS = ("autodiff", "vjp")


def apply(params, images, cfg, compute_dtype="float32", layer_norm="autodiff"):
    """Logits (B, num_classes) of the ViT for images (B, H, W, C); float32 logits.

    `compute_dtype="bfloat16"` runs matmuls and activations in bfloat16 with float32
    parameters, LayerNorm statistics, softmax and head (as Keras' "mixed_bfloat16").
    `layer_norm="autodiff"` is flax's LayerNorm differentiated by JAX (the baseline);
    "vjp" uses the hand-written-backward kernel the Keras layers use on JAX
    (`keras_vision.backend.jax.layer_norm`), to separate framework overhead from that kernel.
    """
    if layer_norm not in LAYER_NORMS:
        raise ValueError(f"Unknown layer_norm {layer_norm!r}; expected one of {LAYER_NORMS}.")
    _ln = vjp_layer_norm if layer_norm == "vjp" else _layer_norm
    dt = jnp.dtype(compute_dtype)

    def p(name):
        return params[name].astype(dt)

    eps = cfg["layer_norm_epsilon"]
    heads = cfg["num_heads"]
    head_dim = cfg["hidden_dim"] // heads
    x = jax.lax.conv_general_dilated(
        images.astype(dt), p("embedding/kernel"), window_strides=cfg["patch_size"], padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    ) + p("embedding/bias")
    batch, gh, gw, d = x.shape
    x = x.reshape(batch, gh * gw, d) + p("pos_embedding/embeddings")
    if cfg["pooling"] == "tok":
        x = jnp.concatenate([jnp.broadcast_to(p("cls/cls"), (batch, 1, d)), x], axis=1)
    for i in range(cfg["num_layers"]):
        b = f"Transformer/encoderblock_{i}/"
        a = b + "MultiHeadDotProductAttention_0/"
        y = _ln(x, params[b + "LayerNorm_0/scale"], params[b + "LayerNorm_0/bias"], eps)
        q = jnp.einsum("btd,dhk->bthk", y, p(a + "query/kernel")) + p(a + "query/bias")
        k = jnp.einsum("btd,dhk->bthk", y, p(a + "key/kernel")) + p(a + "key/bias")
        v = jnp.einsum("btd,dhk->bthk", y, p(a + "value/kernel")) + p(a + "value/bias")
        q = q / jnp.asarray(math.sqrt(head_dim), dt)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32)
        weights = jax.nn.softmax(logits, axis=-1).astype(dt)
        attn = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
        x = x + jnp.einsum("bqhd,hdo->bqo", attn, p(a + "out/kernel")) + p(a + "out/bias")
        y = _ln(x, params[b + "LayerNorm_1/scale"], params[b + "LayerNorm_1/bias"], eps)
        h = _gelu_tanh(y @ p(b + "MlpBlock_0/Dense_0/kernel") + p(b + "MlpBlock_0/Dense_0/bias"))
        x = x + h @ p(b + "MlpBlock_0/Dense_1/kernel") + p(b + "MlpBlock_0/Dense_1/bias")
    x = _ln(x, params["Transformer/encoder_norm/scale"], params["Transformer/encoder_norm/bias"], eps)
    pooled = jnp.mean(x, axis=1) if cfg["pooling"] == "gap" else x[:, 0]
    return pooled.astype(jnp.float32) @ params["head/kernel"] + params["head/bias"]


def softmax_xent(logits, labels):
    """big_vision's `softmax_xent`: mean over the batch of -sum(labels * log_softmax)."""
    return jnp.mean(-jnp.sum(labels * jax.nn.log_softmax(logits, axis=-1), axis=-1))


def loss_fn(params, images, labels, cfg, compute_dtype="float32", layer_norm="autodiff"):
    return softmax_xent(apply(params, images, cfg, compute_dtype, layer_norm), labels)


def init_adam_state(params):
    """Adam moments (float32 zeros like every parameter) and the update count."""
    zeros = {k: jnp.zeros_like(v) for k, v in params.items()}
    return {"mu": zeros, "nu": {k: jnp.zeros_like(v) for k, v in params.items()}, "count": jnp.zeros((), jnp.int32)}


def make_train_step(cfg, lr=1e-3, wd=1e-4, grad_clip_norm=1.0, b1=0.9, b2=0.999, eps=1e-8,
                    compute_dtype="float32", donate=True, layer_norm="autodiff"):
    """A jitted `step(params, opt_state, images, labels) -> (params, opt_state, loss)`.

    big_vision's chain with a constant schedule: clip by global norm, `scale_by_adam`,
    `u = lr * adam + wd * theta` (weight decay only on `*/kernel`), `theta -= u`.
    """
    def step(params, opt_state, images, labels):
        loss, grads = jax.value_and_grad(loss_fn)(params, images, labels, cfg, compute_dtype, layer_norm)
        if grad_clip_norm:
            norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in grads.values()))
            factor = jnp.where(norm < grad_clip_norm, 1.0, grad_clip_norm / norm)
            grads = {k: g * factor for k, g in grads.items()}
        count = opt_state["count"] + 1
        c1 = 1.0 - b1 ** count.astype(jnp.float32)
        c2 = 1.0 - b2 ** count.astype(jnp.float32)
        new_params, mu, nu = {}, {}, {}
        for k, g in grads.items():
            mu[k] = b1 * opt_state["mu"][k] + (1.0 - b1) * g
            nu[k] = b2 * opt_state["nu"][k] + (1.0 - b2) * jnp.square(g)
            update = lr * (mu[k] / c1) / (jnp.sqrt(nu[k] / c2) + eps)
            if wd and k.endswith("/kernel"):
                update = update + wd * params[k]
            new_params[k] = params[k] - update
        return new_params, {"mu": mu, "nu": nu, "count": count}, loss

    return jax.jit(step, donate_argnums=(0, 1) if donate else ())


def make_infer_step(cfg, compute_dtype="float32", layer_norm="autodiff"):
    """A jitted `logits = f(params, images)`."""
    return jax.jit(lambda params, images: apply(params, images, cfg, compute_dtype, layer_norm))
