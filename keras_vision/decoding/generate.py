"""Autoregressive generation over a model's fixed-size KV cache, with KerasHub samplers, compiled once per shape.

A decodable model has two methods (big_vision's names):

- `prefill_cache(inputs, cache_size)` runs the prompt and returns `(logits, cache)`:
  logits (B, V) of the first token to generate, and a dict of tensors that all have the
  batch axis first (beam search repeats and reorders them along it) with room for
  `cache_size` decoded tokens after the prompt;
- `extend_cache(tokens, cache, step)` feeds one token per example, (B, 1) int32, the
  `step`-th generated one (int32 scalar, 0 for the first), and returns `(logits (B, V),
  cache)` for the next token.

`generate` runs a KerasHub sampler's loop over them: greedy, random/temperature, top-k,
top-p (nucleus) and beam search, stopping once every sequence has emitted a stop token.
Sequences that have stopped emit `pad_token_id` from then on (their score stays fixed,
so beam search compares finished hypotheses as big_vision's beam decoder does).
"""

import weakref

from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.backend.inference import compile_inference
from keras_vision.decoding.samplers import get_sampler

# Logit of every token but the pad token once a sequence has stopped (softmax -> one-hot).
_FINISHED_LOGIT = -1e9
# Per model: {(sampler spec, seed, max_new_tokens, stop ids, pad id): (sampler, compiled fn)}.
_COMPILED = weakref.WeakKeyDictionary()


@keras_vision_export("keras_vision.decoding.generate")
def generate(model, inputs, max_new_tokens, sampler="greedy", stop_token_ids=(1,), pad_token_id=0, seed=None):
    """Generates up to `max_new_tokens` tokens per example after the prompt in `inputs`.

    Args:
        model: a model with `prefill_cache` / `extend_cache` (see the module docstring).
        inputs: the model's prompt inputs (a dict of tensors / arrays).
        max_new_tokens: int > 0, the length of the output.
        sampler: a spec for `get_sampler` ("greedy", "nucleus(0.9)", "top_k(5)",
            "temperature(0.7)", "beam(4)") or a `keras_hub.samplers.Sampler`.
        stop_token_ids: token ids that end a sequence (kept in the output), e.g. (EOS,);
            None or () decodes exactly `max_new_tokens`.
        pad_token_id: written after a sequence's stop token.
        seed: int seed for the random samplers; the same seed and inputs give the same
            samples (the sampler is created once per seed and advances between calls).

    Returns:
        int32 (B, max_new_tokens) generated tokens, `pad_token_id` after the stop token.

    Example:
        >>> tokens = generate(paligemma.backbone, prompt_batch, 16, sampler="greedy", stop_token_ids=(1,))
    """
    key = (sampler if isinstance(sampler, str) else id(sampler), seed, max_new_tokens, tuple(stop_token_ids or ()),
           pad_token_id)
    per_model = _COMPILED.setdefault(model, {})
    if key not in per_model:
        decode, sampler_obj = make_decode_fn(model, max_new_tokens, sampler, stop_token_ids, pad_token_id, seed)
        per_model[key] = compile_inference(decode, model, state_owners=[sampler_obj])
    return per_model[key](inputs)


@keras_vision_export("keras_vision.decoding.make_decode_fn")
def make_decode_fn(model, max_new_tokens, sampler="greedy", stop_token_ids=(1,), pad_token_id=0, seed=None):
    """The uncompiled decoding function `fn(inputs) -> tokens` of `generate`, and its sampler.

    For tracing into other graphs (a SavedModel signature, a training step that samples);
    `generate` compiles it once per model and settings. The arguments are `generate`'s.

    Example:
        >>> fn, sampler = make_decode_fn(model.backbone, 16)
        >>> tokens = fn(prompt_batch)  # traceable: no Python control flow on values
    """
    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}.")
    stop_token_ids = tuple(int(t) for t in (stop_token_ids or ()))
    if int(pad_token_id) in stop_token_ids:
        raise ValueError(f"pad_token_id {pad_token_id} cannot also be a stop token {stop_token_ids}.")
    sampler_obj = get_sampler(sampler, seed=seed)

    def decode(inputs):
        return _decode(model, sampler_obj, inputs, max_new_tokens, stop_token_ids, int(pad_token_id))

    return decode, sampler_obj


class GenerateMixin:
    """`generate` for a Task whose `backbone` has `prefill_cache` / `extend_cache` (big_vision's `decode`)."""

    def generate(self, inputs, max_new_tokens=32, sampler="greedy", stop_token_ids=(1,), pad_token_id=0, seed=None):
        """Generates up to `max_new_tokens` tokens after each prompt (see `keras_vision.decoding.generate`).

        Args:
            inputs: the backbone's prompt batch (big_vision's eval batch keys work).
            max_new_tokens: int, output length.
            sampler: "greedy", "beam(n)", "top_k(k)", "nucleus(p)" / "top_p(p)",
                "temperature(t)", or a `keras_hub.samplers.Sampler`.
            stop_token_ids: ids that end a sequence (Gemma's and T5's EOS is 1).
            pad_token_id: written after the stop token (0 in Gemma and T5).
            seed: int seed of the random samplers.

        Returns:
            int32 (B, max_new_tokens) tokens.

        Example:
            >>> tokens = model.generate(batch, max_new_tokens=16, sampler="beam(4)")
        """
        return generate(
            self.backbone, inputs, max_new_tokens, sampler=sampler, stop_token_ids=stop_token_ids,
            pad_token_id=pad_token_id, seed=seed,
        )


def _decode(model, sampler, inputs, max_new_tokens, stop_token_ids, pad_token_id):
    logits, cache = model.prefill_cache(inputs, cache_size=max_new_tokens)
    batch, vocab = ops.shape(logits)[0], logits.shape[-1]
    # KerasHub's loop samples into `buffer[:, index]` from the logits `next` returns for
    # index. Position 0 holds no token (masked as "prompt"); the first generated token
    # goes to 1 and comes from the prefill logits, later ones from `extend_cache` of the
    # previous token.
    buffer = ops.zeros((batch, max_new_tokens + 1), "int32")
    mask = ops.concatenate([ops.ones((batch, 1), "bool"), ops.zeros((batch, max_new_tokens), "bool")], axis=1)
    loop_cache = {"model": cache, "first_logits": ops.cast(logits, "float32")}
    finished_logits = ops.where(ops.arange(vocab) == pad_token_id, 0.0, _FINISHED_LOGIT)[None, :]
    stops = ops.array(stop_token_ids or (-1,), "int32")
    positions = ops.arange(max_new_tokens + 1, dtype="int32")[None, :]

    def next_logits(prompt, state, index):
        def first():
            return state["first_logits"], state["model"]

        def later():
            token = ops.slice(prompt, (0, index - 1), (ops.shape(prompt)[0], 1))
            step_logits, new_cache = model.extend_cache(token, state["model"], index - 2)
            return ops.cast(step_logits, "float32"), new_cache

        step_logits, new_cache = ops.cond(index == 1, first, later)
        generated = ops.logical_and(positions >= 1, positions < index)
        stopped = ops.any(ops.logical_and(ops.any(prompt[..., None] == stops, axis=-1), generated), axis=1)
        step_logits = ops.where(stopped[:, None], finished_logits, step_logits)
        return step_logits, None, {"model": new_cache, "first_logits": state["first_logits"]}

    out = sampler(
        next_logits,
        buffer,
        cache=loop_cache,
        index=1,
        mask=mask,
        stop_token_ids=stop_token_ids or None,
        # The loop body maps the model's variables through its own StatelessScope; without
        # `model` it would bake their values at trace time into the compiled function.
        model=model,
    )
    tokens = ops.cast(out[:, 1:], "int32")
    # A loop that stopped early leaves zeros: make them pad tokens.
    is_stop = ops.any(tokens[..., None] == stops, axis=-1)
    after_stop = (ops.cumsum(ops.cast(is_stop, "int32"), axis=1) - ops.cast(is_stop, "int32")) > 0
    return ops.where(after_stop, pad_token_id, tokens)
