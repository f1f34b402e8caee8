"""KL fine-tune: tune the SAE so the model with the reconstruction spliced in predicts like the clean model.

Thresholds stay fixed; every other weight is tuned for ``KL(clean || spliced)`` of the next-token
distribution at a random subset of positions (the 262k-token unembedding dominates a CPU step), plus a
small MSE term that keeps the reconstruction honest.
"""
from __future__ import annotations

import time
from typing import Sequence

import torch
import torch.nn.functional as F

from ..engine.hooks import edit_activations
from .activations import window_batches
from .batchtopk import BatchTopKSAE
from .config import TrainConfig

__all__ = ["finetune_kl", "splice_fn", "sample_positions", "logits_at"]


def splice_fn(encode_decode):
    """A hook function that replaces every non-BOS position by ``encode_decode`` of it."""
    def fn(h):
        out = h.clone()
        out[:, 1:] = encode_decode(h[:, 1:].float()).to(h.dtype)  # BOS (position 0) untouched
        return out

    return fn


def sample_positions(mask: torch.Tensor, per_row: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, cols) of up to per_row positions per window that predict a real next token, BOS excluded."""
    rows, cols = [], []
    for r, n in enumerate(mask.sum(1).tolist()):
        cand = torch.arange(1, int(n) - 1)  # position p predicts token p+1
        if len(cand) == 0:
            continue
        pick = cand[torch.randperm(len(cand), generator=g)[:per_row]].sort().values
        rows.append(torch.full_like(pick, r))
        cols.append(pick)
    return torch.cat(rows), torch.cat(cols)


def logits_at(model, hidden: torch.Tensor, rows, cols) -> torch.Tensor:
    """The model's (soft-capped) logits at the given positions of its final hidden states, float32."""
    logits = model.lm_head(hidden[rows, cols])
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits.float()


def finetune_kl(model, sae: BatchTopKSAE, windows: Sequence[list[int]], mean, std, cfg: TrainConfig, pad_id: int = 0, progress: bool = True) -> dict:
    """Tune the SAE (thresholds fixed) so the spliced model's next-token distribution matches the clean one."""
    from tqdm.auto import tqdm

    if cfg.kl_steps <= 0:
        return {}
    device = next(model.parameters()).device
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    mean_d, std_d = mean.to(device), std.to(device)
    opt = torch.optim.Adam(sae.parameters(), lr=cfg.kl_lr)

    def enc_dec(h):
        z = (h - mean_d) / std_d
        return sae.decode(sae.encode_jumprelu(z)) * std_d + mean_d

    order = torch.randperm(len(windows), generator=g).tolist()
    wins = [windows[i][: cfg.kl_ctx] for i in order]
    log = []
    bar = tqdm(range(cfg.kl_steps), desc="KL fine-tune", disable=not progress, mininterval=10)
    batches = window_batches(wins, cfg.kl_batch, pad_id, device)
    t0 = time.time()
    steps_run = 0
    for step in bar:
        if cfg.kl_max_seconds and time.time() - t0 > cfg.kl_max_seconds:
            break
        if cfg.kl_stop_after and steps_run >= cfg.kl_stop_after:
            break
        steps_run += 1
        try:
            ids, mask = next(batches)
        except StopIteration:
            batches = window_batches(wins, cfg.kl_batch, pad_id, device)
            ids, mask = next(batches)
        rows, cols = sample_positions(mask.cpu(), cfg.kl_positions, g)
        with torch.no_grad():
            clean_h = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
            clean_logp = F.log_softmax(logits_at(model, clean_h, rows, cols), -1)
        captured = {}

        def splice(h):
            captured["x"] = h[:, 1:][mask[:, 1:].bool()].float()
            return splice_fn(enc_dec)(h)

        for group in opt.param_groups:
            group["lr"] = cfg.kl_lr * min(1.0, (step + 1) / 20) * (1 - step / cfg.kl_steps)
        with edit_activations(model, cfg.hook_point, splice):
            h = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        logp = F.log_softmax(logits_at(model, h, rows, cols), -1)
        kl = F.kl_div(logp, clean_logp, log_target=True, reduction="batchmean")
        z = (captured["x"] - mean_d) / std_d
        mse = (sae.decode(sae.encode_jumprelu(z)) - z).pow(2).sum(1).mean() / z.shape[1]
        loss = kl + cfg.kl_mse_coef * mse
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sae.remove_parallel_grad()
        opt.step()
        sae.normalise_decoder()
        if step % 10 == 0 or step == cfg.kl_steps - 1:
            log.append(dict(step=step, kl=float(kl.detach()), fvu=float(mse.detach())))
            bar.set_postfix(kl=f"{float(kl.detach()):.3f}", fvu=f"{float(mse.detach()):.3f}")
    bar.close()
    return {"log": log, "steps_run": steps_run}
