"""The corpus recipe: deterministic, de-duplicated, length-capped, and the held-out split is disjoint."""
from __future__ import annotations

import json

import pytest

from scope_widgets import corpus as C


@pytest.fixture(scope="module")
def small():
    return C.build_corpus(sources=["python_docstrings", "licences"], budget_scale=0.2, include_generated=False)


def test_recipe_is_deterministic(small):
    again = C.build_corpus(sources=["python_docstrings", "licences"], budget_scale=0.2, include_generated=False)
    assert [d.text for d in again.train] == [d.text for d in small.train]
    assert [d.text for d in again.heldout] == [d.text for d in small.heldout]
    assert again.fingerprint() == small.fingerprint()


def test_train_and_heldout_are_disjoint_and_split_by_hash(small):
    train_ids = {C.text_hash(d.text) for d in small.train}
    held_ids = {C.text_hash(d.text) for d in small.heldout}
    assert small.train and small.heldout
    assert not train_ids & held_ids
    assert all(d.split == "train" for d in small.train)
    assert all(d.split == "heldout" for d in small.heldout)
    # the split of a document does not depend on what else is in the corpus
    bigger = C.build_corpus(sources=["python_docstrings", "licences"], budget_scale=0.4, include_generated=False)
    assert held_ids <= {C.text_hash(d.text) for d in bigger.heldout}


def test_documents_are_capped_cleaned_and_deduplicated(small):
    docs = small.train + small.heldout
    assert all(C.MIN_DOC_CHARS <= len(d.text) <= C.MAX_DOC_CHARS for d in docs)
    assert len({C.text_hash(d.text) for d in docs}) == len(docs)
    assert all(d.licence and d.origin and d.source in C.SOURCES for d in docs)
    dup = C.Document("licences", "x", "CC0-1.0", docs[0].text + "  \n")
    again = C.build_corpus(sources=["licences"], budget_scale=0.2, extra=[dup, dup], include_generated=False)
    assert sum(C.text_hash(d.text) == C.text_hash(dup.text) for d in again.train + again.heldout) == 1


def test_every_source_has_a_licence_and_the_doc_lists_it():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "corpus.md").read_text()
    for name, src in C.SOURCES.items():
        assert src.licence
        assert f"`{name}`" in doc
    assert "`model_generated`" in doc


def test_roff_stripper():
    src = '.TH LS 1\n.SH NAME\nls \\- list directory contents\n.SH DESCRIPTION\n.B ls\n\\fB\\-a\\fR, \\fB\\-\\-all\\fR\n.\\" a comment\n'
    text = C.roff_to_text(src)
    assert "NAME" in text and "ls - list directory contents" in text and "-a, --all" in text
    assert "comment" not in text and "\\f" not in text


def test_generated_text_cache_round_trip(tmp_path):
    cache = tmp_path / "gen.jsonl"
    recs = [{"key": "p000s0", "text": "Once upon a time " * 10}, {"key": "p001s0", "text": "Recipe: pancakes. " * 10}]
    cache.write_text("".join(json.dumps(r) + "\n" for r in recs))
    docs = C.load_generated(cache)
    assert [d.origin for d in docs] == ["p000s0", "p001s0"]
    corpus = C.build_corpus(sources=["model_generated"], generated_cache=cache)
    assert len(corpus.train) + len(corpus.heldout) == 2
    assert len(C.PROMPTS) >= 100 and len(set(C.PROMPTS)) == len(C.PROMPTS)
