"""generate(): samplers over a KV-cache model, against brute force on a Markov chain with known probabilities."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision.decoding import generate
from keras_vision.decoding import get_sampler

pytestmark = pytest.mark.multibackend

V = 5  # vocabulary; 1 is the stop token, 0 the pad token


class MarkovChain(keras.Model):
    """A decodable model whose next-token logits are a table row of the last token.

    Sequence log-probabilities are then sums of `log_softmax(table)[prev, next]`, which
    the tests enumerate exactly. `cache_size` and `step` are checked like a real cache.
    """

    def __init__(self, table):
        super().__init__()
        self.table = self.add_weight(shape=table.shape, initializer=keras.initializers.Constant(table))
        self.steps_seen = []

    def prefill_cache(self, inputs, cache_size):
        last = ops.convert_to_tensor(inputs["tokens"], "int32")[:, -1]
        cache = {"last": last, "room": ops.full_like(last, cache_size)}
        return ops.take(self.table, last, axis=0), cache

    def extend_cache(self, tokens, cache, step):
        tokens = tokens[:, 0]
        # The loop feeds the `step`-th generated token: room must never run out.
        room = cache["room"] - 1
        return ops.take(self.table, tokens, axis=0), {"last": tokens, "room": room + 0 * step}


def _table(seed=0):
    rng = np.random.default_rng(seed)
    table = rng.normal(0, 2.0, (V, V)).astype("float32")
    table[:, 0] = -30.0  # never sample pad
    table[1] = -30.0
    table[1, 0] = 0.0
    return table


def _log_softmax(table):
    z = table - table.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _score(seq, start, logp, stop=1):
    total, prev = 0.0, start
    for token in seq:
        total += logp[prev, token]
        if token == stop:
            break
        prev = token
    return total


def _prompts():
    return {"tokens": np.array([[2, 3], [4, 2], [0, 3]], "int32")}


def test_greedy_is_the_argmax_chain():
    table = _table()
    out = np.asarray(generate(MarkovChain(table), _prompts(), 4, stop_token_ids=()))
    for row, start in zip(out, _prompts()["tokens"][:, -1]):
        prev, expected = start, []
        for _ in range(4):
            prev = int(table[prev].argmax())
            expected.append(prev)
        assert row.tolist() == expected


@pytest.mark.parametrize("sampler", ["greedy", "beam(2)"])
def test_new_weights_are_used_without_recompiling(sampler):
    # The compiled loop must read the variables, not the values they had when it was traced.
    model = MarkovChain(_table(0))
    generate(model, _prompts(), 4, sampler=sampler, stop_token_ids=())
    model.table.assign(_table(1))
    again = np.asarray(generate(model, _prompts(), 4, sampler=sampler, stop_token_ids=()))
    fresh = np.asarray(generate(MarkovChain(_table(1)), _prompts(), 4, sampler=sampler, stop_token_ids=()))
    np.testing.assert_array_equal(again, fresh)


def test_beam_search_finds_the_best_sequence():
    # With as many beams as sequences, beam search is exhaustive: compare with brute force
    # (scores of finished sequences frozen at their stop token, as big_vision's beam decoder).
    table, length = _table(3), 3
    logp = _log_softmax(table)
    out = np.asarray(generate(MarkovChain(table), _prompts(), length, sampler=f"beam({V ** length})"))
    for row, start in zip(out, _prompts()["tokens"][:, -1]):
        candidates = [s for s in itertools.product(range(1, V), repeat=length)]
        best = max(candidates, key=lambda s: _score(s, start, logp))
        assert _score(row, start, logp) == pytest.approx(_score(best, start, logp), abs=1e-4)
        stop = list(best).index(1) + 1 if 1 in best else length
        assert row[:stop].tolist() == list(best[:stop]) and (row[stop:] == 0).all()


def test_beam_search_beats_or_ties_greedy():
    table = _table(5)
    logp = _log_softmax(table)
    model = MarkovChain(table)
    greedy = np.asarray(generate(model, _prompts(), 4))
    beam = np.asarray(generate(model, _prompts(), 4, sampler="beam(3)"))
    for g, b, start in zip(greedy, beam, _prompts()["tokens"][:, -1]):
        assert _score(b, start, logp) >= _score(g, start, logp) - 1e-5


def test_stop_token_then_pad():
    table = np.full((V, V), -30.0, "float32")
    table[2, 3] = table[3, 1] = table[4, 2] = 0.0  # 2 -> 3 -> stop; 4 -> 2 -> 3 -> stop
    table[1, 0] = 0.0
    out = np.asarray(generate(MarkovChain(table), {"tokens": np.array([[2], [4]], "int32")}, 6))
    np.testing.assert_array_equal(out, [[3, 1, 0, 0, 0, 0], [2, 3, 1, 0, 0, 0]])


def test_random_samplers_follow_the_seed_and_the_distribution():
    table = _table(1)
    prompts = {"tokens": np.full((400, 1), 2, "int32")}
    model = MarkovChain(table)
    a = np.asarray(generate(model, prompts, 1, sampler="temperature(1.0)", seed=7, stop_token_ids=()))
    b = np.asarray(generate(MarkovChain(table), prompts, 1, sampler="temperature(1.0)", seed=7, stop_token_ids=()))
    np.testing.assert_array_equal(a, b)  # same seed, same samples
    again = np.asarray(generate(model, prompts, 1, sampler="temperature(1.0)", seed=7, stop_token_ids=()))
    assert (again != a).any()  # the sampler's seed generator advances between calls
    freq = np.bincount(a[:, 0], minlength=V) / len(a)
    np.testing.assert_allclose(freq, np.exp(_log_softmax(table))[2], atol=0.08)
    top1 = np.asarray(generate(model, prompts, 2, sampler="top_k(1)", seed=0, stop_token_ids=()))
    greedy = np.asarray(generate(model, prompts, 2, stop_token_ids=()))
    np.testing.assert_array_equal(top1, greedy)
    top2 = np.asarray(generate(model, prompts, 1, sampler="top_k(2)", seed=0, stop_token_ids=()))
    assert set(top2[:, 0]) <= set(np.argsort(-table[2])[:2])


def test_sampler_specs_and_errors():
    assert get_sampler("nucleus(0.9, t=0.5)").p == 0.9
    assert get_sampler("nucleus(0.9, t=0.5)").temperature == 0.5
    assert get_sampler("beam(4)").num_beams == 4
    with pytest.raises(ValueError, match="Unknown sampler 'typical'.*known"):
        get_sampler("typical")
    with pytest.raises(ValueError, match="Malformed sampler"):
        get_sampler("beam(4")
    with pytest.raises(ValueError, match="at most 1 positional"):
        get_sampler("beam(4, 5)")
    with pytest.raises(ValueError, match="max_new_tokens must be a positive int, got 0"):
        generate(MarkovChain(_table()), _prompts(), 0)
    with pytest.raises(ValueError, match="pad_token_id 1 cannot also be a stop token"):
        generate(MarkovChain(_table()), _prompts(), 2, pad_token_id=1)
