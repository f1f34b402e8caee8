"""The Explorer's editable text: the heatmap follows, newest text only, errors shown, nothing stale."""

from __future__ import annotations

import threading

import pytest

import scope_widgets as sw
from factories import TINY_TEXT as TEXT, tiny_scope


@pytest.fixture
def explorer():
    ex = sw.Explorer(tiny_scope(), TEXT)
    yield ex
    ex.wait_dashboard()


def test_a_new_text_replaces_tokens_and_activations_together(explorer):
    explorer.selected_token = 20
    explorer.set_text("A dog.")
    assert explorer.analysed_text == "A dog." and explorer.text_error == ""
    assert explorer.tokens == ["<bos>", "A", " ", "d", "o", "g", "."]
    assert explorer.activations.text == "A dog." and explorer.n_tokens == 7
    assert explorer.selected_token is None  # it pointed past the new text
    assert explorer.prompt == "A dog."  # the steering prompt followed the text


def test_the_browser_edit_goes_through_the_same_path(explorer):
    explorer.set_state({"text": "Hello there"})
    explorer.wait_text()
    assert explorer.analysed_text == "Hello there" and "".join(explorer.tokens[1:]) == "Hello there"


def test_only_the_newest_text_is_read_while_one_runs(explorer):
    scope = explorer.scope
    seen, gate = [], threading.Event()
    original = scope.features

    def slow_features(text, **kw):
        seen.append(text)
        if text == "first":
            gate.wait(5)  # typing goes on while the kernel reads "first"
        return original(text, **kw)

    scope.features = slow_features
    try:
        explorer.text = "first"
        while not seen:
            threading.Event().wait(0.01)
        for typed in ("s", "se", "sec", "second"):
            explorer.text = typed
        gate.set()
        explorer.wait_text()
    finally:
        scope.features = original
    assert seen == ["first", "second"]  # the texts typed over while "first" ran were never read
    assert explorer.analysed_text == "second"  # and "first"'s result, stale on arrival, was never shown


def test_an_unreadable_text_is_reported_and_the_last_heatmap_kept(explorer):
    before = list(explorer.tokens)
    explorer.set_text("   ")
    assert explorer.text_error.startswith("text is empty")
    assert explorer.tokens == before and explorer.analysed_text == TEXT
    explorer.set_text("ok")
    assert explorer.text_error == "" and explorer.analysed_text == "ok"


def test_a_new_text_clears_the_attribution_of_the_old_one(explorer):
    explorer.explain(5)
    assert explorer.attr_feature_ids
    explorer.set_text("Another text entirely")
    assert explorer.attribution is None and explorer.attr_position is None and explorer.attr_feature_ids == []
    attr = explorer.explain(-1)
    assert attr.tokens[1:] == list("Another text entirely")
