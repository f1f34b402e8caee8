"""FeatureActivations: the SAE features of one text, sparse by default.

What is kept per text: the tokens, the top-k features of every token (ids and values), the maximum of
every feature over the text (BOS excluded), and the SAE's input at every token. From the inputs any
feature's activation at every token is recomputed exactly (one column of the encoder), so a 262k-wide
SAE never needs an ``[n_tokens, d_sae]`` matrix unless ``dense()`` is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

# bytes of [chunk, d_sae] activations per encode chunk: small on the CPU (cache-friendly, same speed),
# large on a GPU so a wide W_enc is read from memory a few times, not dozens (262k features, 2k tokens)
ENCODE_CHUNK_BYTES = {"cpu": 64 << 20, "cuda": 512 << 20}


@dataclass
class SparseEncoding:
    """What encoding keeps: per-token top-k and the per-feature maximum over non-BOS tokens."""

    top_ids: torch.Tensor  # [n, k] int
    top_values: torch.Tensor  # [n, k] float
    max_per_feature: torch.Tensor  # [d_sae] float32


def encode_sparse(sae, inputs: torch.Tensor, k: int, first_counted: int = 0) -> SparseEncoding:
    """Encode ``inputs [n, d_in]`` in chunks; keep the top ``k`` features per token and each feature's max
    over tokens ``first_counted..n-1`` (pass 1 to leave BOS out of the maximum)."""
    n = inputs.shape[0]
    k = min(k, sae.d_sae)
    budget = ENCODE_CHUNK_BYTES.get(inputs.device.type, ENCODE_CHUNK_BYTES["cpu"])
    step = max(1, budget // (sae.d_sae * sae.W_enc.element_size()))
    ids, values = [], []
    max_per_feature = torch.zeros(sae.d_sae, dtype=torch.float32, device=inputs.device)
    with torch.no_grad():
        for start in range(0, n, step):
            f = sae.encode(inputs[start : start + step])  # [chunk, d_sae]
            top = torch.topk(f, k, dim=-1)
            ids.append(top.indices.to(torch.int32))
            values.append(top.values.float())
            counted = f[max(0, first_counted - start) :]
            if counted.shape[0]:
                max_per_feature = torch.maximum(max_per_feature, counted.amax(dim=0).float())
    return SparseEncoding(torch.cat(ids), torch.cat(values), max_per_feature)


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
    _max_per_feature: torch.Tensor | None = field(default=None, repr=False)

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
        if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)):
            raise ValueError(f"feature ids are integers; got {feature!r}")
        feature = int(feature)
        if not 0 <= feature < self.sae.d_sae:
            raise ValueError(f"unknown feature {feature}: this SAE has features 0 to {self.sae.d_sae - 1}")
        return feature

    def _check_position(self, pos) -> int:
        if isinstance(pos, bool) or not isinstance(pos, (int, np.integer)):
            raise ValueError(f"token positions are integers; got {pos!r}")
        pos = int(pos)
        if pos < 0:
            pos += self.n_tokens
        if not 0 <= pos < self.n_tokens:
            raise ValueError(f"position {pos} is outside the text: it has {self.n_tokens} tokens (0 to {self.n_tokens - 1})")
        return pos

    @staticmethod
    def _check_k(k) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        return int(k)

    # ------------------------------------------------------------------ queries
    def top(self, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` features with the highest activation anywhere in the text (BOS excluded), strongest
        first, as ``(feature_id, max_activation)``; features that never fire are left out."""
        k = min(self._check_k(k), self.sae.d_sae)
        values, ids = torch.topk(self._max_per_feature, k)
        return [(int(i), float(v)) for i, v in zip(ids.tolist(), values.tolist()) if v > 0]

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

    def max_activation(self, i: int) -> float:
        """The maximum of feature ``i`` over the text (BOS excluded)."""
        return float(self._max_per_feature[self._check_feature(i)])

    # ------------------------------------------------------------------ packing for the widgets
    def to_buffers(self, k: int | None = None) -> dict:
        """Per-token top-k as raw little-endian bytes for the front end: int32 ids and float32 values,
        row-major ``[n_tokens, k]``: 8 bytes per (token, feature) pair, no JSON floats."""
        k = self.k if k is None else min(self._check_k(k), self.k)
        ids = np.ascontiguousarray(self.top_ids[:, :k], dtype="<i4")
        values = np.ascontiguousarray(self.top_values[:, :k], dtype="<f4")
        return {"n_tokens": self.n_tokens, "k": k, "top_ids": ids.tobytes(), "top_values": values.tobytes()}
