"""Trying steering vectors (steering.trial) and ranking search's features by how they steer
(analysis.steerable, scope.search(word, steer=True)), on tiny models; the embedded model's in test_embedded.py."""
from __future__ import annotations

import pytest
import torch

from scope_widgets import SAE, Scope
from scope_widgets.analysis import steerable
from scope_widgets.analysis.records import SearchHit
from scope_widgets.steering import trial
from tiny_models import hook_count, tiny_gemma


@pytest.fixture(scope="module")
def scope():
    model, tok = tiny_gemma()
    return Scope(model, tok, SAE.random(model.config.hidden_size, 32, layer=1, threshold=0.05))


def test_a_zero_vector_continues_as_the_plain_model_and_a_large_one_changes_the_text(scope):
    d = scope.model.config.hidden_size
    vectors = torch.zeros(3, d)
    vectors[2] = 50.0 * scope.sae.W_dec[3].detach()
    texts = trial.steered_continuations(scope.model, scope.tokenizer, scope.sae.hook_point_out,
                                        ["Once", "The cat sat", "Once"], vectors, new_tokens=12)
    assert texts[0] == scope.generate("Once", max_new_tokens=12)
    assert texts[1] == scope.generate("The cat sat", max_new_tokens=12)  # rows of other lengths: left padding is exact
    assert texts[2] == scope.generate("Once", steer={3: 50.0}, max_new_tokens=12)
    assert texts[2] != texts[0]
    assert hook_count(scope.model) == 0


@pytest.mark.parametrize("positions", ["prompt", "generated"])
def test_trial_positions_match_the_steering_api(scope, positions):
    vec = 40.0 * scope.sae.W_dec[5].detach()[None]
    got = trial.steered_continuations(scope.model, scope.tokenizer, scope.sae.hook_point_out, ["The cat sat on"], vec,
                                      positions=positions, new_tokens=10)
    assert got[0] == scope.generate("The cat sat on", steer={5: 40.0}, positions=positions, max_new_tokens=10)


def test_trial_refuses_a_vector_count_that_does_not_match(scope):
    with pytest.raises(ValueError, match="one vector per prompt"):
        trial.steered_continuations(scope.model, scope.tokenizer, scope.sae.hook_point_out, ["a", "b"],
                                    torch.zeros(3, scope.model.config.hidden_size))
    assert hook_count(scope.model) == 0


def test_continuation_nll_is_the_mean_cross_entropy_of_each_row(scope):
    tok, model = scope.tokenizer, scope.model
    prompts, texts = ["Once", "The cat sat on the", "Hi"], [" upon a time", " mat", ""]
    got = trial.continuation_nll(model, tok, prompts, texts)
    for p, t, g in zip(prompts[:2], texts[:2], got):
        a = tok(p, add_special_tokens=True)["input_ids"]
        b = tok(t, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([a + b])).logits[0, len(a) - 1 : -1].float()
        assert g == pytest.approx(float(torch.nn.functional.cross_entropy(logits, torch.tensor(b))), rel=1e-4)
    assert got[2] == float("inf")


def test_fluency_rules():
    assert trial.repeat_fraction("a b c a b c a b c a b c") > 0.5
    assert trial.repeat_fraction("one two") == 0.0
    good = "the ferry left the harbour at noon with forty passengers on board"
    assert trial.is_fluent(good, 2.0)
    assert not trial.is_fluent(good, trial.FLUENT_NLL + 0.1)  # too unlikely
    assert not trial.is_fluent("the the the the the the the the the the the", 1.0)  # a loop
    assert not trial.is_fluent("far too short", 1.0)


def test_concept_words_are_the_query_and_its_neighbours_stemmed():
    own, related = steerable.concept_words("Dog", ["dogs", "puppy", "Canine"])
    assert own == {"dog"} and related == {"dog", "puppy", "canine"}
    assert steerable.mentions("Our dogs barked all night.", own)  # inflections and capitals match
    assert steerable.mentions("A PUPPY slept.", related) and not steerable.mentions("A PUPPY slept.", own)
    assert not steerable.mentions("The weather was grey.", related)
    assert steerable.concept_words("dog") == ({"dog"}, {"dog"})


def test_a_tokenizer_without_word_tokens_gives_no_neighbours(scope):
    # one token per character: nothing is a whole word (the embedded model's neighbours: test_embedded.py)
    assert steerable.embedding_neighbours(scope.model, scope.tokenizer, "cat", n=5) == []


def test_rank_by_steering_puts_features_that_write_the_concept_first(scope, monkeypatch):
    """Feature 7 turns 2 of 3 openings to dogs at its middle coefficient; feature 4 mentions dogs but loops;
    feature 9 writes fluently about nothing in particular; feature 5 writes about puppies (a related word, not
    the query's own) in all 3. Reading order was 4, 9, 5, 7."""
    scales = {4: 10.0, 9: 20.0, 5: 25.0, 7: 30.0}
    order = [4, 9, 5, 7]
    expected = []  # (feature, coefficient, prompt, text) in the order the rows are built
    for f in order:
        for s in steerable.TRIAL_SCALES:
            for j, p in enumerate(steerable.TRIAL_PROMPTS):
                if f == 7 and s == 1.0 and j < 2:
                    text = " we took the dog for a long walk along the river and talked about our week"
                elif f == 5:
                    text = " we watched a puppy chase its ball around the garden until the sun went down"
                elif f == 4:
                    text = " dog dog dog dog dog dog dog dog dog dog dog dog"
                else:
                    text = " we went to the shops, bought some bread and came home before it got dark"
                expected.append((f, s * scales[f], p, text))
    seen = {}

    def fake_continuations(model, tokenizer, hook, prompts, vectors, new_tokens=20, positions="all"):
        assert list(prompts) == [p for _, _, p, _ in expected]
        for (f, c, _, _), v in zip(expected, vectors):  # each row adds its feature's direction at its coefficient
            torch.testing.assert_close(v, c * scope.sae.W_dec[f].detach().float())
        seen["rows"] = len(prompts)
        return [t for *_, t in expected]

    monkeypatch.setattr(steerable, "steered_continuations", fake_continuations)
    monkeypatch.setattr(steerable, "continuation_nll", lambda model, tok, prompts, texts: [1.0] * len(texts))
    hits = [SearchHit(feature=f, score=1.0 - i / 10, label=None, why="activation") for i, f in enumerate(order)]
    stems = ({"dog"}, {"dog", "puppy"})
    ranked = steerable.rank_by_steering(scope.model, scope.tokenizer, scope.sae, hits, stems, scales)
    assert seen["rows"] == 4 * len(steerable.TRIAL_SCALES) * len(steerable.TRIAL_PROMPTS)  # one batch for all
    # 7: 2 openings x (related + own) = 4 beats 5: 3 x related = 3; then reading order among those that do not steer
    assert [h.feature for h in ranked] == [7, 5, 4, 9]
    assert ranked[0].steers == pytest.approx(2 / 3) and ranked[0].steer_coefficient == pytest.approx(30.0)
    assert ranked[1].steers == 1.0 and ranked[1].steer_coefficient == pytest.approx(steerable.TRIAL_SCALES[0] * 25.0)
    assert ranked[2].steers == 0.0 and ranked[2].steer_coefficient is None
    assert steerable.rank_by_steering(scope.model, scope.tokenizer, scope.sae, [], stems, scales) == []


def test_concept_token_ids_are_whole_words_after_a_space():
    class Words:  # a word tokenizer: each known word after a space is one token, anything else two
        vocab = {" dog": 1, " Dog": 2, " puppy": 3}

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [self.vocab[text]] if text in self.vocab else [7, 8]}

    assert steerable.concept_token_ids(Words(), ["dog", "puppy", "canine"]) == [1, 2, 3]


def test_writing_scores_are_the_steered_probability_of_the_concept_tokens(scope):
    ids, attn, starts = steerable.neutral_reading(scope.model, scope.tokenizer, scope.sae.hook_point_out)
    assert steerable.neutral_reading(scope.model, scope.tokenizer, scope.sae.hook_point_out)[0] is ids  # once per model
    targets, scales = [5, 9], {3: 30.0, 7: 45.0}

    def brute(steer):  # each row alone, unpadded, through the public steering API
        probs = []
        with scope.steer(steer):
            for r in range(ids.shape[0]):
                n = int(attn[r].sum())
                with torch.no_grad():
                    p = scope.model(ids[r : r + 1, :n]).logits[0].float().softmax(-1)[:, targets].sum(-1)
                probs.append(p[starts[r] : n - 1])
        return float(torch.cat(probs).mean())

    got, unsteered = steerable.writing_scores(scope.model, scope.tokenizer, scope.sae, [3, 7], targets, scales, chunk=2)
    assert unsteered == pytest.approx(brute({}), rel=1e-4)
    for f in (3, 7):
        best = max(brute({f: m * scales[f]}) for m in steerable.WRITING_SCALES)
        assert got[f] == pytest.approx(best, rel=1e-4)
    assert hook_count(scope.model) == 0


def test_search_with_steer_puts_first_what_writes_the_concept(scope, monkeypatch):
    readers = [h.feature for h in scope.search("cat", k=steerable.STEER_POOL)]
    fake = {f: 0.001 * i for i, f in enumerate(readers)}  # the last reader writes the most
    fake[readers[1]] = fake[readers[2]]  # a tie keeps the reading order

    def fake_writing(model, tokenizer, sae, features, token_ids, scales):
        assert list(features) == readers and set(scales) == set(readers)
        return {f: fake[f] for f in features}, 0.0001

    monkeypatch.setattr(steerable, "writing_scores", fake_writing)
    hits = scope.search("cat", k=len(readers), steer=True)
    expected = sorted(readers, key=lambda f: (-fake[f], readers.index(f)))
    assert [h.feature for h in hits] == expected
    assert [h.writes for h in hits] == [fake[f] for f in expected]
    assert all(h.extra["writes_unsteered"] == 0.0001 for h in hits)


def test_search_with_steer_refuses_what_it_cannot_do_and_leaves_the_model_alone(scope):
    with pytest.raises(ValueError, match="query word"):
        scope.search(examples=["a dog barked"], steer=True)
    assert hook_count(scope.model) == 0


def test_search_with_steer_tries_the_candidates_and_reports_how_they_steered(scope):
    plain = scope.search("cat", k=3)
    hits = scope.search("cat", k=3, steer=True)
    assert len(hits) == 3 and all(h.steers is not None and h.writes is not None for h in hits)
    assert [h.writes for h in hits] == sorted((h.writes for h in hits), reverse=True)  # ranked by what they write
    assert all(h.extra["writes_unsteered"] == hits[0].extra["writes_unsteered"] for h in hits)
    tried = {h.feature for h in scope.search("cat", k=steerable.STEER_POOL)}
    assert {h.feature for h in hits} <= tried  # the steering choice is among search's best readers
    assert all(h.steers is None and h.writes is None for h in plain)
    many = scope.search("cat", k=steerable.STEER_CANDIDATES + 2, steer=True)  # only the first few are tried
    assert all(h.steers is not None for h in many[: steerable.STEER_CANDIDATES])
    assert all(h.steers is None for h in many[steerable.STEER_CANDIDATES :])
    quick = scope.search("cat", k=2, steer=True, generate=False)  # the word's frames only: still tried on the sliders
    assert len(quick) == 2 and all(h.steers is not None for h in quick)
    assert hook_count(scope.model) == 0
