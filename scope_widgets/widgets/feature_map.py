"""FeatureMap: every feature of an SAE on one plotly map, linked both ways with an Explorer."""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from ..analysis.feature_map import LABEL_KINDS, feature_densities, feature_layout, label_kind
from ..analysis.gemma_scope_examples import GemmaScopeExamples
from ..analysis.sources import feature_labels
from ..runtime import check_feature

__all__ = ["FeatureMap", "KIND_COLOURS", "HIGHLIGHT_COLOUR"]

#: One colour per label kind (Okabe-Ito, readable on light and dark themes); "words", the most common
#: kind, is muted so that the others stand out.
KIND_COLOURS = {
    "punctuation & spaces": "#E69F00", "numbers": "#56B4E9", "names": "#009E73", "words": "#8C96A8",
    "word groups": "#CC79A7", "other scripts": "#D55E00", "code & symbols": "#0072B2",
    "your labels": "#F0E442", "no label": "#BBBBBB",
}
HIGHLIGHT_COLOUR = "#FF1744"
_NEUTRAL = "#8C96A8"  # text and dead features: mid grey, legible on a light and on a dark page
_MAX_HOVER_LABEL = 90


class FeatureMap(ipywidgets.VBox):
    """A map of every feature of the scope's SAE (``sae=`` picks another of its SAEs): each point is a
    feature, placed by a 2-D layout of the decoder directions (``analysis.feature_layout``: nearby
    points have similar directions), coloured by ``color``:

    - ``"density"``: how often the feature fires (log scale; grey: never fired on the dashboard corpus);
    - ``"label"``: what its label names (punctuation, numbers, names, words, ...; your own labels apart);
      the legend hides and shows each kind;
    - an array of ``d_sae`` numbers: your own values (e.g. attributions), on a colour scale.

    Hover a point for its id, label and density. Click one and ``selected_feature`` becomes that feature;
    the selected feature is ringed. ``explorer=`` (or ``map.link(widget)``) ties ``selected_feature`` to an
    Explorer's (or any widget's ``selected_feature`` trait) both ways: a click on the map selects the
    feature in the Explorer; a feature chosen in the Explorer is ringed on the map.

    ``map.figure`` is the plotly ``FigureWidget`` (restyle it as you like; ``width=None`` fills the
    output's width when shown, give pixels to put it beside other widgets); ``map.select(i)`` selects from
    code; ``map.positions`` are the coordinates, ``map.feature_ids[trace]`` the feature of each point.
    """

    selected_feature = traitlets.Int(None, allow_none=True, min=0)

    def __init__(self, scope: Any, explorer: Any = None, *, color: Any = "density", sae: Any = None,
                 height: int = 560, width: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scope = scope
        self.sae = scope.sae if sae is None else scope.resolve_saes(sae)[0]
        self.d_sae = int(self.sae.d_sae)
        self.positions = feature_layout(self.sae)
        source = scope.dashboards(sae=sae)
        self.density = feature_densities(source)
        self.labels, self.user_labelled = _labels(self.sae, source, self.d_sae)
        self.color = color if isinstance(color, str) else "values"
        groups = self._groups(color)
        self.feature_ids: list[np.ndarray] = [ids for _, ids, _ in groups]
        self.figure = self._build(groups, int(height), None if width is None else int(width))
        self.children = (self.figure,)
        self._links: list[traitlets.link] = []
        self.observe(self._on_selected, names="selected_feature")
        if explorer is not None:
            self.link(explorer)

    # ------------------------------------------------------------------ public
    def select(self, feature: int | None) -> None:
        """Select (and ring) ``feature`` as a click on it would; None clears the selection."""
        self.selected_feature = None if feature is None else check_feature(feature, self.d_sae, self.sae.name)

    def link(self, widget: Any, trait: str = "selected_feature") -> traitlets.link:
        """Tie ``selected_feature`` to ``widget.<trait>`` both ways (the map takes the widget's value now)."""
        if not widget.has_trait(trait):
            raise ValueError(f"{type(widget).__name__} has no trait {trait!r} to link the map to")
        tie = traitlets.link((widget, trait), (self, "selected_feature"))
        self._links.append(tie)
        return tie

    def unlink(self) -> None:
        """Undo every :meth:`link` (the map keeps its selection)."""
        for tie in self._links:
            tie.unlink()
        self._links.clear()

    def hover_text(self, feature: int) -> str:
        """What hovering the feature's point shows (plotly's small HTML: the label is escaped)."""
        label = self.labels[feature]
        if label and len(label) > _MAX_HOVER_LABEL:
            label = label[:_MAX_HOVER_LABEL - 1] + "…"
        parts = [f"<b>feature {feature}</b>", html.escape(label, quote=False) if label else "<i>no label</i>"]
        if self.density is not None:
            d = float(self.density[feature])
            parts.append(f"fires on {_percent(d)} of tokens" if d > 0 else "never fired on the dashboard corpus")
        return "<br>".join(parts)

    # ------------------------------------------------------------------ figure
    def _groups(self, color: Any) -> list[tuple[str, np.ndarray, dict]]:
        """``(trace name, feature ids, marker)`` per trace of points."""
        all_ids = np.arange(self.d_sae)
        if isinstance(color, str) and color == "label":
            kinds = np.array([label_kind(lab, i in self.user_labelled) for i, lab in enumerate(self.labels)])
            return [(f"{kind} ({int((kinds == kind).sum()):,})", all_ids[kinds == kind], {"color": KIND_COLOURS[kind]})
                    for kind in LABEL_KINDS if (kinds == kind).any()]
        if isinstance(color, str) and color == "density":
            if self.density is None:
                return [("features", all_ids, {"color": _NEUTRAL})]
            alive = self.density > 0
            groups = [("fired", all_ids[alive], _density_marker(self.density[alive]))]
            if not alive.all():
                groups.append((f"never fired ({int((~alive).sum()):,})", all_ids[~alive], {"color": _NEUTRAL}))
            return groups
        if isinstance(color, str):
            raise ValueError(f"color is 'density', 'label' or an array of {self.d_sae} numbers; got {color!r}")
        values = np.asarray(color, dtype=np.float64).reshape(-1)
        if values.shape != (self.d_sae,) or not np.isfinite(values).all():
            raise ValueError(f"color= as values needs {self.d_sae} finite numbers, one per feature; got shape {values.shape}")
        return [("features", all_ids, {"color": values.astype(np.float32), "colorscale": "Viridis",
                                       "colorbar": {"title": {"text": "value"}, "thickness": 12}})]

    def _build(self, groups: list, height: int, width: int | None):
        import plotly  # loads with the first map only
        import plotly.graph_objects as go

        if int(plotly.__version__.split(".")[0]) < 6:
            raise ImportError(f"FeatureMap needs plotly >= 6 (its FigureWidget is an anywidget); this is plotly "
                              f"{plotly.__version__}: pip install -U 'plotly>=6'")

        xy = self.positions
        traces = []
        for name, ids, marker in groups:
            traces.append(go.Scattergl(
                x=xy[ids, 0], y=xy[ids, 1], mode="markers", name=name,
                marker={"size": 4, "opacity": 0.85, **marker},
                text=[self.hover_text(int(i)) for i in ids], hovertemplate="%{text}<extra></extra>",
                showlegend=self.color == "label" or len(groups) > 1))
        traces.append(go.Scattergl(
            x=[], y=[], mode="markers", name="selected", showlegend=False, hovertemplate="%{text}<extra></extra>",
            marker={"size": 17, "symbol": "circle-open", "color": HIGHLIGHT_COLOUR, "line": {"width": 3}}))
        self.feature_ids.append(np.zeros(0, dtype=np.int64))
        axis = {"visible": False, "showgrid": False, "zeroline": False}
        what = {"density": "how often each fires", "label": "what its label names"}.get(self.color, "your values")
        fig = go.FigureWidget(data=traces, layout={
            "height": height, "width": width, "autosize": width is None, "margin": {"l": 10, "r": 10, "t": 56, "b": 10}, "hovermode": "closest",
            "dragmode": "zoom", "uirevision": "map", "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": _NEUTRAL}, "xaxis": axis,
            "yaxis": {**axis, "scaleanchor": "x", "scaleratio": 1},
            "legend": {"itemsizing": "constant", "bgcolor": "rgba(0,0,0,0)"},
            "title": {"text": self._title(None), "x": 0.01, "font": {"size": 14}},
            "meta": {"scope_widgets": "feature_map", "coloured_by": what},
        })
        fig._config = {"scrollZoom": True, "displaylogo": False}
        for trace in fig.data:
            trace.on_click(self._on_click)
        return fig

    def _title(self, feature: int | None) -> str:
        what = {"density": "colour: how often each fires", "label": "colour: what its label names"}.get(
            self.color, "colour: your values")
        head = f"{self.d_sae:,} features of {html.escape(str(self.sae.name), quote=False)}"
        if feature is None:
            return f"{head}<br><sup>{what} · click a point to select its feature</sup>"
        label = self.labels[feature]
        shown = html.escape(label[:60], quote=False) if label else "no label"
        return f"{head}<br><sup>selected: feature {feature} · {shown}</sup>"

    # ------------------------------------------------------------------ events
    def _on_click(self, trace: Any, points: Any, _state: Any) -> None:
        if not points.point_inds:
            return  # plotly tells every trace of a click; only the clicked one has points
        ids = self.feature_ids[points.trace_index]
        index = points.point_inds[0]
        if 0 <= index < len(ids):
            self.selected_feature = int(ids[index])

    def _on_selected(self, change: dict) -> None:
        feature = change["new"]
        if feature is not None and feature >= self.d_sae:  # a linked widget of another SAE: nothing to ring
            feature = None
        ring = self.figure.data[-1]
        with self.figure.batch_update():
            if feature is None:
                ring.x, ring.y, ring.text = [], [], []
            else:
                x, y = self.positions[feature]
                ring.x, ring.y, ring.text = [float(x)], [float(y)], [self.hover_text(feature)]
            self.figure.layout.title.text = self._title(feature)
        self.feature_ids[-1] = np.array([] if feature is None else [feature], dtype=np.int64)

    def __repr__(self) -> str:
        return (f"FeatureMap({self.d_sae} features of {self.sae.name!r}, color={self.color!r}, "
                f"selected_feature={self.selected_feature})")


def _labels(sae: Any, source: Any, d_sae: int) -> tuple[list[str | None], set[int]]:
    """Every feature's label, and which ones the user set. Automatic labels made one by one on demand (a
    Gemma Scope 2 examples file) would take minutes for every feature: those SAEs show the user's only."""
    store = feature_labels(sae)
    user = store.user_labels()
    if isinstance(source, GemmaScopeExamples):
        return [user.get(i) for i in range(d_sae)], set(user)
    return [store.get(i) for i in range(d_sae)], set(user)


def _density_marker(density: np.ndarray) -> dict:
    """Colours on a log scale spanning the 1st to the 99th percentile (a few outliers would otherwise
    squeeze everyone else into one colour), the colour bar in percent of tokens."""
    logs = np.log10(density)
    lo, hi = (float(v) for v in np.percentile(logs, [1, 99]))
    if hi - lo < 1e-6:
        lo, hi = lo - 0.5, hi + 0.5
    ticks = [t + math.log10(m) for t in range(math.floor(lo), math.ceil(hi) + 1) for m in (1, 3)]
    ticks = [t for t in ticks if lo <= t <= hi]
    return {"color": logs.astype(np.float32), "colorscale": "Viridis", "cmin": lo, "cmax": hi,
            "colorbar": {"title": {"text": "fires on"}, "tickvals": ticks, "ticktext": [_percent(10.0 ** t) for t in ticks],
                         "thickness": 12, "len": 0.8}}


def _percent(fraction: float) -> str:
    p = 100 * fraction
    return f"{p:.2g}%" if p < 10 else f"{p:.0f}%"
