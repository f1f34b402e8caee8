"""FeatureActivations: the SAE features of one text, sparse by default.

What is kept per text: the tokens, the top-k features of every token (ids and values), the maximum of
every feature over the text (BOS excluded), and the SAE's input at every token. From the inputs any
feature's activation at every token is recomputed exactly (one column of the encoder), so a 262k-wide
SAE never needs an ``[n_tokens, d_sae]`` matrix unless ``dense()`` is asked for.

Two rankings of the text's features: ``top`` by raw activation, and ``standout`` by how many more of the
text's tokens a feature fires on than its usual rate predicts (``reference``: its density in the SAE's
dashboards corpus and its rate on the built-in everyday background), which puts the features about this
text's content ahead of those that fire on every text (commas, "is") and of rare ones that fire once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .encoding import encode_chunk_rows
from ..runtime import check_feature, check_k, check_position

__all__ = ["FeatureActivations", "FeatureReference"]


@dataclass(frozen=True)
class FeatureReference:
    """How a feature usually behaves, from a corpus pass: a typical strong activation and its density."""

    usual_max: np.ndarray  # [d_sae] e.g. the median of its top examples' maxima (0 when never seen)
    density: np.ndarray  # [d_sae] fraction of tokens where it fires
    # on ordinary everyday sentences (``analysis.background``): tokens where each feature fires, of how many;
    # the corpus alone would call features of everyday prose rare when the corpus has code and documentation
    background_count: np.ndarray | None = None  # [d_sae]
    background_tokens: int = 0

    def ratio(self, max_here: np.ndarray) -> np.ndarray:
        """``max_here / usual_max`` per feature; 0 for features never seen in the corpus."""
        usual = np.where(self.usual_max > 0, self.usual_max, np.inf)
        return np.where(np.isfinite(usual), max_here / usual, 0.0)

    def usual_rate(self) -> np.ndarray:
        """``[d_sae]``: the share of tokens each feature is expected to fire on: the larger of its corpus
        density and its rate on the background, counted as if it had fired once more there (so a feature
        never seen on the background's few hundred tokens is not taken for one that never fires)."""
        rate = np.clip(np.asarray(self.density, dtype=np.float64), 1e-7, 1.0)
        if self.background_count is not None and self.background_tokens > 0:
            seen = (np.asarray(self.background_count, dtype=np.float64) + 1.0) / (self.background_tokens + 1.0)
            rate = np.maximum(rate, seen)
        return rate


@dataclass
class FeatureActivations:
    """The features of one text under one SAE. Build it with ``Scope.features``."""

    text: str
    tokens: list[str]
    token_ids: np.ndarray  # [n] int64
    top_ids: np.ndarray  # [n, k] int32, strongest first
    top_values: np.ndarray  # [n, k] float32
    inputs: torch.Tensor  # [n, d_in] on the SAE's device
    sae: object
    has_bos: bool = True
    truncated: bool = False
    max_per_feature: torch.Tensor | None = field(default=None, repr=False)  # [d_sae], BOS excluded
    count_per_feature: torch.Tensor | None = field(default=None, repr=False)  # [d_sae] tokens it fires on, BOS excluded
    reference: "FeatureReference | None" = field(default=None, repr=False)  # per-feature usual levels, for standout()
    # for an SAE without shipped levels: counts them when first needed (see usual_levels)
    reference_source: "Callable[[], FeatureReference | None] | None" = field(default=None, repr=False)

    # ------------------------------------------------------------------ basics
    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def k(self) -> int:
        return int(self.top_ids.shape[1])

    @property
    def first_position(self) -> int:
        """The first position that counts for statistics and colour scales (1 when position 0 is BOS)."""
        return 1 if self.has_bos and self.n_tokens > 1 else 0

    def __len__(self) -> int:
        return self.n_tokens

    def __repr__(self) -> str:
        top = ", ".join(f"{i}:{v:.2f}" for i, v in self.top(3))
        return f"FeatureActivations({self.n_tokens} tokens, k={self.k}, sae={getattr(self.sae, 'name', '?')!r}, top=[{top}])"

    # ------------------------------------------------------------------ checks
    def _check_feature(self, feature) -> int:
        return check_feature(feature, self.sae.d_sae)

    def _check_position(self, pos) -> int:
        return check_position(pos, self.n_tokens)

    @staticmethod
    def _check_k(k) -> int:
        return check_k(k)

    # ------------------------------------------------------------------ queries
    def top(self, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` features with the highest activation anywhere in the text (BOS excluded), strongest
        first, as ``(feature_id, max_activation)``; features that never fire are left out."""
        k = min(self._check_k(k), self.sae.d_sae)
        values, ids = torch.topk(self.max_per_feature, k)
        return [(int(i), float(v)) for i, v in zip(ids.tolist(), values.tolist()) if v > 0]

    def standout(self, k: int = 10, min_ratio: float = 0.2) -> list[tuple[int, float]]:
        """The ``k`` features that stand out in this text, as ``(feature_id, score)``, highest first.

        A feature stands out when it fires on more of the text's tokens than its usual rate
        (``reference.usual_rate()``) predicts: ``score`` is how surprising its count ``c`` is when ``m`` were
        expected, ``c * log(c / m) - c + m`` (the Poisson tail's exponent, in nats; 0 when ``c <= m``). A
        feature about the text's subject fires on many of its tokens; a comma feature fires about as often
        as anywhere; a rare feature that fires once in a long text is little evidence. Features firing at
        under ``min_ratio`` of their usual strong activation are left out (one the reference never saw fire
        is judged by its count alone). The reference is the SAE's shipped levels, or for any other SAE read
        through a Scope, its levels on everyday text, counted on first use (:meth:`usual_levels`). Without
        any (activations built by hand) this is ``top(k)``.
        """
        k = self._check_k(k)
        reference = self.usual_levels()
        if reference is None:
            return self.top(k)
        ratio = reference.ratio(self.max_per_feature.float().cpu().numpy())
        counts = self.count_per_feature_array()
        expected = max(1, self.n_tokens - self.first_position) * reference.usual_rate()
        with np.errstate(divide="ignore", invalid="ignore"):
            surprise = np.where(counts > expected, counts * np.log(counts / expected) - counts + expected, 0.0)
        # a feature the reference never saw fire has no usual strength to fall short of: its count decides
        score = np.where((ratio >= min_ratio) | (reference.usual_max <= 0), surprise, 0.0)
        ids = np.argsort(-score, kind="stable")[:k]
        return [(int(i), float(score[i])) for i in ids if score[i] > 0]

    def usual_levels(self) -> "FeatureReference | None":
        """The reference that ``standout`` and ``compare(by="relative")`` measure against: ``reference``,
        or, for an SAE without shipped levels read through a Scope, the levels counted on everyday text the
        first time they are needed (one pass, once per SAE and model, kept in the disk cache; then kept in
        ``reference`` too)."""
        if self.reference is None and self.reference_source is not None:
            self.reference, self.reference_source = self.reference_source(), None
        return self.reference

    def count_per_feature_array(self) -> np.ndarray:
        """``[d_sae]`` float64: how many of the text's tokens (BOS excluded) each feature fires on."""
        if self.count_per_feature is None:  # built by hand without counts: encode once, in chunks
            total = torch.zeros(self.sae.d_sae, dtype=torch.int64, device=self.inputs.device)
            for f in self._encoded_chunks():
                total += (f > 0).sum(0)
            self.count_per_feature = total.to(torch.int32)
        return self.count_per_feature.cpu().numpy().astype(np.float64)

    def top_at(self, pos: int, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` strongest features at one token position, as ``(feature_id, activation)``."""
        pos, k = self._check_position(pos), self._check_k(k)
        if k <= self.k:
            pairs = zip(self.top_ids[pos, :k].tolist(), self.top_values[pos, :k].tolist())
        else:  # more than was kept: recompute this one token exactly
            with torch.no_grad():
                f = self.sae.encode(self.inputs[pos : pos + 1])[0].float()
            values, ids = torch.topk(f, min(k, self.sae.d_sae))
            pairs = zip(ids.tolist(), values.tolist())
        return [(int(i), float(v)) for i, v in pairs if v > 0]

    def feature(self, i: int) -> np.ndarray:
        """Activation of feature ``i`` at every token (``[n_tokens]`` float32), exact for any ``i``."""
        return self.features([i])[0]

    def features(self, ids) -> np.ndarray:
        """Activations of several features at every token: ``[len(ids), n_tokens]`` float32."""
        ids = [self._check_feature(i) for i in ids]
        if not ids:
            return np.zeros((0, self.n_tokens), dtype=np.float32)
        with torch.no_grad():
            f = self.sae.encode_features(self.inputs, ids)  # [n_tokens, len(ids)], encoder columns only
        return f.float().T.contiguous().cpu().numpy()

    def dense(self) -> np.ndarray:
        """All features at all tokens, ``[n_tokens, d_sae]`` float32. Large for wide SAEs: use on request."""
        with torch.no_grad():
            return self.sae.encode(self.inputs).float().cpu().numpy()

    def mean_per_feature(self) -> torch.Tensor:
        """Each feature's mean activation over the text (BOS excluded), ``[d_sae]`` float32, encoded in chunks
        (no ``[n_tokens, d_sae]`` tensor for long texts and wide SAEs)."""
        total = torch.zeros(self.sae.d_sae, dtype=torch.float32, device=self.inputs.device)
        for f in self._encoded_chunks():
            total += f.float().sum(0)
        return total / max(1, self.n_tokens - self.first_position)

    def _encoded_chunks(self):
        """All features of the counted (non-BOS) tokens, ``[rows, d_sae]`` a chunk at a time, so that no
        ``[n_tokens, d_sae]`` tensor is held for long texts and wide SAEs."""
        x = self.inputs[self.first_position :]
        step = encode_chunk_rows(self.sae, x.device)
        with torch.no_grad():
            for start in range(0, x.shape[0], step):
                yield self.sae.encode(x[start : start + step])

    def max_activation(self, i: int) -> float:
        """The maximum of feature ``i`` over the text (BOS excluded)."""
        return float(self.max_per_feature[self._check_feature(i)])
