"""TokenHeatmap: the tokens of a text coloured by one feature's activation."""

from __future__ import annotations

from typing import Any

import traitlets

from ._base import ScopeWidget
from .wire import DEFAULT_N_FEATURES, ActivationTraits, first_listed
from ._traits import optional_feature, optional_position


class TokenHeatmap(ActivationTraits, ScopeWidget):
    """The text as tokens, each coloured by the activation of ``feature`` (BOS excluded from the scale).

    Hover or focus a token for its top features; click, Enter or Space selects it
    (``selected_token``); arrow keys move. ``feature=None`` colours by the first feature its list shows (the one
    that stands out most in the text, or the strongest without reference statistics).

    Synced traits: ``feature``, ``selected_token``.
    """

    view = traitlets.Unicode("heatmap").tag(sync=True)
    feature = optional_feature()
    selected_token = optional_position()

    def __init__(self, acts: Any, feature: int | None = None, *, scope: Any = None, labels: dict | None = None,
                 k: int | None = None, n_features: int = DEFAULT_N_FEATURES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._set_activations(acts, k=k, n_features=n_features, scope=scope, labels=labels)
        self.feature = first_listed(acts) if feature is None else feature

    def __repr__(self) -> str:
        return f"TokenHeatmap({self.n_tokens} tokens, feature={self.feature})"
