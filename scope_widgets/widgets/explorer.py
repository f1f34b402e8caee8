"""Explorer: heatmap, feature list, dashboard and steering for one text, in one widget."""

from __future__ import annotations

from typing import Any

import traitlets

from ._attribution import AttributionTraits
from ..runtime import check_text
from ._base import LatestWorker, ScopeWidget
from ._dashboard import DashboardTraits, fill_feature_max
from .wire import DEFAULT_K, DEFAULT_N_FEATURES, ActivationTraits, first_listed, gather_labels
from ._steering import SteeringTraits
from ._traits import coefficients_trait, optional_feature, optional_position


class Explorer(ActivationTraits, DashboardTraits, SteeringTraits, AttributionTraits, ScopeWidget):
    """The composite app for one text: the token heatmap, the feature list (of the text or of the selected
    token), the selected feature's dashboard and a steering panel, in one widget.

    All four views live in one browser model: a click on a feature recolours the heatmap at once, in the
    browser, whatever the kernel is doing; the kernel hears of it when idle and loads the dashboard in a
    worker thread. The steering prompt defaults to the text.

    Synced traits: ``selected_token``, ``selected_feature``, ``steering`` ({feature id: coefficient}),
    plus ``method``, ``prompt``, ``baseline_text``, ``steered_text``, ``status`` of the steering part, and
    the ``attr_*`` traits of the "why this next token?" panel (``explorer.explain(position)``; see
    ``AttributionView``), which runs only when asked.

    The text is editable in the browser (and ``explorer.set_text(...)`` from code): the kernel reads each new
    text in a worker thread, newest only (text typed while one runs replaces whatever waits, and a result
    for text already typed over is dropped), and ``analysed_text`` says which text is shown.
    """

    view = traitlets.Unicode("explorer").tag(sync=True)
    text = traitlets.Unicode("").tag(sync=True)  # editable: the heatmap follows (see set_text)
    analysed_text = traitlets.Unicode("").tag(sync=True)  # the text the activations are of
    text_error = traitlets.Unicode("").tag(sync=True)  # why the last edit could not be read ("" when fine)
    selected_token = optional_position()
    selected_feature = optional_feature()
    steering = coefficients_trait()

    def __init__(self, scope: Any, text: str, *, k: int = DEFAULT_K, n_features: int = DEFAULT_N_FEATURES,
                 steering: dict | None = None, method: str = "add", max_new_tokens: int = 40,
                 temperature: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scope = scope
        self._k, self._n_features = k, n_features
        acts = scope.features(text, k=k)
        self._set_activations(acts, k=None, n_features=n_features, scope=scope)
        self.text = self.analysed_text = text
        self._init_dashboards(scope)
        with self.hold_sync():
            self.prompt = text
            self.method = method
            self.max_new_tokens = max_new_tokens
            self.temperature = temperature
            self.seed = seed
            self.steering = dict(steering or {})
            self.selected_feature = first_listed(acts)  # the list's first row: what stands out most
        self._init_steering(scope, "steering")
        self._init_attribution(scope, text, self.n_tokens)
        self.observe(self._on_selected_feature, names="selected_feature")
        self.observe(self._on_steering_features, names="steering")
        self._on_steering_features({"new": self.steering, "old": {}})
        self.load_dashboard(self.selected_feature)
        self._text_worker = LatestWorker(self._analyse, "scope-widgets-text")
        self.observe(self._on_text, names="text")

    # ------------------------------------------------------------------ type and see
    def set_text(self, text: str, wait: bool = True) -> None:
        """Show ``text`` instead (as typing in the browser does); ``wait`` blocks until the heatmap has it."""
        self.text = text
        if wait:
            self.wait_text()

    def wait_text(self, timeout: float | None = 60) -> bool:
        return self._text_worker.wait(timeout)

    def _on_text(self, change: dict) -> None:
        if change["new"] != self.analysed_text:
            self._text_worker.submit(change["new"])  # replaces any older text still waiting

    def _analyse(self, text: str) -> None:
        if text != self.text:  # typed over already: the newer text is queued
            return
        try:
            acts = self.scope.features(check_text(text), k=self._k)
        except Exception as err:  # the previous text's activations stay shown
            self.text_error = f"{err}"
            return
        if text != self.text:  # typed over while this ran: publish nothing stale
            return
        old = self.analysed_text
        with self.hold_sync():  # one message: tokens and activations change together
            self._set_activations(acts, k=None, n_features=self._n_features, scope=self.scope)
            if self.selected_token is not None and self.selected_token >= acts.n_tokens:
                self.selected_token = None
            self._reset_attribution(text, acts.n_tokens)
            self.text_error = ""
            self.analysed_text = text
        if self.prompt == old:  # the steering prompt followed the text: it still does
            self.prompt = text

    def _dashboard_feature(self) -> int | None:
        return self.selected_feature

    def _on_selected_feature(self, change: dict) -> None:
        self.load_dashboard(change["new"])

    def _on_steering_features(self, change: dict) -> None:
        new = [f for f in change["new"] if f not in (change["old"] or {})]
        missing = [f for f in new if str(f) not in self.labels]
        if missing:
            found = gather_labels(self.scope, missing)
            if found:
                self.labels = {**self.labels, **found}
        if new:
            fill_feature_max(self, self.scope, new)  # slider ranges from the features' dashboards

    def __repr__(self) -> str:
        return (f"Explorer({self.n_tokens} tokens, selected_token={self.selected_token}, "
                f"selected_feature={self.selected_feature}, steering={self.steering})")
