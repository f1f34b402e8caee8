"""The feature map: the layout of decoder directions (analysis.feature_map) and the plotly FeatureMap widget
linked with the Explorer, driven without a browser (a click is plotly's own points message)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from factories import tiny_sae
from test_widgets import FakeScope, wire_state

from scope_widgets.analysis import feature_map as fm
from scope_widgets.analysis.feature_map import (LABEL_KINDS, SHIPPED_LAYOUT, compute_layout, feature_densities,
                                                feature_layout, label_kind, layout_path, load_layout)
from scope_widgets.analysis.sources import feature_labels

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOPE_WIDGETS_CACHE", str(tmp_path / "cache"))


def clustered_rows(n_clusters=12, per=30, d=32, noise=0.35, seed=0):
    """Decoder rows in tight groups around random centres, shuffled; and each row's group."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_clusters, d, generator=g)
    rows = centres.repeat_interleave(per, 0) + noise * torch.randn(n_clusters * per, d, generator=g)
    group = np.repeat(np.arange(n_clusters), per)
    order = torch.randperm(len(rows), generator=g)
    return rows[order], group[order.numpy()]


def nearest_2d(xy, k):
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


# ---------------------------------------------------------------------------------------------- layout
def test_layout_is_deterministic_float16_rounded_and_centred():
    rows, _ = clustered_rows()
    a = compute_layout(rows, epochs=200)
    b = compute_layout(rows.clone(), epochs=200)
    assert a.shape == (len(rows), 2) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b), "same decoder, same map"
    assert np.array_equal(a, a.astype(np.float16).astype(np.float32)), "rounded as the cache stores it"
    assert np.abs(np.median(a, axis=0)).max() < 0.05


def test_near_directions_land_near_each_other():
    rows, group = clustered_rows()
    xy = compute_layout(rows, epochs=300)
    near = nearest_2d(xy, 5)
    purity = (group[near] == group[:, None]).mean()
    assert purity > 0.9, f"only {purity:.0%} of each point's 5 nearest points on the map share its group"
    # and the groups are apart: a group's spread is small next to the distances between groups
    centres = np.stack([xy[group == c].mean(0) for c in range(group.max() + 1)])
    spread = np.mean([np.linalg.norm(xy[group == c] - centres[c], axis=1).mean() for c in range(len(centres))])
    between = np.linalg.norm(centres[:, None] - centres[None], axis=-1)[np.triu_indices(len(centres), 1)]
    assert np.median(between) > 3 * spread


def test_unrelated_random_directions_do_not_pull_together():
    """Random decoder rows have no neighbours above chance: no edge pulls, so no point sits on another."""
    rows = torch.randn(300, 64, generator=torch.Generator().manual_seed(1))
    z, dims = fm._damp(rows)
    sims, idx = fm._neighbours(z, 10, False)
    _, _, w = fm._edges(sims, idx, dims)
    assert w.sum() < 0.05 * idx.size


def test_layout_rejects_bad_decoders():
    with pytest.raises(ValueError, match="NaN"):
        compute_layout(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="d_sae >= 2"):
        compute_layout(torch.ones(1, 4))


def test_feature_layout_is_cached_on_disk_per_sae(monkeypatch):
    sae = tiny_sae(d_in=16, d_sae=64, seed=3)
    xy = feature_layout(sae)
    assert layout_path(sae).is_file() and np.array_equal(load_layout(layout_path(sae), sae), xy)
    # a new SAE object with the same weights reads the file and computes nothing
    monkeypatch.setattr(fm, "compute_layout", lambda *a, **k: pytest.fail("recomputed a cached layout"))
    again = tiny_sae(d_in=16, d_sae=64, seed=3)
    assert np.array_equal(feature_layout(again), xy)
    # other weights under the same name are another SAE: the file is not theirs
    other = tiny_sae(d_in=16, d_sae=64, seed=4)
    assert load_layout(layout_path(sae), other) is None


def test_a_corrupt_cache_file_is_recomputed():
    sae = tiny_sae(d_in=16, d_sae=48, seed=5)
    path = layout_path(sae)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a safetensors file")
    assert feature_layout(sae).shape == (48, 2)
    assert load_layout(path, sae) is not None, "rewritten"


def test_the_default_sae_ships_its_layout():
    from scope_widgets.saes import SAE

    assert SHIPPED_LAYOUT.stat().st_size < 300_000
    sae = SAE.from_pretrained(ROOT / "scope_widgets" / "data" / "default_sae", device="cpu")
    xy = load_layout(SHIPPED_LAYOUT, sae)
    assert xy is not None and xy.shape == (sae.d_sae, 2) and np.isfinite(xy).all()


# ---------------------------------------------------------------------------------------------- colours
@pytest.mark.parametrize("label, user, kind", [
    (None, False, "no label"), ("", False, "no label"), ("\\n (after ., before Maya)", False, "punctuation & spaces"),
    (". / , / and", False, "punctuation & spaces"), (" (after ␣) (text about friend)", False, "punctuation & spaces"),
    ("8 / 6 / 1", False, "numbers"), ("1,204", False, "numbers"), ("Tokyo / hind / date", False, "names"),
    ("out (after 4, before of)", False, "words"), ("I / we", False, "words"),
    ("time period: Day / Christmas", False, "word groups"), ("作成 / and", False, "other scripts"),
    ("= (after __)", False, "code & symbols"), ("``` / exit", False, "code & symbols"),
    ("French words", True, "your labels"),
    # dense features headed by the kind of token they fire on (auto_labels.class_head)
    ("punctuation: . / , / \\n", False, "punctuation & spaces"), ("pronouns: me / him / them", False, "words"),
    ("function words and punctuation: . / and / a · top: return", False, "words"),
])
def test_label_kinds(label, user, kind):
    assert kind in LABEL_KINDS and label_kind(label, user) == kind


def test_densities_from_either_kind_of_source():
    class Dash:
        density = np.array([0.0, 0.5])

    class Examples:
        def density(self):
            return np.array([0.25, 0.0, 0.1], dtype=np.float32)

    assert feature_densities(Dash()).tolist() == [0.0, 0.5]
    assert feature_densities(Examples()).dtype == np.float64 and len(feature_densities(Examples())) == 3
    assert feature_densities(object()) is None


# ---------------------------------------------------------------------------------------------- the widget
class MapScope(FakeScope):
    """The widget tests' fake scope with a real (tiny) SAE of the same width and dashboard densities."""

    def __init__(self, d_sae=100):
        super().__init__()
        self.sae = tiny_sae(d_in=16, d_sae=d_sae, seed=7)
        density = np.logspace(-5, -1, d_sae)
        density[:4] = 0.0  # dead features
        self.source = type("Source", (), {"density": density})()

    def dashboards(self, sae=None, progress=True):
        return self.source


def click(fmap, trace, point):
    """What plotly's front end sends when a point is clicked (the FigureWidget's own message trait)."""
    fmap.figure._js2py_pointsCallback = {
        "event_type": "plotly_click", "device_state": None, "selector": None,
        "points": {"trace_indexes": [trace], "point_indexes": [point], "xs": [0.0], "ys": [0.0]},
    }


def ring(fmap):
    return list(fmap.figure.data[-1].x), list(fmap.figure.data[-1].y)


def test_map_is_lazy_about_plotly():
    code = "import sys, scope_widgets as sw; sw.FeatureMap; print('plotly' in sys.modules)"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_map_traces_hover_and_state():
    import scope_widgets as sw

    scope = MapScope()
    feature_labels(scope.sae).set(42, "<img src=x onerror=alert(1)> & more")
    fmap = sw.FeatureMap(scope)
    names = [t.name for t in fmap.figure.data]
    assert names == ["fired", "never fired (4)", "selected"]
    assert sorted(np.concatenate(fmap.feature_ids[:-1]).tolist()) == list(range(100)), "every feature once"
    fired = fmap.figure.data[0]
    assert len(fired.x) == 96 and fired.type == "scattergl"
    text = fmap.hover_text(42)
    assert "feature 42" in text and "&lt;img" in text and "<img" not in text and "&amp; more" in text
    assert "never fired" in fmap.hover_text(0) and "%" in fmap.hover_text(99)
    state, paths, _ = wire_state(fmap.figure)
    assert ["_widget_data", 0, "x", "buffer"] in [list(p) for p in paths], "coordinates go as binary buffers"
    assert not ring(fmap)[0] and "click a point" in fmap.figure.layout.title.text


def test_map_colours_by_label_and_by_values():
    import scope_widgets as sw

    scope = MapScope()
    feature_labels(scope.sae).set(5, "my feature")
    fmap = sw.FeatureMap(scope, color="label")
    assert [t.name for t in fmap.figure.data] == ["your labels (1)", "no label (99)", "selected"]
    assert fmap.feature_ids[0].tolist() == [5]
    values = np.arange(100, dtype=float)
    custom = sw.FeatureMap(scope, color=values)
    assert len(custom.figure.data) == 2 and list(custom.figure.data[0].marker.color)[:3] == [0, 1, 2]
    with pytest.raises(ValueError, match="100 finite numbers"):
        sw.FeatureMap(scope, color=values[:10])
    with pytest.raises(ValueError, match="'density', 'label'"):
        sw.FeatureMap(scope, color="size")


def test_click_selects_in_the_explorer_and_the_explorer_moves_the_ring():
    import scope_widgets as sw

    scope = MapScope()
    ex = sw.Explorer(scope, "some text")
    fmap = sw.FeatureMap(scope, explorer=ex)
    start = ex.selected_feature
    assert fmap.selected_feature == start, "the map takes the Explorer's selection"
    assert ring(fmap) == ([float(fmap.positions[start, 0])], [float(fmap.positions[start, 1])])

    # a click on point 10 of the first trace: that point's feature, in the Explorer too
    target = int(fmap.feature_ids[0][10])
    click(fmap, 0, 10)
    assert fmap.selected_feature == target and ex.selected_feature == target
    assert ring(fmap) == ([float(fmap.positions[target, 0])], [float(fmap.positions[target, 1])])
    assert f"feature {target}" in fmap.figure.layout.title.text
    assert ex.wait_dashboard(10) and ex.dashboard["feature"] == target

    # the Explorer selects (as a click in its feature list does): the ring follows
    ex.set_state({"selected_feature": 42})
    assert fmap.selected_feature == 42
    assert ring(fmap) == ([float(fmap.positions[42, 0])], [float(fmap.positions[42, 1])])

    # a click on the dead-feature trace, and on the ring itself (the selected feature: no change)
    click(fmap, 1, 0)
    assert ex.selected_feature == int(fmap.feature_ids[1][0])
    click(fmap, len(fmap.figure.data) - 1, 0)
    assert ex.selected_feature == int(fmap.feature_ids[1][0])

    # from code, and cleared
    fmap.select(7)
    assert ex.selected_feature == 7
    ex.selected_feature = None
    assert fmap.selected_feature is None and ring(fmap) == ([], [])
    with pytest.raises(ValueError):
        fmap.select(100)

    fmap.unlink()
    click(fmap, 0, 3)
    assert ex.selected_feature is None, "unlinked: the Explorer no longer follows"
    ex.wait()


def test_link_to_any_widget_with_the_trait():
    import scope_widgets as sw
    from scope_widgets.widgets import FeatureList
    from test_widgets import make_acts

    scope = MapScope()
    flist = FeatureList(make_acts(d=100))
    fmap = sw.FeatureMap(scope)
    fmap.link(flist)
    click(fmap, 0, 20)
    assert flist.selected_feature == int(fmap.feature_ids[0][20])
    with pytest.raises(ValueError, match="no trait"):
        fmap.link(flist, "nonsense")


def test_the_map_is_a_widget_one_can_lay_out():
    import ipywidgets

    import scope_widgets as sw

    fmap = sw.FeatureMap(MapScope())
    box = ipywidgets.HBox([fmap])
    assert box.children[0] is fmap and fmap.children[0] is fmap.figure
    json.dumps(fmap.get_state())
