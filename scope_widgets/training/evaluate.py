"""How good an SAE is, BOS excluded everywhere: loss recovered, L0, dead features, variance explained.

- ``loss_recovered = 1 - (CE_spliced - CE_clean) / (CE_mean_ablated - CE_clean)``: the reconstruction (or
  the training-set mean activation) replaces every non-BOS position at the hook; cross-entropy at sampled
  positions (the 262k-token unembedding dominates CPU time);
- ``l0`` mean active features per token, ``dead_frac`` features never active, ``fve_raw`` and ``fve_std``
  (each dimension divided by its training standard deviation first).
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F

from ..engine.hooks import edit_activations
from .activations import Activations, window_batches
from .config import TrainConfig
from .fold import jumprelu_encode, jumprelu_forward
from .kl import logits_at, sample_positions, splice_fn

__all__ = ["activation_metrics", "loss_recovered", "evaluate", "meets_targets"]


@torch.no_grad()
def activation_metrics(params: dict[str, torch.Tensor], chunks: Iterable[torch.Tensor], std: torch.Tensor) -> dict:
    """L0, dead fraction and FVE (raw and standardised) over activation chunks ``[n, d]``."""
    p = {k: v.float() for k, v in params.items()}
    fired = torch.zeros(p["w_enc"].shape[1], dtype=torch.bool)
    l0_sum = sse = sse_std = 0.0
    s = s2 = None
    n = 0
    for x in chunks:
        x = x.float()
        for i in range(0, len(x), 8192):
            xb = x[i : i + 8192]
            f = jumprelu_encode(p, xb)
            recon = f @ p["w_dec"] + p["b_dec"]
            fired |= (f > 0).any(0)
            l0_sum += float((f > 0).sum())
            sse += float((xb - recon).double().pow(2).sum())
            sse_std += float(((xb - recon) / std).double().pow(2).sum())
        s = x.double().sum(0) if s is None else s + x.double().sum(0)
        s2 = x.double().pow(2).sum(0) if s2 is None else s2 + x.double().pow(2).sum(0)
        n += len(x)
    var_dim = s2 / n - (s / n) ** 2
    return dict(
        eval_tokens=n, l0=l0_sum / n, dead_frac=float((~fired).float().mean()),
        fve_raw=1 - sse / float(var_dim.sum() * n), fve_std=1 - sse_std / float((var_dim / std.double() ** 2).sum() * n),
    )


@torch.no_grad()
def loss_recovered(
    model, params: dict[str, torch.Tensor], windows: Sequence[list[int]], hook_point: str, mean: torch.Tensor,
    n_positions: int = 2000, seed: int = 2, pad_id: int = 0, progress: bool = True, desc: str = "loss recovered",
) -> dict:
    """CE clean / spliced / mean-ablated at about ``n_positions`` sampled positions of ``windows``."""
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    p = {k: v.to(device).float() for k, v in params.items()}
    mean_d = mean.to(device).float()
    g = torch.Generator().manual_seed(seed)
    per_row = max(1, math.ceil(n_positions / max(1, len(windows))))
    ce = {"clean": [], "spliced": [], "mean_ablated": []}
    kl_sum, n_pos = 0.0, 0
    edits = {"clean": None, "spliced": lambda h: jumprelu_forward(p, h), "mean_ablated": lambda h: mean_d.expand_as(h)}
    for ids, mask in tqdm(list(window_batches(windows, 8, pad_id, device)), desc=desc, disable=not progress, mininterval=10):
        rows, cols = sample_positions(mask.cpu(), per_row, g)
        targets = ids[rows, cols + 1]
        logps = {}
        for name, fn in edits.items():
            if fn is None:
                h = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
            else:
                with edit_activations(model, hook_point, splice_fn(fn)):
                    h = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
            logp = F.log_softmax(logits_at(model, h, rows, cols), -1)
            ce[name].append(-logp.gather(1, targets[:, None]).squeeze(1).double().cpu())
            logps[name] = logp
        kl_sum += float(F.kl_div(logps["spliced"], logps["clean"], log_target=True, reduction="sum"))
        n_pos += len(rows)
    m = {k: float(torch.cat(v).mean()) for k, v in ce.items()}
    return dict(
        ce_clean=m["clean"], ce_spliced=m["spliced"], ce_mean_ablated=m["mean_ablated"],
        loss_recovered=1 - (m["spliced"] - m["clean"]) / (m["mean_ablated"] - m["clean"]),
        kl_spliced=kl_sum / max(1, n_pos), ce_positions=n_pos,
    )


def evaluate(
    model, params: dict[str, torch.Tensor], heldout_acts: Activations, heldout_windows: Sequence[list[int]],
    hook_point: str, mean: torch.Tensor, std: torch.Tensor, cfg: TrainConfig, pad_id: int = 0, progress: bool = True,
) -> dict:
    """Activation metrics on ``eval_tokens`` held-out tokens and loss recovered on held-out windows."""
    x = heldout_acts.x[: cfg.eval_tokens]
    metrics = activation_metrics(params, [x[i : i + 65536] for i in range(0, len(x), 65536)], std.float())
    metrics.update(loss_recovered(model, params, list(heldout_windows[: cfg.eval_ce_windows]), hook_point, mean,
                                  cfg.eval_ce_positions, cfg.seed + 2, pad_id, progress))
    return metrics


def meets_targets(m: dict) -> bool:
    """The quality floor for the default SAE on the held-out split (BOS excluded)."""
    return m["loss_recovered"] >= 0.85 and 10 <= m["l0"] <= 120 and m["dead_frac"] < 0.15
