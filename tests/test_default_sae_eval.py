"""benchmarks/default_sae.py on a tiny random model: every measure runs and means what it says."""
from __future__ import annotations

import json

import pytest

from benchmarks import default_sae as E
from scope_widgets import SAE, Scope
from tiny_models import tiny_gemma


@pytest.fixture(scope="module")
def scope():
    model, tok = tiny_gemma()
    return Scope(model, tok, SAE.random(model.config.hidden_size, 32, layer=1, threshold=0.05))


SUITE = {
    "concepts": [
        {"name": "q", "word": "Q", "mention": "Q", "sentences": ["Quiet Queen Q.", "Q and Q again.", "A Q here."]},
        {"name": "z", "word": "Z", "mention": "Z", "sentences": ["Zig Zag Z.", "Z Z Z.", "A Z there."]},
    ],
    "neutral": ["plain words only", "nothing at all here", "small talk"],
}


def test_the_eval_data_is_well_formed():
    suite = json.loads((E.DATA / "concepts.json").read_text())
    assert len(suite["concepts"]) >= 20 and len(suite["neutral"]) >= 30
    import re

    for c in suite["concepts"]:
        assert len(c["sentences"]) >= 8 and c["word"] and re.compile(c["mention"])
        assert all(re.search(c["mention"], s, re.I) for s in c["sentences"]), c["name"]
        without = [s for s in c["sentences"] if c["word"].lower() not in s.lower()]
        assert len(without) > len(c["sentences"]) / 2, c["name"]  # most without the concept's own word
    prose = json.loads((E.DATA / "everyday_prose.json").read_text())["documents"]
    assert len(prose) >= 30 and len({d["kind"] for d in prose}) >= 10


def test_concept_scores_are_aurocs_of_sentence_maxima(scope):
    best, per = E.concept_scores(scope, SUITE)
    assert set(best) == {"q", "z"} and per["q"].shape == (32,)
    assert all(0.0 <= a <= 1.0 for _, a in best.values())
    assert best["q"][1] == pytest.approx(float(per["q"].max()))


def test_concept_rows_score_search_against_the_sentences(scope):
    rows, summary, per = E.concept_rows(scope, SUITE, SUITE["concepts"][:1])
    assert [r["concept"] for r in rows] == ["q"] and summary["n"] == 1 and per["q"].shape == (32,)
    r = rows[0]
    assert r["search_best_auroc"] == max(a for _, a in r["search_top5"]) <= r["best_auroc"] + 1e-9
    assert r["search_top1_auroc"] == r["search_top5"][0][1]
    assert summary["search_top5_ge_0.90"] == float(r["search_best_auroc"] >= 0.90)


HELDOUT_SUITES = ("concepts_heldout.json", "concepts_heldout2.json", "concepts_heldout3.json")


@pytest.mark.parametrize("name", HELDOUT_SUITES)
def test_the_heldout_concepts_are_apart_from_the_tuned_suite(name):
    others = [json.loads((E.DATA / f).read_text()) for f in ("concepts.json", *HELDOUT_SUITES) if f != name]
    heldout = json.loads((E.DATA / name).read_text())
    words = [c["word"] for c in heldout["concepts"]]
    assert len(words) >= 20 and len(set(words)) == len(words) and len(heldout["neutral"]) >= 30
    assert not set(words) & {c["word"] for suite in others for c in suite["concepts"]}
    for c in heldout["concepts"]:
        assert len(c["sentences"]) >= 8, c["name"]
        assert sum(c["word"] not in s.lower() for s in c["sentences"]) > len(c["sentences"]) / 2, c["name"]
    import re

    for s in heldout["neutral"]:  # no neutral sentence names a held-out concept
        assert not any(re.search(rf"\b{w}", s, re.I) for w in words), s


def test_the_phrase_suite_names_each_concept_by_two_words_and_mostly_avoids_them():
    import re

    phrases = json.loads((E.DATA / "phrases.json").read_text())
    words = [c["word"] for c in phrases["concepts"]]
    assert len(words) >= 8 and all(len(w.split()) == 2 for w in words) and len(phrases["neutral"]) >= 30
    for c in phrases["concepts"]:
        assert len(c["sentences"]) >= 8, c["name"]
        assert sum(c["word"] not in s.lower() for s in c["sentences"]) > len(c["sentences"]) / 2, c["name"]
    for s in phrases["neutral"]:
        assert not any(re.search(rf"\b{w}\b", s, re.I) for w in words), s


def test_standout_scores_count_listed_features_about_each_paragraph(scope):
    import torch

    _, per = E.concept_scores(scope, SUITE)
    per = {"q": torch.zeros(32), "z": torch.ones(32)}  # nothing is about q; everything is about z
    got = E.standout_scores(scope, SUITE, per, k=3)
    z = scope.features("Zig Zag Z. Z Z Z. A Z there.")
    # a tiny SAE's levels are counted on everyday text; most of its random features fire on a fifth of all
    # tokens or more and never stand out, so its standout list may be short (a widget fills up with top)
    for ranking in ("standout", "top"):
        listed = getattr(z, ranking)(3)
        assert got[ranking]["first_about_the_text"] == int(bool(listed)) and got[ranking]["n"] == 2
        assert got[ranking]["about_the_text_in_first_k"] == len(listed)
    assert got["top"]["first_about_the_text"] == 1  # otherwise this test shows nothing
    assert [r["concept"] for r in got["per_concept"]] == ["q", "z"]


def test_reading_reports_loss_recovered(scope):
    m = E.reading(scope, ["The cat sat on the mat. " * 5, "Once upon a time there was a fox. " * 4], "tiny", n_positions=40)
    assert {"loss_recovered", "l0", "fve_raw", "ce_clean", "ce_spliced"} <= set(m) and m["eval_tokens"] > 50


def test_steering_judge_and_rows(scope):
    judged = E.judge(scope, "Once", " upon a time there was a dog who liked to run and play in the park all day", r"\bdog\b")
    assert judged["mention"] and judged["repeat"] == 0.0 and judged["nll"] > 0
    d = scope.direction(examples=["Q Q Q"], against=["plain", "words"])
    res = E.steer_concept(scope, SUITE["concepts"][0], ["Once", "Then"], 3, d, "all", (0.5, 1.0))
    assert set(res) == {"feature", "direction"}
    assert len(res["feature"]["results"]) == 4 and res["feature"]["limit"] > 0
    # the rows judged are the library's trial continuations (steering.trial), at the coefficients listed
    assert {r["coefficient"] for r in res["feature"]["results"]} == {round(0.5 * res["feature"]["limit"], 2),
                                                                     round(1.0 * res["feature"]["limit"], 2)}


def test_the_steering_concepts_are_well_formed_and_apart_from_the_reading_suite():
    steering = json.loads((E.DATA / "steering_concepts.json").read_text())["concepts"]
    reading = {c["word"] for c in json.loads((E.DATA / "concepts.json").read_text())["concepts"]}
    import re

    assert len(steering) >= 10 and not reading & {c["word"] for c in steering}
    for c in steering:
        assert re.search(c["mention"], f"a sentence about {c['word']}s", re.I), c["name"]

