"""Feature labels: user labels persist atomically per SAE name, over the automatic ones."""

from __future__ import annotations

import json

import pytest

from scope_widgets import SAE, Scope
from scope_widgets.analysis import label_store as labels
from scope_widgets.analysis.label_store import LabelStore, labels_for, labels_path, safe_name
from tiny_models import tiny_gemma


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOPE_WIDGETS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def make_sae(name="google/gemma-scope-2-270m-pt/resid_post/layer_5_width_16k_l0_small", d_sae=32):
    sae = SAE.random(16, d_sae, seed=1)
    sae._cfg.name = name
    return sae


def test_user_labels_persist_across_a_fresh_store(cache):
    sae = make_sae()
    store = labels_for(sae)
    assert store is labels_for(sae)  # one store per SAE in a process
    assert store.get(3) is None and store.get_with_source(3) == (None, None)
    store.set(3, "  French   words ")
    store.set(7, "numbers")
    assert store.get_with_source(3) == ("French words", "user")
    path = cache / "labels" / "google__gemma-scope-2-270m-pt__resid_post__layer_5_width_16k_l0_small.json"
    assert path == labels_path(sae.name) and path.is_file()
    assert json.loads(path.read_text())["labels"] == {"3": "French words", "7": "numbers"}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # written atomically
    fresh = LabelStore(sae.name, 32)  # as in a new session
    assert fresh.get(3) == "French words" and fresh.get(7) == "numbers"
    store.set(7, None)  # removing
    assert LabelStore(sae.name).get(7) is None
    assert fresh.get(7) is None  # other stores see the change on disk


def test_user_label_wins_over_the_automatic_one():
    sae = make_sae()
    store = labels_for(sae)
    store.set_auto_labels(["auto zero", None, "auto two"] + [None] * 29)
    assert store.get_with_source(0) == ("auto zero", "auto")
    assert store.get_with_source(1) == (None, None)
    store.set(0, "mine")
    assert store.get_with_source(0) == ("mine", "user")
    store.set(0, "")
    assert store.get_with_source(0) == ("auto zero", "auto")


def test_lazy_auto_labels_load_once():
    store = LabelStore("x", 4)
    calls = []
    store.set_auto_loader(lambda: calls.append(1) or {2: "two"})
    assert store.get(2) == "two" and store.get(1) is None and store.get(2) == "two"
    assert calls == [1]


def test_bad_input_and_corrupt_file(cache):
    sae = make_sae(d_sae=8)
    store = labels_for(sae)
    with pytest.raises(ValueError, match="unknown feature"):
        store.set(8, "x")
    with pytest.raises(ValueError):
        store.get(-1)
    with pytest.raises(TypeError):
        store.set(1, 5)
    with pytest.raises(ValueError, match="at most"):
        store.set(1, "x" * 500)
    path = labels_path(sae.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    with pytest.warns(UserWarning, match="could not read"):
        assert LabelStore(sae.name).get(1) is None
    store2 = LabelStore(sae.name)
    with pytest.warns(UserWarning):
        store2.set(1, "fixed")
    assert LabelStore(sae.name).get(1) == "fixed"


def test_safe_name():
    assert safe_name("a/b\\c d:e") == "a__b__c_d_e"
    assert safe_name("../../etc") == "etc" or "/" not in safe_name("../../etc")
    assert safe_name("") == "sae"


def test_scope_label_and_set_label():
    model, tok = tiny_gemma()
    sae = SAE.random(model.config.hidden_size, 16, layer=1, threshold=0.1)
    scope = Scope(model, tok, sae)
    assert scope.label(2) is None
    scope.set_label(2, "my feature")
    assert scope.label(2) == "my feature"
    assert labels.labels_for(sae).get_with_source(2) == ("my feature", "user")
    scope.set_label(2, None)
    assert scope.label(2) is None
