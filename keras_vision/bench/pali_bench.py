"""PaliGemma decoding speed: the KV-cached step vs full recomputation, and `generate` tokens/s vs KerasHub's.

`run_pali_bench(...)` builds, from one set of dimensions, our
`keras_vision.models.pali.PaliGemmaCausalLM` and KerasHub's
`keras_hub.models.PaliGemmaCausalLM` (`preprocessor=None`; the two have the same
parameter count, which the record holds: KerasHub's `intermediate_dim` is 2F where
ours is F), and for every batch size times, in one process:

- "prefill": our jitted `prefill_cache` (image + prompt, fills the cache) — token 1;
- "cached step": our jitted `extend_cache` + greedy argmax, one call per token 2..N,
  each call timed on its own, so the figure per position shows whether the step grows
  with the cache fill (the cache has a fixed size, so it should not);
- "recomputed": the jitted `text_logits` over [image, prompt, k - 1 generated tokens]
  (the last position's argmax) at tokens 1, N/2 and N: what token k costs without a
  cache; "recompute decode (est.)" sums that cost over k = 1..N (linear interpolation);
- "generate": whole greedy `generate` calls, ours (`stop_token_ids=()`) and KerasHub's
  (`stop_token_ids=None`, its "always decode to the buffer's end"), exactly N new
  tokens per example each, alternating ours / KerasHub in every round; tokens/s is
  batch * N / the median call.

Before timing, on every batch size: our `generate` tokens must equal the tokens of the
hand-driven prefill + step loop, and every one of them must be the argmax of the logits
of a full recomputation without a cache on [prompt, the tokens before it] (teacher
forcing; by induction this is "greedy decoding with recomputation gives the same
tokens"); an argmax that differs only by a near tie (`tie_tol`) is counted, not failed.
KerasHub's output must keep the prompt and cover the whole buffer. A failed check
raises before anything is timed. Weights are random (ours with big_vision's zero-init
image head redrawn, so the image tokens reach the decoder); KerasHub's differ from
ours, so only the speed of the two is compared.

Each timed call waits for its result (the tokens are copied to the host). The
hand-driven step times include one jitted-call dispatch per token (the model's
variables and the cache are passed each time), which the `generate` loop does not pay;
`generate` per token is therefore the figure to compare with KerasHub.
"""

import math
import time

import keras
import keras_hub
import numpy as np

from keras_vision.backend.inference import compile_inference
from keras_vision.bench import timing
from keras_vision.models.pali.paligemma_backbone import PaliGemmaBackbone
from keras_vision.models.pali.paligemma_causal_lm import PaliGemmaCausalLM

IMPLS = ("keras_vision", "keras_hub")


def _model_kwargs(c):
    ours = dict(
        vocabulary_size=c["vocab"], image_shape=(c["image_size"], c["image_size"], 3), vit_patch_size=c["patch"],
        vit_hidden_dim=c["vit_width"], vit_num_layers=c["vit_depth"], vit_num_heads=c["vit_heads"],
        vit_intermediate_dim=c["vit_mlp_dim"], hidden_dim=c["llm_width"], num_layers=c["llm_depth"],
        num_heads=c["heads"], num_key_value_heads=c["kv_heads"], head_dim=c["head_dim"],
        intermediate_dim=c["mlp_dim"],
    )
    hub = dict(
        vocabulary_size=c["vocab"], image_size=c["image_size"], vit_patch_size=c["patch"],
        vit_hidden_dim=c["vit_width"], vit_num_layers=c["vit_depth"], vit_num_heads=c["vit_heads"],
        vit_intermediate_dim=c["vit_mlp_dim"], hidden_dim=c["llm_width"], num_layers=c["llm_depth"],
        num_query_heads=c["heads"], num_key_value_heads=c["kv_heads"], head_dim=c["head_dim"],
        # KerasHub's Gemma blocks split `intermediate_dim` into the two GeGLU halves.
        intermediate_dim=2 * c["mlp_dim"],
    )
    return ours, hub


def build_models(config, seed=0):
    """(ours, keras_hub's) PaliGemmaCausalLM with the dimensions of a `run_pali_bench` config."""
    ours_kwargs, hub_kwargs = _model_kwargs(config)
    keras.utils.set_random_seed(seed)
    ours = PaliGemmaCausalLM(PaliGemmaBackbone(**ours_kwargs))
    head = ours.backbone.vit_head.kernel
    rng = np.random.default_rng(seed)
    head.assign(rng.normal(0.0, 1.0 / math.sqrt(head.shape[0]), head.shape).astype(head.dtype))
    hub = keras_hub.models.PaliGemmaCausalLM(backbone=keras_hub.models.PaliGemmaBackbone(**hub_kwargs),
                                             preprocessor=None)
    hub.compile(sampler="greedy")
    return ours, hub


def make_prompts(batch_size, config, seed=0):
    """(our prompt batch, KerasHub's) with the same images and prompt tokens; ids 2.. (0 pad, 1 EOS unused)."""
    rng = np.random.default_rng(seed + batch_size)
    size, length, new = config["image_size"], config["prompt_len"], config["new_tokens"]
    images = rng.uniform(-1, 1, (batch_size, size, size, 3)).astype("float32")
    tokens = rng.integers(2, config["vocab"], (batch_size, length)).astype("int32")
    ours = dict(images=images, tokens=tokens, mask_ar=np.zeros_like(tokens), mask_input=np.ones_like(tokens))
    hub = dict(images=images, token_ids=np.concatenate([tokens, np.zeros((batch_size, new), "int32")], axis=1),
               padding_mask=np.concatenate([np.ones_like(tokens), np.zeros((batch_size, new), "int32")], axis=1))
    return ours, hub


def _greedy(logits_and_cache):
    logits, cache = logits_and_cache
    return _argmax_column(logits), logits, cache


def _argmax_column(logits):
    return keras.ops.cast(keras.ops.argmax(logits, axis=-1), "int32")[:, None]


class _Decoder:
    """Our backbone's prefill / cached step / recomputation, each compiled once per shape."""

    def __init__(self, backbone, new_tokens):
        self.new_tokens = int(new_tokens)
        self.prefill = compile_inference(lambda batch: _greedy(backbone.prefill_cache(batch, self.new_tokens)),
                                         backbone)
        self.step = compile_inference(lambda tokens, cache: _greedy(backbone.extend_cache(tokens, cache)), backbone)
        self.logits = compile_inference(lambda images, tokens, mask_ar, mask_input: backbone.text_logits(
            images, tokens, mask_ar=mask_ar, mask_input=mask_input), backbone)
        self.recompute_next = compile_inference(lambda images, tokens, mask_ar, mask_input: _argmax_column(
            backbone.text_logits(images, tokens, mask_ar=mask_ar, mask_input=mask_input)[:, -1]), backbone)

    def decode_by_steps(self, inputs, keep_logits=False):
        """Greedy decoding by hand: (prefill s, [step s per token 2..N], tokens (B, N), logits (B, N, V) or None)."""
        start = time.perf_counter()
        token, logits, cache = self.prefill(inputs)
        tokens = [keras.ops.convert_to_numpy(token)]  # waits for the result
        prefill_s = time.perf_counter() - start
        all_logits = [keras.ops.convert_to_numpy(logits)] if keep_logits else None
        step_s = []
        for _ in range(self.new_tokens - 1):
            start = time.perf_counter()
            token, logits, cache = self.step(token, cache)
            tokens.append(keras.ops.convert_to_numpy(token))
            step_s.append(time.perf_counter() - start)
            if keep_logits:
                all_logits.append(keras.ops.convert_to_numpy(logits))
        logits_out = None if all_logits is None else np.stack(all_logits, axis=1)
        return prefill_s, step_s, np.concatenate(tokens, axis=1), logits_out

    def recompute_inputs(self, inputs, generated):
        """Model inputs [prompt (prefix), generated tokens (causal)]: the sequence a recomputation runs on."""
        tokens = np.concatenate([inputs["tokens"], generated.astype("int32")], axis=1)
        mask_ar = np.concatenate([inputs["mask_ar"], np.ones_like(generated, dtype="int32")], axis=1)
        return inputs["images"], tokens, mask_ar, np.ones_like(tokens)


def compare_greedy(tokens, recomputed_logits, cached_logits=None, tie_tol=1e-4):
    """Checks cached greedy tokens against the argmax of teacher-forced recomputed logits.

    Args:
        tokens: (B, N) tokens of the cached greedy decode.
        recomputed_logits: (B, N, V) logits without a cache; [:, k] predicts `tokens[:, k]`
            from the prompt and `tokens[:, :k]`.
        cached_logits: optional (B, N, V) logits the cached decode drew `tokens` from.
        tie_tol: a differing argmax whose logit exceeds that of the cached token by at most
            this much counts as a tie, not a mismatch.

    Returns:
        {"tokens_checked", "mismatches", "ties", "first_mismatch" ([b, k] or None),
        "max_abs_logit_diff" (cached vs recomputed, or None), "cached_equals_recomputed"}.

    Example:
        >>> compare_greedy(tokens, full_logits[:, prompt_len - 1:])["cached_equals_recomputed"]
        True
    """
    tokens = np.asarray(tokens).astype("int64")
    full = np.asarray(recomputed_logits, "float32")
    if full.shape[:2] != tokens.shape:
        raise ValueError(f"recomputed_logits {full.shape} must be (B, N, V) for tokens {tokens.shape}.")
    best = full.argmax(axis=-1)
    picked = np.take_along_axis(full, tokens[..., None], -1)[..., 0]
    gap = np.take_along_axis(full, best[..., None], -1)[..., 0] - picked
    differ = best != tokens
    ties = differ & (gap <= tie_tol)
    bad = differ & ~ties
    first = [int(i) for i in np.argwhere(bad)[0]] if bad.any() else None
    diff = None
    if cached_logits is not None:
        diff = float(np.max(np.abs(np.asarray(cached_logits, "float32") - full)))
    return dict(tokens_checked=int(tokens.size), mismatches=int(bad.sum()), ties=int(ties.sum()),
                first_mismatch=first, max_abs_logit_diff=diff, cached_equals_recomputed=not bad.any())


def _check(decoder, ours, inputs, hub, hub_inputs, config, tie_tol):
    """Verifies the decodes (module docstring) and returns the check record and the two first-call times."""
    new, length = config["new_tokens"], config["prompt_len"]
    start = time.perf_counter()
    generated = np.asarray(ours.generate(inputs, new, sampler="greedy", stop_token_ids=()))
    ours_first_s = time.perf_counter() - start
    _, _, stepped, cached_logits = decoder.decode_by_steps(inputs, keep_logits=True)
    full = keras.ops.convert_to_numpy(decoder.logits(*decoder.recompute_inputs(inputs, generated[:, :-1])))
    check = compare_greedy(generated, full[:, length - 1:], cached_logits, tie_tol=tie_tol)
    check["generate_equals_steps"] = bool(np.array_equal(generated, stepped))
    batch = len(generated)
    if not check["generate_equals_steps"]:
        raise RuntimeError(f"batch {batch}: generate's tokens differ from the prefill + extend_cache loop's "
                           f"({generated.tolist()} vs {stepped.tolist()}); nothing was timed.")
    if not check["cached_equals_recomputed"]:
        b, k = check["first_mismatch"]
        raise RuntimeError(
            f"batch {batch}: the cached greedy decode differs from recomputation without a cache at example {b}, "
            f"token {k + 1}: cached {int(generated[b, k])}, recomputed {int(full[b, length - 1 + k].argmax())} "
            f"({check['mismatches']} of {check['tokens_checked']} tokens); nothing was timed.")
    start = time.perf_counter()
    out = hub.generate(hub_inputs, stop_token_ids=None)
    hub_first_s = time.perf_counter() - start
    hub_tokens = np.asarray(out["token_ids"])
    check["keras_hub_full_length"] = bool(
        hub_tokens.shape == (batch, length + new) and np.asarray(out["padding_mask"]).all()
        and np.array_equal(hub_tokens[:, :length], hub_inputs["token_ids"][:, :length]))
    if not check["keras_hub_full_length"]:
        raise RuntimeError(f"batch {batch}: keras_hub's generate did not return the prompt + {new} tokens "
                           f"(token_ids {hub_tokens.shape}); nothing was timed.")
    return check, ours_first_s, hub_first_s


def _middle(new_tokens):
    """The middle generated token reported (1-based; >= 2, so that it is an extend_cache step)."""
    return max(2, new_tokens // 2)


def _slope(xs, ys):
    """Least-squares slope of ys over xs (0.0 for fewer than two points)."""
    return float(np.polyfit(np.asarray(xs, "float64"), np.asarray(ys, "float64"), 1)[0]) if len(xs) > 1 else 0.0


def _time_once(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _bench_batch(decoder, ours, hub, config, batch_size, rounds, seed, tie_tol, log):
    new, length = config["new_tokens"], config["prompt_len"]
    inputs, hub_inputs = make_prompts(batch_size, config, seed)
    check, ours_first_s, hub_first_s = _check(decoder, ours, inputs, hub, hub_inputs, config, tie_tol)
    log(f"batch {batch_size}: checked ({check['tokens_checked']} tokens, {check['ties']} ties); "
        f"first generate call ours {ours_first_s:.1f} s, keras_hub {hub_first_s:.1f} s")

    recompute_at = sorted({1, _middle(new), new})
    filler = np.full((batch_size, new - 1), 2, "int32")
    recompute_args = {k: decoder.recompute_inputs(inputs, filler[:, :k - 1]) for k in recompute_at}
    for args in recompute_args.values():  # compiles each length
        keras.ops.convert_to_numpy(decoder.recompute_next(*args))

    runs = {
        "keras_vision": lambda: np.asarray(ours.generate(inputs, new, sampler="greedy", stop_token_ids=())),
        "keras_hub": lambda: hub.generate(hub_inputs, stop_token_ids=None),
    }
    for run in runs.values():  # one more untimed call each after the compiling one
        run()
    gen_times = {name: [] for name in IMPLS}
    prefill_times, step_times = [], []
    recompute_times = {k: [] for k in recompute_at}
    for r in range(rounds):
        for name in IMPLS if r % 2 == 0 else IMPLS[::-1]:
            gen_times[name].append(_time_once(runs[name]))
        prefill_s, step_s, _, _ = decoder.decode_by_steps(inputs)
        prefill_times.append(prefill_s)
        step_times.append(step_s)
        for k, args in recompute_args.items():
            recompute_times[k].append(_time_once(lambda a=args: keras.ops.convert_to_numpy(decoder.recompute_next(*a))))
        log(f"batch {batch_size}: round {r + 1}/{rounds}: generate ours {gen_times['keras_vision'][-1]:.3f} s, "
            f"keras_hub {gen_times['keras_hub'][-1]:.3f} s")

    steps = np.asarray(step_times)  # (rounds, N - 1): token k = column k - 2
    per_token = np.median(steps, axis=0)
    cached_at = sorted({2, _middle(new), new})
    recompute_medians = [float(np.median(recompute_times[k])) for k in recompute_at]
    # Token k without a cache costs a pass over prompt_len + k - 1 text tokens: interpolate between the timed k.
    recompute_total = float(np.sum(np.interp(np.arange(1, new + 1), recompute_at, recompute_medians)))
    generate = {}
    for name in IMPLS:
        stats = timing.summarize(gen_times[name])
        generate[name] = dict(stats, tokens_per_s=batch_size * new / stats["median_s"],
                              first_call_s=ours_first_s if name == "keras_vision" else hub_first_s)
    speedups = [h / o for o, h in zip(gen_times["keras_vision"], gen_times["keras_hub"])]
    return dict(
        batch_size=batch_size,
        check=check,
        prefill=timing.summarize(prefill_times),
        cached_step=dict(
            at={str(k): timing.summarize(steps[:, k - 2]) for k in cached_at},
            median_s_per_token=[round(float(t), 7) for t in per_token],
            slope_s_per_token=_slope(range(2, new + 1), per_token),
            last_over_first=float(per_token[-1] / per_token[0]),
            median_s=float(np.median(steps)),
        ),
        recompute=dict(
            at={str(k): dict(timing.summarize(recompute_times[k]), text_length=length + k - 1) for k in recompute_at},
            slope_s_per_token=_slope(recompute_at, recompute_medians),
            last_over_first=recompute_medians[-1] / recompute_medians[0],
            estimated_decode_s=recompute_total,
            estimated_tokens_per_s=batch_size * new / recompute_total,
        ),
        generate=generate,
        ours_over_keras_hub_tokens_per_s=float(np.median(speedups)),
        ours_over_keras_hub_per_round=[round(s, 4) for s in speedups],
    )


def run_pali_bench(llm_width=256, llm_depth=4, heads=4, kv_heads=1, head_dim=64, mlp_dim=1024, vocab=4096,
                   image_size=64, patch=16, vit_width=256, vit_depth=2, vit_heads=4, vit_mlp_dim=None,
                   prompt_len=16, new_tokens=32, batches=(1, 16), rounds=5, seed=0, tie_tol=1e-4, log=None):
    """Times PaliGemma decoding (module docstring); returns a JSON-able record.

    Args:
        llm_width, llm_depth, heads, kv_heads, head_dim, mlp_dim, vocab: the Gemma decoder
            (`mlp_dim` is big_vision's GeGLU size F).
        image_size, patch, vit_width, vit_depth, vit_heads, vit_mlp_dim: the ViT
            (`vit_mlp_dim` default 4 * vit_width); (image_size / patch)**2 image tokens.
        prompt_len: text prompt tokens per example (all valid, the prefix).
        new_tokens: tokens generated per example (>= 2).
        batches: batch sizes, each benchmarked in turn.
        rounds: timed rounds per batch size (each: one `generate` per implementation,
            alternating which goes first, one hand-driven cached decode, one
            recomputation per reported length).
        seed: weights and data seed.
        tie_tol: logit gap under which a differing argmax is a tie (`compare_greedy`).
        log: optional callable(str) for progress lines.

    Example:
        >>> record = run_pali_bench(llm_width=64, llm_depth=2, vocab=256, batches=(1,), rounds=2)
        >>> record["results"][0]["generate"]["keras_vision"]["tokens_per_s"]
    """
    log = log or (lambda s: None)
    if new_tokens < 2:
        raise ValueError(f"new_tokens must be >= 2 (token 1 comes from the prefill), got {new_tokens}.")
    batches = tuple(int(b) for b in batches)
    if not batches or min(batches) < 1:
        raise ValueError(f"batches must be positive batch sizes, got {batches}.")
    config = dict(llm_width=llm_width, llm_depth=llm_depth, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
                  mlp_dim=mlp_dim, vocab=vocab, image_size=image_size, patch=patch, vit_width=vit_width,
                  vit_depth=vit_depth, vit_heads=vit_heads, vit_mlp_dim=vit_mlp_dim or 4 * vit_width,
                  prompt_len=prompt_len, new_tokens=new_tokens, batches=list(batches), rounds=rounds, seed=seed,
                  backend=keras.backend.backend())
    ours, hub = build_models(config, seed)
    params = dict(keras_vision=int(ours.backbone.count_params()), keras_hub=int(hub.backbone.count_params()))
    log(f"built: {params['keras_vision']:,} parameters (ours), {params['keras_hub']:,} (keras_hub)")
    decoder = _Decoder(ours.backbone, new_tokens)
    results = [_bench_batch(decoder, ours, hub, config, b, rounds, seed, tie_tol, log) for b in batches]
    return dict(
        config=config,
        machine=timing.machine_info(),
        params=params,
        image_tokens=int(ours.backbone.num_image_tokens),
        check={str(r["batch_size"]): r["check"] for r in results},
        results=results,
        peak_rss_bytes=timing.peak_rss_bytes(),
        device_peak_bytes=timing.device_peak_bytes(),
    )


def _ms(stats):
    return f"{1e3 * stats['median_s']:.2f} [{1e3 * stats['min_s']:.2f}-{1e3 * stats['max_s']:.2f}]"


def format_pali_table(record):
    """Markdown tables of a `run_pali_bench` record: per-token cost by position, then generate tokens/s."""
    c = record["config"]
    machine = record["machine"]
    n = c["new_tokens"]
    lines = [
        f"PaliGemma LLM width {c['llm_width']} depth {c['llm_depth']} ({c['heads']} heads, {c['kv_heads']} kv, "
        f"head {c['head_dim']}, mlp {c['mlp_dim']}, vocab {c['vocab']}), ViT {c['vit_width']}x{c['vit_depth']} "
        f"{c['image_size']}px/{c['patch']} ({record['image_tokens']} image tokens), prompt {c['prompt_len']}, "
        f"{n} new tokens; {record['params']['keras_vision']:,} params (keras_hub {record['params']['keras_hub']:,}); "
        f"Keras backend {c['backend']}; {machine.get('device', '')} {machine.get('cpu_count', '')} cores; "
        f"ms median [min-max] of {c['rounds']} rounds",
        "",
        f"| batch | token k costs ms | k = 1 | k = {_middle(n)} | k = {n} | slope us/token | last/first |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    keys = (str(_middle(n)), str(n))
    for r in record["results"]:
        cached, recompute = r["cached_step"], r["recompute"]
        lines.append(f"| {r['batch_size']} | cached (k=1: prefill_cache, then one extend_cache step each) | "
                     f"{_ms(r['prefill'])} | {_ms(cached['at'][keys[0]])} | {_ms(cached['at'][keys[1]])} | "
                     f"{1e6 * cached['slope_s_per_token']:+.2f} | {cached['last_over_first']:.2f} |")
        lines.append(f"| {r['batch_size']} | recomputed (text_logits over prompt + k - 1 tokens) | "
                     + " | ".join(_ms(recompute["at"][k]) for k in ("1",) + keys) +
                     f" | {1e6 * recompute['slope_s_per_token']:+.2f} | {recompute['last_over_first']:.2f} |")
    lines += [
        "",
        f"| batch | generate ({n} new tokens, greedy) | call s median [min-max] | tokens/s | first call s |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in record["results"]:
        for name in IMPLS:
            g = r["generate"][name]
            lines.append(f"| {r['batch_size']} | {name} | {g['median_s']:.4f} [{g['min_s']:.4f}-{g['max_s']:.4f}] | "
                         f"{g['tokens_per_s']:.1f} | {g['first_call_s']:.1f} |")
        rc = r["recompute"]
        lines.append(f"| {r['batch_size']} | recompute every token (est.) | {rc['estimated_decode_s']:.4f} | "
                     f"{rc['estimated_tokens_per_s']:.1f} | |")
    for r in record["results"]:
        per_round = ", ".join(f"{v:.3f}" for v in r["ours_over_keras_hub_per_round"])
        ck = r["check"]
        lines.append(f"batch {r['batch_size']}: keras_vision / keras_hub tokens/s = "
                     f"{r['ours_over_keras_hub_tokens_per_s']:.3f} (per round: {per_round}); cached greedy = "
                     f"recomputed greedy on {ck['tokens_checked']} tokens ({ck['ties']} ties), max |logit diff| "
                     f"{ck['max_abs_logit_diff']:.1e}")
    return "\n".join(lines)
