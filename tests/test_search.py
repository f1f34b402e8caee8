"""Selective search, concept directions, steering positions and the 'stands out' ranking, on tiny models."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from scope_widgets import SAE, Scope
from scope_widgets.analysis.search import TIE_WEIGHT, auroc, concept_direction, separating
from scope_widgets.features import FeatureReference
from scope_widgets.features.activations import STANDOUT_MAX_RATE
from scope_widgets.steering import Direction, validate
from tiny_models import hook_count, tiny_gemma


def make_scope(d_sae: int = 48, layer: int = 1, seed: int = 0) -> Scope:
    model, tok = tiny_gemma()
    sae = SAE.random(model.config.hidden_size, d_sae, layer=layer, seed=seed, threshold=0.3)
    return Scope(model, tok, sae)


def logits(scope, text="Hello there"):
    ids = scope.tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        return scope.model(input_ids=ids).logits


def test_auroc_is_the_chance_a_positive_beats_a_negative():
    pos = torch.tensor([[3.0, 1.0, 0.0], [4.0, 0.0, 0.0]])
    neg = torch.tensor([[1.0, 1.0, 0.0], [2.0, 5.0, 0.0], [0.0, 0.0, 0.0]])
    got = auroc(pos, neg)
    assert got[0] == 1.0  # every positive beats every negative
    assert got[2] == 0.5  # all ties: chance
    # column 1: pairs (1>1? tie, 1>5 no, 1>0 yes) (0: tie with 0, loses to 1 and 5) -> (0.5 + 1 + 0.5) / 6
    assert got[1] == pytest.approx((0.5 + 0 + 1 + 0 + 0 + 0.5) / 6)


def planted(scope, j: int, char: str = "Q", texts=None):
    """Feature j fires exactly on the character `char` (the char tokenizer has one token per character),
    as read in ``texts`` (which must hold it)."""
    tok, sae, model = scope.tokenizer, scope.sae, scope.model
    tid = tok.convert_tokens_to_ids(char)
    with torch.no_grad():
        model.model.embed_tokens.weight[tid] *= 40.0
    texts = texts or ["Quiet Queens quote quickly.", "A plain sentence here.", "Nothing of note at all.", "Qatar and Quebec."]
    on, off = [], []
    for t in texts:
        a = scope.features(t)
        ids = torch.from_numpy(a.token_ids[1:])
        on.append(a.inputs[1:][ids == tid])
        off.append(a.inputs[1:][ids != tid])
    on, off = torch.cat(on), torch.cat(off)
    u = (on.mean(0) - off.mean(0))
    u = u / u.norm()
    with torch.no_grad():
        sae.w_enc[:, j] = u
        sae.b_enc[j] = 0.0
        sae.threshold[j] = float((off @ u).max()) + 1e-3


def test_search_by_examples_ranks_the_separating_feature_first():
    scope = make_scope(d_sae=40, layer=0, seed=3)
    planted(scope, 11)
    examples = ["Queen Quinn quit.", "Quite quick, Quentin.", "Quarterly Quiz."]
    against = ["a plain day", "nothing here", "small talk only", "red and blue", "lunch at noon"]
    hits = scope.search(examples=examples, against=against, k=3)
    assert hits[0].feature == 11 and hits[0].activation_score == 1.0
    assert hits[0].extra["mean_in"] > hits[0].extra["mean_out"] == 0.0
    assert all(h.score >= hits[-1].score for h in hits)
    # the built-in background is the default counter-example set
    assert scope.search(examples=examples, k=1)[0].feature == 11
    direct = separating(scope.model, scope.tokenizer, scope.sae, examples, against, k=1)
    assert direct[0].feature == 11


def test_search_by_examples_prefers_a_feature_that_is_quiet_on_ordinary_text():
    # two features separate the examples from these few counter-examples perfectly; one of them (full
    # stops) also fires on every ordinary sentence, so it is less about the examples than the other
    scope = make_scope(d_sae=40, layer=0, seed=3)
    planted(scope, 11)
    planted(scope, 12, char=".")
    examples = ["Queen Quinn quit.", "Quite quick, Quentin.", "Quarterly Quiz."]
    against = ["a plain day", "nothing here", "small talk only"]
    hits = {h.feature: h for h in scope.search(examples=examples, against=against, k=40)}
    q, stop = hits[11], hits[12]
    assert q.extra["auroc"] == stop.extra["auroc"] == 1.0
    assert q.extra["auroc_background"] == 1.0 > stop.extra["auroc_background"]
    assert q.score > stop.score and q.feature == next(iter(hits))
    # the score: the mean of the two AUROCs, plus up to 0.05 for the gap (feature 11 is silent on the
    # counter-examples) and up to TIE_WEIGHT for firing near its usual peak (the tiny SAE's own dashboards)
    assert 0 < q.extra["peak_share"] <= 1 and 0 <= stop.extra["peak_share"] <= 1
    assert 1.0 < q.score <= 1.05 + TIE_WEIGHT * q.extra["peak_share"]
    assert stop.score <= 0.5 * (1.0 + stop.extra["auroc_background"]) + 0.05 + TIE_WEIGHT * stop.extra["peak_share"]


class _Peaks:
    """Dashboards as separating reads them: the features' largest activation in their corpus."""

    def __init__(self, max_activation):
        self.max_activation = max_activation


def test_of_two_perfect_separators_the_one_firing_near_its_usual_peak_comes_first():
    scope = make_scope(d_sae=40, layer=0, seed=3)
    planted(scope, 11)
    planted(scope, 12)  # 11 and 12 both fire on "Q" alone, so they tie on AUROC and (nearly) on the gap
    examples = ["Queen Quinn quit.", "Quite quick, Quentin.", "Quarterly Quiz."]
    args = (scope.model, scope.tokenizer, scope.sae, examples, None, 40)
    plain = {h.feature: h for h in separating(*args)}
    assert plain[11].score == pytest.approx(plain[12].score, abs=1e-3) and "peak_share" not in plain[11].extra
    for near, far in ((11, 12), (12, 11)):
        peaks = np.full(40, 1e6, dtype=np.float32)
        # `near` fires on the examples at its usual peak, `far` at a tenth of it
        peaks[near], peaks[far] = plain[near].extra["mean_in"], 10 * plain[far].extra["mean_in"]
        hits = {h.feature: h for h in separating(*args, corpus=_Peaks(peaks))}
        assert hits[near].extra["peak_share"] == pytest.approx(1.0) and hits[far].extra["peak_share"] == pytest.approx(0.1)
        assert hits[near].score == pytest.approx(plain[near].score + TIE_WEIGHT, abs=1e-5)
        assert hits[near].score > hits[far].score
    # dashboards of another width are ignored
    assert "peak_share" not in separating(*args, corpus=_Peaks(np.ones(41)))[0].extra


def test_search_scores_texts_about_the_word_away_from_the_word_itself(monkeypatch):
    # feature 11 fires on the word "Q" itself, feature 12 on "X", which the texts about Q use without
    # being Q: only feature 12 is about the topic, so only it separates the texts about Q once the word's
    # own tokens are left out of their maxima
    import scope_widgets.analysis.search as search

    scope = make_scope(d_sae=40, layer=0, seed=3)
    planted(scope, 11)
    about = ["Q met X at noon.", "Then Q and X left.", "X saw Q once more."]
    planted(scope, 12, char="X", texts=[*about, "A plain sentence here.", "Nothing of note at all."])
    model, tok, sae = scope.model, scope.tokenizer, scope.sae
    monkeypatch.setattr(search, "concept_texts", lambda *a, **k: (["Q", "The word is Q."], about))
    monkeypatch.setattr(search, "neutral_texts", lambda *a, **k: ([], ["A plain day.", "Lunch at noon."]))
    own = search._own_token_ids(tok, "Q")
    assert tok.convert_tokens_to_ids("Q") in own and tok.convert_tokens_to_ids(" ") not in own
    plain = search._maxima(model, tok, sae, about)
    away = search._maxima(model, tok, sae, about, away_from="Q")
    assert (plain[:, 11] > 0).all() and (away[:, 11] == 0).all()  # only ever on Q
    assert torch.equal(away[:, 12], plain[:, 12])
    # a word the texts do not hold leaves every maximum as it was
    assert torch.allclose(search._maxima(model, tok, sae, about, away_from="jub"), plain)
    hits = {h.feature: h for h in search.search_word(model, tok, sae, "Q", k=40)}
    assert hits[11].extra["auroc_word"] == hits[12].extra["auroc_about"] == 1.0
    assert hits[11].extra["auroc_about"] <= 0.5  # read on the whole texts it would be 1.0 as well


def test_search_refuses_bad_requests_and_leaves_the_model_alone():
    scope = make_scope()
    before, hooks_before = logits(scope), hook_count(scope.model)
    with pytest.raises(ValueError, match="not both"):
        scope.search("dog", examples=["a dog"])
    with pytest.raises(ValueError, match="needs a query"):
        scope.search()
    with pytest.raises(ValueError, match=r"not one string: examples=\['just one string', \.\.\.\]"):
        scope.search(examples="just one string")
    with pytest.raises(ValueError, match="non-empty list"):
        scope.search(examples=[])
    with pytest.raises(ValueError, match="empty"):
        scope.search(examples=["fine", "   "])
    with pytest.raises(ValueError, match="against= goes with examples"):
        scope.search("dog", against=["x"])
    with pytest.raises(ValueError, match="positive integer"):
        scope.search("dog", k=0)
    assert hook_count(scope.model) == hooks_before
    torch.testing.assert_close(logits(scope), before)


def test_a_concept_direction_steers_like_a_feature_and_is_checked():
    scope = make_scope()
    d = scope.direction(examples=["cats and kittens", "a cat purrs"], against=["tables", "the chair", "a desk"])
    assert isinstance(d, Direction) and d.hook_point == scope.sae.hook_point_out
    assert torch.linalg.vector_norm(d.vector).item() == pytest.approx(1.0, abs=1e-5) and d.scale > 0
    plain = scope.generate("Once", max_new_tokens=6)
    steered = scope.generate("Once", steer={d: 50 * d.scale}, max_new_tokens=6)
    assert steered != plain
    assert scope.generate("Once", steer={d: 0.0}, max_new_tokens=6) == plain  # a zero coefficient changes nothing
    with pytest.raises(ValueError, match="only be added"):
        validate({d: 1.0}, scope.sae, method="clamp")
    other = Direction("wrong width", torch.ones(7), scope.sae.hook_point_out)
    with pytest.raises(ValueError, match="width"):
        scope.generate("Once", steer={other: 1.0}, max_new_tokens=2)
    with pytest.raises(ValueError, match="finite"):
        scope.generate("Once", steer={d: float("nan")}, max_new_tokens=2)
    with pytest.raises(ValueError, match="example text"):
        concept_direction(scope.model, scope.tokenizer, scope.sae, ["  "])


def test_prompt_positions_steer_the_prompt_only():
    scope = make_scope()
    direction = Direction("probe", torch.nn.functional.normalize(torch.ones(scope.model.config.hidden_size), dim=0),
                          scope.sae.hook_point_out)
    base = scope.generate("abcdef", max_new_tokens=5)
    outs = {p: scope.generate("abcdef", steer={direction: 80.0}, positions=p, max_new_tokens=5)
            for p in ("all", "prompt", "generated")}
    assert all(o != base for o in outs.values())  # each placement changes what is written
    with pytest.raises(ValueError, match="positions"):
        scope.generate("abc", steer={direction: 1.0}, positions="everywhere")
    assert base == scope.generate("abcdef", steer={direction: 0.0}, positions="prompt", max_new_tokens=5)


def test_prompt_positions_mask_from_the_tracker():
    from scope_widgets.steering.edit import _PositionTracker, _mask  # the module's own helpers, tested directly
    from scope_widgets.steering.request import Steering

    req = Steering((1,), (1.0,), positions="prompt")
    tracker = _PositionTracker(prompt_len=4)
    first = _mask(req, tracker, 4, "cpu", skip_bos=True)  # the prompt pass: positions 1..3
    assert first.tolist() == [False, True, True, True]
    step = _mask(req, tracker, 1, "cpu", skip_bos=True)  # decoding: nothing
    assert step.tolist() == [False]
    gen = Steering((1,), (1.0,), positions="generated")
    t2 = _PositionTracker(prompt_len=4)
    assert _mask(gen, t2, 4, "cpu", skip_bos=True).tolist() == [False, False, False, True]
    assert _mask(gen, t2, 1, "cpu", skip_bos=True) is None  # every decoding step


def test_standout_ranks_by_how_much_more_often_a_feature_fires_than_usual():
    scope = make_scope(d_sae=16)
    acts = scope.features("The cat sat on the mat and the dog sat on the rug.")
    n = acts.n_tokens - 1  # BOS excluded
    np.testing.assert_array_equal(acts.count_per_feature.numpy(), (acts.dense()[1:] > 0).sum(0))
    counts = acts.count_per_feature_array()
    assert counts.max() >= 3
    usual = np.maximum(acts.max_per_feature.numpy(), 1e-3)  # every feature at its usual strength here
    # every feature usually fires on exactly as many tokens as it does here: nothing stands out
    acts.reference = FeatureReference(usual_max=usual, density=np.clip(counts / n, 1e-7, 1))
    assert acts.standout(16) == []
    # one feature usually fires ten times less often than here: it alone stands out, by c log(c/m) - c + m
    topic = int(np.argmax(counts))
    density = np.clip(counts / n, 1e-7, 1)
    density[topic] /= 10
    acts.reference = FeatureReference(usual_max=usual, density=density)
    (only, score), = acts.standout(16)
    c, m = counts[topic], counts[topic] / 10
    assert only == topic and score == pytest.approx(c * np.log(c / m) - c + m)
    # ...unless it fires here at under min_ratio of its usual strength
    weak = usual.copy()
    weak[topic] = acts.max_per_feature.numpy()[topic] / 0.1
    acts.reference = FeatureReference(usual_max=weak, density=density)
    assert acts.standout(16) == []
    # ...but one never seen firing in the reference (no usual strength) is judged by its count alone
    unseen = usual.copy()
    unseen[topic] = 0.0
    acts.reference = FeatureReference(usual_max=unseen, density=density)
    assert [i for i, _ in acts.standout(16)] == [topic]
    # a rate seen on everyday text counts when it is the larger: the feature is usual there
    acts.reference = FeatureReference(usual_max=usual, density=density, background_count=np.where(
        np.arange(16) == topic, counts[topic], 0.0) * 100 / n, background_tokens=100)
    assert topic not in [i for i, _ in acts.standout(16)]
    # one that fires on a fifth of all tokens or more never stands out, however much more it fires here
    common = density.copy()
    common[topic] = STANDOUT_MAX_RATE
    acts.reference = FeatureReference(usual_max=usual, density=common)
    assert counts[topic] / n > 2 * STANDOUT_MAX_RATE  # it fires on far more of this text than usual
    assert acts.standout(16) == []
    common[topic] = 0.9 * STANDOUT_MAX_RATE
    acts.reference = FeatureReference(usual_max=usual, density=common)
    assert [i for i, _ in acts.standout(16)] == [topic]
    acts.reference = acts.reference_source = None  # no reference at all (built by hand): the raw ranking
    assert acts.standout(3) == acts.top(3)


def test_an_sae_without_shipped_levels_counts_them_on_everyday_text_once_and_unsteered(tmp_path, monkeypatch):
    """A Gemma Scope SAE or your own has no shipped reference: the first ranking that needs one counts each
    feature's rate and largest activation on the everyday texts (one pass, once per SAE and model, kept in
    the disk cache, never steered)."""
    from scope_widgets.analysis import sources
    from scope_widgets.analysis.background import everyday_texts, firing_stats

    monkeypatch.setenv("SCOPE_WIDGETS_CACHE", str(tmp_path))
    scope = make_scope(d_sae=16)
    text = "The cat sat on the mat and the dog sat on the rug."
    acts = scope.features(text)
    assert acts.reference is None and callable(acts.reference_source)  # nothing counted yet: top() stays free
    ranked = acts.standout(16)
    ref = acts.reference
    counts, maxima, n_tokens = firing_stats(scope.model, scope.tokenizer, scope.sae, everyday_texts())
    assert ref.background_tokens == n_tokens > 1000
    np.testing.assert_array_equal(ref.background_count, counts)
    np.testing.assert_allclose(ref.usual_max, maxima)
    c, m = acts.count_per_feature_array(), (acts.n_tokens - 1) * (counts + 1) / (n_tokens + 1)
    score = np.where((c > m) & ((acts.max_per_feature.numpy() >= 0.2 * maxima) | (maxima <= 0))
                     & (ref.usual_rate() < STANDOUT_MAX_RATE),
                     c * np.log(np.maximum(c, 1) / m) - c + m, 0.0)
    assert [i for i, _ in ranked] == [i for i in np.argsort(-score, kind="stable") if score[i] > 0][:16]
    assert scope.features("Another text.").usual_levels() is ref  # counted once per SAE
    path = sources.levels_path(scope.model, scope.sae)
    assert path.is_file() and path.is_relative_to(tmp_path)

    # first needed inside a steer block: still counted on the unsteered model (hooks are per thread)
    path.unlink()
    twin = Scope(scope.model, scope.tokenizer, SAE.random(scope.model.config.hidden_size, 16, layer=1, seed=0, threshold=0.3))
    with twin.steer({int(np.argmax(counts)): 40.0}):
        steered = twin.features(text)
        steered.standout(3)
    np.testing.assert_array_equal(steered.reference.background_count, counts)

    # the same SAE in a new session reads the disk cache; on another model it counts again
    def no_counting(*args, **kwargs):
        raise AssertionError("counted again instead of reading the cache")

    monkeypatch.setattr(sources, "firing_stats", no_counting)
    again = SAE.random(scope.model.config.hidden_size, 16, layer=1, seed=0, threshold=0.3)
    cached = sources.everyday_reference(scope.model, scope.tokenizer, again)
    np.testing.assert_array_equal(cached.background_count, counts)
    np.testing.assert_allclose(cached.usual_max, maxima, rtol=1e-6)
    other_model, _ = tiny_gemma(seed=1)
    assert sources.levels_path(other_model, again) != path
    with pytest.raises(AssertionError, match="counted again"):
        sources.everyday_reference(other_model, scope.tokenizer, again)


def test_a_topic_feature_that_fires_often_outranks_a_rare_one_that_fires_once():
    scope = make_scope(d_sae=16)
    acts = scope.features("one two three four five six seven eight nine ten eleven twelve")
    n = acts.n_tokens - 1
    counts = np.zeros(16)
    counts[3], counts[7] = 6, 1  # feature 3 fires on half the tokens, feature 7 once
    acts.count_per_feature = torch.tensor(counts, dtype=torch.int32)
    acts.max_per_feature = torch.ones(16)
    density = np.full(16, 0.5)
    density[3], density[7] = 0.01, 1e-6  # 3: one token in a hundred; 7: one in a million
    acts.reference = FeatureReference(usual_max=np.ones(16, np.float32), density=density,
                                      background_count=np.zeros(16), background_tokens=1000)
    ranked = [i for i, _ in acts.standout(16)]
    assert ranked[:2] == [3, 7], (ranked, n)  # the old ratio x log(1/density) put the one-off rare one first


def test_two_first_uses_at_once_count_the_levels_once(tmp_path, monkeypatch):
    import threading

    from scope_widgets.analysis import sources

    monkeypatch.setenv("SCOPE_WIDGETS_CACHE", str(tmp_path))
    scope = make_scope(d_sae=16, seed=3)
    calls = []
    real = sources.firing_stats
    monkeypatch.setattr(sources, "firing_stats", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    got = []
    workers = [threading.Thread(target=lambda: got.append(sources.everyday_reference(scope.model, scope.tokenizer, scope.sae)))
               for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(calls) == 1 and len(got) == 2 and got[0] is got[1]


def test_usual_rate_takes_the_larger_of_corpus_density_and_smoothed_everyday_rate():
    ref = FeatureReference(usual_max=np.ones(3, np.float32), density=np.array([0.2, 0.0, 1e-4]),
                           background_count=np.array([0.0, 0.0, 49.0]), background_tokens=99)
    np.testing.assert_allclose(ref.usual_rate(), [0.2, 1 / 100, 50 / 100])
    assert FeatureReference(usual_max=np.ones(1), density=np.zeros(1)).usual_rate()[0] == 1e-7


class _Corpus:
    """What search reads from dashboards: token profiles and in how many texts each token occurs."""

    def __init__(self, profile_ids, profile_counts, totals):
        self.arrays = {"profile_ids": np.asarray(profile_ids), "profile_counts": np.asarray(profile_counts)}
        self._totals = np.asarray(totals)

    def text_counts(self):
        return self._totals


def test_features_that_fire_on_the_word_across_the_corpus_get_a_bonus():
    from scope_widgets.analysis.search import PROFILE_WEIGHT, _profile_bonus, search_word

    scope = make_scope(d_sae=40, layer=0, seed=3)
    planted(scope, 11)  # feature 11 fires on "Q"
    q = scope.tokenizer.convert_tokens_to_ids("Q")
    totals = np.zeros(q + 1, dtype=np.int64)
    totals[q] = 10  # "Q" occurs in 10 texts
    # feature 11 fired on it in all 10, feature 1 in 2 (and so scaled down again), 3 only on token 0
    ids, counts = np.full((40, 2), -1), np.zeros((40, 2), dtype=np.int64)
    ids[11], counts[11] = [q, -1], [10, 0]
    ids[1], counts[1] = [0, q], [7, 2]
    ids[3], counts[3] = [0, -1], [4, 0]
    corpus = _Corpus(ids, counts, totals)
    rate, fired, texts = _profile_bonus(scope.tokenizer, corpus, "Q", 40)
    assert rate[11] == 1.0 and rate[1] == pytest.approx(0.2 * 0.4) and int((rate > 0).sum()) == 2
    assert (fired[11], texts[11], fired[1], texts[1]) == (10, 10, 2, 10)
    # dashboards without profiles (Gemma Scope's examples), or of another SAE's width: no bonus
    assert not _profile_bonus(scope.tokenizer, object(), "Q", 40)[0].any()
    assert not _profile_bonus(scope.tokenizer, corpus, "Q", 41)[0].any()
    args = (scope.model, scope.tokenizer, scope.sae, "Q")
    plain = {h.feature: h.score for h in search_word(*args, k=5, generate=False)}
    boosted = {h.feature: h for h in search_word(*args, k=5, generate=False, corpus=corpus)}
    assert boosted[11].score == pytest.approx(plain[11] + PROFILE_WEIGHT)
    assert boosted[11].extra["corpus_rate"] == 1.0


def test_a_hit_labelled_from_other_uses_says_that_it_fires_on_the_word():
    from scope_widgets.analysis.search import search_word

    scope = make_scope(d_sae=40, layer=0, seed=3)
    planted(scope, 11)  # feature 11 fires on "Q"
    q = scope.tokenizer.convert_tokens_to_ids("Q")
    totals = np.zeros(q + 1, dtype=np.int64)
    totals[q] = 8
    ids, counts = np.full((40, 1), -1), np.zeros((40, 1), dtype=np.int64)
    ids[11], counts[11] = [q], [7]  # it fired on "Q" in 7 of the 8 corpus texts that hold it
    corpus = _Corpus(ids, counts, totals)
    args = (scope.model, scope.tokenizer, scope.sae, "Q")
    corpus_note = "fires on 'Q' in 7 of the 8 corpus texts that hold it; its label comes from its strongest examples"
    hits = {h.feature: h for h in search_word(*args, k=5, generate=False, corpus=corpus, labels={11: "None / said / replied"})}
    assert hits[11].note == corpus_note
    assert all(h.note is None for f, h in hits.items() if f != 11)  # the others never fired on it there
    # with steer=True, a tried hit that turned no trial opening says so and points to a direction
    trial_note = "turned none of the trial openings to 'Q': try scope.direction('Q'), which often steers where one feature does not"
    steered = search_word(*args, k=5, generate=False, corpus=corpus, steer=True, labels={11: "None / said / replied"})
    assert any(h.steers == 0 for h in steered)
    for h in steered:
        expected = [corpus_note] if h.feature == 11 else []
        expected += [trial_note] if h.steers == 0 else []
        assert h.note == ("; ".join(expected) or None), (h.feature, h.steers, h.note)
    # a label that names the word needs no note; neither does a hit without corpus counts
    hits = {h.feature: h for h in search_word(*args, k=5, generate=False, corpus=corpus, labels={11: "Q / q"})}
    assert hits[11].note is None
    # ... as a word of its own: words that merely start with it ("party" for "park") do not name it
    hits = {h.feature: h for h in search_word(*args, k=5, generate=False, corpus=corpus, labels={11: "Quiet / Queens"})}
    assert hits[11].note == corpus_note
    assert all(h.note is None for h in search_word(*args, k=5, generate=False))


def test_features_of_the_frames_alone_fall_behind_the_word_through_the_control_words(monkeypatch):
    # feature 11 fires on "%", which every frame holds and the background does not: against the background
    # alone it separates the word's frames perfectly; read with the generic control nouns too, it is left
    # behind, and feature 12, planted on the word "Q", comes first
    import scope_widgets.analysis.search as search

    scope = make_scope(d_sae=40, layer=0, seed=5)
    frames = ("% {q}", "Say % {q} now.", "%% {q} %%")
    monkeypatch.setattr(search, "WORD_FRAMES", frames)
    monkeypatch.setattr(search, "glosses", lambda word: [])
    planted(scope, 11, char="%", texts=["% Q", "Say % thing now.", "A plain sentence here.", "Nothing of note at all."])
    planted(scope, 12, char="Q")
    model, tok, sae = scope.model, scope.tokenizer, scope.sae
    hits = search.search_word(model, tok, sae, "Q", k=40, generate=False)
    order = [h.feature for h in hits]
    assert order[0] == 12 and hits[0].extra["auroc_word"] == 1.0
    # it still beats the 80 background sentences, but only ties, at best, with the 45 control frames
    frame_hit = next(h for h in hits if h.feature == 11) if 11 in order else None
    assert frame_hit is None or frame_hit.extra["auroc_word"] < 0.85
    # without the control words it would have tied with the word's own feature
    pos = search._maxima(model, tok, sae, [f.format(q="Q") for f in frames])
    bg = search._background(model, tok, sae, exclude="Q")[1]
    assert float(search.auroc(pos, bg)[11]) == 1.0
    # a control word sharing the searched word's stem is left out of the counter-examples
    n = len(search._controls(model, tok, sae, "Q")[0])
    assert len(search._controls(model, tok, sae, "things")[0]) == n - len(frames)


def test_search_reads_the_words_dictionary_definitions(monkeypatch):
    # feature 12 fires on "X", which only the definitions of "Q" use: it separates them (AUROC 1.0); with
    # fewer than MIN_GLOSSES definitions none are read and the AUROC is nan
    import scope_widgets.analysis.search as search

    scope = make_scope(d_sae=40, layer=0, seed=7)
    defined = {"Q": ["an X of the kind Q is", "an X that is small"], "R": ["a lone X"]}
    monkeypatch.setattr(search, "glosses", lambda word: defined.get(word, ["a plain sort of thing", "some other sort"]))
    planted(scope, 12, char="X", texts=[*defined["Q"], "A plain sentence here.", "Nothing of note at all."])
    model, tok, sae = scope.model, scope.tokenizer, scope.sae
    search._control_cache.clear()
    hits = {h.feature: h for h in search.search_word(model, tok, sae, "Q", k=40, generate=False)}
    assert hits[12].extra["auroc_gloss"] == 1.0 and hits[12].extra["auroc_word"] < 0.6  # hardly on the frames
    assert 12 in list(hits)[:5]
    defined["Q"] = defined["Q"][:1]  # one definition is too few: not read, and feature 12 is nothing to Q
    assert 12 not in [h.feature for h in search.search_word(model, tok, sae, "Q", k=5, generate=False)]
    lone = search.search_word(model, tok, sae, "R", k=3, generate=False)
    assert all(np.isnan(h.extra["auroc_gloss"]) for h in lone)
