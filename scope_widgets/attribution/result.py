"""``Attribution``: the answer to "why did the model say that?", with the queries a notebook asks of it.

The attributed quantity (``attr.metric``) is the target's logit at the position, or the logit difference
target - contrast when a contrast is given. A feature's score is its linear estimate of how much of that
metric it carries; ``attr.ablate(ids)`` measures the real change by rerunning the model with those features
clamped to 0 (the SAE's error term kept), so every estimate is one call away from being checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..engine.tokens import token_strings
from ..runtime import check_features, check_k
from ..steering import apply as apply_steering
from ..steering import validate as validate_steering
from .compute import Forward, SAEAttribution, run_logits

__all__ = ["Attribution", "Ablation", "Faithfulness"]


@dataclass(frozen=True)
class Ablation:
    """The prediction with some features ablated (``attr.ablate(ids, details=True)``)."""

    features: tuple[int, ...]
    target_prob: float
    contrast_prob: float | None
    metric: float  # the target's logit (or target - contrast) after ablation
    change: float  # metric - the original metric: the real effect the scores estimate
    predictions: list[tuple[str, float]]  # the new top next tokens and their probabilities


@dataclass(frozen=True)
class Faithfulness:
    """How well the linear scores predict real ablations (``attr.faithfulness()``)."""

    features: list[int]
    estimated: list[float]  # -(sum of the feature's scores): the predicted change of the metric
    real: list[float]  # the measured change when the feature alone is ablated
    pearson: float  # correlation of estimated with real (nan when fewer than 3 features)

    def __repr__(self) -> str:
        return f"Faithfulness({len(self.features)} features, pearson r = {self.pearson:.3f})"


def pearson(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


class Attribution:
    """Feature attributions of one next-token prediction (``scope.attribute``).

    ``top(k)``, ``per_token()``, ``feature(i)``, ``by_feature()`` read the scores of the primary SAE (or the
    one named by ``sae=``); ``error`` is the error node's share; ``ablate(ids)`` reruns with features removed.
    Positions count the text's tokens, BOS included (``tokens[position]`` is the token predicted *after*).
    """

    def __init__(self, model, tokenizer, forward: Forward, per_sae: list[SAEAttribution], position: int,
                 target_id: int, contrast_id: int | None, has_bos: bool) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._ids = forward.ids
        self._logits = forward.logits.cpu()
        self._per_sae = {a.sae.name: a for a in per_sae}
        self._primary = per_sae[0].sae.name
        self.position = position
        self.has_bos = has_bos
        self.tokens = token_strings(tokenizer, forward.ids)
        self.target_id = target_id
        self.contrast_id = contrast_id
        self.target = token_strings(tokenizer, [target_id])[0]
        self.contrast = None if contrast_id is None else token_strings(tokenizer, [contrast_id])[0]
        self.probs = torch.softmax(self._logits, -1)
        self.metric = self._metric_of(self._logits)

    # ------------------------------------------------------------------ the prediction
    def _metric_of(self, logits: torch.Tensor) -> float:
        value = logits[self.target_id] - (logits[self.contrast_id] if self.contrast_id is not None else 0.0)
        return float(value)

    @property
    def target_prob(self) -> float:
        """The target's probability as the model predicts it."""
        return float(self.probs[self.target_id])

    @property
    def contrast_prob(self) -> float | None:
        return None if self.contrast_id is None else float(self.probs[self.contrast_id])

    def predictions(self, k: int = 10) -> list[tuple[str, float]]:
        """The model's top ``k`` next tokens at the position, with probabilities."""
        return _top_predictions(self._tokenizer, self.probs, check_k(k))

    def predicted_ids(self, k: int = 10) -> list[int]:
        """The token ids of ``predictions(k)``, in the same order."""
        return torch.topk(self.probs, min(check_k(k), self.probs.numel())).indices.tolist()

    @property
    def sae_names(self) -> list[str]:
        return list(self._per_sae)

    def scores(self, sae=None) -> SAEAttribution:
        """The raw sparse scores of one SAE (positions, features, activations, scores and the nodes)."""
        if sae is None:
            return self._per_sae[self._primary]
        name = sae if isinstance(sae, str) else getattr(sae, "name", None)
        if name not in self._per_sae:
            raise ValueError(f"no attribution for the SAE {name!r}; attributed: {self.sae_names}")
        return self._per_sae[name]

    # ------------------------------------------------------------------ queries
    def top(self, k: int = 20, sae=None) -> list[tuple[int, int, float]]:
        """``[(position, feature_id, score)]``, the ``k`` largest ``|score|`` first."""
        a = self.scores(sae)
        k = min(check_k(k), len(a.scores))
        order = torch.argsort(a.scores.abs(), descending=True)[:k]
        return [(int(a.positions[i]), int(a.features[i]), float(a.scores[i])) for i in order]

    def by_feature(self, k: int | None = None, sae=None) -> list[tuple[int, float]]:
        """``[(feature_id, score summed over positions)]``, largest ``|score|`` first: what ablating the
        feature everywhere would change, to first order (with the sign flipped)."""
        a = self.scores(sae)
        ids, inverse = torch.unique(a.features, return_inverse=True)
        totals = torch.zeros(len(ids)).index_add_(0, inverse, a.scores)
        order = torch.argsort(totals.abs(), descending=True)
        if k is not None:
            order = order[: check_k(k)]
        return [(int(ids[i]), float(totals[i])) for i in order]

    def per_token(self, sae=None) -> np.ndarray:
        """``[n_tokens]``: the summed feature scores at each token (0 at BOS)."""
        a = self.scores(sae)
        out = torch.zeros(len(self._ids)).index_add_(0, a.positions, a.scores)
        return out.numpy()

    def feature(self, i: int, sae=None) -> np.ndarray:
        """``[n_tokens]``: feature ``i``'s score at each token (0 where it is not active)."""
        a = self.scores(sae)
        i = check_features([i], a.sae.d_sae, a.sae.name)[0]
        keep = a.features == i
        return torch.zeros(len(self._ids)).index_add_(0, a.positions[keep], a.scores[keep]).numpy()

    def nodes(self, sae=None) -> dict[str, float]:
        """The split of the gradient at the hook: ``features + error + bias + skip + bos == total``."""
        a = self.scores(sae)
        bos = float(a.total[0]) if self.has_bos else 0.0
        return {
            "features": float(a.scores.sum()),
            "error": float(a.error.sum()),
            "bias": float(a.bias.sum()),
            "skip": float(a.skip.sum()),
            "bos": bos,
            "total": float(a.total.sum()),
        }

    def error_share(self, sae=None) -> float:
        """The error node's share of the attribution, by magnitude: ``|error| / (sum |feature scores| + |error|)``."""
        a = self.scores(sae)
        err = float(a.error.sum().abs())
        mass = float(a.scores.abs().sum()) + err
        return err / mass if mass > 0 else 0.0

    @property
    def error(self) -> float:
        """The primary SAE's error node share (see ``error_share``)."""
        return self.error_share()

    # ------------------------------------------------------------------ interventions
    def estimated_effect(self, features: Iterable[int], sae=None) -> float:
        """The linear estimate of how ablating ``features`` (everywhere) changes the metric: minus their scores."""
        a = self.scores(sae)
        ids = torch.tensor(check_features(list(features), a.sae.d_sae, a.sae.name), dtype=torch.long)
        return -float(a.scores[torch.isin(a.features, ids)].sum())

    def ablate(self, features: Iterable[int], sae=None, details: bool = False):
        """Rerun the prediction with ``features`` clamped to 0 at every position but BOS (error term kept).

        Returns the target's new probability, or with ``details=True`` an ``Ablation`` with the new top
        predictions and the metric's real change. The model is left as it was, whatever happens."""
        a = self.scores(sae)
        request = validate_steering(list(features), a.sae, "ablate", "all")
        with torch.no_grad(), apply_steering(self._model, a.sae, request, skip_bos=self.has_bos):
            logits = run_logits(self._model, self._ids).cpu()
        probs = torch.softmax(logits, -1)
        prob = float(probs[self.target_id])
        if not details:
            return prob
        metric = self._metric_of(logits)
        return Ablation(
            features=tuple(request.features),
            target_prob=prob,
            contrast_prob=None if self.contrast_id is None else float(probs[self.contrast_id]),
            metric=metric,
            change=metric - self.metric,
            predictions=_top_predictions(self._tokenizer, probs, 10),
        )

    def ablation_effects(self, features: Iterable[int], sae=None) -> list[float]:
        """The real change of the metric when each feature alone is ablated (one forward pass each)."""
        return [self.ablate([f], sae=sae, details=True).change for f in features]

    def faithfulness(self, k: int = 20, sae=None) -> Faithfulness:
        """Estimated vs real effect of ablating each of the ``k`` features with the largest summed scores."""
        ids = [f for f, _ in self.by_feature(k, sae=sae)]
        estimated = [self.estimated_effect([f], sae=sae) for f in ids]
        real = self.ablation_effects(ids, sae=sae)
        return Faithfulness(ids, estimated, real, pearson(estimated, real))

    def __repr__(self) -> str:
        vs = f" vs {self.contrast!r}" if self.contrast is not None else ""
        return (f"Attribution(position {self.position} {self.tokens[self.position]!r} -> {self.target!r}{vs}, "
                f"p = {self.target_prob:.3f}, {len(self.scores().scores)} active features, error share {self.error:.2f})")


def _top_predictions(tokenizer, probs: torch.Tensor, k: int) -> list[tuple[str, float]]:
    top = torch.topk(probs, min(k, probs.numel()))
    names = token_strings(tokenizer, top.indices.tolist())
    return [(n, float(p)) for n, p in zip(names, top.values)]
