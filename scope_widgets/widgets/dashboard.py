"""FeatureDashboard: one feature's top examples, activation histogram, density, logit effects, label."""

from __future__ import annotations

from typing import Any

import traitlets

from ._base import ScopeWidget
from ._dashboard import DashboardTraits


class FeatureDashboard(DashboardTraits, ScopeWidget):
    """Everything ``scope.dashboard(feature)`` knows about one feature; the label is editable (saved with
    ``scope.set_label``). Setting ``feature`` loads another feature's dashboard in a worker thread.

    Synced traits: ``feature``, ``dashboard`` (read-only data), ``labels``.
    """

    view = traitlets.Unicode("dashboard").tag(sync=True)
    feature = traitlets.Int(0, min=0).tag(sync=True)
    labels = traitlets.Dict().tag(sync=True)

    def __init__(self, scope: Any, feature: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._init_dashboards(scope)
        self.feature = int(feature)
        self.load_dashboard(self.feature, wait=True)  # the first view shows complete
        self.observe(lambda change: self.load_dashboard(change["new"]), names="feature")

    def _dashboard_feature(self) -> int | None:
        return self.feature

    def __repr__(self) -> str:
        return f"FeatureDashboard(feature={self.feature})"
