"""Captioning CIDEr and BLEU of a generating model (big_vision `proj.paligemma.transfers.coco_caption`)."""

import re

from keras_vision.evaluators._decoding import GeneratingEvaluator
from keras_vision.evaluators._decoding import as_text
from keras_vision.evaluators._decoding import save_picture
from keras_vision.evaluators._decoding import write_predictions
from keras_vision.evaluators.evaluator import Evaluator
from keras_vision.evaluators.registry import register

_WORDS = re.compile(r"[a-z0-9]+")


def caption_tokens(text):
    """Lower-cased words without punctuation, joined by spaces: what COCO's PTB tokenizer gives
    for plain English captions, without its Java dependency."""
    return " ".join(_WORDS.findall(as_text(text).lower()))


def caption_scores(predictions, references):
    """CIDEr-D and BLEU-1..4 of `predictions` (list of str) against `references` (list of lists).

    The COCO caption scorers of pycocoevalcap (`Cider`, `Bleu(4)`), on `caption_tokens`.
    CIDEr's document frequencies come from these references, so it needs more than one image.

    Example:
    >>> caption_scores(["a red circle"], [["a red circle", "one red circle"]])["bleu_1"]
    """
    # Heavy optional import (an extra: ~100 MB of Java jars for metrics not used here).
    try:
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
    except ImportError:
        raise ImportError("The captioning evaluator needs pycocoevalcap: pip install 'keras-vision[captions]'.") from None
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists.")
    res = {i: [caption_tokens(p) or "<empty>"] for i, p in enumerate(predictions)}
    gts = {i: [caption_tokens(r) for r in refs] or ["<empty>"] for i, refs in enumerate(references)}
    cider, _ = Cider().compute_score(gts, res)
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    return {"cider": float(cider), **{f"bleu_{n + 1}": float(b) for n, b in enumerate(bleu)}}


@register("proj.paligemma.transfers.coco_caption", "caption")
class CaptionEvaluator(Evaluator):
    """Captions images with the model's `generate`; CIDEr-D and BLEU against every reference caption.

    Args:
        data: data config (or tf.data of examples).
        pp_fn: eval pp producing "image", "text" (the prompt, e.g. "caption en\\n"), "mask_ar",
            "mask_input" and keeping `captions_key`.
        tokenizer: the SentencePiece model (path) to detokenize with.
        captions_key: the reference captions (a list per image).
        batch_size, max_decode_len, sampler, prompt_keys, cache: as `VQAEvaluator`.
        outfile: JSON of {caption, references} per image, e.g. "{workdir}/captions.json".
        picture: PNG of the first `picture_count` images with their captions, e.g. "{workdir}/captions.png".

    Example:
    >>> dict(CaptionEvaluator(dict(name="shapes", split="val[:100]"), pp, spm, captions_key="texts").run(model))
    {"cider": ..., "bleu_4": ..., ...}
    """

    def __init__(self, data, pp_fn, tokenizer, captions_key="captions", batch_size=32, max_decode_len=32,
                 sampler="greedy", outfile=None, picture=None, picture_count=8, prompt_keys=None,
                 cache="pipeline"):
        self.generating = GeneratingEvaluator(data, pp_fn, tokenizer, batch_size, max_decode_len, sampler, None, cache,
                                              prompt_keys)
        self.captions_key, self.outfile = captions_key, outfile
        self.picture, self.picture_count = picture, int(picture_count)

    def run(self, model):
        predictions, references, shown = [], [], []
        for batch, texts in self.generating.decoded(model):
            shown.extend(batch["image"][: max(self.picture_count - len(shown), 0)])
            if self.captions_key not in batch:
                raise ValueError(f"Caption eval batches need {self.captions_key!r}; got keys {sorted(batch)}.")
            predictions.extend(texts)
            references.extend([as_text(c) for c in refs if as_text(c)] for refs in batch[self.captions_key])
        if len(predictions) < 2:
            raise ValueError(f"CIDEr needs at least 2 images (its IDF comes from the references); got {len(predictions)}.")
        write_predictions(self.outfile, [{"caption": p, "references": r} for p, r in zip(predictions, references)])
        save_picture(self.picture, shown, predictions)
        yield from caption_scores(predictions, references).items()
