"""The SAE while it trains: BatchTopK on standardised activations, AuxK for dead features, checkpoints.

``f = BatchTopK(relu(z W_enc + b_enc))`` keeps the ``k * batch`` largest activations of the whole batch,
so L0 varies per token around ``k`` (Bussmann et al., 2024). With ``cfg.matryoshka`` the loss also asks
the first ``m`` features alone to reconstruct, for each listed ``m`` (Bussmann et al., 2025), so early
features learn general concepts and later ones refine them. Decoder rows stay at unit norm (the gradient
component along each row is removed first). AuxK (Gao et al., 2024) lets features silent for
``dead_tokens`` tokens reconstruct the residual error, which revives them. After training the SAE is a
JumpReLU with one threshold: the mean smallest kept activation over the second half of training.

Speed on a CPU: the decoder is a gather of the kept rows (``embedding_bag``), not a dense
``[batch, width] @ [width, d]`` product, so only the encoder matmul grows with the width; it runs in
bfloat16 when ``train_dtype`` says so (weights, losses and decoder norms stay float32).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

from .activations import Activations, ActivationStore
from .config import TrainConfig

__all__ = ["BatchTopKSAE", "train_batchtopk", "batch_stream"]


class _SparseEncode(torch.autograd.Function):
    """``pre[rows, cols]`` of ``pre = x @ w_enc + b_enc`` with a sparse backward.

    The values come from a ``pre`` computed without autograd; the gradient reaches ``w_enc`` and ``b_enc``
    only at the kept entries (``x[rows]^T`` scattered to ``cols``), which costs ``kept x d`` rather than the
    dense ``batch x width x d`` of differentiating the full matmul.
    """

    @staticmethod
    def forward(ctx, pre_values, x, w_enc, b_enc, rows, cols):
        ctx.save_for_backward(x, rows, cols)
        ctx.width = w_enc.shape[1]
        return pre_values

    @staticmethod
    def backward(ctx, grad):
        x, rows, cols = ctx.saved_tensors
        sparse = torch.sparse_coo_tensor(torch.stack([cols, rows]), grad, (ctx.width, x.shape[0]), check_invariants=False)
        grad_w = torch.sparse.mm(sparse, x).t()  # [d, width]
        grad_b = torch.zeros(ctx.width, dtype=grad.dtype, device=grad.device).index_add_(0, cols, grad)
        return None, None, grad_w, grad_b, None, None


class BatchTopKSAE(torch.nn.Module):
    """Training-time SAE on standardised inputs; becomes a JumpReLU with one threshold afterwards."""

    def __init__(self, d_in: int, width: int, k: int, generator: torch.Generator, k_row_cap: int = 256):
        super().__init__()
        w_dec = torch.randn(width, d_in, generator=generator)
        w_dec /= w_dec.norm(dim=1, keepdim=True)
        self.w_dec = torch.nn.Parameter(w_dec)
        self.w_enc = torch.nn.Parameter(w_dec.t().clone())
        self.b_enc = torch.nn.Parameter(torch.zeros(width))
        self.b_dec = torch.nn.Parameter(torch.zeros(d_in))
        self.k = k
        self.k_row_cap = k_row_cap
        self.register_buffer("threshold", torch.zeros(width))
        self.matmul_dtype: torch.dtype = torch.float32

    def _autocast(self):
        if self.matmul_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.w_enc.device.type, dtype=self.matmul_dtype)

    def pre(self, x):
        with self._autocast():
            pre = x @ self.w_enc
        return pre.float() + self.b_enc

    def pre_at(self, pre, x, rows, cols):
        """``pre[rows, cols]`` (from a ``pre`` computed without autograd), differentiable w.r.t. the encoder."""
        return _SparseEncode.apply(pre[rows, cols], x, self.w_enc, self.b_enc, rows, cols)

    def encode_topk(self, x):
        """``(rows, cols, values, pre, kth)``: the batch's top ``k * batch`` activations, sparse.

        Each token first keeps its own top ``k_row_cap`` (cheap), then the batch's top ``k * batch`` are
        taken among those; a token can thus use at most ``k_row_cap`` features.
        """
        with torch.no_grad():
            pre = self.pre(x)
        cap = min(self.k_row_cap, pre.shape[1])
        v, c = pre.topk(cap, dim=1, sorted=False)  # [B, cap]; relu after the selection (same result, one pass less)
        v = F.relu(v)
        n_keep = min(self.k * x.shape[0], v.numel())
        flat_v, flat_i = v.flatten().topk(n_keep, sorted=False)
        keep = flat_v > 0
        flat_v, flat_i = flat_v[keep], flat_i[keep]
        rows = torch.div(flat_i, cap, rounding_mode="floor")
        cols = c.flatten()[flat_i]
        order = torch.argsort(rows, stable=True)
        rows, cols = rows[order], cols[order]
        vals = F.relu(self.pre_at(pre, x, rows, cols))  # the gradient reaches the encoder here
        kth = flat_v.min().detach() if len(flat_v) else torch.tensor(0.0)
        return rows, cols, vals, pre, kth

    def decode_sparse(self, rows, cols, vals, n_rows: int):
        """``sum_j vals_j * W_dec[cols_j]`` per row, plus ``b_dec`` (rows sorted ascending)."""
        counts = torch.bincount(rows, minlength=n_rows)
        offsets = torch.zeros(n_rows, dtype=torch.long, device=rows.device)
        offsets[1:] = counts.cumsum(0)[:-1]
        out = F.embedding_bag(cols, self.w_dec, offsets, mode="sum", per_sample_weights=vals)
        return out + self.b_dec

    def encode_jumprelu(self, x):
        pre = x @ self.w_enc + self.b_enc
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


def batch_stream(source: Activations | ActivationStore, cfg: TrainConfig, steps: int, start: int = 0) -> Iterator[torch.Tensor]:
    """``steps`` batches of ``batch_tokens`` rows in a seeded order that depends only on the step.

    An in-memory :class:`Activations` is reshuffled every pass; an :class:`ActivationStore` is read
    ``shuffle_shards`` shards at a time (in a seeded shard order per pass), shuffled within that buffer.
    Batches before ``start`` are skipped without loading anything, so a resumed run sees exactly the
    batches an uninterrupted one would have.
    """
    bt = cfg.batch_tokens
    if isinstance(source, Activations):
        n = len(source.x)
        per_pass = max(1, n // bt)
        for step in range(start, steps):
            p, i = divmod(step, per_pass)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 7919 + p))
            yield source.x[order[i * bt : (i + 1) * bt]]
        return
    n_shards = len(source)
    rows = source.meta.get("rows_per_shard") or [len(source.load(i)) for i in range(n_shards)]
    step = 0
    p = 0
    while step < steps:
        shard_order = torch.randperm(n_shards, generator=torch.Generator().manual_seed(cfg.seed * 7919 + p)).tolist()
        for gi in range(0, n_shards, cfg.shuffle_shards):
            group = shard_order[gi : gi + cfg.shuffle_shards]
            n_batches = sum(rows[j] for j in group) // bt
            if step + n_batches <= start:
                step += n_batches
                continue
            buf = None
            for b in range(n_batches):
                if step >= steps:
                    return
                if step < start:
                    step += 1
                    continue
                if buf is None:
                    buf = torch.cat([source.load(j) for j in group])
                    perm = torch.randperm(len(buf), generator=torch.Generator().manual_seed(cfg.seed * 104729 + p * 1000 + gi))
                    buf = buf[perm]
                yield buf[b * bt : (b + 1) * bt]
                step += 1
        p += 1


def _steps(source: Activations | ActivationStore, cfg: TrainConfig) -> int:
    n = len(source.x) if isinstance(source, Activations) else source.n_rows()
    return max(1, int(cfg.epochs * n / cfg.batch_tokens))


def _prefixes(cfg: TrainConfig) -> tuple[int, ...]:
    """The Matryoshka prefix sizes, checked: ascending integers from 1 to below the width."""
    m = tuple(int(v) for v in cfg.matryoshka)
    if any(b <= a for a, b in zip(m, m[1:])) or (m and not 0 < m[0] <= m[-1] < cfg.width):
        raise ValueError(f"matryoshka prefix sizes must ascend from 1 to below the width {cfg.width}, got {cfg.matryoshka!r}")
    return m


def train_batchtopk(
    source: Activations | ActivationStore, mean: torch.Tensor, std: torch.Tensor, cfg: TrainConfig,
    progress: bool = True, checkpoint: str | Path | None = None,
) -> tuple[BatchTopKSAE, dict]:
    """Train a BatchTopK SAE with AuxK on standardised activations; sets the JumpReLU threshold.

    With ``checkpoint`` (a file path) the state is saved every ``checkpoint_every`` steps and a run that
    finds the file resumes from it: same batches, same result as an uninterrupted run.
    """
    from tqdm.auto import tqdm

    device = torch.device(cfg.device)
    g = torch.Generator().manual_seed(cfg.seed)
    d_in = mean.shape[0]
    sae = BatchTopKSAE(d_in, cfg.width, cfg.k, g, cfg.k_row_cap).to(device)
    sae.matmul_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[cfg.train_dtype]
    opt = torch.optim.Adam(sae.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
    steps = _steps(source, cfg)
    prefixes = _prefixes(cfg)
    mean_d, std_d = mean.to(device), std.to(device)
    state = {"step": 0, "since_fired": torch.zeros(cfg.width), "theta_sum": 0.0, "theta_n": 0, "log": []}
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is not None and ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        if saved.get("steps") != steps or saved.get("width") != cfg.width or tuple(saved.get("matryoshka", ())) != prefixes:
            raise ValueError(f"checkpoint {ckpt} is from another run (steps {saved.get('steps')}, width {saved.get('width')}, "
                             f"matryoshka {tuple(saved.get('matryoshka', ()))}); delete it or use another work folder")
        sae.load_state_dict(saved["sae"])
        opt.load_state_dict(saved["opt"])
        state = saved["state"]
    since_fired = state["since_fired"].to(device)
    bar = tqdm(total=steps, initial=state["step"], desc="training SAE", disable=not progress, mininterval=10)
    for step, xb in enumerate(batch_stream(source, cfg, steps, start=state["step"]), start=state["step"]):
        x = (xb.to(device).float() - mean_d) / std_d
        rows, cols, vals, pre, kth = sae.encode_topk(x)
        recon = sae.decode_sparse(rows, cols, vals, x.shape[0])
        err = x - recon
        var = (x - x.mean(0)).pow(2).sum(1).mean()
        mse = err.pow(2).sum(1).mean() / var
        loss = mse
        if prefixes:  # Matryoshka: each prefix of the features must reconstruct on its own too
            losses = [mse]
            for m in prefixes:
                keep = cols < m
                part = sae.decode_sparse(rows[keep], cols[keep], vals[keep], x.shape[0])
                losses.append((x - part).pow(2).sum(1).mean() / var)
            loss = torch.stack(losses).mean()
        fired = torch.zeros(cfg.width, dtype=torch.bool, device=device)
        fired[cols] = True
        since_fired += x.shape[0]
        since_fired[fired] = 0
        dead = since_fired > cfg.dead_tokens
        aux = torch.tensor(0.0, device=device)
        if dead.any() and cfg.aux_coef > 0:
            k_aux = min(cfg.aux_k, int(dead.sum()))
            dead_pre = F.relu(pre).masked_fill(~dead, 0.0)
            _, i = dead_pre.topk(k_aux, dim=1, sorted=False)
            aux_rows = torch.arange(x.shape[0], device=device).repeat_interleave(k_aux)
            v = F.relu(sae.pre_at(pre, x, aux_rows, i.flatten()))
            offsets = torch.arange(0, v.numel(), k_aux, device=device)
            recon_aux = F.embedding_bag(i.flatten(), sae.w_dec, offsets, mode="sum", per_sample_weights=v)
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
            state["theta_sum"] += float(kth)
            state["theta_n"] += 1
        if step % 50 == 0 or step == steps - 1:
            rec = dict(step=step, fvu=float(mse.detach()), aux=float(aux.detach()), dead_frac=float(dead.float().mean()),
                       l0=len(vals) / x.shape[0], theta=float(kth))
            state["log"].append(rec)
            bar.set_postfix(fvu=f"{rec['fvu']:.3f}", dead=f"{rec['dead_frac']:.2f}", l0=f"{rec['l0']:.0f}")
        bar.update(1)
        state["step"] = step + 1
        if ckpt is not None and (state["step"] % cfg.checkpoint_every == 0 or state["step"] == steps):
            state["since_fired"] = since_fired.cpu()
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"sae": sae.state_dict(), "opt": opt.state_dict(), "state": state, "steps": steps, "width": cfg.width,
                        "matryoshka": prefixes}, tmp)
            tmp.replace(ckpt)
    bar.close()
    theta = state["theta_sum"] / max(1, state["theta_n"])
    sae.threshold.fill_(theta)
    return sae, {"steps": steps, "theta": theta, "log": state["log"]}
