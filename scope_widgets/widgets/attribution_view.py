"""AttributionView: why the model predicts a token, feature by feature, and what removing features does."""

from __future__ import annotations

from typing import Any

import traitlets

from ..engine.tokens import encode, token_strings
from ..runtime import check_text
from ._attribution import AttributionTraits
from ._base import ScopeWidget
from ._dashboard import DashboardTraits
from ._traits import optional_feature


class AttributionView(AttributionTraits, DashboardTraits, ScopeWidget):
    """The attribution of one next-token prediction of ``text`` (``scope.attribute``), live.

    The tokens are coloured by their total attribution (a diverging scale: helps vs hurts the target); the
    model's top predictions at the position can be picked as target or contrast; the features are ranked
    by attribution with their sign; a click on a feature colours the tokens by its own scores and opens its
    dashboard; ticking features and pressing "ablate" reruns the prediction in a worker thread and shows old
    vs new probabilities side by side. A click on another token explains the prediction after it.

    Synced traits: ``attr_position``, ``attr_target``, ``attr_contrast``, ``attr_ablate`` (ids to ablate),
    ``attr_result`` (the last ablation), ``selected_feature``; ``widget.attribution`` is the
    ``Attribution`` object; ``widget.explain(...)`` and ``widget.ablate([...])`` drive it from code.
    """

    view = traitlets.Unicode("attribution").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    has_bos = traitlets.Bool(False).tag(sync=True)
    labels = traitlets.Dict().tag(sync=True)
    selected_feature = optional_feature()

    def __init__(self, scope: Any, text: str, position: int = -1, target: str | None = None,
                 contrast: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_text(text)
        ids, _ = encode(scope.tokenizer, text, scope.feature_token_limit(), warn=True)
        bos = getattr(scope.tokenizer, "bos_token_id", None)
        self.scope = scope
        self.tokens = token_strings(scope.tokenizer, ids)
        self.has_bos = bos is not None and ids[0] == bos
        self._init_dashboards(scope)
        self._init_attribution(scope, text, len(ids))
        attr = self.explain(position, target, contrast, wait=True)  # bad input raises here, at once
        if self.attr_status.startswith("error"):
            raise ValueError(self.attr_status.removeprefix("error: "))
        if attr is not None and attr.top(1):
            self.selected_feature = attr.by_feature(1)[0][0]
        self.observe(lambda change: self.load_dashboard(change["new"]), names="selected_feature")
        self.load_dashboard(self.selected_feature)

    def _dashboard_feature(self) -> int | None:
        return self.selected_feature

    def __repr__(self) -> str:
        return (f"AttributionView(position={self.attr_position}, target={self.attr_target!r}, "
                f"contrast={self.attr_contrast!r}, p={self.attr_target_prob})")
