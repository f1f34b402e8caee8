"""Widget state from FeatureActivations: binary traits, sizes, dtypes, round trips, messages.

Uses small fakes for speed (no model); one test packs a real FeatureActivations from a tiny SAE.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import traitlets

from scope_widgets.widgets import Explorer, FeatureDashboard, FeatureList, SteeringPanel, TokenHeatmap
from scope_widgets.widgets._base import BUNDLE, LatestWorker, ScopeWidget
from scope_widgets.widgets._dashboard import dashboard_state
from scope_widgets.widgets.wire import listed_features, pack_activations


# ---------------------------------------------------------------------------------------------- fakes
class FakeSAE:
    name = "fake/layer_0_width_100"
    d_sae = 100


class FakeActs:
    """The FeatureActivations contract over a dense numpy matrix [n, d_sae]."""

    def __init__(self, tokens, dense, k=4, has_bos=True):
        self.tokens = list(tokens)
        self.dense_ = np.asarray(dense, dtype=np.float32)
        self.has_bos = has_bos
        self.sae = FakeSAE()
        order = np.argsort(-self.dense_, axis=1, kind="stable")[:, :k]
        self.top_ids = order.astype(np.int32)
        self.top_values = np.take_along_axis(self.dense_, order, axis=1).astype(np.float32)
        self.feature_calls: list[list[int]] = []

    @property
    def k(self):
        return self.top_ids.shape[1]

    def top(self, k=10):
        start = 1 if self.has_bos else 0
        mx = self.dense_[start:].max(axis=0)
        ids = np.argsort(-mx, kind="stable")[:k]
        return [(int(i), float(mx[i])) for i in ids if mx[i] > 0]

    def top_at(self, pos, k=10):
        return [(int(i), float(v)) for i, v in zip(self.top_ids[pos, :k], self.top_values[pos, :k]) if v > 0]

    def feature(self, i):
        if not 0 <= i < self.sae.d_sae:
            raise ValueError(f"unknown feature {i}")
        return self.features([i])[0]

    def features(self, ids):
        self.feature_calls.append(list(ids))
        return self.dense_[:, list(ids)].T.copy()



def make_acts(n=6, d=100, k=4, seed=0):
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n, d)) < 0.1, rng.random((n, d)) * 5, 0).astype(np.float32)
    dense[0, 7] = 500.0  # BOS outlier
    dense[3, 42] = 9.0
    tokens = ["<bos>"] + [f" t{i}" for i in range(1, n)]
    return FakeActs(tokens, dense, k=k)


class FakeScope:
    def __init__(self, acts=None, dashboards=True):
        self.acts = acts or make_acts()
        self.user_labels: dict[int, str] = {}
        self.dashboard_calls: list[int] = []
        if not dashboards:
            self.dashboard = None  # type: ignore[assignment]

    def features(self, text, k=32):
        self.text = text
        return self.acts

    def label(self, feature):
        return self.user_labels.get(feature, "the answer" if feature == 42 else None)

    def set_label(self, feature, text):
        if text is None:
            self.user_labels.pop(feature, None)
        else:
            self.user_labels[feature] = text

    def dashboard(self, feature):
        self.dashboard_calls.append(feature)
        if feature == 13:
            raise ValueError("feature 13 is cursed")
        return {
            "feature": feature,
            "label": self.label(feature),
            "label_source": "auto",
            "density": 0.01,
            "max_activation": 12.0,
            "histogram": {"edges": [0.0, 1.0, 2.0], "counts": [10, 3]},
            "top_examples": [
                {"tokens": ["a", " b", " c"], "values": [0.0, 12.0, 1.0], "max_pos": 1},
                {"tokens": ["x", " y"], "values": np.array([3.0, 0.5])},
            ],
            "logits_promoted": [(" yes", 1.5)],
            "logits_suppressed": [(" no", -0.5)],
        }

    def stream(self, prompt, steer=None, **kw):  # steering is tested in test_widgets_steering.py
        return iter([" ok"])


def sent(widget, monkeypatch):
    """Capture what the widget sends to the browser as custom messages."""
    out = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: out.append((content, buffers)))
    return out


def browser_msg(widget, content, buffers=None):
    """Deliver a custom message as if from the browser."""
    widget._handle_custom_msg(content, buffers or [])


def wire_state(widget):
    """The state as it would go over the wire (buffers split out by ipywidgets)."""
    from ipywidgets.widgets.widget import _remove_buffers

    state, buffer_paths, buffers = _remove_buffers(widget.get_state())
    json.dumps(state)  # must be JSON-serialisable once the buffers are out
    return state, buffer_paths, buffers


# ---------------------------------------------------------------------------------------------- data
def test_pack_activations_sizes_and_dtypes():
    acts = make_acts(n=6, k=4)
    st = pack_activations(acts, n_features=5)
    assert st["n_tokens"] == 6 and st["k"] == 4
    assert len(st["top_ids"]) == 6 * 4 * 4 and len(st["top_values"]) == 6 * 4 * 4  # n*k*8 bytes together
    ids = np.frombuffer(st["top_ids"], dtype="<i4").reshape(6, 4)
    vals = np.frombuffer(st["top_values"], dtype="<f4").reshape(6, 4)
    np.testing.assert_array_equal(ids, acts.top_ids)
    np.testing.assert_array_equal(vals, acts.top_values)
    assert st["column_ids"] == [i for i, _ in acts.top(5)]
    assert 7 not in st["column_ids"][:1]  # the BOS outlier does not lead
    cols = np.frombuffer(st["columns"], dtype="<f4").reshape(len(st["column_ids"]), 6)
    np.testing.assert_array_equal(cols, acts.dense_[:, st["column_ids"]].T)
    assert st["has_bos"] is True and st["tokens"][0] == "<bos>"
    assert st["sae_name"] == "fake/layer_0_width_100"


def test_heatmap_state_is_binary_on_the_wire():
    acts = make_acts(n=6, k=4)
    w = TokenHeatmap(acts)
    state, paths, buffers = wire_state(w)
    assert ["top_ids"] in paths and ["top_values"] in paths and ["columns"] in paths
    by_path = {tuple(p): b for p, b in zip(paths, buffers)}
    assert len(by_path[("top_ids",)]) == 6 * 4 * 4
    assert len(by_path[("top_values",)]) == 6 * 4 * 4
    assert state["view"] == "heatmap"
    assert state["feature"] == listed_features(acts, 1)[0] == state["column_ids"][0]  # None: the list's first
    assert state["selected_token"] is None
    assert state["labels"] == {}  # labels come with a scope (see below)
    # no float lists in the JSON part
    for key in ("top_ids", "top_values", "columns"):
        assert key not in state


def test_heatmap_traits_round_trip():
    w = TokenHeatmap(make_acts(), feature=42)
    assert w.feature == 42
    w.set_state({"selected_token": 3, "feature": 5})  # as from the browser
    assert (w.selected_token, w.feature) == (3, 5)
    w.selected_token = None
    assert w.get_state()["selected_token"] is None
    with pytest.raises(traitlets.TraitError):
        w.feature = -1


def test_labels_come_from_the_scope():
    acts = make_acts()
    w = TokenHeatmap(acts, scope=FakeScope(acts), labels={3: "mine"})
    assert w.labels["42"] == "the answer"
    assert w.labels["3"] == "mine"


def test_every_feature_a_clicked_token_lists_has_its_label():
    """A token's list shows all the features kept for it (32 in the Explorer), not only its first 16."""
    from scope_widgets.widgets.wire import tooltip_feature_ids

    acts = make_acts(n=4, d=200, k=32)
    acts.dense_[2, :40] = np.arange(40, 0, -1)  # token 2: 40 active features, 32 kept
    acts = FakeActs(acts.tokens, acts.dense_, k=32)
    listed = [int(f) for f, v in zip(acts.top_ids[2], acts.top_values[2]) if v > 0]
    assert len(listed) == 32 and set(listed) <= set(tooltip_feature_ids(acts))
    scope = FakeScope(acts)
    scope.label = lambda f: f"label {f}"
    w = TokenHeatmap(acts, scope=scope)
    assert len(listed) == 32 and all(w.labels.get(str(f)) == f"label {f}" for f in listed)


def test_column_request_answers_with_float32(monkeypatch):
    acts = make_acts(n=6)
    w = FeatureList(acts)
    out = sent(w, monkeypatch)
    browser_msg(w, {"type": "column", "feature": 11})
    content, buffers = out[-1]
    assert content == {"type": "column", "feature": 11, "n_tokens": 6}
    np.testing.assert_array_equal(np.frombuffer(buffers[0], dtype="<f4"), acts.dense_[:, 11])
    browser_msg(w, {"type": "column", "feature": 100000})
    assert out[-1][0]["type"] == "column" and "unknown feature" in out[-1][0]["error"]
    browser_msg(w, {"type": "column", "feature": "1; drop"})
    assert "error" in out[-1][0]
    # the browser's epoch (how many data changes it has seen) comes back, so it can drop a stale reply
    browser_msg(w, {"type": "column", "feature": 11, "epoch": 3})
    assert out[-1][0] == {"type": "column", "feature": 11, "epoch": 3, "n_tokens": 6}
    browser_msg(w, {"type": "column", "feature": 100000, "epoch": 4})
    assert out[-1][0]["epoch"] == 4 and "error" in out[-1][0]
    browser_msg(w, {"type": "column", "feature": 11, "epoch": "3; drop"})  # not an integer: not echoed
    assert "epoch" not in out[-1][0]


def test_unknown_and_malformed_messages_are_ignored(monkeypatch):
    w = FeatureList(make_acts())
    out = sent(w, monkeypatch)
    browser_msg(w, {"type": "nope"})
    browser_msg(w, ["not", "a", "dict"])
    browser_msg(w, {"no": "type"})
    assert out == []


def test_feature_list_position_and_steer_callback(monkeypatch):
    w = FeatureList(make_acts(), position=2)
    assert w.position == 2 and w.can_steer is False
    got = []
    w.on_steer(got.append)
    assert w.can_steer is True
    browser_msg(w, {"type": "steer", "feature": 42})
    browser_msg(w, {"type": "steer", "feature": True})  # not a feature id
    assert got == [42]
    w.on_steer(got.append, remove=True)
    assert w.can_steer is False
    w.set_state({"selected_feature": 42, "position": None})
    assert (w.selected_feature, w.position) == (42, None)


# ---------------------------------------------------------------------------------------------- dashboards
def test_dashboard_state_packs_example_values():
    state, values = dashboard_state(FakeScope(), 42)
    assert state["status"] == "ok" and state["label"] == "the answer"
    vals = np.frombuffer(values, dtype="<f4")
    assert [e["offset"] for e in state["examples"]] == [0, 3]
    assert [e["length"] for e in state["examples"]] == [3, 2]
    assert [e["max_pos"] for e in state["examples"]] == [1, 0]
    np.testing.assert_allclose(vals, [0, 12, 1, 3, 0.5])
    assert state["histogram"] == {"edges": [0.0, 1.0, 2.0], "counts": [10, 3]}
    assert state["logits_promoted"] == [[" yes", 1.5]]
    json.dumps(state)


def test_dashboard_failures_become_messages():
    state, _ = dashboard_state(FakeScope(), 13)
    assert state["status"] == "error" and "cursed" in state["message"]
    state, _ = dashboard_state(FakeScope(dashboards=False), 1)
    assert state["status"] == "unavailable"

    class Missing(FakeScope):
        def dashboard(self, feature):
            raise ImportError("No module named 'scope_widgets.dashboards'")

    state, _ = dashboard_state(Missing(), 42)
    assert state["status"] == "unavailable" and state["label"] == "the answer"


def test_feature_dashboard_widget_and_label_edit(monkeypatch):
    scope = FakeScope()
    w = FeatureDashboard(scope, 42)
    assert w.dashboard["feature"] == 42 and w.dashboard["status"] == "ok"
    assert len(w.dashboard_values) == 5 * 4
    out = sent(w, monkeypatch)
    browser_msg(w, {"type": "set_label", "feature": 42, "label": "  towers  "})
    assert scope.user_labels[42] == "towers"
    assert out[-1][0] == {"type": "label_saved", "feature": 42, "label": "towers"}
    assert w.dashboard["label"] == "towers" and w.dashboard["label_source"] == "user"
    assert w.labels["42"] == "towers"
    browser_msg(w, {"type": "set_label", "feature": 42, "label": ""})
    assert 42 not in scope.user_labels and "42" not in w.labels
    # another feature loads in the worker
    w.feature = 5
    assert w.wait_dashboard(10)
    assert w.dashboard["feature"] == 5


def test_label_edit_without_set_label(monkeypatch):
    class ReadOnly(FakeScope):
        set_label = None  # type: ignore[assignment]

    w = FeatureDashboard(ReadOnly(), 42)
    assert w.dashboard["can_label"] is False
    out = sent(w, monkeypatch)
    browser_msg(w, {"type": "set_label", "feature": 42, "label": "x"})
    assert out[-1][0]["type"] == "label_error"


# ---------------------------------------------------------------------------------------------- explorer
def test_explorer_state_and_traits():
    scope = FakeScope()
    ex = Explorer(scope, "some text")
    assert scope.text == "some text" and ex.prompt == "some text"
    assert ex.selected_feature == listed_features(scope.acts, 1)[0] == ex.column_ids[0]
    assert ex.wait_dashboard(10)
    assert ex.dashboard["feature"] == ex.selected_feature
    assert ex.feature_max[str(ex.selected_feature)] == 12.0
    state, paths, _ = wire_state(ex)
    assert {("top_ids",), ("top_values",), ("columns",), ("dashboard_values",)} <= {tuple(p) for p in paths}
    assert state["view"] == "explorer" and state["steering"] == {}

    # the browser selects: Python sees it and loads that dashboard
    ex.set_state({"selected_token": 3, "selected_feature": 42})
    assert (ex.selected_token, ex.selected_feature) == (3, 42)
    assert ex.wait_dashboard(10)
    assert ex.dashboard["feature"] == 42 and ex.dashboard["label"] == "the answer"

    # steering from the browser: string keys on the wire, int keys in Python
    ex.set_state({"steering": {"42": 0}})
    assert ex.steering == {42: 0.0}
    assert ex.get_state()["steering"] == {"42": 0.0}
    assert ex.labels["42"] == "the answer"
    ex.wait()


def test_explorer_dashboard_for_a_stale_selection_is_dropped():
    scope = FakeScope()
    ex = Explorer(scope, "x")
    ex.wait_dashboard(10)
    ex._dashboard_cache.clear()
    ex.selected_feature = 5
    ex.selected_feature = 6
    assert ex.wait_dashboard(10)
    assert ex.dashboard["feature"] == 6


def test_coefficients_trait_validation():
    panel = SteeringPanel(FakeScope(), "p", features=[1, 2], auto_generate=False)
    assert panel.coefficients == {1: 0.0, 2: 0.0}
    panel.coefficients = {"3": 2}  # string keys as from JSON
    assert panel.coefficients == {3: 2.0}
    for bad in ({-1: 1.0}, {"x": 1.0}, {1: float("nan")}, {1: "big"}, {True: 1.0}):
        with pytest.raises(traitlets.TraitError):
            panel.coefficients = bad
    panel.wait()


def test_latest_worker_runs_only_the_newest():
    import threading

    gate, started = threading.Event(), threading.Event()
    seen = []

    def fn(x):
        started.set()
        gate.wait(5)
        seen.append(x)

    w = LatestWorker(fn, "t")
    w.submit(1)
    assert started.wait(5)
    for x in range(2, 10):
        w.submit(x)
    gate.set()
    assert w.wait(5)
    assert seen == [1, 9]  # 2..8 were replaced while 1 ran


def test_one_bundle_serves_every_widget():
    for cls in (TokenHeatmap, FeatureList, FeatureDashboard, SteeringPanel, Explorer):
        assert issubclass(cls, ScopeWidget)
    if BUNDLE.is_file():
        esm = str(TokenHeatmap._esm)
        assert "data-token-index" in esm and "data-lm-suppress-shortcuts" in esm
        assert "innerHTML" not in esm  # model output never goes through HTML parsing
        assert "http://" not in esm.replace("http://www.w3.org/2000/svg", "") and "https://" not in esm  # no CDN


def test_real_feature_activations_pack():
    """The engine's own FeatureActivations (a tiny SAE, no model) packs to the same layout."""
    torch = pytest.importorskip("torch")
    from factories import tiny_sae

    from scope_widgets.features import FeatureActivations, encode_sparse

    sae = tiny_sae(d_in=16, d_sae=32)
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(1))
    sp = encode_sparse(sae, x, k=4, first_counted=1)
    acts = FeatureActivations(
        text="abcd", tokens=["<bos>", "a", "b", "c", "d"], token_ids=np.arange(5), top_ids=sp.top_ids.numpy(),
        top_values=sp.top_values.numpy(), inputs=x, sae=sae, has_bos=True, max_per_feature=sp.max_per_feature,
    )
    w = TokenHeatmap(acts)
    assert len(w.top_ids) == 5 * 4 * 4 and len(w.top_values) == 5 * 4 * 4
    cols = np.frombuffer(w.columns, dtype="<f4").reshape(len(w.column_ids), 5)
    np.testing.assert_allclose(cols, acts.features(w.column_ids), rtol=1e-6)
    np.testing.assert_array_equal(np.frombuffer(w.top_ids, "<i4").reshape(5, 4), acts.top_ids)


def test_steering_panel_labels_and_ranges_follow_new_features():
    scope = FakeScope()
    panel = SteeringPanel(scope, "p", features=[1], auto_generate=False)
    panel.add_feature(42)
    assert panel.features == [1, 42]
    assert panel.labels == {"42": "the answer"}
    deadline = time.monotonic() + 5
    while panel.feature_max.get("42") != 12.0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert panel.feature_max["42"] == 12.0  # the dashboard's max activation sets the slider range
    panel.wait()
