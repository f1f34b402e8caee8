"""Running per-feature statistics of a corpus pass: top examples with context, histograms, density, and
the (feature, token) counts of the token profile.

All tensors live on one device and are updated with vectorised ``topk`` / ``index_add_``; nothing loops
over features in Python and nothing keeps ``[n_tokens, d_sae]``.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from .token_profile import TokenCounter

__all__ = ["HIST_EDGES", "ENCODE_ELEMENTS", "RunningStats", "sae_fingerprint"]

#: Histogram bins: 20 per decade from 1e-3 to 1e4; values outside land in the first / last bin.
HIST_EDGES = np.logspace(-3, 4, 141)
ENCODE_ELEMENTS = 1 << 25  # floats per encoded chunk ([rows * seq, d_sae]); 128 MB of float32


def sae_fingerprint(sae) -> str:
    """A short hash of an SAE's identity (name, shapes, thresholds and encoder biases): dashboards made
    for one SAE are never shown for another, including a retrained version with the same name."""
    h = hashlib.sha256()
    h.update(f"{sae.name}|{sae.d_in}|{sae.d_sae}|{sae.hook_point_in}".encode())
    for t in (sae.threshold, sae.b_enc):
        h.update(t.detach().float().cpu().numpy().tobytes())
    h.update(sae.W_dec[:: max(1, sae.d_sae // 64)].detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


class RunningStats:
    """The running statistics of a dashboards pass, all on one device."""

    def __init__(self, d_sae: int, n_examples: int, context: int, device) -> None:
        self.d_sae, self.n, self.context = d_sae, n_examples, context
        width = 2 * context + 1
        nb = len(HIST_EDGES) - 1
        self.ex_value = torch.zeros(n_examples, d_sae, device=device)  # [n, d] 0 = empty slot
        self.ex_doc = torch.full((n_examples, d_sae), -1, dtype=torch.int64, device=device)
        self.ex_pos = torch.zeros(n_examples, d_sae, dtype=torch.int64, device=device)
        self.ex_ctx = torch.zeros(n_examples, d_sae, width, device=device)  # activation around the max
        self.count = torch.zeros(d_sae, dtype=torch.int64, device=device)
        self.total = torch.zeros(d_sae, dtype=torch.float64, device=device)
        self.max = torch.zeros(d_sae, device=device)
        self.hist = torch.zeros(d_sae * nb, dtype=torch.int64, device=device)
        self.profile = TokenCounter(device)  # texts per (feature, token id): what it usually fires on
        self.n_tokens = 0
        self._inner = torch.as_tensor(HIST_EDGES[1:-1], dtype=torch.float32, device=device)
        self._offsets = torch.arange(-context, context + 1, device=device)

    def update(self, f: torch.Tensor, docs: torch.Tensor, token_ids: torch.Tensor | None = None) -> None:
        """Fold in ``f [rows, seq, d_sae]`` (zero at padding and BOS) of the texts ``docs [rows]`` whose
        tokens are ``token_ids [rows, seq]`` (for the token profile; None: no profile)."""
        rows, seq, d = f.shape
        flat = f.reshape(-1, d)
        active = flat > 0
        self.count += active.sum(0)
        self.total += flat.sum(0, dtype=torch.float64)
        self.max = torch.maximum(self.max, flat.amax(0))
        tok, feat = active.nonzero(as_tuple=True)
        if tok.numel():
            bins = torch.bucketize(flat[tok, feat], self._inner, right=True)  # [a, b) bins, like numpy
            self.hist.index_add_(0, feat * (len(HIST_EDGES) - 1) + bins, torch.ones_like(bins))
            if token_ids is not None:
                self.profile.add(feat, token_ids.reshape(-1).to(tok.device)[tok], docs.to(tok.device)[tok // seq])
        # top-N texts per feature, by the text's max
        row_max, row_arg = f.max(dim=1)  # [rows, d]
        k = min(self.n, rows)
        cand_v, cand_row = row_max.topk(k, dim=0)  # [k, d]
        top_v, idx = torch.cat([self.ex_value, cand_v]).topk(self.n, dim=0)  # [n, d]
        old = idx < self.n
        keep = idx.clamp(max=self.n - 1)
        row = cand_row.gather(0, (idx - self.n).clamp(min=0, max=k - 1))  # [n, d] row in this chunk
        pos = row_arg.gather(0, row)
        self.ex_doc = torch.where(old, self.ex_doc.gather(0, keep), docs[row])
        self.ex_pos = torch.where(old, self.ex_pos.gather(0, keep), pos)
        self.ex_ctx = self.ex_ctx.gather(0, keep[..., None].expand(-1, -1, self.ex_ctx.shape[-1]))
        self.ex_value = top_v
        slot, feat = ((~old) & (top_v > 0)).nonzero(as_tuple=True)
        if slot.numel():
            r, t = row[slot, feat], pos[slot, feat]
            where = t[:, None] + self._offsets  # [m, W]
            inside = (where >= 0) & (where < seq)
            vals = f[r[:, None], where.clamp(0, seq - 1), feat[:, None]] * inside
            self.ex_ctx[slot, feat] = vals
        self.ex_ctx[~(top_v > 0)] = 0  # an empty slot holds nothing

    def state(self) -> dict[str, torch.Tensor]:
        return {
            "ex_value": self.ex_value, "ex_doc": self.ex_doc, "ex_pos": self.ex_pos, "ex_ctx": self.ex_ctx,
            "count": self.count, "total": self.total, "max": self.max, "hist": self.hist,
            **self.profile.state(),
        }

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        state = dict(state)
        profile = {k: state.pop(k) for k in ("profile_keys", "profile_counts") if k in state}
        if len(profile) != 2:
            raise ValueError("the checkpoint has no token profile (made by an older scope_widgets): delete it")
        self.profile.load_state(profile)
        for key, value in state.items():
            current = getattr(self, key)
            if tuple(value.shape) != tuple(current.shape):
                raise ValueError(f"checkpoint tensor {key!r} has shape {tuple(value.shape)}, expected {tuple(current.shape)}")
            setattr(self, key, value.to(device=current.device, dtype=current.dtype))
