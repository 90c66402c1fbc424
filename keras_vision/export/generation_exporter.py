"""SavedModel export of image+prompt -> text models (PaliGemma, PaLI): tokenize, decode, detokenize in the graph."""

import keras
import numpy as np
import sentencepiece
import tensorflow as tf

from keras_vision.api_export import keras_vision_export
from keras_vision.data.sentencepiece_tokenizer import SentencePieceTextTokenizer
from keras_vision.data.sentencepiece_tokenizer import decode_ids
from keras_vision.data.sentencepiece_tokenizer import read_model
from keras_vision.decoding import get_sampler
from keras_vision.decoding import make_decode_fn
from keras_vision.export import exporter as base
from keras_vision.export.errors import ExportError

SAMPLE_PROMPTS = (
    "caption en",
    "",
    "answer en what is the colour of the big shape in the middle of the picture, and how many shapes are there?",
)
# Samplers whose output is a function of the inputs only (no random state to serve).
DETERMINISTIC_SAMPLERS = ("GreedySampler", "BeamSampler")
# The text inputs of each model family's `prefill_cache`: PaliGemma (prefix LM) and PaLI (encoder-decoder).
PALIGEMMA_KEYS = ("tokens", "mask_ar", "mask_input")
PALI_KEYS = ("encoder_tokens", "encoder_mask")
# Prompt format per family: (separator, add_bos, add_eos). PaliGemma: big_vision's
# `combine_and_keep_eval` (tok(prefix, bos="yes") + tok("\n")); PaLI: the prompt with EOS (T5).
FORMATS = {"paligemma": ("\n", True, False), "pali": ("", False, True)}


def _model_kind(model):
    """"paligemma" or "pali" from the text inputs of the model's backbone, else None."""
    backbone = getattr(model, "backbone", None)
    try:
        keys = set(backbone.input)
    except (AttributeError, TypeError, ValueError):
        return None
    if set(PALIGEMMA_KEYS) <= keys:
        return "paligemma"
    if set(PALI_KEYS) <= keys:
        return "pali"
    return None


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ExportError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


@keras_vision_export("keras_vision.export.PromptTokenizer")
class PromptTokenizer(SentencePieceTextTokenizer):
    """Prompt strings -> fixed-length prompt batches for `generate`, in TensorFlow.

    Each prompt becomes big_vision's PaliGemma eval text (`configs/proj/paligemma/
    transfers/common.py` `combine_and_keep_eval`, i.e. the pp ops `tok(key="prefix",
    bos="yes")|tok(key="septok", text="\\n")|masked_concat(["prefix", "septok"],
    mask_ar=[0, 0], mask_input=[1, 1])|tolen(L, pad_value=0, key="text")|tolen(L,
    pad_value=1, key="mask_ar")|tolen(L, pad_value=0, key="mask_input")`): the prompt's
    ids (BOS first; no lowercasing), then the separator's ids, cut to `prompt_length`
    (a longer prompt loses its end, separator included, as `tolen` cuts) or padded with
    0; `mask_ar` 0 on the prompt and 1 on padding, `mask_input` 1 on the prompt.

    Args:
        model: SentencePiece model (bytes, path, or an object with `.proto`).
        prompt_length: L, the static text length of the model's prompts.
        separator: text tokenized on its own and appended ("" for none).
        add_bos, add_eos: put BOS before / EOS after the prompt's ids (before the separator).

    Example:
    >>> tok = PromptTokenizer("spm.model", 16)
    >>> tok(tf.constant(["caption en", ""]))["mask_input"].shape
    TensorShape([2, 16])
    """

    def __init__(self, model, prompt_length, separator="\n", add_bos=True, add_eos=False, name=None):
        super().__init__(model, max_len=prompt_length, eos="yes" if add_eos else "none", lower=False,
                         add_bos=add_bos, pad_value=0, name=name)
        self.separator = str(separator)
        spm = sentencepiece.SentencePieceProcessor(model_proto=self.proto)
        # The separator is tokenized alone (big_vision's tok(text="\n")), not joined to the prompt text.
        self.separator_ids = tuple(int(i) for i in spm.encode(self.separator)) if self.separator else ()
        self.add_eos = bool(add_eos)
        self.eos_id, self.pad_id, self.bos_id = int(spm.eos_id()), int(spm.pad_id()), int(spm.bos_id())
        for wanted, piece, idx in ((add_bos, "BOS", self.bos_id), (add_eos, "EOS", self.eos_id)):
            if wanted and idx < 0:
                raise ValueError(f"The SentencePiece model has no {piece} piece, needed for add_{piece.lower()}=True.")

    def config(self):
        return {"prompt_length": self.max_len, "separator": self.separator,
                "separator_ids": [int(i) for i in self.separator_ids],
                "add_bos": self.add_bos, "add_eos": self.add_eos, "lower": False, "pad_value": self.pad_value,
                "bos_id": self.bos_id, "eos_id": self.eos_id, "vocab_size": self.vocab_size}

    def tokenize_with(self, sp, texts):
        """tf.string [B] -> {"tokens", "mask_ar", "mask_input"}: int32 [B, prompt_length] each."""
        if texts.shape.rank != 1:
            raise ValueError(f"Prompts must be a 1-D batch of strings, got shape {texts.shape}.")
        tokens = tf.cast(sp.tokenize(texts), tf.int32)
        if self.separator_ids:
            sep = tf.constant(list(self.separator_ids), tf.int32)
            sep = tf.RaggedTensor.from_tensor(tf.tile(sep[None], [tf.shape(texts)[0], 1]))
            tokens = tf.concat([tokens, sep], axis=1)
        length = self.max_len
        # `to_tensor` with a static width cuts long rows and pads short ones: tolen(L) without sticky_end.
        ids = tokens.to_tensor(default_value=self.pad_value, shape=[None, length])
        valid = tf.sequence_mask(tf.minimum(tokens.row_lengths(), length), length, tf.int32)
        return {"tokens": ids, "mask_ar": 1 - valid, "mask_input": valid}

    def detokenize(self, token_ids, stop_token_ids):
        """int32 [B, N] generated ids -> tf.string [B]: cut before the first stop id (big_vision's
        `to_str(stop_at_eos=True)`), ids outside the vocabulary dropped, then SentencePiece decoding."""
        token_ids = tf.convert_to_tensor(token_ids, tf.int32)
        if stop_token_ids:
            stops = tf.constant(list(stop_token_ids), tf.int32)
            is_stop = tf.reduce_any(tf.equal(token_ids[..., None], stops), axis=-1)
            before = tf.equal(tf.cumsum(tf.cast(is_stop, tf.int32), axis=1), 0)
            lengths = tf.reduce_sum(tf.cast(before, tf.int32), axis=1)
        else:
            lengths = tf.fill(tf.shape(token_ids)[:1], tf.shape(token_ids)[1])
        ragged = tf.RaggedTensor.from_tensor(token_ids, lengths=lengths)
        ragged = tf.ragged.boolean_mask(ragged, tf.logical_and(ragged >= 0, ragged < self.vocab_size))
        return self.sp.detokenize(ragged)


def python_detokenize(proto, token_ids, stop_token_ids):
    """`PromptTokenizer.detokenize` with the Python SentencePiece library: list of bytes (the reference)."""
    sp = sentencepiece.SentencePieceProcessor(model_proto=proto)
    return [text.encode("utf-8") for text in decode_ids(sp, token_ids, stop_token_ids)]


@keras_vision_export("keras_vision.export.GenerationExporter")
class GenerationExporter(base.Exporter):
    """Exports an image+prompt -> text model (PaliGemma, PaLI) with these signatures (batch size free):

    - `generate`: `images` tf.string [B] encoded images (JPEG/PNG/GIF/BMP/WebP, any size)
      and `prompts` tf.string [B] -> `texts` tf.string [B] and `token_ids` int32
      [B, max_new_tokens]. The image eval pp, the prompt tokenization (`PromptTokenizer`:
      big_vision's PaliGemma eval format), the decoding loop (`sampler` over the KV
      cache, at most `max_new_tokens`, stopping at `stop_token_ids`) and the
      detokenization (cut at the first stop id) all run in the graph. `token_ids`
      holds `pad_token_id` after the stop token.
    - `generate_uint8`: the same for uint8 images [B, h, w, 3] of any size.
    - `serving_default`: `generate`.
    - `tokenize_prompts`: `prompts` -> the model's prompt tensors (`tokens`, `mask_ar`,
      `mask_input`; PaLI: `encoder_tokens`, `encoder_mask`).
    - `model_generate`: the raw decoder: float32 images in [-1, 1] at the model's size
      and the prompt tensors -> `token_ids`.

    Prompts longer than `prompt_length` tokens are cut (as big_vision's `tolen`: the
    end of the prompt and the separator are lost); `manifest.json` records the settings.

    Args:
        model: a task with `generate` whose `backbone` has `prefill_cache` /
            `extend_cache` (`PaliGemmaCausalLM`, `PaLISeq2SeqLM`).
        pp: image eval pp string, e.g. "resize(224)|value_range(-1, 1)".
        tokenizer: the SentencePiece model: a path, bytes, or a tokenizer object with
            `.proto` (`SentencePieceTextTokenizer`, a keras_hub `SentencePieceTokenizer`).
        prompt_length: static prompt text length L (big_vision's `text_len`; default 32).
        max_new_tokens: generated tokens per example (default 32).
        sampler: "greedy" (default) or "beam(n)" (or such a keras_hub sampler): the
            random samplers are not exported (a served model answers the same way each
            time). Beam search exports from the TensorFlow backend only.
        separator: text appended to each prompt (PaliGemma "\\n", PaLI "").
        add_bos, add_eos: BOS before / EOS after the prompt (PaliGemma: BOS; PaLI: EOS).
        stop_token_ids: ids that end a sequence (default: the tokenizer's EOS).
        pad_token_id: id written after the stop token (default: the tokenizer's pad id, or 0).
        image_size, platforms, source: see `Exporter`.

    Example:
    >>> GenerationExporter(paligemma, pp="resize(224)|value_range(-1, 1)", tokenizer="paligemma.model",
    ...     prompt_length=32, max_new_tokens=16).export("saved_models/paligemma/1")
    """

    task = "generation"

    def __init__(self, model, *, pp, tokenizer, prompt_length=32, max_new_tokens=32, sampler="greedy",
                 separator=None, add_bos=None, add_eos=None, stop_token_ids=None, pad_token_id=None,
                 image_size=None, platforms=None, source=None):
        backbone = getattr(model, "backbone", None)
        if not callable(getattr(model, "generate", None)) or not all(
                callable(getattr(backbone, m, None)) for m in ("prefill_cache", "extend_cache")):
            raise ExportError(
                f"{type(model).__name__} cannot be exported for generation: it needs `generate` and a `backbone` "
                "with `prefill_cache` / `extend_cache` (e.g. PaliGemmaCausalLM, PaLISeq2SeqLM)."
            )
        self.kind = _model_kind(model)
        if self.kind is None:
            raise ExportError(
                f"{type(model).__name__}'s backbone takes neither PaliGemma's {PALIGEMMA_KEYS} nor PaLI's "
                f"{PALI_KEYS} text inputs; the generation export knows only these two prompt formats."
            )
        if image_size is None and getattr(backbone, "image_shape", None) is not None:
            # The task's input_shape is a list of four shapes (images and text): read the backbone's.
            image_size = tuple(backbone.image_shape)[:2]
        super().__init__(model, pp=pp, image_size=image_size, platforms=platforms, source=source)
        if tokenizer is None:
            raise ExportError("A generation export needs tokenizer= (SentencePiece model path, bytes or tokenizer).")
        self.prompt_length = _positive_int(prompt_length, "prompt_length")
        self.max_new_tokens = _positive_int(max_new_tokens, "max_new_tokens")
        default_sep, default_bos, default_eos = FORMATS[self.kind]
        try:
            self.tokenizer = PromptTokenizer(
                read_model(tokenizer), self.prompt_length,
                separator=default_sep if separator is None else separator,
                add_bos=default_bos if add_bos is None else bool(add_bos),
                add_eos=default_eos if add_eos is None else bool(add_eos),
            )
        except (TypeError, ValueError) as e:
            raise ExportError(str(e)) from None
        vocab = getattr(backbone, "vocabulary_size", None)
        if isinstance(vocab, int) and self.tokenizer.vocab_size > vocab:
            raise ExportError(
                f"The tokenizer has {self.tokenizer.vocab_size} pieces but the model's vocabulary is {vocab}: "
                "wrong SentencePiece model for this checkpoint?"
            )
        if stop_token_ids is None:
            if self.tokenizer.eos_id < 0:
                raise ExportError("The SentencePiece model has no EOS piece: pass stop_token_ids=(...).")
            stop_token_ids = (self.tokenizer.eos_id,)
        self.stop_token_ids = tuple(int(t) for t in stop_token_ids)
        if pad_token_id is None:
            pad_token_id = max(self.tokenizer.pad_id, 0)
        self.pad_token_id = int(pad_token_id)
        if self.pad_token_id in self.stop_token_ids:
            raise ExportError(f"pad_token_id {self.pad_token_id} cannot also be a stop token {self.stop_token_ids}.")
        try:
            sampler_obj = get_sampler(sampler)
        except ValueError as e:
            raise ExportError(str(e)) from None
        if type(sampler_obj).__name__ not in DETERMINISTIC_SAMPLERS:
            raise ExportError(
                f"Sampler {sampler!r} ({type(sampler_obj).__name__}) draws random numbers; the generation export "
                "supports the deterministic samplers 'greedy' and 'beam(n)'."
            )
        if type(sampler_obj).__name__ == "BeamSampler" and keras.backend.backend() == "jax":
            # jax.lax.top_k lowers to a `chlo.top_k` StableHLO composite with a symbolic batch,
            # which TensorFlow 2.20's XlaCallModule cannot deserialize: the SavedModel would not load.
            raise ExportError(
                f"Sampler {sampler!r}: beam search does not export from the JAX backend (its top_k lowers to a "
                "StableHLO composite that TensorFlow's XlaCallModule cannot load); export it with "
                "KERAS_BACKEND=tensorflow, or use sampler='greedy'."
            )
        self.sampler, self._sampler_obj = sampler, sampler_obj

    def _tracked(self):
        return [self.model, self.tokenizer]

    # --- graph pieces ----------------------------------------------------------------------
    @property
    def text_keys(self):
        return PALIGEMMA_KEYS if self.kind == "paligemma" else PALI_KEYS

    def _model_text(self, prompt):
        """PromptTokenizer output -> the model's text inputs {key: int32 [B, L]}."""
        if self.kind == "paligemma":
            return dict(prompt)
        return {"encoder_tokens": prompt["tokens"], "encoder_mask": prompt["mask_input"]}

    def _sampler_name(self):
        return self.sampler if isinstance(self.sampler, str) else type(self.sampler).__name__

    def _build(self, archive):
        (h, w), length, keys = self.image_size, self.prompt_length, self.text_keys
        backbone = self.model.backbone
        decode, _ = make_decode_fn(backbone, self.max_new_tokens, self._sampler_obj, self.stop_token_ids,
                                   self.pad_token_id)

        def model_generate(images, *text):
            inputs = {"images": keras.ops.cast(images, backbone.compute_dtype), **dict(zip(keys, text))}
            return {"token_ids": keras.ops.cast(decode(inputs), "int32")}

        gen = self._model_endpoint(
            archive, "model_generate", model_generate,
            [tf.TensorSpec((None, h, w, 3), tf.float32, name="images")]
            + [tf.TensorSpec((None, length), tf.int32, name=k) for k in keys],
            f"Raw decoder: float32 images in [-1, 1] at {h}x{w} (no pp) + prompt tensors {list(keys)} "
            f"[B, {length}] -> token_ids [B, {self.max_new_tokens}] ({self._sampler_name()}).",
        )
        prep, tok, stops = self.preprocessor, self.tokenizer, self.stop_token_ids

        def answer(images, prompts, signature):
            check = tf.debugging.assert_equal(
                tf.shape(images)[0], tf.shape(prompts)[0],
                message=f"{signature}: images and prompts must have the same batch size")
            with tf.control_dependencies([check]):
                prompts = tf.identity(prompts)
            text = self._model_text(tok(prompts))
            ids = gen(images, *[text[k] for k in keys])["token_ids"]
            return {"texts": tok.detokenize(ids, stops), "token_ids": ids}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images"),
                                      tf.TensorSpec([None], tf.string, name="prompts")])
        def generate(images, prompts):
            return answer(prep.from_bytes(images, "generate"), prompts, "generate")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images"),
                                      tf.TensorSpec([None], tf.string, name="prompts")])
        def serving_default(images, prompts):
            return answer(prep.from_bytes(images, "serving_default"), prompts, "serving_default")

        @tf.function(input_signature=[tf.TensorSpec(None, tf.uint8, name="images"),
                                      tf.TensorSpec([None], tf.string, name="prompts")])
        def generate_uint8(images, prompts):
            return answer(prep.from_uint8(images, "generate_uint8"), prompts, "generate_uint8")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="prompts")])
        def tokenize_prompts(prompts):
            return self._model_text(tok(prompts))

        pp = prep.serving_pp
        doc = (f"-> pp '{pp}'; prompts -> SentencePiece (BOS {tok.add_bos}, separator {tok.separator!r}, cut/padded "
               f"to {length}) -> {self._sampler_name()} decoding of up to {self.max_new_tokens} tokens (stop at "
               f"{list(stops)}) -> texts (cut at the stop id) and token_ids.")
        self._serving_endpoint(archive, "serving_default", serving_default, "Encoded images + prompts " + doc)
        self._serving_endpoint(archive, "generate", generate,
                               "Encoded images (JPEG/PNG/GIF/BMP/WebP bytes, any size) + prompts " + doc)
        self._serving_endpoint(archive, "generate_uint8", generate_uint8,
                               "uint8 images [B, h, w, 3], any size, + prompts " + doc)
        self._serving_endpoint(archive, "tokenize_prompts", tokenize_prompts,
                               f"Prompts -> the model's prompt tensors {list(keys)} [B, {length}].")

    def _task_manifest(self):
        return {
            "text": {**self.tokenizer.config(), "tokenizer": "SentencePiece (in the graph, tensorflow_text)"},
            "generation": {
                "model": self.kind,
                "prompt_length": self.prompt_length,
                "max_new_tokens": self.max_new_tokens,
                "sampler": self._sampler_name(),
                "stop_token_ids": list(self.stop_token_ids),
                "pad_token_id": self.pad_token_id,
                "long_prompts": f"cut to {self.prompt_length} tokens (big_vision tolen)",
            },
        }

    # --- parity ----------------------------------------------------------------------------
    def sample_inputs(self):
        images = base.sample_images(self.image_size)
        encoded = base.encode_images(images)
        prompts = np.array([p.encode() for p in SAMPLE_PROMPTS], dtype=object)
        # One batch size (3) everywhere: each signature's decoding loop compiles once.
        same = np.stack([base.sample_images(self.image_size, seed=s)[0] for s in (1, 2, 3)])
        model_images = self.preprocessor.from_uint8(tf.constant(same), "ref").numpy()
        text = self._model_text(self.tokenizer(tf.constant(prompts)))
        return {
            "generate": {"images": encoded, "prompts": prompts},
            "serving_default": {"images": encoded, "prompts": prompts},
            "generate_uint8": {"images": same, "prompts": prompts},
            "tokenize_prompts": {"prompts": prompts},
            "model_generate": {"images": model_images, **{k: v.numpy() for k, v in text.items()}},
        }

    def keras_generate(self, images, text):
        """Keras `model.generate` on float32 images and the prompt tensors -> int32 token ids (numpy)."""
        inputs = {"images": np.asarray(images, np.float32), **{k: np.asarray(v, np.int32) for k, v in text.items()}}
        ids = self.model.generate(inputs, max_new_tokens=self.max_new_tokens, sampler=self.sampler,
                                  stop_token_ids=self.stop_token_ids, pad_token_id=self.pad_token_id)
        return np.asarray(keras.ops.convert_to_numpy(ids), np.int32)

    def _answer(self, images, prompts):
        text = {k: v.numpy() for k, v in self._model_text(self.tokenizer(tf.constant(prompts))).items()}
        ids = self.keras_generate(images, text)
        texts = python_detokenize(self.tokenizer.proto, ids, self.stop_token_ids)
        return {"texts": np.array(texts, dtype=object), "token_ids": ids}

    def reference(self, signature, inputs):
        prep = self.preprocessor
        if signature in ("generate", "serving_default"):
            return self._answer(prep.from_bytes(tf.constant(inputs["images"]), "ref").numpy(), inputs["prompts"])
        if signature == "generate_uint8":
            return self._answer(prep.from_uint8(tf.constant(inputs["images"]), "ref").numpy(), inputs["prompts"])
        if signature == "tokenize_prompts":
            return {k: v.numpy() for k, v in self._model_text(self.tokenizer(tf.constant(inputs["prompts"]))).items()}
        if signature == "model_generate":
            return {"token_ids": self.keras_generate(inputs["images"], {k: inputs[k] for k in self.text_keys})}
        raise KeyError(f"Unknown signature {signature!r}.")


@keras_vision_export("keras_vision.export.export_generation")
def export_generation(model, path, *, pp, tokenizer, prompt_length=32, max_new_tokens=32, sampler="greedy",
                      separator=None, add_bos=None, add_eos=None, stop_token_ids=None, pad_token_id=None,
                      image_size=None, platforms=None, source=None, verify=True, overwrite=False):
    """Exports a PaliGemma / PaLI model as a SavedModel with a `generate` signature; returns the manifest.

    Encoded images + prompt strings -> generated strings and token ids, with the image
    pp, the SentencePiece tokenization, the decoding loop and the detokenization in the
    graph (see `GenerationExporter` for the signatures and arguments).

    Example:
    >>> export_generation(paligemma, "saved_models/paligemma/1", pp="resize(224)|value_range(-1, 1)",
    ...                   tokenizer="paligemma_tokenizer.model", max_new_tokens=16)
    """
    exporter = GenerationExporter(model, pp=pp, tokenizer=tokenizer, prompt_length=prompt_length,
                                  max_new_tokens=max_new_tokens, sampler=sampler, separator=separator,
                                  add_bos=add_bos, add_eos=add_eos, stop_token_ids=stop_token_ids,
                                  pad_token_id=pad_token_id, image_size=image_size, platforms=platforms,
                                  source=source)
    return exporter.export(path, verify=verify, overwrite=overwrite)
