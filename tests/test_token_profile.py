"""The token profile (what a feature usually fires on), the labels of dense features made from it, and the
order a clicked token lists its features in (its word's features first)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

import scope_widgets as sw
from scope_widgets import SAE, Scope
from scope_widgets.analysis.auto_labels import DENSE_LABEL, profile_label, usual_label
from scope_widgets.analysis.corpus_pass import compute_dashboards
from scope_widgets.analysis.sources import reference_from
from scope_widgets.analysis.token_profile import TokenCounter, profile_reliability, reliability, text_counts, top_tokens
from scope_widgets.features.activations import (TEXT_FEATURES, TEXT_RANK_BASE, WORD_RATIO_CAP, label_names,
                                               names_word)
from scope_widgets.widgets.wire import word_rank_bytes
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
    # ... unless they are a function word or two and the profile names the kind it fires on
    function = [(" that", 9, 0.8), (" when", 9, 0.9), (" which", 9, 0.9), (" who", 9, 0.9), (" if", 9, 0.9), (" what", 9, 0.9)]
    assert usual_label("If", function, 0.1) == "function words: that / when / which · top: If"
    assert usual_label("which / if", function, 0.1) == "function words: that / when / which · top: which / if"
    assert usual_label("If (after .)", function, 0.1) == "If (after .)"  # a context says more than the kind
    assert usual_label("which / idea", function, 0.1) == "which / idea"
    assert usual_label("thing", usual, 0.1) == "thing"  # no kind to name
    marks = [(".", 9, 0.9), (",", 9, 0.9), (":", 9, 0.9), ("?", 9, 0.9), ("!", 9, 0.9), (";", 9, 0.9)]
    assert usual_label(". / ? / !", marks, 0.1) == ". / ? / !"  # punctuation shows its kind, and which marks
    # ... or when the examples share a meaning
    assert usual_label("athletic game: tennis / golf", usual, 0.1) == "athletic game: tennis / golf"
    assert usual_label(": / ):", usual, 0.1) == "something / thing / person"
    assert usual_label(None, usual, 0.1) == "something / thing / person"
    assert usual_label("cat", [], 0.1) == "cat"
    # in the profile's order, inflections merged
    assert profile_label([("\n", 3, 0.5), (" Dogs", 4, 1.0), (" the", 9, 0.3), (" dog", 2, 1.0)]) == "\\n / Dogs / the"
    assert profile_label([]) is None


def test_dense_labels_say_what_top_examples_share_around_them_when_no_word_repeats():
    from scope_widgets.analysis.auto_labels import top_place

    usual = [(" something", 30, 0.97), (" thing", 28, 0.93), (" person", 28, 0.88)]
    # where they stand: the tokens beside them, or a kind of place
    assert usual_label("splatter / drove / tempt … (after also) (text about examp", usual, 0.1,
                       place="after also, before ):") == "something / thing / person · top: after also, before ):"
    assert usual_label("lets / Flamingo / Test …", usual, 0.1, place="inside words") == \
        "something / thing / person · top: inside words"
    assert usual_label("lets / Flamingo / Test …", usual, 0.1) == "something / thing / person"
    # a text or line start goes beside repeated words; a piece of a word does not (the words show it)
    assert usual_label("Cal / Ph", usual, 0.1, place="at line starts") == "something / thing / person · top: Cal / Ph (at line starts)"
    assert usual_label("Cal / Ph", usual, 0.1, place="inside words") == "something / thing / person · top: Cal / Ph"
    # never on a rare feature, nor where the examples' label stays
    assert usual_label("lets / Flamingo / Test …", usual, DENSE_LABEL / 2, place="inside words") == "lets / Flamingo / Test …"
    assert usual_label("thing (before of)", usual, 0.1, place="at line starts") == "thing (before of)"

    starts = [(w, None, n) for w, n in zip("ABCDEFGHIJKLM", " there|,| is|:| of|!| a|.| I| we| it|?| to".split("|"))]
    dogs = [(" dog", " the", " ran")] * 10
    assert top_place(starts[:13] + dogs[:7]) == "first tokens of a text"  # 13 of 20 >= PLACE_SHARE
    assert top_place(starts[:10] + dogs[:2] + [(" cat", " a", " ran")] * 8) is None  # 12 of 20
    assert top_place([("x", None, ":")] * 13 + dogs[:7]) == "first tokens of a text, before :"
    # the tokens they follow and precede, as labels show tokens (a bracket in one too)
    assert top_place([(" splatter", " also", "):"), (" tempt", " also", "):"), (" drove", " also", "):")]) == \
        "after also, before ):"
    assert top_place([(" tea", " (", " cup"), (" milk", " (", ")"), (" ale", " (", ",")]) == "after ("
    assert top_place([(" tea", " (", " cup"), (" milk", " the", ")"), (" ale", " a", ",")]) is None
    assert top_place([("def", "\n", " f"), ("import", "\n\n", " os"), ("x", None, " =")]) == "at line starts"
    assert top_place([("lets", "Snig", ","), ("itol", "Ger", "."), ("옵", "션", "으")]) == "inside words"  # any script
    assert top_place([("0", "187", "-"), ("3", "189", ","), ("5", "19", "."), ("ies", "famil", ".")]) == "inside numbers"
    assert top_place([("0", "187", "-"), ("3", "189", "-"), ("5", "19", "-")]) == "inside numbers, before -"
    assert top_place([("def", "\n", ":"), ("class", "\n\n", ":"), ("x", None, ":")]) == "at line starts, before :"  # not "after \n"
    assert top_place([("Cal", " ", "ifornia"), (" Ph", ",", "oenix"), ("Bal", "\t", "timore"), (" dog", " a", " ran")]) == "word beginnings"
    assert top_place([(" dog", " a", " ran"), (" cat", " the", ".")]) is None
    assert top_place([]) is None


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


# ---------------------------------------------------------------------------------------------------------------
# What a clicked token lists first: the features of its word (they usually fire on it across the corpus, or
# their label names it), then the rest by strength (``FeatureActivations.word_ranks`` / ``ranked_at``, the
# ``word_ranks`` trait, ``rankedAt`` in the browser).
TEXT = "The dog and the cat sat on the mat."


def with_reference(scope, dash, text=TEXT):
    acts = scope.features(text)
    acts.reference, acts.reference_source = reference_from(dash), None
    return acts


def test_reliability_is_the_share_of_texts_scaled_down_below_five():
    got = reliability(np.array([5, 2, 0, 10, 3]), np.array([5, 4, 0, 8, 3]))
    # 5 of 5; 2 of 4 on 2 texts (x 2/5); nothing; totals that lag count as the fired texts; 3 of 3 (x 3/5)
    np.testing.assert_allclose(got, [1.0, 0.2, 0.0, 1.0, 0.6])
    ids = np.array([[3, 1, -1], [0, -1, -1]])
    counts = np.array([[5, 2, 0], [1, 0, 0]])
    np.testing.assert_allclose(profile_reliability(ids, counts, np.array([2, 4, 0, 5])), [[1.0, 0.2, 0.0], [0.1, 0.0, 0.0]])


def test_word_rates_are_each_feature_s_reliability_on_the_token_it_is_kept_for(scope_and_dash):
    scope, dash = scope_and_dash
    acts = with_reference(scope, dash)
    rates = acts.word_rates()
    totals = dash.text_counts()
    expected = np.zeros_like(rates)
    for pos, token in enumerate(acts.token_ids.tolist()):
        for j, (f, v) in enumerate(zip(acts.top_ids[pos].tolist(), acts.top_values[pos].tolist())):
            row = dash.arrays["profile_ids"][f].tolist()
            if v > 0 and token in row:
                n = dash.arrays["profile_counts"][f][row.index(token)]
                expected[pos, j] = reliability(np.array([n]), np.array([totals[token]]))[0]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    assert (rates > 0).sum() >= 5  # otherwise this test shows nothing


def letter_labels(acts) -> dict[int, str]:
    """Labels naming letters (the tiny tokenizer's words): each feature that fires on a letter somewhere in
    the text is labelled by the first such letter, as a label lists its words."""
    labels: dict[int, str] = {}
    for pos, token in enumerate(acts.tokens):
        if token.strip().isalpha():
            for f, v in zip(acts.top_ids[pos].tolist(), acts.top_values[pos].tolist()):
                if v > 0 and (f + pos) % 3 == 0:  # some of them, so that others are left unnamed
                    labels.setdefault(int(f), f"letters: {token.strip()} / ?")
    return labels


def test_a_token_lists_its_word_s_features_first_by_how_near_their_usual_peak_they_fire(scope_and_dash):
    scope, dash = scope_and_dash
    acts = with_reference(scope, dash)
    labels = letter_labels(acts)
    ranks = acts.word_ranks(labels)
    ratio = np.minimum(acts.reference.ratio_of(acts.top_ids, acts.top_values), WORD_RATIO_CAP)
    text = [f for f, _ in acts.standout(TEXT_FEATURES)]
    checked = {"word": 0, "text": 0, "reordered": 0}
    for pos in range(acts.n_tokens):
        active = [j for j in range(acts.k) if acts.top_values[pos, j] > 0]
        word = [j for j in active if label_names(labels.get(int(acts.top_ids[pos, j]), ""), acts.tokens[pos])]
        of_text = [j for j in active if j not in word and int(acts.top_ids[pos, j]) in text]
        assert sorted(ranks[pos][word].tolist()) == list(range(1, len(word) + 1))
        assert [ranks[pos, j] for j in of_text] == [TEXT_RANK_BASE + 1 + text.index(int(acts.top_ids[pos, j]))
                                                   for j in of_text]
        assert (ranks[pos][[j for j in range(acts.k) if j not in word + of_text]] == 0).all()
        by_rank = sorted(word, key=lambda j: ranks[pos, j])
        assert all(ratio[pos, a] >= ratio[pos, b] for a, b in zip(by_rank, by_rank[1:]))
        listed = acts.ranked_at(pos, acts.k, labels=labels)
        first = [(int(acts.top_ids[pos, j]), pytest.approx(float(acts.top_values[pos, j])))
                 for j in by_rank + sorted(of_text, key=lambda j: ranks[pos, j])]
        rest = [pair for pair in acts.top_at(pos, acts.k) if pair[0] not in {f for f, _ in first}]
        assert listed == first + rest  # the word's features, the text's, then the others strongest first
        checked["word"] += len(word) >= 2
        checked["text"] += bool(of_text)
        checked["reordered"] += listed != acts.top_at(pos, acts.k)
    assert min(checked.values()) >= 1, checked  # otherwise this test shows nothing


def test_a_feature_that_fires_on_the_word_but_is_named_for_others_is_not_one_of_its_features(scope_and_dash):
    # one that fires on the word in most corpus texts holding it, under a label of other words (" honey":
    # "at"), is not listed as the word's: a reader could not place it
    scope, dash = scope_and_dash
    acts = with_reference(scope, dash)
    rates, ranks = acts.word_rates(), acts.word_ranks()
    reliable = (rates >= 0.5) & (np.asarray(acts.top_values) > 0)
    assert reliable.any()  # otherwise this test shows nothing
    assert ((ranks[reliable] == 0) | (ranks[reliable] > TEXT_RANK_BASE)).all()
    pos, j = map(int, np.argwhere(reliable)[0])
    f = int(acts.top_ids[pos, j])
    assert 0 < acts.word_ranks({f: f"letters: {acts.tokens[pos].strip()}"})[pos, j] < TEXT_RANK_BASE


def test_a_feature_whose_label_names_the_word_joins_its_features(scope_and_dash):
    scope, dash = scope_and_dash
    acts = with_reference(scope, dash)
    pos = acts.tokens.index("c")  # the tiny tokenizer spells by character: "c" of " cat"
    active = [int(f) for f, v in zip(acts.top_ids[pos], acts.top_values[pos]) if v > 0]
    outsider, other = active[-1], active[0]
    assert outsider not in [f for f, _ in acts.ranked_at(pos, 1)]
    labels = {outsider: "letters: c / k", other: "k / c"}
    ranks = acts.word_ranks(labels)
    mine = [list(acts.top_ids[pos]).index(f) for f in (outsider, other)]
    assert all(0 < ranks[pos][j] < TEXT_RANK_BASE for j in mine)
    assert int(((ranks[pos] > 0) & (ranks[pos] < TEXT_RANK_BASE)).sum()) == 2
    # the two open the list, the one firing nearer its usual peak first
    ratio = acts.reference.ratio_of(acts.top_ids[pos], acts.top_values[pos])
    expect = sorted((outsider, other), key=lambda f: -min(ratio[list(acts.top_ids[pos]).index(f)], WORD_RATIO_CAP))
    assert [f for f, _ in acts.ranked_at(pos, 2, labels=labels)] == expect
    assert acts.word_ranks(lambda f: labels.get(f))[pos].tolist() == ranks[pos].tolist()  # a callable works too
    assert acts.word_ranks({str(k): v for k, v in labels.items()})[pos].tolist() == ranks[pos].tolist()  # as a trait keys them
    assert names_word("city: Paris / Seattle", "Paris") and names_word("dog / cat", " dogs")
    assert not names_word("concatenate", "cat") and not names_word("", "dog") and not names_word("dog", "")
    # a label beside a clicked token names it as a word of its own, singular or plural
    assert label_names("city: Paris / Seattle", " Paris") and label_names("dog / cat", " dogs")
    assert label_names("carnivore: Dog / cats", "cat") and label_names("boxes / bags", "box")
    assert not label_names("party: party / birthday", " park") and not label_names("dog", "") and not label_names("", "dog")


def test_without_shipped_levels_a_token_lists_by_strength(scope_and_dash):
    scope, dash = scope_and_dash
    acts = scope.features(TEXT)
    acts.reference = acts.reference_source = None
    assert not acts.word_ranks().any() and not acts.word_rates().any()
    assert all(acts.ranked_at(p, 5) == acts.top_at(p, 5) for p in range(acts.n_tokens))
    # dashboards made before token profiles: no word features (their labels still count), the text's still
    old = reference_from(dash)
    acts.reference = dataclasses.replace(old, profile_ids=None, profile_reliability=None)
    ranks = acts.word_ranks()
    assert ((ranks == 0) | (ranks > TEXT_RANK_BASE)).all() and (ranks > TEXT_RANK_BASE).any()
    with pytest.raises(ValueError, match="outside the text"):
        acts.ranked_at(99)
    with pytest.raises(ValueError, match="labels must map feature ids"):
        acts.ranked_at(1, labels=["a label"])


def test_the_word_order_reaches_the_browser_for_one_text_and_for_compare(scope_and_dash, monkeypatch):
    scope, dash = scope_and_dash
    acts = with_reference(scope, dash)
    sent = word_rank_bytes(acts, 4)
    # the browser tells the tiers apart by the same base (js/store.ts)
    store_ts = (Path(__file__).resolve().parents[1] / "js" / "store.ts").read_text()
    assert f"export const TEXT_RANK_BASE = {TEXT_RANK_BASE};" in store_ts
    assert sent == np.clip(acts.word_ranks()[:, :4], 0, 255).astype(np.uint8).tobytes()
    heat = sw.TokenHeatmap(acts, scope=scope, k=4)
    assert heat.k == 4 and heat.word_ranks == sent
    assert len(sw.FeatureList(acts, scope=scope).word_ranks) == acts.n_tokens * acts.k
    # Compare reads each side through the scope: give it these dashboards' levels
    monkeypatch.setattr(type(scope), "_reference", lambda self, sae: reference_from(dash))
    both = sw.Compare(scope, TEXT, "A cat and a dog.")
    for side, text in (("a", TEXT), ("b", "A cat and a dog.")):
        got = getattr(both, f"{side}_word_ranks")
        assert len(got) == getattr(both, f"{side}_n_tokens") * getattr(both, f"{side}_k")
        assert got == word_rank_bytes(with_reference(scope, dash, text), getattr(both, f"{side}_k"), both.labels)
