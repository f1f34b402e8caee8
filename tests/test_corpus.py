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


def test_unwrap_joins_typed_prose_and_keeps_verse():
    from scope_widgets.corpus.everyday import unwrap

    prose = ("This is a long line of prose that was wrapped by its typist at sixty\n"
             "characters or so, and it goes on for quite a while longer, like this\nbefore it ends.")
    verse = "Roses are red,\nViolets are blue,\nSugar is sweet."
    assert "\n" not in unwrap(prose)
    assert unwrap(verse) == verse
    assert unwrap(prose + "\n\n" + verse).split("\n\n")[1] == verse


@pytest.mark.skipif(not __import__("pathlib").Path("/usr/share/wordnet/data.noun").is_file(), reason="wordnet-base not installed")
def test_everyday_sources_read_wordnet_and_fortunes():
    from scope_widgets.corpus import everyday

    docs = list(everyday.wordnet_glosses())
    assert len(docs) > 1000
    assert any("dog (also domestic dog" in text for _, _, text in docs)
    assert all(origin.startswith("wordnet/") and "WordNet" in lic for origin, lic, _ in docs[:50])
    fortunes = list(everyday.fortunes())
    assert fortunes and all(len(t) > 100 for _, _, t in fortunes[:20])


@pytest.mark.skipif(not __import__("pathlib").Path("/usr/share/wordnet/data.noun").is_file(), reason="wordnet-base not installed")
def test_lexicon_lemmas_and_shared_meaning():
    from scope_widgets.analysis.auto_labels import auto_label
    from scope_widgets.analysis.lexicon import lexicon

    lex = lexicon()
    assert [lex.lemma(w) for w in ("dogs", "puppies", "ran", "geese")] == ["dog", "puppy", "run", "goose"]
    assert lex.shared_hypernym({"apple": 2, "banana": 2, "pear": 1}) == "edible fruit"
    assert lex.shared_hypernym({"the": 3, "of": 2}) is None
    ex = [(" dogs", " the", 5.0), (" dog", " a", 4.0), (" puppy", " the", 4.0), (" Dog", " my", 3.0), (" terrier", " a", 2.0)]
    assert auto_label(ex, [" bark"], lex=lex) == "dog: dog / puppy / terrier → bark"
    generic = [(" the", " of", 5.0), (" a", " in", 4.0), (" it", " x", 4.0), (" was", " y", 3.0), (" on", " z", 3.0)]
    windows = [["The", " dog", " barked"], [" my", " dog"], [" a", " dog"], [" dogs", " play"], [" cat"]]
    assert auto_label(generic, [], contexts=windows, lex=lex) == "the / a / it … (text about dog)"
