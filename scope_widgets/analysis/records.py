"""What analysis hands out: one feature's dashboard, one search hit. The widgets read these attributes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

__all__ = ["FeatureDashboardData", "SearchHit"]


@dataclass
class FeatureDashboardData:
    """Everything known about one feature. The widgets read exactly these attributes.

    ``top_examples``: ``[{"tokens": [str], "values": [float], "max_pos": int}]`` strongest first, the
    activation of this feature on every shown token, ``max_pos`` the index of the max token in ``tokens``.
    ``histogram``: ``{"edges": [float], "counts": [int]}`` of the nonzero activations (``len(edges) ==
    len(counts) + 1``; log-spaced edges). ``density`` is the fraction of non-BOS corpus tokens where the
    feature is active; ``mean_activation`` is the mean *when active*. ``frequent_tokens``: the tokens it
    usually fires on, ``[[token, texts where it fired on it, share of the texts with the token]]`` (its
    token profile; the top examples show its rare strongest firings, this its common ones). ``label_source`` is ``"auto"``
    for a label made by :func:`auto_label`, ``"user"`` for the user's own, ``None`` without a label.
    """

    feature: int
    label: str | None
    label_source: str | None
    density: float
    max_activation: float
    mean_activation: float
    histogram: dict
    top_examples: list
    logits_promoted: list
    logits_suppressed: list
    frequent_tokens: list = field(default_factory=list)  # [[token, texts, share]]: what it usually fires on
    source: str = ""  # where the statistics come from, in words
    n_tokens: int = 0  # corpus tokens the statistics are over (0 when unknown)

    def to_dict(self) -> dict:
        """A JSON-able dict (tuples become lists; non-finite floats become None)."""
        out = asdict(self)
        out["logits_promoted"] = [[t, _finite(v)] for t, v in self.logits_promoted]
        out["logits_suppressed"] = [[t, _finite(v)] for t, v in self.logits_suppressed]
        for key in ("density", "max_activation", "mean_activation"):
            out[key] = _finite(out[key])
        return out


def _finite(v):
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass
class SearchHit:
    """One feature found by :func:`search_features`. ``why`` is ``"activation"``, ``"logits"`` or ``"both"``."""

    feature: int
    score: float
    label: str | None
    why: str
    activation_score: float = 0.0
    logit_score: float = 0.0
    #: with ``search(word, steer=True)``: the share of trial openings the feature turned to the concept in
    #: good text, and the smallest coefficient that did it (None when none did)
    steers: float | None = None
    steer_coefficient: float | None = None
    #: with ``search(word, steer=True)``: the mean probability that the next token is one of the concept's
    #: words when the feature is added to neutral text (``extra["writes_unsteered"]``: without it)
    writes: float | None = None
    #: with ``search(word)``: a word of warning, when a feature fires on the word in most corpus texts holding
    #: it but is labelled from its other, stronger uses; with ``steer=True`` also when its trial steered nothing
    note: str | None = None
    extra: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("extra")
        return out
