"""VQA and caption evaluators: scoring, per-type accuracy, exploding questions, predictions files."""

import json

import numpy as np
import pytest
import sentencepiece
import tensorflow as tf

from keras_vision.data import train_sentencepiece
from keras_vision.evaluators import CaptionEvaluator
from keras_vision.evaluators import VQAEvaluator
from keras_vision.evaluators import caption_scores
from keras_vision.evaluators.vqa import normalize_answer

WORDS = ["red", "blue", "circle", "square", "yes", "no", "a", "at", "the", "top", "left", "two", "3"]


@pytest.fixture(scope="module")
def spm(tmp_path_factory):
    texts = [" ".join(np.random.default_rng(i).choice(WORDS, 6)) for i in range(300)]
    return str(train_sentencepiece(texts, 40, tmp_path_factory.mktemp("spm") / "v.model", bos_id=3,
                                   hard_vocab_limit=False))


class Parrot:
    """A 'model' whose generate answers with fixed texts, in order (EOS-terminated ids)."""

    def __init__(self, spm, answers):
        self.sp = sentencepiece.SentencePieceProcessor(model_file=spm)
        self.answers, self.calls = list(answers), []

    def generate(self, inputs, max_new_tokens, sampler, stop_token_ids):
        batch = len(inputs["image"])
        self.calls.append((batch, max_new_tokens, sampler, stop_token_ids))
        out = np.zeros((batch, max_new_tokens), "int32")
        for i in range(batch):
            ids = (self.sp.encode(self.answers.pop(0)) + [1])[:max_new_tokens] if self.answers else [1]
            out[i, : len(ids)] = ids
        return out


def _examples(n, questions=2):
    """Image + prompt placeholders (the pp is not under test) with per-example question lists."""
    answers = [["red", "yes"], ["blue", "no"], ["red", "3"]][:n]
    return tf.data.Dataset.from_tensor_slices({
        "image": np.zeros((n, 4, 4, 3), "float32"),
        "text": np.ones((n, 5), "int32"), "mask_ar": np.zeros((n, 5), "int32"),
        "mask_input": np.ones((n, 5), "int32"),
        "questions": np.array([[f"q{i}{k}" for k in range(questions)] for i in range(n)]),
        "answers": np.array(answers),
    })


def test_vqa_exact_match_per_type_and_predictions_file(spm, tmp_path):
    # 3 images x 2 questions, exploded into 6 examples (batch 4: two batches, one padded).
    ev = VQAEvaluator(_examples(3), "copy(inkey='answers', outkey='answer')", spm, batch_size=4, max_decode_len=5,
                      explode=("questions", "answers"), type_names=["color", "yes_no"], question_key="questions",
                      outfile=str(tmp_path / "vqa.json"))
    model = Parrot(spm, ["red", "no", "blue", "no", "blue", "3"])  # right, wrong, right, right, wrong, right
    metrics = dict(ev.run(model))
    assert metrics["acc"] == pytest.approx(4 / 6)
    assert metrics["acc/color"] == pytest.approx(2 / 3) and metrics["acc/yes_no"] == pytest.approx(2 / 3)
    assert [c[0] for c in model.calls] == [4, 4] and model.calls[0][1:] == (5, "greedy", (1,))
    records = json.loads((tmp_path / "vqa.json").read_text())
    assert [r["answer"] for r in records] == ["red", "no", "blue", "no", "blue", "3"]
    assert records[1] == {"answer": "no", "gts": ["yes"], "question": "q01", "type": "yes_no"}


def test_vqa_several_ground_truths_follow_vqav2():
    assert normalize_answer("  Top   Left ") == "top left"
    ev = VQAEvaluator([], None, "unused.model")
    batch = {"answers": np.array([["red", "red", "blue", "red"], ["red", "blue", "", ""]])}
    assert ev._score("red", batch, 0)[:2] == (1.0, 1.0)  # 3 matches
    assert ev._score("blue", batch, 0)[:2] == (pytest.approx(1 / 3), 1.0)
    assert ev._score("blue", batch, 1)[2] == ["red", "blue"]  # empty padding answers dropped


def test_caption_scores_and_evaluator(spm, tmp_path):
    refs = [["a red circle at the top", "the red circle"], ["two blue squares", "a blue square at the left"],
            ["a square", "the square at the top left"]]
    perfect = caption_scores([r[0] for r in refs], refs)
    poor = caption_scores(["blue", "red", "circle"], refs)
    assert perfect["bleu_1"] == pytest.approx(1.0) and perfect["cider"] > 1.0 > poor["cider"]
    data = tf.data.Dataset.from_tensor_slices({
        "image": np.zeros((3, 4, 4, 3), "float32"), "text": np.ones((3, 5), "int32"),
        "mask_ar": np.zeros((3, 5), "int32"), "mask_input": np.ones((3, 5), "int32"), "texts": np.array(refs)})
    ev = CaptionEvaluator(data, None, spm, captions_key="texts", batch_size=2, max_decode_len=12,
                          outfile=str(tmp_path / "captions.json"), picture=str(tmp_path / "captions.png"))
    metrics = dict(ev.run(Parrot(spm, [r[0] for r in refs])))
    assert metrics["cider"] == pytest.approx(perfect["cider"], rel=1e-6)
    assert json.loads((tmp_path / "captions.json").read_text())[2]["caption"] == "a square"
    assert (tmp_path / "captions.png").read_bytes()[:4] == b"\x89PNG"


def test_errors(spm):
    ev = VQAEvaluator(_examples(1), None, spm, batch_size=2)
    with pytest.raises(ValueError, match="needs a model with `generate`, got object"):
        dict(ev.run(object()))
    with pytest.raises(ValueError, match="need 'answer' or 'answers'"):
        VQAEvaluator([], None, spm)._score("x", {"label": [1]}, 0)
    with pytest.raises(ValueError, match="2 predictions but 1 reference"):
        caption_scores(["a", "b"], [["a"]])
