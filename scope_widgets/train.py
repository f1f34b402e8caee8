"""A small SAE trainer: it makes the bundled default SAE and teaches how SAEs are made.

    python -m scope_widgets.train --preset tiny --out my_sae        # a few minutes on a laptop CPU
    python -m scope_widgets.train --preset default --out scope_widgets/data/default_sae

The recipe, step by step (each step is a function here you can call on its own):

1. **Activations** (:func:`collect_activations`): documents from :mod:`scope_widgets.corpus` are cut
   into windows of ``ctx_len`` tokens, each starting with BOS, and run through the model in batches with
   the engine's :func:`~scope_widgets.hooks.capture_activations` (the forward pass stops at the hooked
   layer). BOS and padding positions are dropped: Gemma's BOS residual is ~15x larger than any other
   and would dominate every statistic.
2. **Standardisation**: each of the ``d_in`` dimensions is shifted and scaled to mean 0, variance 1.
   One dimension of Gemma 3 270M's residual stream carries most of the raw variance; unstandardised, the
   SAE spends its capacity on it and the reconstruction barely helps the model's loss.
3. **BatchTopK training** (:func:`train_batchtopk`): ``f = BatchTopK(relu(x W_enc + b_enc))`` keeps the
   ``k * batch`` largest activations of the whole batch (so L0 varies per token around ``k``), decoder
   rows are kept at unit norm (and the gradient component along each row is removed), and an AuxK
   loss (Gao et al., 2024) lets features that have been silent for ``dead_tokens`` tokens reconstruct
   the residual error, which revives them. We train TopK-style rather than JumpReLU with
   straight-through estimators because TopK fixes the sparsity directly (no L0 coefficient to tune),
   trains stably in a few thousand steps on a CPU and has few dead features with AuxK; BatchTopK in
   particular converts to a JumpReLU exactly as Bussmann et al. (2024) do: one threshold ``theta``, the
   average smallest activation kept per batch, applied to every feature.
4. **Conversion**: the trained SAE becomes a plain JumpReLU (``threshold = theta`` for all features).
5. **KL fine-tune** (:func:`finetune_kl`, optional): with thresholds fixed, every SAE weight is tuned so
   the model's next-token distribution with the reconstruction spliced in matches the clean one (KL on
   a random subset of positions, because the 262k-token unembedding is expensive on a CPU), plus a small
   MSE term that keeps the reconstruction honest.
6. **Folding** (:func:`fold_standardisation`): the standardisation is folded into the weights and the
   decoder rows are rescaled to unit norm in raw space (feature activations rescale to compensate), so the
   saved SAE is an ordinary Gemma Scope 2 JumpReLU on raw activations:
   ``pre = x @ w_enc + b_enc; f = relu(pre) * (pre > threshold); x_hat = f @ w_dec + b_dec``.
7. **Metrics** (:func:`evaluate`) on the held-out split, BOS excluded: fraction of loss recovered
   (reconstruction spliced in vs the mean activation spliced in), mean L0, dead fraction, FVE raw and
   standardised.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "TrainConfig",
    "PRESETS",
    "Activations",
    "make_windows",
    "collect_activations",
    "train_batchtopk",
    "finetune_kl",
    "fold_standardisation",
    "jumprelu_forward",
    "evaluate",
    "save_sae",
    "train",
    "main",
]


# --------------------------------------------------------------------------------------------------
# configuration


@dataclass
class TrainConfig:
    layer: int = 6  # residual stream after decoder layer `layer` (model.layers.L.output)
    width: int = 4096
    k: int = 64  # BatchTopK: mean active features per token during training (the target L0)
    train_tokens: int = 1_000_000  # activations collected for training (BOS excluded)
    epochs: float = 2.0  # passes over the collected activations
    ctx_len: int = 256  # tokens per window, BOS included
    max_windows_per_doc: int = 4
    collect_batch: int = 16  # windows per forward pass while collecting
    batch_tokens: int = 4096  # SAE batch
    lr: float = 8e-4
    warmup_steps: int = 50
    decay_frac: float = 0.3  # linear decay to 0 over the last part of training
    aux_k: int = 256
    aux_coef: float = 1 / 32
    dead_tokens: int = 250_000  # a feature silent this long (in training tokens) counts as dead for AuxK
    standardise: bool = True  # per-dimension; False: one global scale (plain MSE on centred x)
    # KL fine-tune against the model's own next-token distribution (0 steps: skip)
    kl_steps: int = 0
    kl_batch: int = 8  # windows per step
    kl_ctx: int = 128
    kl_positions: int = 48  # positions per window where the 262k-vocab logits are computed
    kl_lr: float = 1e-4
    kl_mse_coef: float = 0.1
    kl_stop_after: int = 0  # stop after this many steps of the kl_steps schedule (0: run them all)
    kl_max_seconds: float = 0.0  # also stop after this long (0: no limit; not deterministic when set)
    # evaluation (held-out split)
    eval_tokens: int = 100_000  # for L0, dead fraction, FVE
    eval_ce_windows: int = 64
    eval_ce_positions: int = 4000
    # corpus
    corpus_sources: tuple[str, ...] | None = None  # None: every source in scope_widgets.corpus.SOURCES
    corpus_scale: float = 1.0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    save_dtype: str = "float32"  # float32 | float16 | bfloat16 (loaders upcast)
    model_name: str = "google/gemma-3-270m"

    @property
    def hook_point(self) -> str:
        return f"model.layers.{self.layer}.output"


PRESETS: dict[str, dict] = {
    # "train your own": minutes on a laptop CPU
    "tiny": dict(
        width=2048,
        k=32,
        train_tokens=120_000,
        epochs=2.0,
        batch_tokens=1024,
        warmup_steps=20,
        ctx_len=128,
        eval_tokens=20_000,
        eval_ce_windows=24,
        eval_ce_positions=1000,
        dead_tokens=60_000,
        corpus_sources=("python_docstrings", "man_pages", "package_docs", "debian_doc", "model_generated"),
        corpus_scale=0.15,
    ),
    # the bundled default (see docs/default_sae.md for what each choice gave)
    # (the shipped run stopped its 150-step KL schedule after 90 steps on a 15-minute cap; kl_stop_after
    # replays that deterministically)
    "default": dict(
        width=4096, k=64, train_tokens=200_000, epochs=4.0, ctx_len=256, eval_tokens=100_000,
        eval_ce_windows=32, eval_ce_positions=2000, kl_steps=150, kl_stop_after=90, kl_batch=4, kl_ctx=128,
        kl_positions=32,
    ),
}


# --------------------------------------------------------------------------------------------------
# activations


@dataclass
class Activations:
    """Activations at one hook point, BOS and padding removed: ``x [n_tokens, d_in]`` (float16 or 32)."""

    x: torch.Tensor
    n_windows: int

    def stats(self, chunk: int = 65536) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-dimension mean and standard deviation, accumulated in float64."""
        s = torch.zeros(self.x.shape[1], dtype=torch.float64)
        s2 = torch.zeros_like(s)
        for i in range(0, len(self.x), chunk):
            b = self.x[i : i + chunk].double()
            s += b.sum(0)
            s2 += (b * b).sum(0)
        n = len(self.x)
        mean = s / n
        var = (s2 / n - mean * mean).clamp_min(1e-12)
        return mean.float(), var.sqrt().float()


def _token_ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def make_windows(
    tokenizer, texts: Iterable[str], ctx_len: int, max_windows_per_doc: int = 4, min_tokens: int = 8,
    max_tokens: int | None = None,
) -> list[list[int]]:
    """Each text cut into windows of ``ctx_len - 1`` tokens, each window prefixed with BOS
    (stopping once the windows hold ``max_tokens`` non-BOS tokens)."""
    bos = tokenizer.bos_token_id
    windows = []
    total = 0
    for text in texts:
        if max_tokens is not None and total >= max_tokens:
            break
        ids = _token_ids(tokenizer, text)
        for w in range(max_windows_per_doc):
            chunk = ids[w * (ctx_len - 1) : (w + 1) * (ctx_len - 1)]
            if len(chunk) < min_tokens:
                break
            windows.append([bos] + chunk)
            total += len(chunk)
    return windows


def _batches(windows: Sequence[list[int]], batch: int, pad_id: int, device):
    for i in range(0, len(windows), batch):
        group = windows[i : i + batch]
        n = max(len(w) for w in group)
        ids = torch.full((len(group), n), pad_id, dtype=torch.long)
        mask = torch.zeros((len(group), n), dtype=torch.long)
        for j, w in enumerate(group):
            ids[j, : len(w)] = torch.tensor(w)
            mask[j, : len(w)] = 1
        yield ids.to(device), mask.to(device)


def collect_activations(
    model,
    windows: Sequence[list[int]],
    hook_points: Sequence[str],
    max_tokens: int,
    batch: int = 16,
    pad_id: int = 0,
    store_dtype: torch.dtype = torch.float32,
    progress: bool = True,
    desc: str = "collecting activations",
) -> dict[str, Activations]:
    """Activations at each hook point for the windows, in order, until ``max_tokens`` non-BOS tokens.

    One forward per batch with early stop after the deepest hook point; BOS (position 0) and padding
    are dropped. float16 storage halves memory, but values outside its range raise instead of overflowing
    (Gemma 3 has rare non-BOS positions with activations above 65504 from layer ~9 on).
    """
    from tqdm.auto import tqdm

    from .hooks import capture_activations

    device = next(model.parameters()).device
    out: dict[str, list[torch.Tensor]] = {h: [] for h in hook_points}
    n_tok = 0
    n_win = 0
    bar = tqdm(total=max_tokens, desc=desc, unit="tok", disable=not progress, mininterval=5)
    for ids, mask in _batches(windows, batch, pad_id, device):
        caps = capture_activations(model, list(hook_points), ids, attention_mask=mask, stop_early=True)
        keep = mask.bool().clone()
        keep[:, 0] = False  # BOS
        for h in hook_points:
            a = caps[h][keep].float().cpu()
            if store_dtype == torch.float16 and a.abs().max() > 60000:
                raise OverflowError(f"activation magnitude {a.abs().max():.0f} at {h} does not fit float16")
            out[h].append(a.to(store_dtype))
        got = int(keep.sum())
        n_tok += got
        n_win += ids.shape[0]
        bar.update(got)
        if n_tok >= max_tokens:
            break
    bar.close()
    return {h: Activations(torch.cat(v)[:max_tokens], n_win) for h, v in out.items()}


# --------------------------------------------------------------------------------------------------
# the SAE in training (standardised space)


class BatchTopKSAE(torch.nn.Module):
    """Training-time SAE on standardised inputs; becomes a JumpReLU with one threshold afterwards."""

    def __init__(self, d_in: int, width: int, k: int, generator: torch.Generator):
        super().__init__()
        w_dec = torch.randn(width, d_in, generator=generator)
        w_dec /= w_dec.norm(dim=1, keepdim=True)
        self.w_dec = torch.nn.Parameter(w_dec)
        self.w_enc = torch.nn.Parameter(w_dec.t().clone())
        self.b_enc = torch.nn.Parameter(torch.zeros(width))
        self.b_dec = torch.nn.Parameter(torch.zeros(d_in))
        self.k = k
        self.register_buffer("theta", torch.tensor(0.0))
        self.register_buffer("threshold", torch.zeros(width))

    def pre(self, x):
        return x @ self.w_enc + self.b_enc

    def encode_topk(self, x):
        pre = self.pre(x)
        acts = F.relu(pre)
        flat = acts.flatten()
        n_keep = min(self.k * x.shape[0], flat.numel())
        vals, idx = flat.topk(n_keep, sorted=False)
        f = torch.zeros_like(flat).scatter(0, idx, vals).view_as(acts)
        return f, pre, vals.min().detach()

    def encode_jumprelu(self, x):
        pre = self.pre(x)
        return F.relu(pre) * (pre > self.threshold).to(pre.dtype)

    def decode(self, f):
        return f @ self.w_dec + self.b_dec

    @torch.no_grad()
    def normalise_decoder(self):
        self.w_dec /= self.w_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)

    @torch.no_grad()
    def remove_parallel_grad(self):
        if self.w_dec.grad is not None:
            w = self.w_dec
            self.w_dec.grad -= (self.w_dec.grad * w).sum(1, keepdim=True) * w


def _lr_at(step: int, total: int, cfg: TrainConfig, base: float) -> float:
    if step < cfg.warmup_steps:
        return base * (step + 1) / cfg.warmup_steps
    decay_start = int(total * (1 - cfg.decay_frac))
    if step >= decay_start:
        return base * max(0.0, (total - step) / max(1, total - decay_start))
    return base


def train_batchtopk(
    acts: Activations, mean: torch.Tensor, std: torch.Tensor, cfg: TrainConfig, progress: bool = True
) -> tuple[BatchTopKSAE, dict]:
    """Train a BatchTopK SAE with AuxK on standardised activations; sets the JumpReLU threshold."""
    from tqdm.auto import tqdm

    device = torch.device(cfg.device)
    g = torch.Generator().manual_seed(cfg.seed)
    d_in = acts.x.shape[1]
    sae = BatchTopKSAE(d_in, cfg.width, cfg.k, g).to(device)
    opt = torch.optim.Adam(sae.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
    n = len(acts.x)
    steps = max(1, int(cfg.epochs * n / cfg.batch_tokens))
    mean_d, std_d = mean.to(device), std.to(device)
    since_fired = torch.zeros(cfg.width, device=device)
    theta_sum, theta_n = 0.0, 0
    log = []
    order = torch.randperm(n, generator=g)
    pos = 0
    bar = tqdm(range(steps), desc="training SAE", disable=not progress, mininterval=5)
    for step in bar:
        if pos + cfg.batch_tokens > n:
            order = torch.randperm(n, generator=g)
            pos = 0
        idx = order[pos : pos + cfg.batch_tokens]
        pos += cfg.batch_tokens
        x = acts.x[idx].to(device).float()
        x = (x - mean_d) / std_d
        f, pre, kth = sae.encode_topk(x)
        recon = sae.decode(f)
        err = x - recon
        var = (x - x.mean(0)).pow(2).sum(1).mean()
        mse = err.pow(2).sum(1).mean() / var
        loss = mse
        fired = (f > 0).any(0)
        since_fired += x.shape[0]
        since_fired[fired] = 0
        dead = since_fired > cfg.dead_tokens
        aux = torch.tensor(0.0, device=device)
        if dead.any() and cfg.aux_coef > 0:
            k_aux = min(cfg.aux_k, int(dead.sum()))
            dead_pre = F.relu(pre).masked_fill(~dead, 0.0)
            v, i = dead_pre.topk(k_aux, dim=1, sorted=False)
            f_aux = torch.zeros_like(dead_pre).scatter(1, i, v)
            recon_aux = f_aux @ sae.w_dec
            e = err.detach()
            aux = (e - recon_aux).pow(2).sum(1).mean() / e.pow(2).sum(1).mean().clamp_min(1e-8)
            loss = loss + cfg.aux_coef * aux
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, steps, cfg, cfg.lr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sae.remove_parallel_grad()
        opt.step()
        sae.normalise_decoder()
        if step >= steps * 0.5:  # threshold: average smallest kept activation over the second half
            theta_sum += float(kth)
            theta_n += 1
        if step % 50 == 0 or step == steps - 1:
            rec = dict(step=step, fvu=float(mse.detach()), aux=float(aux.detach()), dead_frac=float(dead.float().mean()),
                       l0=float((f > 0).sum(1).float().mean()), theta=float(kth))
            log.append(rec)
            bar.set_postfix(fvu=f"{rec['fvu']:.3f}", dead=f"{rec['dead_frac']:.2f}", l0=f"{rec['l0']:.0f}")
    bar.close()
    theta = theta_sum / max(1, theta_n)
    sae.theta.fill_(theta)
    sae.threshold.fill_(theta)
    return sae, {"steps": steps, "theta": theta, "log": log}


# --------------------------------------------------------------------------------------------------
# raw-space JumpReLU parameters (the saved format)


def fold_standardisation(sae: BatchTopKSAE, mean: torch.Tensor, std: torch.Tensor, unit_decoder: bool = True) -> dict[str, torch.Tensor]:
    """Gemma Scope 2 parameters acting on raw activations, from an SAE trained on ``(x - mean) / std``.

    With ``z = (x - mean) / std``: ``z @ W_e + b_e = x @ (W_e / std[:, None]) + (b_e - (mean / std) @ W_e)``
    and ``std * (f @ W_d + b_d) + mean = f @ (W_d * std) + (b_d * std + mean)``. With ``unit_decoder``
    each decoder row is then scaled to unit norm, its feature's encoder column, bias and threshold by the
    same factor, so ``f`` is in residual-stream units and ``x_hat`` is unchanged.
    """
    with torch.no_grad():
        mean = mean.to(sae.w_enc.device).float()
        std = std.to(sae.w_enc.device).float()
        w_enc = sae.w_enc / std[:, None]
        b_enc = sae.b_enc - (mean / std) @ sae.w_enc
        w_dec = sae.w_dec * std[None, :]
        b_dec = sae.b_dec * std + mean
        threshold = sae.threshold.clone()
        if unit_decoder:
            norms = w_dec.norm(dim=1).clamp_min(1e-8)
            w_enc = w_enc * norms[None, :]
            b_enc = b_enc * norms
            threshold = threshold * norms
            w_dec = w_dec / norms[:, None]
    return {k: v.detach().float().cpu().contiguous() for k, v in
            dict(w_enc=w_enc, b_enc=b_enc, w_dec=w_dec, b_dec=b_dec, threshold=threshold).items()}


def jumprelu_encode(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    pre = x @ params["w_enc"] + params["b_enc"]
    return F.relu(pre) * (pre > params["threshold"]).to(pre.dtype)


def jumprelu_forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Reconstruction by a Gemma Scope 2 JumpReLU given its parameter dict (raw space)."""
    return jumprelu_encode(params, x) @ params["w_dec"] + params["b_dec"]


_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def save_sae(out_dir: str | Path, params: dict[str, torch.Tensor], cfg: TrainConfig, l0: float, metrics: dict | None = None) -> Path:
    """Write ``config.json`` + ``params.safetensors`` in the Gemma Scope 2 layout (and ``metrics.json``)."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dtype = _DTYPES[cfg.save_dtype]
    save_file({k: v.to(dtype).contiguous() for k, v in params.items()}, str(out / "params.safetensors"))
    config = {
        "hf_hook_point_in": cfg.hook_point,
        "hf_hook_point_out": cfg.hook_point,
        "width": int(params["w_enc"].shape[1]),
        "model_name": cfg.model_name,
        "architecture": "jump_relu",
        "l0": int(round(l0)),
        "affine_connection": False,
        "type": "sae",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    if metrics is not None:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return out


# --------------------------------------------------------------------------------------------------
# KL fine-tune


def _splice_fn(encode_decode):
    def fn(h):
        out = h.clone()
        out[:, 1:] = encode_decode(h[:, 1:].float()).to(h.dtype)  # BOS (position 0) untouched
        return out

    return fn


def _sample_positions(mask: torch.Tensor, per_row: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, cols) of up to per_row positions per window that predict a real next token, BOS excluded."""
    rows, cols = [], []
    lengths = mask.sum(1).tolist()
    for r, n in enumerate(lengths):
        cand = torch.arange(1, int(n) - 1)  # position p predicts token p+1
        if len(cand) == 0:
            continue
        pick = cand[torch.randperm(len(cand), generator=g)[:per_row]].sort().values
        rows.append(torch.full_like(pick, r))
        cols.append(pick)
    return torch.cat(rows), torch.cat(cols)


def _logits_at(model, hidden: torch.Tensor, rows, cols) -> torch.Tensor:
    logits = model.lm_head(hidden[rows, cols])
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits.float()


def finetune_kl(model, sae: BatchTopKSAE, windows: Sequence[list[int]], mean, std, cfg: TrainConfig, pad_id: int = 0, progress: bool = True) -> dict:
    """Tune the SAE (thresholds fixed) so the spliced model's next-token distribution matches the clean one."""
    from tqdm.auto import tqdm

    from .hooks import edit_activations

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
    bar = tqdm(range(cfg.kl_steps), desc="KL fine-tune", disable=not progress, mininterval=5)
    batches = _batches(wins, cfg.kl_batch, pad_id, device)
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
            batches = _batches(wins, cfg.kl_batch, pad_id, device)
            ids, mask = next(batches)
        rows, cols = _sample_positions(mask.cpu(), cfg.kl_positions, g)
        with torch.no_grad():
            clean_h = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
            clean_logp = F.log_softmax(_logits_at(model, clean_h, rows, cols), -1)
        captured = {}

        def splice(h):
            captured["x"] = h[:, 1:][mask[:, 1:].bool()].float()
            return _splice_fn(enc_dec)(h)

        for group in opt.param_groups:
            group["lr"] = cfg.kl_lr * min(1.0, (step + 1) / 20) * (1 - step / cfg.kl_steps)
        with edit_activations(model, cfg.hook_point, splice):
            h = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        logp = F.log_softmax(_logits_at(model, h, rows, cols), -1)
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


# --------------------------------------------------------------------------------------------------
# evaluation


@torch.no_grad()
def evaluate(
    model,
    params: dict[str, torch.Tensor],
    heldout_acts: Activations,
    heldout_windows: Sequence[list[int]],
    hook_point: str,
    mean: torch.Tensor,
    std: torch.Tensor,
    cfg: TrainConfig,
    pad_id: int = 0,
    progress: bool = True,
) -> dict:
    """Metrics of a raw-space JumpReLU on held-out data, BOS excluded everywhere.

    - ``loss_recovered = 1 - (CE_spliced - CE_clean) / (CE_mean_ablated - CE_clean)``, where the
      reconstruction (or the training-set mean activation) replaces every non-BOS position at the hook,
      on ``eval_ce_windows`` held-out windows, CE at ``eval_ce_positions`` sampled positions;
    - ``l0`` mean active features per token, ``dead_frac`` features never active, ``fve_raw`` and
      ``fve_std`` (after standardising each dimension with the training statistics), on
      ``eval_tokens`` held-out tokens.
    """
    from tqdm.auto import tqdm

    from .hooks import edit_activations

    device = next(model.parameters()).device
    p = {k: v.to(device).float() for k, v in params.items()}
    mean_d, std_d = mean.to(device).float(), std.to(device).float()
    # activation-level metrics
    x_all = heldout_acts.x[: cfg.eval_tokens]
    fired = torch.zeros(p["w_enc"].shape[1], dtype=torch.bool, device=device)
    l0_sum = 0.0
    sse = sse_std = 0.0
    s = torch.zeros(x_all.shape[1], dtype=torch.float64)
    s2 = torch.zeros_like(s)
    for i in range(0, len(x_all), 8192):
        x = x_all[i : i + 8192].to(device).float()
        f = jumprelu_encode(p, x)
        recon = f @ p["w_dec"] + p["b_dec"]
        fired |= (f > 0).any(0)
        l0_sum += float((f > 0).sum())
        sse += float((x - recon).double().pow(2).sum())
        sse_std += float(((x - recon) / std_d).double().pow(2).sum())
        s += x.double().sum(0).cpu()
        s2 += x.double().pow(2).sum(0).cpu()
    n = len(x_all)
    var_dim = s2 / n - (s / n) ** 2  # held-out variance per dimension
    sst = float(var_dim.sum() * n)
    sst_std = float((var_dim / std.double() ** 2).sum() * n)
    metrics = dict(
        eval_tokens=n,
        l0=l0_sum / n,
        dead_frac=float((~fired).float().mean()),
        fve_raw=1 - sse / sst,
        fve_std=1 - sse_std / sst_std,
    )

    # loss recovered
    def recon_fn(h):
        return jumprelu_forward(p, h)

    def mean_fn(h):
        return mean_d.expand_as(h)

    g = torch.Generator().manual_seed(cfg.seed + 2)
    wins = list(heldout_windows[: cfg.eval_ce_windows])
    per_row = max(1, math.ceil(cfg.eval_ce_positions / max(1, len(wins))))
    ce = {"clean": [], "spliced": [], "mean_ablated": []}
    kl_sum, n_pos = 0.0, 0
    for ids, mask in tqdm(list(_batches(wins, 8, pad_id, device)), desc="loss recovered", disable=not progress, mininterval=5):
        rows, cols = _sample_positions(mask.cpu(), per_row, g)
        targets = ids[rows, cols + 1]
        logps = {}
        for name, fn in (("clean", None), ("spliced", recon_fn), ("mean_ablated", mean_fn)):
            if fn is None:
                h = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
            else:
                with edit_activations(model, hook_point, _splice_fn(fn)):
                    h = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
            logp = F.log_softmax(_logits_at(model, h, rows, cols), -1)
            ce[name].append(-logp.gather(1, targets[:, None]).squeeze(1).double().cpu())
            logps[name] = logp
        kl_sum += float(F.kl_div(logps["spliced"], logps["clean"], log_target=True, reduction="sum"))
        n_pos += len(rows)
    ce_m = {k: float(torch.cat(v).mean()) for k, v in ce.items()}
    metrics.update(
        ce_clean=ce_m["clean"],
        ce_spliced=ce_m["spliced"],
        ce_mean_ablated=ce_m["mean_ablated"],
        loss_recovered=1 - (ce_m["spliced"] - ce_m["clean"]) / (ce_m["mean_ablated"] - ce_m["clean"]),
        kl_spliced=kl_sum / max(1, n_pos),
        ce_positions=n_pos,
    )
    return metrics


# --------------------------------------------------------------------------------------------------
# the whole recipe


def meets_targets(m: dict) -> bool:
    """The issue-3 quality targets for the default SAE (held-out, BOS excluded)."""
    return m["loss_recovered"] >= 0.85 and 10 <= m["l0"] <= 120 and m["dead_frac"] < 0.15


def _texts(cfg: TrainConfig):
    from .corpus import build_corpus

    corpus = build_corpus(sources=cfg.corpus_sources, budget_scale=cfg.corpus_scale)
    return corpus, [d.text for d in corpus.train], [d.text for d in corpus.heldout]


def train(
    cfg: TrainConfig,
    out_dir: str | Path | None = None,
    model=None,
    tokenizer=None,
    train_texts: Sequence[str] | None = None,
    heldout_texts: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Run the recipe end to end; returns the metrics (and writes the SAE folder when ``out_dir``)."""
    t0 = time.time()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    if model is None:
        from .models import load_default_model

        model, tokenizer = load_default_model(device=cfg.device, dtype=torch.float32)
    model.eval()
    corpus_info = {}
    if train_texts is None:
        corpus, train_texts, heldout_texts = _texts(cfg)
        corpus_info = {"fingerprint": corpus.fingerprint(), "train_docs": len(corpus.train), "heldout_docs": len(corpus.heldout)}
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    g = torch.Generator().manual_seed(cfg.seed)

    def windows(texts, n_tokens):
        # shuffle documents, tokenise only as many as the budget needs (plus margin), shuffle windows
        texts = [texts[i] for i in torch.randperm(len(texts), generator=g).tolist()]
        w = make_windows(tokenizer, texts, cfg.ctx_len, cfg.max_windows_per_doc, max_tokens=int(n_tokens * 1.1) + 1000)
        return [w[i] for i in torch.randperm(len(w), generator=g).tolist()]

    train_w = windows(list(train_texts), cfg.train_tokens + cfg.kl_steps * cfg.kl_batch * cfg.kl_ctx)
    held_w = windows(list(heldout_texts), max(cfg.eval_tokens, cfg.eval_ce_windows * cfg.ctx_len))

    def get(windows, n_tokens, tag):
        key = None
        if cache_dir:
            key = Path(cache_dir) / f"{tag}_L{cfg.layer}_ctx{cfg.ctx_len}_n{n_tokens}_{corpus_info.get('fingerprint', 'custom')[:12]}.pt"
            if key.exists():
                return Activations(torch.load(key, weights_only=True), 0)
        acts = collect_activations(model, windows, [cfg.hook_point], n_tokens, cfg.collect_batch, pad_id, progress=progress, desc=f"activations ({tag})")[cfg.hook_point]
        if key is not None:
            key.parent.mkdir(parents=True, exist_ok=True)
            torch.save(acts.x, key)
        return acts

    train_acts = get(train_w, cfg.train_tokens, "train")
    held_acts = get(held_w, cfg.eval_tokens, "heldout")
    t_collect = time.time() - t0
    mean, std = train_acts.stats()
    if not cfg.standardise:  # one global scale instead: the plain (centred) MSE, at a sane lr
        std = torch.full_like(std, float(std.pow(2).mean().sqrt()))
    sae, info = train_batchtopk(train_acts, mean, std, cfg, progress=progress)
    del train_acts
    params = fold_standardisation(sae, mean, std)
    metrics = {}
    ft = {}
    if cfg.kl_steps > 0:
        pre_ft = evaluate(model, params, held_acts, held_w, cfg.hook_point, mean, std, cfg, pad_id, progress)
        metrics["before_kl_finetune"] = pre_ft
        if out_dir is not None and meets_targets(pre_ft):  # something good on disk before the slow part
            save_sae(out_dir, params, cfg, pre_ft["l0"], {**pre_ft, "stage": "batchtopk (KL fine-tune still running)"})
        ft = finetune_kl(model, sae, train_w, mean, std, cfg, pad_id, progress)
        params = fold_standardisation(sae, mean, std)
    params = {k: v.to(_DTYPES[cfg.save_dtype]).float() for k, v in params.items()}  # measure what ships
    final = evaluate(model, params, held_acts, held_w, cfg.hook_point, mean, std, cfg, pad_id, progress)
    metrics.update(final)
    metrics["stage"] = "batchtopk + KL fine-tune" if cfg.kl_steps > 0 else "batchtopk"
    metrics.update(
        hook_point=cfg.hook_point,
        width=cfg.width,
        train_tokens=cfg.train_tokens,
        train_steps=info["steps"],
        kl_steps_run=ft.get("steps_run", 0),
        theta_standardised=info["theta"],
        collect_seconds=round(t_collect, 1),
        total_seconds=round(time.time() - t0, 1),
        corpus=corpus_info,
        config=dataclasses.asdict(cfg),
    )
    if out_dir is not None:
        save_sae(out_dir, params, cfg, metrics["l0"], metrics)
    metrics["_params"] = params  # for callers; not written to metrics.json
    metrics["_train_log"] = info["log"]
    metrics["_kl_log"] = ft.get("log", [])
    return metrics


def _format(metrics: dict) -> str:
    keys = ["loss_recovered", "l0", "dead_frac", "fve_raw", "fve_std", "ce_clean", "ce_spliced", "ce_mean_ablated", "kl_spliced"]
    rows = []
    if "before_kl_finetune" in metrics:
        rows.append("before KL fine-tune: " + ", ".join(f"{k}={metrics['before_kl_finetune'][k]:.4f}" for k in keys))
    rows.append("final: " + ", ".join(f"{k}={metrics[k]:.4f}" for k in keys))
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m scope_widgets.train", description="Train a JumpReLU SAE (BatchTopK-trained) on Gemma 3 270M.")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--out", default=None, help="folder for config.json + params.safetensors + metrics.json")
    ap.add_argument("--cache-dir", default=None, help="reuse collected activations from this folder")
    ap.add_argument("--quiet", action="store_true")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "corpus_sources":
            ap.add_argument("--corpus-sources", default=None, help="comma-separated source names")
            continue
        typ = {"int": int, "float": float, "str": str, "bool": lambda s: s.lower() in ("1", "true", "yes")}.get(
            f.type.split(" ")[0] if isinstance(f.type, str) else f.type.__name__, str)
        ap.add_argument("--" + f.name.replace("_", "-"), type=typ, default=None)
    args = ap.parse_args(argv)
    values = dict(PRESETS[args.preset])
    for f in dataclasses.fields(TrainConfig):
        v = getattr(args, f.name, None)
        if f.name == "corpus_sources":
            v = tuple(args.corpus_sources.split(",")) if args.corpus_sources else None
        if v is not None:
            values[f.name] = v
    if "threads" not in values and values.get("device", "cpu") == "cpu":
        values["threads"] = None
    cfg = TrainConfig(**values)
    metrics = train(cfg, out_dir=args.out, cache_dir=args.cache_dir, progress=not args.quiet)
    print(_format(metrics))
    if args.out:
        print(f"wrote {args.out}")
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
