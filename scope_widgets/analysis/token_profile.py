"""Which tokens a feature usually fires on: its token profile over a corpus pass.

A dashboard's top examples show a feature at its very strongest. For a feature that fires on one token in
ten, those twenty examples out of tens of thousands of firings are outliers, and a label made from them
names the outliers. The profile counts texts instead: for each (feature, token id) pair, in how many of
the corpus's texts the feature fired on that token at least once. Per feature it keeps the tokens with the
highest

    n x (P(fires | token) - rate)   (n: texts where it fired on the token; P: n / texts that contain the
                                     token; rate: the same over every token it ever fired on)

so a token it fires on in almost every text that has it, and in many texts, comes first; a comma it
fires on now and then does not, nor does a name that one text repeats a hundred times, nor "the" for a
dense feature that fires on "the" no more often than on anything else.

    counter = TokenCounter(device)               # in the corpus pass (``RunningStats``)
    counter.add(feature_ids, token_ids, rows)    # one entry per firing; rows: which text
    ids, counts = top_tokens(counter, text_counts(tokens, doc_offsets), d_sae)
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["PROFILE_SIZE", "TOKEN_SPACE", "TokenCounter", "top_tokens", "text_counts", "profile_rows", "reliability",
           "profile_reliability"]

#: Tokens kept per feature.
PROFILE_SIZE = 16
#: Below this many texts a profile entry counts for less (one text where a feature fired on a rare word is
#: little evidence that it fires on that word).
RELIABLE_TEXTS = 5
#: Keys are ``feature * TOKEN_SPACE + token_id``: room for any tokenizer's ids.
TOKEN_SPACE = 1 << 24
_MERGE_AT = 1 << 22  # pending keys before they are folded into the counts


class TokenCounter:
    """In how many texts each (feature, token id) pair fired, kept as sorted unique keys with counts."""

    def __init__(self, device=None) -> None:
        self.keys = torch.zeros(0, dtype=torch.int64, device=device)
        self.counts = torch.zeros(0, dtype=torch.int64, device=device)
        self._pending: list[torch.Tensor] = []
        self._n_pending = 0

    def add(self, features: torch.Tensor, token_ids: torch.Tensor, rows: torch.Tensor) -> None:
        """One firing per entry: ``features[j]`` fired on a token whose id is ``token_ids[j]`` in text
        ``rows[j]``. Texts must not span calls (a pair counts once per text and call)."""
        if features.numel() == 0:
            return
        if int(token_ids.min()) < 0 or int(token_ids.max()) >= TOKEN_SPACE:
            raise ValueError(f"token ids must lie in [0, {TOKEN_SPACE}), got {int(token_ids.min())}..{int(token_ids.max())}")
        features = features.to(torch.int64)
        keys = features * TOKEN_SPACE + token_ids.to(device=features.device, dtype=torch.int64)
        per_text = torch.stack([rows.to(device=features.device, dtype=torch.int64), keys], 1)
        keys = torch.unique(per_text, dim=0)[:, 1]  # each (text, feature, token) once
        self._pending.append(keys.to(self.keys.device))
        self._n_pending += keys.numel()
        if self._n_pending >= _MERGE_AT:
            self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        new = torch.cat(self._pending)
        keys = torch.cat([self.keys, new])
        weights = torch.cat([self.counts, torch.ones_like(new)])
        self.keys, inverse = torch.unique(keys, sorted=True, return_inverse=True)
        self.counts = torch.zeros_like(self.keys).index_add_(0, inverse, weights)
        self._pending, self._n_pending = [], 0

    def state(self) -> dict[str, torch.Tensor]:
        self._merge()
        return {"profile_keys": self.keys, "profile_counts": self.counts}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        keys, counts = state["profile_keys"], state["profile_counts"]
        if keys.shape != counts.shape or keys.dim() != 1:
            raise ValueError(f"checkpoint profile tensors disagree: keys {tuple(keys.shape)}, counts {tuple(counts.shape)}")
        self.keys = keys.to(device=self.keys.device, dtype=torch.int64)
        self.counts = counts.to(device=self.keys.device, dtype=torch.int64)
        self._pending, self._n_pending = [], 0


def text_counts(tokens: np.ndarray, doc_offsets: np.ndarray, bos_id=None) -> np.ndarray:
    """In how many texts each token id occurs (``tokens``: the texts' ids back to back, text ``j`` at
    ``doc_offsets[j]:doc_offsets[j + 1]``; a leading ``bos_id`` does not count)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    offsets = np.asarray(doc_offsets, dtype=np.int64)
    doc = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    valid = np.ones(len(tokens), dtype=bool)
    starts = offsets[:-1][offsets[:-1] < offsets[1:]]
    if bos_id is not None and len(starts):
        valid[starts[tokens[starts] == bos_id]] = False
    pairs = np.unique(doc[valid] * TOKEN_SPACE + tokens[valid])
    return np.bincount(pairs % TOKEN_SPACE, minlength=int(tokens.max()) + 1 if tokens.size else 1)


def top_tokens(counter: TokenCounter, totals: np.ndarray, d_sae: int, k: int = PROFILE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``(ids [d_sae, k] int32, counts [d_sae, k] int32)``: per feature the ``k`` tokens with the highest
    ``n x (P(fires | token) - rate)`` (``totals``: :func:`text_counts`), best first; ``-1`` / ``0`` in empty slots."""
    state = counter.state()
    keys = state["profile_keys"].cpu().numpy()
    counts = state["profile_counts"].cpu().numpy()
    ids = np.full((d_sae, k), -1, dtype=np.int32)
    out_counts = np.zeros((d_sae, k), dtype=np.int32)
    if keys.size == 0:
        return ids, out_counts
    feat = keys // TOKEN_SPACE
    tok = keys % TOKEN_SPACE
    totals = np.asarray(totals, dtype=np.float64)
    base = np.where(tok < len(totals), totals[np.minimum(tok, len(totals) - 1)], 0.0)
    p = counts / np.maximum(base, counts)  # P(fires | token) over texts; <= 1 even if the totals lag
    # against the feature's rate over every (text, token) pair: a dense feature that fires on "the" in 40%
    # of texts, and on any token in 30%, is not about "the"
    fired = np.bincount(feat, weights=counts, minlength=d_sae)
    seen = np.bincount(feat, weights=np.maximum(base, counts), minlength=d_sae)
    rate = fired / np.maximum(seen, 1)
    score = counts * np.maximum(p - rate[feat], 0.0) + 1e-9 * p
    order = np.lexsort((tok, -score, feat))  # by feature, best score first, token id breaks ties
    feat, tok, cnt = feat[order], tok[order], counts[order]
    first = np.searchsorted(feat, np.arange(d_sae))
    rank = np.arange(len(feat)) - first[feat]
    keep = rank < k
    ids[feat[keep], rank[keep]] = tok[keep]
    out_counts[feat[keep], rank[keep]] = cnt[keep]
    return ids, out_counts


def profile_rows(ids: np.ndarray, counts: np.ndarray, totals: np.ndarray, strings) -> list[tuple[str, int, float]]:
    """One feature's profile as ``[(token string, texts where it fired on it, P(fires | token))]``, best first."""
    rows = []
    for t, c in zip(np.asarray(ids).tolist(), np.asarray(counts).tolist()):
        if t < 0 or c <= 0:
            continue
        total = int(totals[t]) if t < len(totals) else 0
        rows.append((strings(t), int(c), float(c) / max(total, c)))
    return rows


def reliability(fired: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """How reliably a feature fires on a token, in [0, 1], elementwise: ``fired / texts`` (of the corpus texts
    holding the token, the share in which the feature fired on it), scaled down below :data:`RELIABLE_TEXTS`
    such texts."""
    fired = np.asarray(fired, dtype=np.float64)
    seen = np.maximum(np.asarray(texts, dtype=np.float64), fired)  # <= 1 even if the totals lag
    share = np.divide(fired, seen, out=np.zeros_like(fired), where=seen > 0)
    return share * np.minimum(fired / RELIABLE_TEXTS, 1.0)


def profile_reliability(ids: np.ndarray, counts: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """``[d_sae, k]`` float32: :func:`reliability` of each profile entry (``ids``, ``counts``: :func:`top_tokens`;
    ``totals``: :func:`text_counts`); 0 in empty slots."""
    ids, counts = np.asarray(ids), np.asarray(counts, dtype=np.float64)
    totals = np.asarray(totals, dtype=np.float64)
    valid = (ids >= 0) & (ids < len(totals)) & (counts > 0)
    texts = totals[np.clip(ids, 0, len(totals) - 1)] if len(totals) else np.zeros(ids.shape)
    return np.where(valid, reliability(counts, texts), 0.0).astype(np.float32)
