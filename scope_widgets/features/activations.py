"""FeatureActivations: the SAE features of one text, sparse by default.

What is kept per text: the tokens, the top-k features of every token (ids and values), the maximum of
every feature over the text (BOS excluded), and the SAE's input at every token. From the inputs any
feature's activation at every token is recomputed exactly (one column of the encoder), so a 262k-wide
SAE never needs an ``[n_tokens, d_sae]`` matrix unless ``dense()`` is asked for.

Two rankings of the text's features: ``top`` by raw activation, and ``standout`` by how many more of the
text's tokens a feature fires on than its usual rate predicts (``reference``: its density in the SAE's
dashboards corpus and its rate on the built-in everyday background), which puts the features about this
text's content ahead of those that fire on every text (commas, "is") and of rare ones that fire once.

One token's features come in two orders too: ``top_at`` by raw activation, and ``ranked_at``, the order a
clicked token lists them: the features of its word first (those whose label names the word), then those that
stand out in the whole text, then the rest by strength.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from .encoding import encode_chunk_rows
from ..runtime import check_feature, check_k, check_position

__all__ = ["FeatureActivations", "FeatureReference", "STANDOUT_MAX_RATE", "TEXT_RANK_BASE", "WORD_RATIO_CAP", "label_names", "names_word"]

def names_word(text: str, word: str) -> bool:
    """Whether ``text`` (a label, a sentence) names ``word``: one of its words starts with the word's stem
    (the word less its last letter, at least 3 letters: "dogs" is named in "dog / cat", "Paris" in "city:
    Paris / Seattle")."""
    word = word.lower().strip()
    stem = re.escape(word[: max(3, len(word) - 1)])
    return bool(word) and re.search(rf"\b{stem}", text.lower()) is not None


def label_names(label: str, word: str) -> bool:
    """Whether ``label`` names ``word`` as a word of its own, in the singular or plural ("dogs" is named in
    "dog / cat"; "park" is not in "party"; case is ignored): stricter than :func:`names_word`, for labels
    shown beside a clicked token."""
    word = word.lower().strip()
    if not word:
        return False
    forms = {word, word + "s", word + "es"}
    for suffix in ("es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            forms.add(word[: -len(suffix)])
    return any(w in forms for w in re.findall(r"[^\W\d_]+", label.lower()))


#: A token's list puts the features of its word first, by activation against their usual strong activation,
#: this ratio capped (a feature whose usual level is tiny does not jump ahead on a large ratio).
WORD_RATIO_CAP = 2.0
#: After the word's features, a token's list puts those of the text's first ``TEXT_FEATURES`` by ``standout``
#: that fire at the token, ranked from ``TEXT_RANK_BASE + 1`` in ``word_ranks`` (the word's own: 1 to
#: ``TEXT_RANK_BASE - 1``; the rest: 0), so that one uint8 per feature carries both tiers to the browser.
TEXT_RANK_BASE = 128
TEXT_FEATURES = 32
#: A feature whose usual rate is at least this (it fires on a fifth of all tokens: ``is / which``, a comma)
#: never stands out: in a sentence of twenty tokens it fires on most of them and looks surprising, yet it
#: says nothing about the text (measured on the concept suites' sentences: ``docs/default_sae.md``).
STANDOUT_MAX_RATE = 0.2


def _checked_labels(labels):
    """``labels`` for :meth:`FeatureActivations.word_ranks`: ``None``, a mapping or a function."""
    if labels is not None and not callable(labels) and not isinstance(labels, Mapping):
        raise ValueError(f"labels must map feature ids to labels (a dict, or a function such as scope.label), "
                         f"got {type(labels).__name__}")
    return labels


@dataclass(frozen=True)
class FeatureReference:
    """How a feature usually behaves, from a corpus pass: a typical strong activation and its density."""

    usual_max: np.ndarray  # [d_sae] e.g. the median of its top examples' maxima (0 when never seen)
    density: np.ndarray  # [d_sae] fraction of tokens where it fires
    # on ordinary everyday sentences (``analysis.background``): tokens where each feature fires, of how many;
    # the corpus alone would call features of everyday prose rare when the corpus has code and documentation
    background_count: np.ndarray | None = None  # [d_sae]
    background_tokens: int = 0
    # the tokens each feature usually fires on (its token profile, from the dashboards' corpus pass) and how
    # reliably: of the corpus texts holding the token, the share in which it fired on it (0 in empty slots)
    profile_ids: np.ndarray | None = None  # [d_sae, p] int32 token ids, -1 in empty slots
    profile_reliability: np.ndarray | None = None  # [d_sae, p] float32 in [0, 1]

    def ratio(self, max_here: np.ndarray) -> np.ndarray:
        """``max_here / usual_max`` per feature; 0 for features never seen in the corpus."""
        usual = np.where(self.usual_max > 0, self.usual_max, np.inf)
        return np.where(np.isfinite(usual), max_here / usual, 0.0)

    def word_rates(self, feature_ids: np.ndarray, token_ids: np.ndarray) -> np.ndarray:
        """``[n, k]`` float32: how reliably each of ``feature_ids [n, k]`` fires on the token ``token_ids [n]``
        of its row across the corpus (its profile's reliability for that token; 0 when the token is not in
        its profile, or without profiles)."""
        feature_ids = np.asarray(feature_ids, dtype=np.int64)
        out = np.zeros(feature_ids.shape, dtype=np.float32)
        if self.profile_ids is None or self.profile_reliability is None or feature_ids.size == 0:
            return out
        valid = (feature_ids >= 0) & (feature_ids < len(self.profile_ids))
        f = np.where(valid, feature_ids, 0)
        match = self.profile_ids[f] == np.asarray(token_ids, dtype=np.int64).reshape(-1, 1, 1)  # [n, k, p]
        rates = np.where(match, self.profile_reliability[f], 0.0).max(-1)
        return np.where(valid, rates, 0.0).astype(np.float32)

    def ratio_of(self, feature_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``values / usual_max`` of ``feature_ids`` (same shapes); 0 for features never seen in the corpus."""
        feature_ids = np.asarray(feature_ids, dtype=np.int64)
        usual = self.usual_max[np.clip(feature_ids, 0, len(self.usual_max) - 1)]
        ok = (usual > 0) & (feature_ids >= 0) & (feature_ids < len(self.usual_max))
        return np.where(ok, np.asarray(values, dtype=np.float64) / np.where(ok, usual, 1.0), 0.0)

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
        is judged by its count alone), and so are those that usually fire on a fifth of all tokens or more
        (:data:`STANDOUT_MAX_RATE`). The reference is the SAE's shipped levels, or for any other SAE read
        through a Scope, its levels on everyday text, counted on first use (:meth:`usual_levels`). Without
        any (activations built by hand) this is ``top(k)``.
        """
        k = self._check_k(k)
        reference = self.usual_levels()
        if reference is None:
            return self.top(k)
        ratio = reference.ratio(self.max_per_feature.float().cpu().numpy())
        counts = self.count_per_feature_array()
        rate = reference.usual_rate()
        expected = max(1, self.n_tokens - self.first_position) * rate
        with np.errstate(divide="ignore", invalid="ignore"):
            surprise = np.where(counts > expected, counts * np.log(counts / expected) - counts + expected, 0.0)
        # a feature the reference never saw fire has no usual strength to fall short of: its count decides
        score = np.where(((ratio >= min_ratio) | (reference.usual_max <= 0)) & (rate < STANDOUT_MAX_RATE), surprise, 0.0)
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

    def word_rates(self) -> np.ndarray:
        """``[n_tokens, k]`` float32, beside ``top_ids``: how reliably each of a token's top features fires on
        that word across the SAE's corpus (of the corpus texts holding the token, the share in which it fired
        on it; 0 when the word is not among the tokens the feature usually fires on, or for an SAE without
        shipped dashboards)."""
        top_ids = np.asarray(self.top_ids)
        reference = self.usual_levels()
        if reference is None:
            return np.zeros(top_ids.shape, dtype=np.float32)
        rates = reference.word_rates(top_ids, np.asarray(self.token_ids))
        return np.where(np.asarray(self.top_values) > 0, rates, 0.0).astype(np.float32)

    def word_ranks(self, labels: "Mapping[int, str] | Callable[[int], str | None] | None" = None) -> np.ndarray:
        """``[n_tokens, k]`` int32, beside ``top_ids``: where each of a token's top features comes in its list.

        First the features of this word, ranked 1, 2, ...: those whose label (``labels``: feature id -> label,
        e.g. ``scope.label``) names the word (:func:`label_names`), the one firing closest to (or above) its
        usual strong activation first (the ratio capped at :data:`WORD_RATIO_CAP`; ranks stop at
        ``TEXT_RANK_BASE - 1``). A feature that fires on the word in most corpus texts holding it
        (:meth:`word_rates`) but whose label names other words is not one of them: a reader could not place it
        (measured: ``docs/default_sae.md``).
        Then the features that stand out in the whole text (the first ``TEXT_FEATURES`` of :meth:`standout`)
        and fire here, ranked ``TEXT_RANK_BASE + 1``, ... in standout's order. The rest are 0 (a list
        shows them after, strongest first). Without shipped levels every rank is 0."""
        return self._ranks(_checked_labels(labels), np.arange(self.n_tokens))

    def _ranks(self, labels, rows: np.ndarray) -> np.ndarray:
        """:meth:`word_ranks` of the tokens ``rows`` only (a click asks for one)."""
        top_ids, values = np.asarray(self.top_ids)[rows], np.asarray(self.top_values)[rows]
        ranks = np.zeros(top_ids.shape, dtype=np.int32)
        reference = self.usual_levels()
        if reference is None or ranks.size == 0:
            return ranks
        group = self._named(labels, rows) & (values > 0)
        if group.any():
            ratio = np.minimum(reference.ratio_of(top_ids, values), WORD_RATIO_CAP)
            key = np.where(group, ratio, -1.0)
            order = np.argsort(-key, axis=1, kind="stable")
            place = np.minimum(np.arange(1, ranks.shape[1] + 1), TEXT_RANK_BASE - 1)
            ranked = np.take_along_axis(key, order, axis=1) >= 0
            np.put_along_axis(ranks, order, np.where(ranked, place, 0), axis=1)
        text = np.full(self.sae.d_sae, -1, dtype=np.int64)
        for place, (f, _) in enumerate(self.standout(TEXT_FEATURES)):
            text[f] = place
        ids = np.clip(top_ids.astype(np.int64), 0, self.sae.d_sae - 1)
        of_text = ~group & (values > 0) & (text[ids] >= 0)
        ranks[of_text] = TEXT_RANK_BASE + 1 + text[ids][of_text]
        return ranks

    def _named(self, labels, rows: np.ndarray) -> np.ndarray:
        """``[len(rows), k]`` bool: the feature's label names the token's word, at the tokens ``rows``."""
        out = np.zeros((len(rows), np.shape(self.top_ids)[1]), dtype=bool)
        if labels is None:
            return out
        # a widget's labels trait keys ids as strings
        lookup = labels if callable(labels) else (lambda f: labels.get(f) or labels.get(str(f)))
        cache: dict[int, str] = {}
        for r, pos in enumerate(np.asarray(rows).tolist()):
            word = str(self.tokens[pos]).strip()
            if not re.search(r"[^\W\d_]", word):  # punctuation, numbers, spacing: no word to name
                continue
            for j, f in enumerate(self.top_ids[pos].tolist()):
                if f not in cache:
                    cache[f] = str(lookup(int(f)) or "")
                out[r, j] = bool(cache[f]) and label_names(cache[f], word)
        return out

    def ranked_at(self, pos: int, k: int = 10, labels=None) -> list[tuple[int, float]]:
        """One token's features in the order its list shows them, as ``(feature_id, activation)``: first the
        features of this word (those whose label names it), then those that stand
        out in the whole text (:meth:`word_ranks`), then the others, strongest first; of the ``k`` kept per
        token. ``top_at`` is the raw order. A feature labelled
        ``carnivore: dog / cat / pet`` says more about a clicked " dog" than a dense feature that fires a little
        more strongly on every noun."""
        pos, k = self._check_position(pos), self._check_k(k)
        values = np.asarray(self.top_values[pos], dtype=np.float64)
        ranks = self._ranks(_checked_labels(labels), np.array([pos]))[0].astype(np.float64)
        order = np.lexsort((-values, np.where(ranks > 0, ranks, np.inf)))
        return [(int(self.top_ids[pos, j]), float(values[j])) for j in order if values[j] > 0][:k]

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
