"""big_vision PaliGemma checkpoints (`img/...` ViT + `llm/...` Gemma) -> `PaliGemmaCausalLM`.

Gemma layers come scan-stacked (`llm/layers/attn/q_einsum/w` with a leading depth axis,
big_vision's `scan=True`, the released checkpoints) or per layer (`llm/layers/0/...`,
big_vision's `scan=False`; also `layers_0/...` and Orbax-style `layer_0/...`). They are
normalised to big_vision's per-layer names `layers/{i}/...`, which `dont_load` regexes
match (e.g. "llm/layers/.*", "llm/embedder/input_embedding").
"""

import re

import numpy as np

from keras_vision.convert.assign import assign_params
from keras_vision.convert.checkpoint import ConversionError
from keras_vision.convert.checkpoint import select_prefix
from keras_vision.convert.registry import register_converter
from keras_vision.models.pali.gemma_variants import GEMMA_VARIANTS
from keras_vision.models.pali.gemma_variants import expand_gemma_config
from keras_vision.models.pali.paligemma_builder import build_paligemma
from keras_vision.models.vit.vit_convert import infer_vit_kwargs
from keras_vision.models.vit.vit_convert import load_vit_params
from keras_vision.models.vit.vit_convert import prepare_vit_params

_PER_LAYER = (re.compile(r"^layers/(\d+)/(.+)$"), re.compile(r"^layers?_(\d+)/(.+)$"))
_SCANNED = re.compile(r"^layers/([^/]+/.+)$")
# Einsum weights are `Einsum` modules with a param "w" in big_vision.
_EINSUMS = ("qkv_einsum", "q_einsum", "kv_einsum", "attn_vec_einsum")


def _bv_layer_name(tail):
    """A block-relative name in big_vision's form: attention einsums end in "/w", the MLP's do not."""
    tail = tail[: -len("/w")] if tail.endswith("/w") else tail  # Orbax keeps "mlp/gating_einsum/w"
    return f"{tail}/w" if tail.split("/")[-1] in _EINSUMS else tail


def prepare_gemma_params(params):
    """A big_vision Gemma sub-tree (no `llm/` prefix) -> per-layer names `layers/{i}/...` (numpy arrays).

    Scan-stacked arrays are split along their leading depth axis; a gating einsum stored
    (2, F, D) (big_vision's `transpose_gating_einsum` case) is transposed to (2, D, F).
    """
    out, layouts = {}, set()
    for key, value in params.items():
        value = np.asarray(value)
        per_layer = next((m for m in (p.match(key) for p in _PER_LAYER) if m), None)
        if per_layer is not None:
            layouts.add("per-layer")
            out[f"layers/{int(per_layer.group(1))}/{_bv_layer_name(per_layer.group(2))}"] = value
        elif _SCANNED.match(key):
            layouts.add("scan")
            tail = _bv_layer_name(_SCANNED.match(key).group(1))
            for i in range(value.shape[0]):
                out[f"layers/{i}/{tail}"] = value[i]
        else:
            out[key] = value
    if len(layouts) > 1:
        raise ConversionError("Gemma checkpoint mixes scan-stacked 'layers/...' and per-layer 'layers/N/...' arrays.")
    if "embedder/input_embedding" not in out:
        raise ConversionError(
            f"Not a big_vision Gemma checkpoint: no 'embedder/input_embedding' among {sorted(out)[:20]}..."
        )
    width = out["embedder/input_embedding"].shape[1]
    for key in [k for k in out if k.endswith("/mlp/gating_einsum")]:
        gating = out[key]
        if gating.ndim == 3 and gating.shape[2] == width and gating.shape[1] != width:
            out[key] = np.swapaxes(gating, 1, 2)
    return out


def infer_gemma_config(params):
    """big_vision Gemma fields read off prepared params: {field: (value, evidence)}."""
    vocab, width = params["embedder/input_embedding"].shape
    depth = len({int(k.split("/")[1]) for k in params if k.startswith("layers/")})
    found = {
        "vocab_size": (int(vocab), f"embedder/input_embedding {(vocab, width)}"),
        "width": (int(width), f"embedder/input_embedding {(vocab, width)}"),
        "depth": (depth, f"{depth} layers"),
    }
    if depth:
        if "layers/0/attn/qkv_einsum/w" in params:
            shape = params["layers/0/attn/qkv_einsum/w"].shape  # (3, N, D, H)
            where = f"layers/0/attn/qkv_einsum/w {shape}"
            found["num_heads"] = found["num_kv_heads"] = (int(shape[1]), where)
            found["head_dim"] = (int(shape[3]), where)
        elif "layers/0/attn/q_einsum/w" in params and "layers/0/attn/kv_einsum/w" in params:
            q, kv = params["layers/0/attn/q_einsum/w"].shape, params["layers/0/attn/kv_einsum/w"].shape
            found["num_heads"] = (int(q[0]), f"layers/0/attn/q_einsum/w {q}")
            found["head_dim"] = (int(q[2]), f"layers/0/attn/q_einsum/w {q}")
            found["num_kv_heads"] = (int(kv[1]), f"layers/0/attn/kv_einsum/w {kv}")
        else:
            raise ConversionError("Gemma checkpoint has neither attn/qkv_einsum nor attn/q_einsum + kv_einsum.")
        gating = params["layers/0/mlp/gating_einsum"].shape
        found["mlp_dim"] = (int(gating[2]), f"layers/0/mlp/gating_einsum {gating}")
        post = "layers/0/post_attention_norm/scale" in params
        found["post_norms"] = (post, "post_attention_norm present" if post else "no post_attention_norm")
    return found


def gemma_kwargs_from_checkpoint(params, llm_config=None):
    """The `llm` config (big_vision fields) of a prepared checkpoint, checked against `llm_config`.

    Sizes missing from `llm_config` (after its variant) are read off the checkpoint;
    a size that disagrees raises a ValueError naming the field, both values and the
    array that shows it. With a variant outside big_vision's table the sizes come from
    the checkpoint, but a Gemma 2 checkpoint (post-norms) then needs attn_logits_softcap given.
    """
    llm_config = dict(llm_config or {})
    given = expand_gemma_config(llm_config, allow_missing=True)
    inferred = infer_gemma_config(params)
    explicit = {k for k, v in llm_config.items() if v is not None}
    variant = llm_config.get("variant")
    if variant in GEMMA_VARIANTS:
        explicit |= set(GEMMA_VARIANTS[variant])
    mismatched = []
    for field, (value, evidence) in inferred.items():
        if field in explicit and given.get(field) != value:
            mismatched.append(
                f"llm {field}={given[field]!r} in the config but {value!r} in the checkpoint ({evidence})"
            )
    if mismatched:
        raise ConversionError("PaliGemma checkpoint does not match the config: " + "; ".join(mismatched) + ".")
    out = {**given, **{field: value for field, (value, _) in inferred.items()}}
    if (variant is not None and variant not in GEMMA_VARIANTS and out.get("post_norms")
            and "attn_logits_softcap" not in explicit):
        raise ConversionError(
            f"Unknown Gemma variant {variant!r} with a Gemma 2 style checkpoint (post-norms): give "
            f"attn_logits_softcap explicitly (0 for none), or a variant of {sorted(GEMMA_VARIANTS)}."
        )
    out["dropout"] = llm_config.get("dropout", 0.0) or 0.0
    return out


def _keras_to_bv_name(relative):
    """`PaliGemmaBackbone` llm variable path (after "llm/") -> big_vision per-layer name."""
    if relative == "embedder/embeddings":
        return "embedder/input_embedding"
    match = re.match(r"^layers_(\d+)/(.+)$", relative)
    if match:
        return f"layers/{match.group(1)}/{_bv_layer_name(match.group(2))}"
    return relative


def gemma_variables(backbone):
    """{big_vision llm name: variable} of a `PaliGemmaBackbone`'s language model."""
    layers = [backbone.embedder, *backbone.decoder_blocks, backbone.final_norm]
    out = {}
    for layer in layers:
        for variable in layer.weights:
            path = variable.path
            start = path.find("llm/")
            if start < 0:
                raise ConversionError(f"Variable {path!r} is not under the expected 'llm/' scope.")
            out[_keras_to_bv_name(path[start + len("llm/") :])] = variable
    return out


def _strip(patterns, prefix):
    return [p[len(prefix) :] for p in patterns if p.startswith(prefix)]


@register_converter("proj.paligemma.paligemma")
def convert_paligemma(params, config=None, image_shape=None, dont_load=(), **kwargs):
    """The "proj.paligemma.paligemma" converter of `keras_vision.convert.load_big_vision`.

    Sizes are read from the checkpoint and checked against `config` (big_vision
    `config.model`: img=..., llm=...; an llm variant or explicit fields). The resolution:
    `image_shape`, else config img image_size / top-level image_size, else the learned
    position embedding's grid.

    Args:
        params: flat {name: array} without "params/" ("img/...", "llm/...").
        config: big_vision paligemma kwargs.
        image_shape: optional (h, w, c) (a learned posemb is resampled).
        dont_load: regexes over big_vision names ("img/head/.*", "llm/layers/.*") kept at init.

    Returns:
        A `PaliGemmaCausalLM` with the weights loaded.
    """
    if kwargs:
        raise ValueError(f"Unknown option(s) {sorted(kwargs)} for the PaliGemma converter; expected dont_load.")
    config = dict(config or {})
    tops = {k.split("/", 1)[0] for k in params}
    if tops != {"img", "llm"}:
        raise ConversionError(f"Not a PaliGemma checkpoint: top-level names {sorted(tops)} (expected img and llm).")
    img = prepare_vit_params(select_prefix(params, "img"))
    llm = prepare_gemma_params(select_prefix(params, "llm"))

    llm_config = gemma_kwargs_from_checkpoint(llm, config.get("llm"))
    given_img = dict(config.get("img") or {})
    # A checkpoint cannot tell pool_type "none" from "gap"; PaliGemma's is "none".
    inferred_img = {**infer_vit_kwargs(img), "pool_type": "none"}
    if given_img.get("variant"):  # the variant's sizes replace the inferred ones
        for key in ("width", "depth", "mlp_dim", "num_heads", "patch_size"):
            inferred_img.pop(key, None)
    img_config = {**inferred_img, **given_img}
    if image_shape is not None or "image_size" in config or "image_shape" in given_img:
        img_config.pop("image_size", None)
    model = build_paligemma(
        img=img_config,
        llm=llm_config,
        img_model=config.get("img_model", "vit"),
        llm_model=config.get("llm_model", "proj.paligemma.gemma_bv"),
        image_size=config.get("image_size"),
        image_shape=image_shape,
    )
    backbone = model.backbone
    unused = load_vit_params(backbone.vit, img, dont_load=_strip(dont_load, "img/"), strict=False)
    head = {"head/kernel": backbone.vit_head.kernel, "head/bias": backbone.vit_head.bias}
    assign_params(head, unused, dont_load=_strip(dont_load, "img/"), what="PaliGemma image head")
    assign_params(gemma_variables(backbone), llm, dont_load=_strip(dont_load, "llm/"), what="PaliGemma Gemma decoder")
    return model
