"""FeatureList: the top features of a text, or of one token."""

from __future__ import annotations

from typing import Any, Callable

import traitlets

from ._base import ScopeWidget
from .wire import DEFAULT_N_FEATURES, ActivationTraits
from ._traits import optional_feature, optional_position


class FeatureList(ActivationTraits, ScopeWidget):
    """The top features of the text (``position=None``) or of the token at ``position``: id, label,
    activation and a sparkline over the tokens. Clicking a row sets ``selected_feature``; a filter box
    narrows by id or label. ``on_steer(fn)`` adds a "steer" button per row that calls ``fn(feature)``
    (e.g. ``flist.on_steer(panel.add_feature)``).

    Synced traits: ``selected_feature``, ``position``. To drive a ``TokenHeatmap`` from the list in the
    browser alone: ``ipywidgets.jslink((flist, "selected_feature"), (heatmap, "feature"))``.
    """

    view = traitlets.Unicode("features").tag(sync=True)
    selected_feature = optional_feature()
    position = optional_position()
    can_steer = traitlets.Bool(False).tag(sync=True)

    def __init__(self, acts: Any, position: int | None = None, *, scope: Any = None, labels: dict | None = None,
                 k: int | None = None, n_features: int = DEFAULT_N_FEATURES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._steer_callbacks: list[Callable[[int], Any]] = []
        self._set_activations(acts, k=k, n_features=n_features, scope=scope, labels=labels)
        self.position = position

    def on_steer(self, callback: Callable[[int], Any], remove: bool = False) -> None:
        """Call ``callback(feature_id)`` when a row's "steer" button is pressed."""
        if remove:
            self._steer_callbacks = [c for c in self._steer_callbacks if c != callback]
        else:
            self._steer_callbacks.append(callback)
        self.can_steer = bool(self._steer_callbacks)

    def _msg_steer(self, content: dict, _buffers: list) -> None:
        feature = content.get("feature")
        if isinstance(feature, bool) or not isinstance(feature, int):
            return
        for callback in list(self._steer_callbacks):
            callback(feature)

    def __repr__(self) -> str:
        return f"FeatureList({self.n_tokens} tokens, position={self.position}, selected_feature={self.selected_feature})"
