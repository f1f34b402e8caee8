"""The token profile (what a feature usually fires on) and the labels of dense features made from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scope_widgets import SAE, Scope
from scope_widgets.analysis.auto_labels import DENSE_LABEL, profile_label, usual_label
from scope_widgets.analysis.corpus_pass import compute_dashboards
from scope_widgets.analysis.token_profile import TokenCounter, text_counts, top_tokens
from scope_widgets.widgets._dashboard import dashboard_state
from tiny_models import tiny_gemma

TEXTS = [
    "The cat sat on the mat, and the cat slept.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "the the the the the",
    "A dog, a cat and a bird walk into a bar.",
    "def f(x):\n    return x * 2",
    "To be, or not to be, that is the question.",
]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOPE_WIDGETS_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def scope_and_dash():
    model, tok = tiny_gemma()
    scope = Scope(model, tok, SAE.random(model.config.hidden_size, 40, layer=1, seed=5, threshold=0.3))
    dash = compute_dashboards(scope.model, scope.tokenizer, scope.sae, TEXTS, n_examples=3, context=2, batch_size=4, progress=False)
    return scope, dash


def brute_force_profile(scope, texts):
    """Per feature ``{token id: texts where it fired on that token}`` and per token the texts that have it."""
    fired: list[dict[int, int]] = [dict() for _ in range(scope.sae.d_sae)]
    has: dict[int, int] = {}
    for t in texts:
        ids = scope.tokenizer(t)["input_ids"][1:]  # BOS dropped
        dense = scope.features(t).dense()[1:]
        for tok in set(ids):
            has[tok] = has.get(tok, 0) + 1
        for j in range(dense.shape[1]):
            for tok in {ids[p] for p in np.nonzero(dense[:, j] > 0)[0]}:
                fired[j][tok] = fired[j].get(tok, 0) + 1
    return fired, has


def test_profile_equals_brute_force(scope_and_dash):
    scope, dash = scope_and_dash
    fired, has = brute_force_profile(scope, TEXTS)
    totals = dash.text_counts()
    for tok, n in has.items():
        assert totals[tok] == n
    checked = 0
    for j in range(scope.sae.d_sae):
        counts = fired[j]
        if not counts:
            assert dash.frequent_tokens(j) == []
            continue
        rate = sum(counts.values()) / sum(has[t] for t in counts)
        score = {t: n * max(n / has[t] - rate, 0.0) + 1e-9 * n / has[t] for t, n in counts.items()}
        best = sorted(counts, key=lambda t: (-score[t], t))[:16]
        ids = dash.arrays["profile_ids"][j]
        got = [int(t) for t in ids if t >= 0]
        assert got == best, j
        rows = dash.frequent_tokens(j)
        assert [n for _, n, _ in rows] == [counts[t] for t in best]
        np.testing.assert_allclose([p for _, _, p in rows], [counts[t] / has[t] for t in best])
        assert [s for s, _, _ in rows] == [scope.tokenizer.decode([t]) for t in best]
        checked += 1
    assert checked > 10


def test_a_token_repeated_in_one_text_counts_once():
    counter = TokenCounter()
    # feature 0 fires five times on token 7 in text 0, once on token 7 in text 1; feature 1 on token 3
    counter.add(torch.tensor([0, 0, 0, 0, 0, 1]), torch.tensor([7, 7, 7, 7, 7, 3]), torch.tensor([0, 0, 0, 0, 0, 0]))
    counter.add(torch.tensor([0]), torch.tensor([7]), torch.tensor([1]))
    state = counter.state()
    assert state["profile_keys"].tolist() == [7, (1 << 24) + 3]
    assert state["profile_counts"].tolist() == [2, 1]
    ids, counts = top_tokens(counter, np.bincount([7, 7, 3], minlength=8), d_sae=3, k=2)
    assert ids.tolist() == [[7, -1], [3, -1], [-1, -1]] and counts.tolist() == [[2, 0], [1, 0], [0, 0]]
    restored = TokenCounter()
    restored.load_state(state)
    assert restored.state()["profile_counts"].tolist() == [2, 1]
    with pytest.raises(ValueError, match="token ids"):
        counter.add(torch.tensor([0]), torch.tensor([-1]), torch.tensor([0]))


def test_text_counts_skip_a_leading_bos():
    tokens = np.array([2, 5, 5, 6, 2, 5, 2, 7])  # three texts, each starting with BOS (2)
    assert text_counts(tokens, np.array([0, 4, 6, 8]), bos_id=2).tolist() == [0, 0, 0, 0, 0, 2, 1, 1]


def test_dense_features_are_named_by_what_they_usually_fire_on():
    usual = [(" something", 30, 0.97), (" thing", 28, 0.93), (" person", 28, 0.88), (" the", 200, 0.2)]
    assert profile_label(usual) == "something / thing / person"
    # a rare feature keeps the label of its top examples
    assert usual_label("adress / ten / in …", usual, DENSE_LABEL / 2) == "adress / ten / in …"
    # a dense one whose top examples are outliers takes the profile's
    assert usual_label("adress / ten / in …", usual, 0.1) == "something / thing / person"
    # ... and names what its top examples repeat after it, without their context or promoted tokens
    assert usual_label("surprised / week (after ␣) (text about maya) → shocked", usual, 0.1) == \
        "something / thing / person · top: surprised / week"
    long = usual_label("salesman / dentist / opponent", [(" extraordinarily", 9, 0.9), (" uncharacteristically", 9, 0.9),
                                                         (" incomprehensibly", 9, 0.9)], 0.1)
    assert long == "extraordinarily / uncharacteristically / incomprehensibly · top: salesman / dentist"
    # ... unless the examples' first word is among the words it usually fires on
    assert usual_label("thing (before of)", usual, 0.1) == "thing (before of)"
    assert usual_label("noun: Things / idea", usual, 0.1) == "noun: Things / idea"
    # ... or when the examples share a meaning
    assert usual_label("athletic game: tennis / golf", usual, 0.1) == "athletic game: tennis / golf"
    assert usual_label(": / ):", usual, 0.1) == "something / thing / person"
    assert usual_label(None, usual, 0.1) == "something / thing / person"
    assert usual_label("cat", [], 0.1) == "cat"
    # in the profile's order, inflections merged
    assert profile_label([("\n", 3, 0.5), (" Dogs", 4, 1.0), (" the", 9, 0.3), (" dog", 2, 1.0)]) == "\\n / Dogs / the"
    assert profile_label([]) is None


def test_profiles_of_function_words_are_headed_by_their_kind():
    from scope_widgets.analysis.auto_labels import class_head
    from scope_widgets.analysis.lexicon import word_class

    assert [word_class(w) for w in ("The", "of", "\\n", "␣", "):", "dog", "4", "ing")] == \
        ["determiners", "prepositions", "punctuation", "punctuation", "punctuation", None, None, None]

    def rows(*words):
        return [(" " + w, 9 - i, 0.9) for i, w in enumerate(words)]

    # five of six of one kind, the three listed among them
    assert profile_label(rows("me", "him", "them", "you", "us", "dog")) == "pronouns: me / him / them"
    # the listed words must all be of it: "to" leads, so no single kind; a content word blocks "function words"
    assert profile_label(rows("to", "I", "he", "we", "me", "dog")) == "to / I / he"
    assert profile_label(rows("the", "to", "a", "of", "and", "he")) == "function words: the / to / a"
    assert profile_label(rows(".", "and", "a", "of", "the", "or")) == "function words and punctuation: . / and / a"
    assert profile_label(rows(".", ",", "\n", ":", ";", "and")) == "punctuation: . / , / \\n"
    # content words get no grammatical head (a feature on nouns is often about a topic), nor do short profiles
    assert profile_label(rows("food", "house", "children", "book", "water", "story")) == "food / house / children"
    assert class_head(["the", "of", "a"]) is None
    # a head in front of a dense feature's label, before what its top examples repeat
    assert usual_label("surprised / week", rows("is", "to", "it", ".", "a", "was"), 0.1) == \
        "function words: is / to / it · top: surprised / week"  # the "." is not among the words listed


def test_the_dashboard_shows_the_profile(scope_and_dash):
    scope, dash = scope_and_dash
    j = int(np.argmax(dash.active_count))
    data = dash.feature(j, scope.tokenizer)
    assert data.frequent_tokens and all(0 < p <= 1 and n >= 1 for _, n, p in data.frequent_tokens)

    class Fake:
        def dashboard(self, i):
            return data

    state, _ = dashboard_state(Fake(), j)
    assert state["frequent_tokens"] == [[t, n, p] for t, n, p in data.frequent_tokens][:10]
    data.frequent_tokens = [["a", 2, 0.5], ["bad", -1, 0.5], ["worse", 1, 7.0], "junk"]
    assert dashboard_state(Fake(), j)[0]["frequent_tokens"] == [["a", 2, 0.5]]


def test_the_text_about_word_does_not_depend_on_hash_order():
    from scope_widgets.analysis.auto_labels import auto_label

    generic = [(" the", " of", 5.0), (" a", " in", 4.0), (" it", " x", 4.0), (" was", " y", 3.0), (" on", " z", 3.0)]
    windows = [[" dog", " and", " cat"], [" cat", " dog"], [" a", " dog", " cat"], [" horse"]]  # dog and cat tie
    assert auto_label(generic, [], contexts=windows) == "the / a / it … (text about cat)"
