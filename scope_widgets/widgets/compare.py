"""Compare: two texts side by side, one selected feature colouring both, and the features that differ most."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..features import compare as compare_acts
from ..features.compare import BY
from ..runtime import check_k, check_text
from ._base import ScopeWidget
from ._traits import optional_feature, optional_position
from .wire import (echoed, gather_labels, listed_features, send_column, tooltip_feature_ids, top_k_buffers,
                   word_rank_bytes)

SIDES = ("a", "b")


def _side_traits() -> dict:
    """The activation traits of one text (as ``wire.ActivationTraits``), for each side, prefixed ``a_`` / ``b_``."""
    out = {}
    for side in SIDES:
        out.update({
            f"{side}_tokens": traitlets.List(traitlets.Unicode()).tag(sync=True),
            f"{side}_has_bos": traitlets.Bool(False).tag(sync=True),
            f"{side}_n_tokens": traitlets.Int(0).tag(sync=True),
            f"{side}_k": traitlets.Int(0).tag(sync=True),
            f"{side}_top_ids": traitlets.Bytes(b"").tag(sync=True),  # int32 [n_tokens, k]
            f"{side}_top_values": traitlets.Bytes(b"").tag(sync=True),  # float32 [n_tokens, k]
            f"{side}_word_ranks": traitlets.Bytes(b"").tag(sync=True),  # uint8 [n_tokens, k]
            f"{side}_column_ids": traitlets.List(traitlets.Int()).tag(sync=True),
            f"{side}_columns": traitlets.Bytes(b"").tag(sync=True),  # float32 [len(column_ids), n_tokens]
            f"{side}_selected_token": optional_position(),
        })
    return out


class Compare(ScopeWidget):
    """Two texts read by the same SAE, side by side (``scope.compare`` in a view).

    Both heatmaps show the one ``selected_feature``, on one shared scale, so the same colour means the same
    activation on both sides; the list holds the features that differ most (``by``: "max", "mean" or
    "relative", each row marked "more in A" or "more in B"); a click on a row or on a token's feature
    recolours both texts at once, in the browser. ``by`` defaults to "relative" when the SAE's usual levels
    are known (its shipped dashboards, or for any other SAE its levels on everyday text, counted on first
    use), else "max".

    Synced traits: ``text_a``, ``text_b``, ``by``, ``selected_feature``, ``a_selected_token``,
    ``b_selected_token``; ``diff_ids`` with ``diff_a`` / ``diff_b`` (float32: each listed feature's value
    in A and B); ``widget.differences`` is ``scope.compare``'s list.
    """

    view = traitlets.Unicode("compare").tag(sync=True)
    text_a = traitlets.Unicode("").tag(sync=True)
    text_b = traitlets.Unicode("").tag(sync=True)
    by = traitlets.Enum(BY, "max").tag(sync=True)
    labels = traitlets.Dict().tag(sync=True)
    sae_name = traitlets.Unicode("").tag(sync=True)
    selected_feature = optional_feature()
    diff_ids = traitlets.List(traitlets.Int()).tag(sync=True)
    diff_a = traitlets.Bytes(b"").tag(sync=True)
    diff_b = traitlets.Bytes(b"").tag(sync=True)
    locals().update(_side_traits())

    def __init__(self, scope: Any, text_a: str, text_b: str, *, k: int = 20, by: str | None = None, sae=None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if by is not None and by not in BY:
            raise ValueError(f"by must be one of {BY}, got {by!r}")
        self.scope, self._k, self._sae = scope, check_k(k), sae
        self._acts = dict(zip(SIDES, scope.features([check_text(text_a, "text_a"), check_text(text_b, "text_b")], sae=sae)))
        if by is None:  # raw maxima favour features loud on anything; against the usual level, content comes first
            by = "relative" if self._acts["a"].usual_levels() is not None else "max"
        with self.hold_sync():
            self.text_a, self.text_b, self.by = text_a, text_b, by
            self.sae_name = str(getattr(self._acts["a"].sae, "name", "") or "")
            self._publish()
        self.observe(lambda _change: self._publish(), names="by")

    @property
    def differences(self) -> list[tuple[int, float, float]]:
        """``[(feature_id, value_in_a, value_in_b)]`` as the list shows them (``scope.compare``'s result)."""
        return list(self._differences)

    def activations(self, side: str):
        """The ``FeatureActivations`` of side ``"a"`` or ``"b"``."""
        if side not in SIDES:
            raise ValueError(f"side is 'a' or 'b', not {side!r}")
        return self._acts[side]

    def _publish(self) -> None:
        a, b = self._acts["a"], self._acts["b"]
        self._differences = compare_acts(a, b, self._k, self.by)
        ids = [f for f, _, _ in self._differences]
        state: dict = {
            "diff_ids": ids,
            "diff_a": np.asarray([x for _, x, _ in self._differences], dtype="<f4").tobytes(),
            "diff_b": np.asarray([y for _, _, y in self._differences], dtype="<f4").tobytes(),
        }
        label_ids = list(ids)
        for side, acts in self._acts.items():
            columns = list(dict.fromkeys(ids + listed_features(acts, 32)))
            buffers = top_k_buffers(acts)
            state.update({
                f"{side}_tokens": [str(t) for t in acts.tokens], f"{side}_has_bos": bool(acts.has_bos),
                f"{side}_n_tokens": int(buffers["n_tokens"]), f"{side}_k": int(buffers["k"]),
                f"{side}_top_ids": buffers["top_ids"], f"{side}_top_values": buffers["top_values"],
                f"{side}_column_ids": columns,
                f"{side}_columns": np.ascontiguousarray(acts.features(columns), dtype="<f4").tobytes(),
            })
            label_ids += columns + tooltip_feature_ids(acts)
        state["labels"] = gather_labels(self.scope, label_ids)
        for side, acts in self._acts.items():
            state[f"{side}_word_ranks"] = word_rank_bytes(acts, state[f"{side}_k"], state["labels"])
        if self.selected_feature is None and ids:
            state["selected_feature"] = ids[0]
        with self.hold_sync():
            for name, value in state.items():
                setattr(self, name, value)

    def _msg_column(self, content: dict, _buffers: list) -> None:
        """The exact column of a feature outside the sent ones, for one side (``{type, feature, side}``)."""
        side = content.get("side")
        if side not in SIDES:
            self.send({"type": "column", "feature": content.get("feature"), "side": side,
                       "error": f"side must be 'a' or 'b', got {side!r}"})
            return
        send_column(self, self._acts[side], content.get("feature"), side=side, **echoed(content))

    def __repr__(self) -> str:
        return f"Compare({self.text_a[:30]!r} vs {self.text_b[:30]!r}, by={self.by!r}, {len(self.diff_ids)} features differ)"
