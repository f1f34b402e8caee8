"""The model's activations over a corpus: batches of texts, and an on-disk cache of them per text.

Dashboards of a retrained SAE at the same hook point then skip the model; a corpus that changes a little
only recomputes its new texts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from ..engine import hooks
from ..engine.tokens import encode, pad_batch, pad_id
from ..runtime import progress_bar

__all__ = ["ActivationCache", "corpus_batches", "precompute_activations", "texts_hash", "context_length"]


def context_length(model) -> int:
    """How many tokens the model reads at most."""
    config = hooks.text_config(model)
    return int(getattr(config, "max_position_embeddings", None) or 8192)


class ActivationCache:
    """Activations at one hook point, one small safetensors file per text (named by the text's hash).

    Dashboards of a retrained SAE at the same hook point then skip the model, and a corpus that changes
    a little only recomputes its new texts. The cache is keyed by the model (a hash of a few weights and
    its config), the hook point and the token limit: any change lands in another sub-folder. float16
    when the values fit, else float32.
    """

    def __init__(self, root: str | os.PathLike, model, hook_point: str, max_tokens: int) -> None:
        h = hashlib.sha256()
        config = getattr(model, "config", None)
        h.update(json.dumps({"hook": hook_point, "max_tokens": max_tokens,
                             "config": config.to_json_string() if hasattr(config, "to_json_string") else ""},
                            sort_keys=True).encode())
        emb = model.get_input_embeddings().weight
        h.update(emb[:: max(1, emb.shape[0] // 16)].detach().float().cpu().numpy().tobytes())
        layer = hooks.decoder_layers(model)[hooks.parse_hook_point(hook_point).layer]
        h.update(next(layer.parameters()).detach().reshape(-1)[:4096].float().cpu().numpy().tobytes())
        self.dir = Path(root).expanduser() / h.hexdigest()[:16]

    def _path(self, text: str) -> Path:
        return self.dir / f"{texts_hash([text]).hexdigest()[:32]}.safetensors"

    def get(self, text: str, n_tokens: int) -> torch.Tensor | None:
        path = self._path(text)
        if not path.is_file():
            return None
        from safetensors.torch import load_file

        try:
            x = load_file(str(path))["x"]
        except Exception:  # a truncated file from a killed run: recompute it
            return None
        return x if x.shape[0] == n_tokens else None

    def put(self, text: str, x: torch.Tensor) -> None:
        from safetensors.torch import save_file

        self.dir.mkdir(parents=True, exist_ok=True)
        x = x.detach().float().cpu()
        if float(x.abs().max()) < 6e4:
            x = x.half()
        path = self._path(text)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        save_file({"x": x.contiguous()}, str(tmp))
        os.replace(tmp, path)


def corpus_batches(model, tokenizer, texts: Sequence[str], start: int, batch_size: int, max_tokens: int, hook_point: str, cache: ActivationCache | None):
    """Yield ``(encoded ids, input_ids [B, T] right-padded, valid mask [B, T] bool, x [B, T, d] at the hook
    point)`` per batch from ``start``."""
    bos = getattr(tokenizer, "bos_token_id", None)
    device = next(model.parameters()).device
    for done in range(start, len(texts), batch_size):
        chunk = texts[done : done + batch_size]
        encoded = [encode(tokenizer, t, max_tokens)[0] for t in chunk]
        input_ids, mask = pad_batch(encoded, pad_id(tokenizer))
        mask = mask.bool()
        width = input_ids.shape[1]
        x = None
        if cache is not None:
            rows = [cache.get(t, len(ids)) for t, ids in zip(chunk, encoded)]
            if all(r is not None for r in rows):
                x = torch.zeros(len(chunk), width, rows[0].shape[-1], device=device)
                for r, row in enumerate(rows):
                    x[r, : row.shape[0]] = row.to(device=device, dtype=torch.float32)
        if x is None:
            x = hooks.capture_activations(model, [hook_point], input_ids.to(device), mask.long().to(device))[hook_point]
            if cache is not None:
                for r, (t, ids) in enumerate(zip(chunk, encoded)):
                    cache.put(t, x[r, : len(ids)])
        valid = mask.clone()
        for r, ids in enumerate(encoded):
            if bos is not None and ids and ids[0] == bos:
                valid[r, 0] = False
        yield encoded, input_ids, valid, x


def precompute_activations(model, tokenizer, texts: Sequence[str], hook_point: str, cache_root: str | os.PathLike, *,
                           batch_size: int = 8, max_tokens: int = 512, progress: bool = True) -> Path:
    """Fill an :class:`ActivationCache` (no SAE needed); returns its folder."""
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    max_tokens = min(int(max_tokens), context_length(model))
    cache = ActivationCache(cache_root, model, hook_point, max_tokens)
    with torch.no_grad(), progress_bar(len(texts), f"activations {hook_point}", show=None if progress else False) as bar:
        for encoded, _, _, _ in corpus_batches(model, tokenizer, texts, 0, batch_size, max_tokens, hook_point, cache):
            bar.update(len(encoded))
    return cache.dir


def texts_hash(texts: Sequence[str], h=None):
    h = h or hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h
