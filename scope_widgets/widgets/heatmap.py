"""TokenHeatmap: the tokens of a text coloured by one feature's activation."""

from __future__ import annotations

from typing import Any

import traitlets

from ._base import ScopeWidget
from .wire import DEFAULT_N_FEATURES, ActivationTraits
from ._traits import optional_feature, optional_position


class TokenHeatmap(ActivationTraits, ScopeWidget):
    """The text as tokens, each coloured by the activation of ``feature`` (BOS excluded from the scale).

    Hover or focus a token for its top features; click, Enter or Space selects it
    (``selected_token``); arrow keys move. ``feature=None`` colours by the text's strongest feature.

    Synced traits: ``feature``, ``selected_token``.
    """

    view = traitlets.Unicode("heatmap").tag(sync=True)
    feature = optional_feature()
    selected_token = optional_position()

    def __init__(self, acts: Any, feature: int | None = None, *, scope: Any = None, labels: dict | None = None,
                 k: int | None = None, n_features: int = DEFAULT_N_FEATURES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._set_activations(acts, k=k, n_features=n_features, scope=scope, labels=labels)
        if feature is None:
            top = acts.top(1)
            feature = int(top[0][0]) if top else None
        self.feature = feature

    def __repr__(self) -> str:
        return f"TokenHeatmap({self.n_tokens} tokens, feature={self.feature})"
