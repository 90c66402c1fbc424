"""VQA accuracy of a generating model (big_vision `proj.paligemma.transfers.vqa`)."""

import re

from keras_vision.evaluators._decoding import GeneratingEvaluator
from keras_vision.evaluators._decoding import as_text
from keras_vision.evaluators._decoding import save_picture
from keras_vision.evaluators._decoding import write_predictions
from keras_vision.evaluators.evaluator import Evaluator
from keras_vision.evaluators.registry import register

_SPACES = re.compile(r"\s+")


def normalize_answer(answer, to_lower=True):
    """big_vision's VQA answer post-processing: optional lower-casing; here also surrounding/duplicate spaces."""
    answer = _SPACES.sub(" ", as_text(answer)).strip()
    return answer.lower() if to_lower else answer


@register("proj.paligemma.transfers.vqa", "vqa")
class VQAEvaluator(Evaluator):
    """Answers questions with the model's `generate` and scores them as big_vision's VQA evaluator.

    A single ground truth (`answer`) scores 1 for an exact match after normalisation;
    several (`answers`, VQAv2-style) score min(1, matches / 3) ("acc") and any match
    ("acc_any"). With `type_names`, "acc/<type>" is reported per question type, the type
    being `type_names[batch[type_key] % len(type_names)]` (the shapes world cycles its
    question kinds: shape, count, colour, position, total count, yes/no).

    Args:
        data: data config (or tf.data of examples).
        pp_fn: eval pp producing "image", "text" (the prompt), "mask_ar", "mask_input" and
            keeping `answer`/`answers` (big_vision's `combine_and_keep_eval`).
        tokenizer: the SentencePiece model (path) to detokenize with.
        batch_size: eval batch size.
        max_decode_len: tokens to generate per question.
        sampler: a `keras_vision.decoding` sampler spec ("greedy").
        to_lower: lower-case answers and ground truths before comparing.
        explode: list features to split into one example each before `pp_fn`, e.g.
            ("questions", "answers") for the shapes world (adds "question_index").
        type_key, type_names: per-type accuracy (see above).
        question_key: the question text, copied to the predictions file when the pp keeps it.
        outfile: JSON of {question, answer, gts} per example, e.g. "{workdir}/vqa.json".
        picture: PNG of the first `picture_count` examples, "question -> answer (truth)".
        prompt_keys: the batch keys `generate` takes (default PaliGemma's "image", "text",
            "mask_ar", "mask_input"; PaLI: "image", "encoder_tokens", "encoder_mask").
        cache: see `EvalData`.

    Example:
    >>> ev = VQAEvaluator(dict(name="shapes", split="val[:100]"), pp, "{workdir}/spm.model",
    ...                   explode=("questions", "answers"), type_names=SHAPES_QUESTION_TYPES)
    >>> dict(ev.run(model))  # {"acc": ..., "acc/color": ..., ...}
    """

    def __init__(self, data, pp_fn, tokenizer, batch_size=32, max_decode_len=8, sampler="greedy", to_lower=True,
                 explode=None, type_key="question_index", type_names=None, question_key="question", outfile=None,
                 picture=None, picture_count=8, prompt_keys=None, cache="pipeline"):
        self.generating = GeneratingEvaluator(data, pp_fn, tokenizer, batch_size, max_decode_len, sampler, explode,
                                              cache, prompt_keys)
        self.to_lower, self.type_key, self.question_key = to_lower, type_key, question_key
        self.type_names = list(type_names) if type_names else None
        self.outfile, self.picture, self.picture_count = outfile, picture, int(picture_count)

    def _score(self, answer, batch, i):
        if "answer" in batch:
            gts = [normalize_answer(batch["answer"][i], self.to_lower)]
            return float(answer == gts[0]), float(answer == gts[0]), gts
        if "answers" in batch:
            gts = [normalize_answer(a, self.to_lower) for a in batch["answers"][i] if as_text(a)]
            matches = sum(answer == gt for gt in gts)
            return min(1.0, matches / 3.0), min(1.0, float(matches)), gts
        raise ValueError(f"VQA eval batches need 'answer' or 'answers'; got keys {sorted(batch)}.")

    def run(self, model):
        scores, scores_any, per_type, records, shown = [], [], {}, [], []
        for batch, texts in self.generating.decoded(model):
            shown.extend(batch["image"][: max(self.picture_count - len(shown), 0)])
            for i, text in enumerate(texts):
                answer = normalize_answer(text, self.to_lower)
                acc, acc_any, gts = self._score(answer, batch, i)
                scores.append(acc)
                scores_any.append(acc_any)
                record = {"answer": answer, "gts": gts}
                if self.question_key in batch:
                    record["question"] = as_text(batch[self.question_key][i])
                if self.type_names:
                    kind = self.type_names[int(batch[self.type_key][i]) % len(self.type_names)]
                    per_type.setdefault(kind, []).append(acc)
                    record["type"] = kind
                records.append(record)
        if not scores:
            raise ValueError("The VQA eval data produced no example.")
        write_predictions(self.outfile, records)
        save_picture(self.picture, shown, [f"{r.get('question', '')} -> {r['answer']} ({', '.join(r['gts'])})"
                                           for r in records])
        yield "acc", sum(scores) / len(scores)
        yield "acc_any", sum(scores_any) / len(scores_any)
        for kind, values in sorted(per_type.items()):
            yield f"acc/{kind}", sum(values) / len(values)
