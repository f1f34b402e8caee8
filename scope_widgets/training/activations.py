"""Activations for training: windows of tokens, a forward pass that stops at the hook, shards on disk.

A big run never holds its activations in memory: :class:`ActivationStore` writes them as shards of
``shard_tokens`` rows (bfloat16, which keeps Gemma's massive activations in range where float16 would
overflow), resumes a collection that was interrupted, and streams them back in a shuffled order. A small
run (the lesson's) can keep everything in memory with :func:`collect_activations`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import torch

from ..engine.hooks import capture_token_rows
from ..engine.tokens import pad_batch

__all__ = ["Activations", "ActivationStore", "make_windows", "window_batches", "collect_activations"]


@dataclass
class Activations:
    """Activations at one hook point, BOS and padding removed: ``x [n_tokens, d_in]``."""

    x: torch.Tensor
    n_windows: int

    def stats(self, chunk: int = 65536) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-dimension mean and standard deviation, accumulated in float64."""
        return _moments([self.x[i : i + chunk] for i in range(0, len(self.x), chunk)])


def _moments(chunks: Iterable[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    s = s2 = None
    n = 0
    for b in chunks:
        b = b.double()
        s = b.sum(0) if s is None else s + b.sum(0)
        s2 = (b * b).sum(0) if s2 is None else s2 + (b * b).sum(0)
        n += len(b)
    mean = s / n
    var = (s2 / n - mean * mean).clamp_min(1e-12)
    return mean.float(), var.sqrt().float()


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
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        for w in range(max_windows_per_doc):
            chunk = ids[w * (ctx_len - 1) : (w + 1) * (ctx_len - 1)]
            if len(chunk) < min_tokens:
                break
            windows.append([bos] + chunk)
            total += len(chunk)
    return windows


def window_batches(windows: Sequence[list[int]], batch: int, pad_id: int, device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(input_ids, attention_mask)`` for consecutive groups of ``batch`` windows, right-padded."""
    for i in range(0, len(windows), batch):
        ids, mask = pad_batch(windows[i : i + batch], pad_id)
        yield ids.to(device), mask.to(device)


def collect_activations(
    model, windows: Sequence[list[int]], hook_point: str, max_tokens: int, batch: int = 16, pad_id: int = 0,
    progress: bool = True, desc: str = "collecting activations",
) -> Activations:
    """Activations at ``hook_point`` for the windows, in order, until ``max_tokens`` non-BOS tokens, in memory."""
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    out: list[torch.Tensor] = []
    n_tok = n_win = 0
    bar = tqdm(total=max_tokens, desc=desc, unit="tok", disable=not progress, mininterval=5)
    for ids, mask in window_batches(windows, batch, pad_id, device):
        rows = capture_token_rows(model, hook_point, ids, mask)
        out.append(rows)
        n_tok += len(rows)
        n_win += ids.shape[0]
        bar.update(len(rows))
        if n_tok >= max_tokens:
            break
    bar.close()
    return Activations(torch.cat(out)[:max_tokens], n_win)


class ActivationStore:
    """Activations on disk in shards: ``shard_00000.pt`` ... (``x [rows, d]`` bfloat16) and ``meta.json``.

    :meth:`collect` is resumable: shard ``i`` always holds the windows of batch group ``i`` (the window list
    is fixed by the recipe), so a restarted collection writes only the missing shards. Each shard is
    written to a temporary name and renamed, so a crash never leaves half a shard.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def shard_paths(self) -> list[Path]:
        return sorted(self.folder.glob("shard_*.pt"))

    @property
    def meta(self) -> dict:
        p = self.folder / "meta.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def collect(
        self, model, windows: Sequence[list[int]], hook_point: str, max_tokens: int, shard_tokens: int,
        batch: int = 16, pad_id: int = 0, progress: bool = True, desc: str = "collecting activations",
    ) -> "ActivationStore":
        from tqdm.auto import tqdm

        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {"hook_point": hook_point, "max_tokens": max_tokens, "shard_tokens": shard_tokens, "n_windows": len(windows)}
        old = self.meta
        if old and {k: old.get(k) for k in meta} != meta:
            raise ValueError(f"{self.folder} holds activations of another collection ({old}); use another folder")
        (self.folder / "meta.json").write_text(json.dumps(meta))
        device = next(model.parameters()).device
        # windows per shard: fixed by the average window length, so shard i is always the same windows
        mean_len = max(1.0, sum(len(w) - 1 for w in windows) / max(1, len(windows)))
        per_shard = max(batch, int(shard_tokens / mean_len) // batch * batch)
        n_shards = 0
        total = 0
        for start in range(0, len(windows), per_shard):
            if total >= max_tokens:
                break
            n_shards += 1
            total += sum(len(w) - 1 for w in windows[start : start + per_shard])
        bar = tqdm(total=n_shards, desc=desc, unit="shard", disable=not progress, mininterval=5)
        for i in range(n_shards):
            path = self.folder / f"shard_{i:05d}.pt"
            if not path.exists():
                group = windows[i * per_shard : (i + 1) * per_shard]
                rows = [capture_token_rows(model, hook_point, ids, mask) for ids, mask in window_batches(group, batch, pad_id, device)]
                tmp = path.with_suffix(".tmp")
                torch.save(torch.cat(rows).to(torch.bfloat16), tmp)
                tmp.rename(path)
            bar.update(1)
        bar.close()
        return self

    def load(self, i: int) -> torch.Tensor:
        return torch.load(self.shard_paths()[i], weights_only=True)

    def __len__(self) -> int:
        return len(self.shard_paths())

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        return _moments(self.load(i).float() for i in range(len(self)))

    def n_rows(self) -> int:
        cached = self.meta.get("rows_per_shard")
        if cached and len(cached) == len(self):
            return sum(cached)
        rows = [len(self.load(i)) for i in range(len(self))]
        meta = self.meta
        meta["rows_per_shard"] = rows
        (self.folder / "meta.json").write_text(json.dumps(meta))
        return sum(rows)

    def head(self, n: int) -> Activations:
        """The first ``n`` rows in memory (held-out sets are small)."""
        out, got = [], 0
        for i in range(len(self)):
            if got >= n:
                break
            x = self.load(i).float()
            out.append(x)
            got += len(x)
        return Activations(torch.cat(out)[:n], 0)
