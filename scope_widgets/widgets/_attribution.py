"""Attribution for the widgets: ``scope.attribute`` and ``Attribution.ablate`` to synced state, in a worker.

Traits (all prefixed ``attr_`` so the Explorer can carry them beside its own):

- ``attr_position``: the token whose next-token prediction is explained (None: nothing yet);
- ``attr_target`` / ``attr_contrast``: token strings (None target: the model's top prediction);
- ``attr_predictions``: ``[[token, probability, id], ...]``, the model's top 10 there;
- ``attr_token_scores``: float32 ``[n_tokens]``, each token's summed feature scores (0 after the position);
- ``attr_feature_ids`` + ``attr_feature_scores`` (float32 ``[m]``): the features with the largest summed
  ``|score|``, best first; ``attr_columns``: float32 ``[m, n_tokens]``, each one's score per token;
- ``attr_nodes``: the split ``{features, error, bias, skip, bos, total, error_share}``;
- ``attr_ablate``: the feature ids selected for ablation; ``attr_result``: the last ablation's outcome;
- ``attr_status``: ``""``, ``"computing"``, ``"ablating"`` or ``"error: ..."``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import traitlets

from ..runtime import check_position
from ._base import LatestWorker
from ._traits import optional_position
from .wire import gather_labels

log = logging.getLogger("scope_widgets.widgets")

N_LISTED = 40  # features listed with their per-token scores
N_PREDICTIONS = 10


class AttributionTraits(traitlets.HasTraits):
    """Synced attribution state and the worker that fills it (see the module doc)."""

    attr_position = optional_position()
    attr_target = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    attr_contrast = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    attr_predictions = traitlets.List().tag(sync=True)
    attr_target_prob = traitlets.Float(None, allow_none=True).tag(sync=True)
    attr_contrast_prob = traitlets.Float(None, allow_none=True).tag(sync=True)
    attr_token_scores = traitlets.Bytes(b"").tag(sync=True)
    attr_feature_ids = traitlets.List(traitlets.Int()).tag(sync=True)
    attr_feature_scores = traitlets.Bytes(b"").tag(sync=True)
    attr_columns = traitlets.Bytes(b"").tag(sync=True)
    attr_nodes = traitlets.Dict().tag(sync=True)
    attr_ablate = traitlets.List(traitlets.Int()).tag(sync=True)
    attr_result = traitlets.Dict().tag(sync=True)
    attr_status = traitlets.Unicode("").tag(sync=True)

    def _init_attribution(self, scope: Any, text: str, n_tokens: int) -> None:
        self._attr_scope = scope
        self._attr_text = text
        self._attr_n = int(n_tokens)
        self._attr_quiet = False  # set while the worker writes back the target it chose
        self.attribution = None  # the last scope_widgets.attribution.Attribution
        self._attr_worker = LatestWorker(self._attr_work, "scope-widgets-attribution")
        self.observe(self._attr_changed, names=["attr_position", "attr_target", "attr_contrast"])

    def _reset_attribution(self, text: str, n_tokens: int) -> None:
        """A new text (the Explorer's edit): the old attribution no longer applies."""
        self._attr_worker.drop_pending()
        self._attr_text, self._attr_n = text, int(n_tokens)
        self.attribution = None
        self._attr_quiet = True
        try:
            self.attr_position = self.attr_target = self.attr_contrast = None
        finally:
            self._attr_quiet = False
        self.attr_predictions, self.attr_feature_ids, self.attr_ablate = [], [], []
        self.attr_token_scores = self.attr_feature_scores = self.attr_columns = b""
        self.attr_nodes, self.attr_result = {}, {}
        self.attr_target_prob = self.attr_contrast_prob = None

    # ------------------------------------------------------------------ Python API
    def explain(self, position: int | None = None, target: str | None = None, contrast: str | None = None,
                wait: bool = True) -> Any:
        """Attribute the prediction after ``position`` (default: the last token) to target (default: the top
        prediction) vs contrast; returns the ``Attribution`` (``wait=False``: computed in the worker)."""
        position = check_position(self._attr_n - 1 if position is None else position, self._attr_n)
        self._attr_quiet = True
        try:
            self.attr_target, self.attr_contrast, self.attr_position = target, contrast, position
        finally:
            self._attr_quiet = False
        self._attr_worker.submit(("attribute", (position, target, contrast)))
        if wait:
            self.wait_attribution()
        return self.attribution

    def ablate(self, features: list[int] | None = None, wait: bool = True) -> dict:
        """Ablate ``features`` (default: the selected ``attr_ablate``) and show old vs new probabilities."""
        if features is not None:
            self.attr_ablate = [int(f) for f in features]
        self._attr_worker.submit(("ablate", list(self.attr_ablate)))
        if wait:
            self.wait_attribution()
        return self.attr_result

    def wait_attribution(self, timeout: float | None = 120) -> bool:
        return self._attr_worker.wait(timeout)

    # ------------------------------------------------------------------ browser
    def _msg_ablate(self, content: dict, _buffers: list) -> None:
        ids = content.get("features", self.attr_ablate)
        self.attr_ablate = [int(f) for f in ids]
        self._attr_worker.submit(("ablate", list(self.attr_ablate)))

    def _attr_changed(self, _change: dict) -> None:
        if self._attr_quiet or self.attr_position is None:
            return
        self._attr_worker.submit(("attribute", (self.attr_position, self.attr_target, self.attr_contrast)))

    # ------------------------------------------------------------------ worker
    def _attr_work(self, job: tuple) -> None:
        kind, arg = job
        try:
            if kind == "attribute":
                self.attr_status = "computing"
                self._attribute(*arg)
            else:
                self.attr_status = "ablating"
                self._ablate(arg)
            self.attr_status = ""
        except Exception as err:  # shown in the view; the previous result stays, and so do its settings
            log.debug("attribution %s failed", kind, exc_info=True)
            self.attr_status = f"error: {err}"
            if kind == "attribute" and self.attribution is not None:
                last = self.attribution
                self._attr_quiet = True
                try:
                    self.attr_position, self.attr_target, self.attr_contrast = last.position, last.target, last.contrast
                finally:
                    self._attr_quiet = False

    def _target_token(self, target: str | None):
        """A prediction's id when the string is one of the listed predictions (exact round trip), else the string."""
        for token, _p, tid in self.attr_predictions:
            if token == target:
                return int(tid)
        return target

    def _attribute(self, position: int, target: str | None, contrast: str | None) -> None:
        scope, text = self._attr_scope, self._attr_text
        attr = scope.attribute(text, position=position, target=self._target_token(target),
                               contrast=None if contrast is None else self._target_token(contrast))
        if text != self._attr_text:  # the Explorer's text changed meanwhile: this result is stale
            return
        self.attribution = attr
        n = self._attr_n
        per_token = np.zeros(n, dtype="<f4")
        per_token[: len(attr.tokens)] = attr.per_token()[:n]
        listed = [f for f, _ in attr.by_feature(N_LISTED)]
        columns = np.zeros((len(listed), n), dtype="<f4")
        for row, f in enumerate(listed):
            columns[row, : len(attr.tokens)] = attr.feature(f)[:n]
        totals = dict(attr.by_feature())
        labels = gather_labels(scope, listed)
        with self.hold_sync():
            if labels and hasattr(self, "labels"):
                self.labels = {**self.labels, **labels}
            self.attr_predictions = [[t, p, int(i)] for (t, p), i in zip(attr.predictions(N_PREDICTIONS), attr.predicted_ids(N_PREDICTIONS))]
            self._attr_quiet = True
            try:
                self.attr_target = attr.target
                self.attr_contrast = attr.contrast
            finally:
                self._attr_quiet = False
            self.attr_target_prob = attr.target_prob
            self.attr_contrast_prob = attr.contrast_prob
            self.attr_token_scores = per_token.tobytes()
            self.attr_feature_ids = listed
            self.attr_feature_scores = np.asarray([totals[f] for f in listed], dtype="<f4").tobytes()
            self.attr_columns = np.ascontiguousarray(columns).tobytes()
            self.attr_nodes = {**attr.nodes(), "error_share": attr.error}
            self.attr_ablate = [f for f in self.attr_ablate if f in totals]
            self.attr_result = {}

    def _ablate(self, features: list[int]) -> None:
        attr = self.attribution
        if attr is None:
            raise ValueError("nothing to ablate yet: pick a token to explain first")
        if not features:
            raise ValueError("select one or more features to ablate (tick them in the list)")
        result = attr.ablate(features, details=True)
        self.attr_result = {
            "features": list(result.features),
            "target": attr.target,
            "contrast": attr.contrast,
            "before": {"target_prob": attr.target_prob, "contrast_prob": attr.contrast_prob,
                       "predictions": [[t, p] for t, p in attr.predictions(N_PREDICTIONS)]},
            "after": {"target_prob": result.target_prob, "contrast_prob": result.contrast_prob,
                      "predictions": [[t, p] for t, p in result.predictions]},
            "change": result.change,
            "estimated": attr.estimated_effect(features),
        }

