"""Sparse encoding: an SAE applied to many tokens in chunks, keeping only the top-k per token.

A 262k-wide SAE never materialises ``[n_tokens, d_sae]``: each chunk is encoded, its top-k kept, and the
per-feature maximum and firing count over the counted tokens (BOS left out) accumulated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["SparseEncoding", "encode_sparse", "encode_chunk_rows", "ENCODE_CHUNK_BYTES"]

# bytes of [chunk, d_sae] activations per encode chunk: small on the CPU (cache-friendly, same speed),
# large on a GPU so a wide W_enc is read from memory a few times, not dozens (262k features, 2k tokens)
ENCODE_CHUNK_BYTES = {"cpu": 64 << 20, "cuda": 512 << 20}


def encode_chunk_rows(sae, device: torch.device) -> int:
    """How many rows to encode at once so one ``[rows, d_sae]`` chunk stays within ``ENCODE_CHUNK_BYTES``."""
    budget = ENCODE_CHUNK_BYTES.get(device.type, ENCODE_CHUNK_BYTES["cpu"])
    return max(1, budget // (sae.d_sae * sae.W_enc.element_size()))


@dataclass
class SparseEncoding:
    """What encoding keeps: per-token top-k, and per feature its maximum and the number of tokens it fires
    on, over non-BOS tokens."""

    top_ids: torch.Tensor  # [n, k] int
    top_values: torch.Tensor  # [n, k] float
    max_per_feature: torch.Tensor  # [d_sae] float32
    count_per_feature: torch.Tensor | None = None  # [d_sae] int32


def encode_sparse(sae, inputs: torch.Tensor, k: int, first_counted: int = 0) -> SparseEncoding:
    """Encode ``inputs [n, d_in]`` in chunks; keep the top ``k`` features per token and each feature's max
    and firing count over tokens ``first_counted..n-1`` (pass 1 to leave BOS out of both)."""
    n = inputs.shape[0]
    k = min(k, sae.d_sae)
    step = encode_chunk_rows(sae, inputs.device)
    ids, values = [], []
    max_per_feature = torch.zeros(sae.d_sae, dtype=torch.float32, device=inputs.device)
    count_per_feature = torch.zeros(sae.d_sae, dtype=torch.int32, device=inputs.device)
    with torch.no_grad():
        for start in range(0, n, step):
            f = sae.encode(inputs[start : start + step])  # [chunk, d_sae]
            top = torch.topk(f, k, dim=-1)
            ids.append(top.indices.to(torch.int32))
            values.append(top.values.float())
            counted = f[max(0, first_counted - start) :]
            if counted.shape[0]:
                max_per_feature = torch.maximum(max_per_feature, counted.amax(dim=0).float())
                count_per_feature += (counted > 0).sum(dim=0, dtype=torch.int32)
    return SparseEncoding(torch.cat(ids), torch.cat(values), max_per_feature, count_per_feature)
