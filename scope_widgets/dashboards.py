"""Feature dashboards: per-feature statistics over a corpus, feature search and logit effects.

For every feature of an SAE, one batched, streaming pass over a corpus gives

- the **top examples**: the texts where the feature fires hardest (one example per text: the text's
  maximum), with the feature's activation on the ``context`` tokens either side of the max token;
- an **activation histogram** of its nonzero activations (fixed log-spaced bins, so it streams);
- its **density** (fraction of non-BOS tokens where it is active) and max / mean activation;

and, from the weights alone, its **logit effects**: the tokens its decoder direction promotes and
suppresses most through the final norm's gain and the unembedding,

    logit_effect[i] = (W_dec[i] * g) @ W_U.T      with g = 1 + final_norm.weight for Gemma
                                                  (g = final_norm.weight for other RMSNorm models)

(the RMS normaliser of the final norm is a positive scalar per feature, so it changes no ranking and
is left out).

Nothing here materialises ``[n_tokens, d_sae]`` for the whole corpus or loops over features in Python:
per batch, the SAE is encoded in row chunks and running top-N, histogram and density tensors are
updated with vectorised ``topk`` / ``index_add_``. A checkpoint file makes long runs resumable.

    dash = compute_dashboards(scope, texts)          # -> Dashboards
    dash.save("my_dashboards"); dash = Dashboards.load("my_dashboards")
    dash.feature(123)                                # -> FeatureDashboardData
    scope.dashboard(123); scope.search("Paris")      # the same through Scope

Regenerate the shipped dashboards of the default SAE with ``python -m scope_widgets.dashboards --default``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
import warnings
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from scope_widgets import hooks

FORMAT_VERSION = 1
DEFAULT_DASHBOARDS_DIR = Path(__file__).parent / "data" / "default_dashboards"
ARRAYS_FILE = "dashboards.safetensors"
META_FILE = "meta.json"
LABELS_FILE = "labels.json"

#: Histogram bins: 20 per decade from 1e-3 to 1e4; values outside land in the first / last bin.
HIST_EDGES = np.logspace(-3, 4, 141)
N_LOGITS = 10
_ENCODE_ELEMENTS = 1 << 25  # floats per encoded chunk ([rows * seq, d_sae]); 128 MB of float32
_LOGIT_ELEMENTS = 1 << 25  # floats per logit-effect chunk ([features, vocab])


# ====================================================================================================
# what one feature's dashboard holds


@dataclass
class FeatureDashboardData:
    """Everything known about one feature. The widgets read exactly these attributes.

    ``top_examples``: ``[{"tokens": [str], "values": [float], "max_pos": int}]`` strongest first, the
    activation of this feature on every shown token, ``max_pos`` the index of the max token in ``tokens``.
    ``histogram``: ``{"edges": [float], "counts": [int]}`` of the nonzero activations (``len(edges) ==
    len(counts) + 1``; log-spaced edges). ``density`` is the fraction of non-BOS corpus tokens where the
    feature is active; ``mean_activation`` is the mean *when active*. ``label_source`` is ``"auto"``
    for a label made by :func:`auto_label`, ``"user"`` for the user's own, ``None`` without a label.
    """

    feature: int
    label: str | None
    label_source: str | None
    density: float
    max_activation: float
    mean_activation: float
    histogram: dict
    top_examples: list
    logits_promoted: list
    logits_suppressed: list
    source: str = ""  # where the statistics come from, in words
    n_tokens: int = 0  # corpus tokens the statistics are over (0 when unknown)

    def to_dict(self) -> dict:
        """A JSON-able dict (tuples become lists; non-finite floats become None)."""
        out = asdict(self)
        out["logits_promoted"] = [[t, _finite(v)] for t, v in self.logits_promoted]
        out["logits_suppressed"] = [[t, _finite(v)] for t, v in self.logits_suppressed]
        for key in ("density", "max_activation", "mean_activation"):
            out[key] = _finite(out[key])
        return out


def _finite(v):
    v = float(v)
    return v if math.isfinite(v) else None


# ====================================================================================================
# the model's unembedding and final norm


def final_norm_gain(model) -> torch.Tensor | None:
    """The elementwise gain of the model's final norm: ``1 + weight`` for Gemma's RMSNorm, ``weight``
    for other norms; None when no final norm is found."""
    stack = hooks.decoder_layers(model)
    for _, module in model.named_modules():
        if getattr(module, "layers", None) is stack:
            for name in ("norm", "final_layernorm", "ln_f", "final_norm"):
                norm = getattr(module, name, None)
                weight = getattr(norm, "weight", None)
                if isinstance(weight, torch.Tensor):
                    w = weight.detach().float()
                    return 1.0 + w if "gemma" in type(norm).__name__.lower() else w
    return None


def unembedding(model) -> torch.Tensor:
    """``W_U [vocab, d_model]``: the output embedding's weight."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise ValueError(f"cannot find the unembedding of {type(model).__name__} (get_output_embeddings())")
    return weight.detach()


def _gain(model, width: int, device) -> torch.Tensor:
    gain = final_norm_gain(model)
    return torch.ones(width, device=device) if gain is None else gain.to(device)


def logit_directions(model, sae, features=None) -> torch.Tensor:
    """``W_dec[features] * g`` as float32 on the unembedding's device: ``[n, d_model]``."""
    w_u = unembedding(model)
    w = sae.W_dec if features is None else sae.W_dec[torch.as_tensor(features, dtype=torch.long, device=sae.W_dec.device)]
    w = w.detach().to(device=w_u.device, dtype=torch.float32)
    if w.shape[-1] != w_u.shape[1]:
        raise ValueError(
            f"the SAE writes vectors of width {w.shape[-1]} but the unembedding reads {w_u.shape[1]}: "
            "logit effects need an SAE on this model's residual stream"
        )
    return w * _gain(model, w.shape[-1], w.device)


def _vocab_moments(w_u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``[d]`` and second-moment matrix ``[d, d]`` of the unembedding's rows, in float32, chunked
    over the vocabulary so a bf16 unembedding is never copied whole into float32."""
    vocab, d = w_u.shape
    mu = torch.zeros(d, device=w_u.device)
    gram = torch.zeros(d, d, device=w_u.device)
    step = max(1, _LOGIT_ELEMENTS // d)
    for start in range(0, vocab, step):
        rows = w_u[start : start + step].float()
        mu += rows.sum(0)
        gram += rows.T @ rows
    return mu / vocab, gram / vocab


def logit_effects(model, sae, n: int = N_LOGITS, features=None, progress: bool = False) -> dict[str, torch.Tensor]:
    """Top promoted and suppressed tokens of each feature, batched over features.

    Returns ``{"top_ids", "top_values", "bottom_ids", "bottom_values"}`` (``[n_features, n]``, values
    strongest first: most positive / most negative) and ``"mean"``, ``"std"`` (``[n_features]``) of each
    feature's logit effect over the vocabulary (exact, from the unembedding's mean and second-moment
    matrix: no ``[n_features, vocab]`` matrix is kept), all on the CPU.
    """
    w_u = unembedding(model)
    vocab = w_u.shape[0]
    n = min(n, vocab)
    ids = None if features is None else torch.as_tensor(features, dtype=torch.long).reshape(-1)
    total = sae.d_sae if ids is None else int(ids.numel())
    step = max(1, _LOGIT_ELEMENTS // vocab)
    out = {k: [] for k in ("top_ids", "top_values", "bottom_ids", "bottom_values", "mean", "std")}
    starts = range(0, total, step)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="logit effects", unit="chunk")
    with torch.no_grad():
        mu, gram = _vocab_moments(w_u)
        for start in starts:
            chunk = list(range(start, min(total, start + step))) if ids is None else ids[start : start + step].tolist()
            dirs = logit_directions(model, sae, chunk)  # [f, d] float32
            eff = (dirs.to(w_u.dtype) @ w_u.T).float()  # [f, vocab]
            top = eff.topk(n, dim=1)
            bottom = eff.topk(n, dim=1, largest=False)
            mean = dirs @ mu
            second = ((dirs @ gram) * dirs).sum(-1)
            for key, value in (("top_ids", top.indices.int()), ("top_values", top.values),
                               ("bottom_ids", bottom.indices.int()), ("bottom_values", bottom.values),
                               ("mean", mean), ("std", (second - mean**2).clamp_min(1e-20).sqrt())):
                out[key].append(value.cpu())
    return {k: torch.cat(v) for k, v in out.items()}


# ====================================================================================================
# the streaming pass


def sae_fingerprint(sae) -> str:
    """A short hash of an SAE's identity (name, shapes, thresholds and encoder biases): dashboards made
    for one SAE are never shown for another, including a retrained version with the same name."""
    h = hashlib.sha256()
    h.update(f"{sae.name}|{sae.d_in}|{sae.d_sae}|{sae.hook_point_in}".encode())
    for t in (sae.threshold, sae.b_enc):
        h.update(t.detach().float().cpu().numpy().tobytes())
    h.update(sae.W_dec[:: max(1, sae.d_sae // 64)].detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


class _Running:
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
        self.n_tokens = 0
        self._inner = torch.as_tensor(HIST_EDGES[1:-1], dtype=torch.float32, device=device)
        self._offsets = torch.arange(-context, context + 1, device=device)

    def update(self, f: torch.Tensor, docs: torch.Tensor) -> None:
        """Fold in ``f [rows, seq, d_sae]`` (zero at padding and BOS) of the texts ``docs [rows]``."""
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
        }

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        for key, value in state.items():
            current = getattr(self, key)
            if tuple(value.shape) != tuple(current.shape):
                raise ValueError(f"checkpoint tensor {key!r} has shape {tuple(value.shape)}, expected {tuple(current.shape)}")
            setattr(self, key, value.to(device=current.device, dtype=current.dtype))


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
        return self.dir / f"{_texts_hash([text]).hexdigest()[:32]}.safetensors"

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


def _batches(scope, texts: Sequence[str], start: int, batch_size: int, max_tokens: int, hook_point: str, cache: ActivationCache | None):
    """Yield ``(encoded ids, valid mask [B, T] bool, x [B, T, d] at the hook point)`` per batch from ``start``."""
    tokenizer = scope.tokenizer
    bos = getattr(tokenizer, "bos_token_id", None)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = scope.device
    for done in range(start, len(texts), batch_size):
        chunk = texts[done : done + batch_size]
        encoded = [_tokenize(tokenizer, t, max_tokens) for t in chunk]
        width = max(len(ids) for ids in encoded)
        input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.bool)
        for r, ids in enumerate(encoded):
            input_ids[r, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[r, : len(ids)] = True
        x = None
        if cache is not None:
            rows = [cache.get(t, len(ids)) for t, ids in zip(chunk, encoded)]
            if all(r is not None for r in rows):
                x = torch.zeros(len(chunk), width, rows[0].shape[-1], device=device)
                for r, row in enumerate(rows):
                    x[r, : row.shape[0]] = row.to(device=device, dtype=torch.float32)
        if x is None:
            x = hooks.capture_activations(scope.model, [hook_point], input_ids.to(device), mask.long().to(device))[hook_point]
            if cache is not None:
                for r, (t, ids) in enumerate(zip(chunk, encoded)):
                    cache.put(t, x[r, : len(ids)])
        valid = mask.clone()
        for r, ids in enumerate(encoded):
            if bos is not None and ids and ids[0] == bos:
                valid[r, 0] = False
        yield encoded, valid, x


def precompute_activations(scope, texts: Sequence[str], hook_point: str, cache_root: str | os.PathLike, *,
                           batch_size: int = 8, max_tokens: int = 512, progress: bool = True) -> Path:
    """Fill an :class:`ActivationCache` (no SAE needed); returns its folder."""
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    max_tokens = min(int(max_tokens), scope.max_tokens)
    cache = ActivationCache(cache_root, scope.model, hook_point, max_tokens)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), desc=f"activations {hook_point}", unit="text")
    with torch.no_grad():
        for encoded, _, _ in _batches(scope, texts, 0, batch_size, max_tokens, hook_point, cache):
            if bar is not None:
                bar.update(len(encoded))
    if bar is not None:
        bar.close()
    return cache.dir


def _tokenize(tokenizer, text: str, max_tokens: int) -> list[int]:
    ids = tokenizer(text, add_special_tokens=True)["input_ids"]
    return list(ids[:max_tokens])


def _texts_hash(texts: Sequence[str], h=None):
    h = h or hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h


def compute_dashboards(
    scope,
    texts: Sequence[str],
    sae=None,
    *,
    n_examples: int = 20,
    context: int = 12,
    batch_size: int = 8,
    max_tokens: int = 512,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 25,
    progress: bool = True,
    logits: bool = True,
    source: str | None = None,
    activation_cache: str | os.PathLike | None = None,
) -> "Dashboards":
    """Dashboards of every feature of ``sae`` (default: the scope's primary SAE) over ``texts``.

    One batched forward pass per ``batch_size`` texts, stopped at the SAE's layer, on the model's
    device (a GPU when the scope is on one). Each text is cut to ``max_tokens`` tokens (BOS included).
    BOS and padding never count. ``n_examples`` texts are kept per feature, each with ``context``
    tokens either side of its max token. With ``checkpoint`` (a file path), the state is saved every
    ``checkpoint_every`` batches and a later call with the same arguments resumes where it stopped,
    skipping the texts already processed; the file is removed when the pass completes. With
    ``activation_cache`` (a folder), the model's activations at the SAE's hook point are kept on disk
    (:class:`ActivationCache`), so dashboards of another SAE at the same hook point skip the model.
    """
    sae = scope._resolve_saes(sae)[0]
    if isinstance(n_examples, bool) or not isinstance(n_examples, int) or not 1 <= n_examples <= 255:
        raise ValueError(f"n_examples must be an integer from 1 to 255, got {n_examples!r}")
    if isinstance(context, bool) or not isinstance(context, int) or not 0 <= context <= 127:
        raise ValueError(f"context must be an integer from 0 to 127, got {context!r}")
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise ValueError("compute_dashboards needs at least one non-empty text")
    batch_size = max(1, int(batch_size))
    tokenizer = scope.tokenizer
    bos = getattr(tokenizer, "bos_token_id", None)
    max_tokens = min(int(max_tokens), scope.max_tokens)
    run = _Running(sae.d_sae, n_examples, context, sae.device)
    fingerprint = sae_fingerprint(sae)
    doc_tokens: list[np.ndarray] = []
    done = 0
    hasher = hashlib.sha256()
    config = {"fingerprint": fingerprint, "n_examples": n_examples, "context": context,
              "batch_size": batch_size, "max_tokens": max_tokens, "n_texts": len(texts)}
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        done, doc_tokens, hasher = _load_checkpoint(ckpt, run, config, texts)

    cache = ActivationCache(activation_cache, scope.model, sae.hook_point_in, max_tokens) if activation_cache else None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), initial=done, desc=f"dashboards {sae.name}", unit="text")
    started = time.perf_counter()
    with torch.no_grad():
        for b, (encoded, valid, x) in enumerate(_batches(scope, texts, done, batch_size, max_tokens, sae.hook_point_in, cache)):
            valid = valid.to(sae.device)
            width = valid.shape[1]
            run.n_tokens += int(valid.sum())
            docs = torch.arange(done, done + len(encoded), device=sae.device)
            step = max(1, _ENCODE_ELEMENTS // (width * sae.d_sae))
            for r0 in range(0, len(encoded), step):
                xs = x[r0 : r0 + step].to(device=sae.device)
                f = sae.encode(xs).float() * valid[r0 : r0 + step, :, None]  # [rows, seq, d_sae]
                run.update(f, docs[r0 : r0 + step])
                del f
            doc_tokens.extend(np.asarray(ids, dtype=np.int64) for ids in encoded)
            _texts_hash(texts[done : done + len(encoded)], hasher)
            done += len(encoded)
            if bar is not None:
                bar.update(len(encoded))
            if ckpt is not None and ((b + 1) % max(1, checkpoint_every) == 0) and done < len(texts):
                _save_checkpoint(ckpt, run, config, done, doc_tokens, hasher)
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - started

    effects = logit_effects(scope.model, sae, progress=progress) if logits else None
    lengths = np.array([len(t) for t in doc_tokens], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    tokens = np.concatenate(doc_tokens) if doc_tokens else np.zeros(0, dtype=np.int64)
    dash = Dashboards._from_running(
        run, tokens=tokens, doc_offsets=offsets, bos_id=bos, effects=effects,
        meta={
            "sae_name": sae.name, "sae_fingerprint": fingerprint, "d_sae": sae.d_sae,
            "model_name": _model_name(scope.model),
            "hook_point": sae.hook_point_in, "n_texts": len(texts), "max_tokens": max_tokens,
            "vocab_size": int(unembedding(scope.model).shape[0]),
            "source": source or f"{len(texts)} texts", "seconds": round(elapsed, 1),
            "texts_sha256": hasher.hexdigest(),
        },
    )
    dash.tokenizer = tokenizer
    dash.compute_auto_labels()
    if ckpt is not None and ckpt.exists():
        ckpt.unlink()
    return dash


def _model_name(model) -> str:
    """The model's hub id, or the name of its local folder (never a full local path)."""
    name = str(getattr(getattr(model, "config", None), "_name_or_path", "") or "")
    return Path(name).name if name and Path(name).is_dir() else name


def _save_checkpoint(path: Path, run: _Running, config: dict, done: int, doc_tokens, hasher) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in run.state().items()}
    lengths = np.array([len(t) for t in doc_tokens], dtype=np.int64)
    tensors["doc_lengths"] = torch.from_numpy(lengths)
    tensors["doc_tokens"] = torch.from_numpy(np.concatenate(doc_tokens) if doc_tokens else np.zeros(0, dtype=np.int64))
    meta = {"config": json.dumps(config, sort_keys=True), "done": str(done), "n_tokens": str(run.n_tokens),
            "texts_sha256": _texts_hash([]).hexdigest() if done == 0 else hasher.copy().hexdigest()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, run: _Running, config: dict, texts: Sequence[str]):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    saved = json.loads(meta.get("config", "{}"))
    if saved != config:
        diff = {k: (saved.get(k), v) for k, v in config.items() if saved.get(k) != v}
        raise ValueError(
            f"the checkpoint {path} was made with other settings or another SAE ({diff}); "
            "delete it or pass another checkpoint path"
        )
    done = int(meta["done"])
    hasher = _texts_hash(texts[:done])
    if hasher.hexdigest() != meta.get("texts_sha256"):
        raise ValueError(f"the checkpoint {path} was made for other texts: delete it or pass the same texts")
    lengths = tensors.pop("doc_lengths").numpy()
    flat = tensors.pop("doc_tokens").numpy()
    doc_tokens = list(np.split(flat, np.cumsum(lengths)[:-1])) if len(lengths) else []
    run.load_state(tensors)
    run.n_tokens = int(meta["n_tokens"])
    return done, doc_tokens, hasher


# ====================================================================================================
# Dashboards: the result, compact on disk


class Dashboards:
    """The dashboards of every feature of one SAE over one corpus.

    Arrays (numpy, CPU): ``max_activation``, ``mean_activation``, ``density``, ``active_count``
    (``[d_sae]``), per-feature top examples, a histogram per feature and the logit effects.
    ``feature(i)`` builds one :class:`FeatureDashboardData`; ``save(dir)`` / ``Dashboards.load(dir)``
    round-trip through a safetensors file and a small JSON.
    """

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict, auto_labels: list | None = None, tokenizer=None) -> None:
        self.arrays = arrays
        self.meta = meta
        self.auto_labels = auto_labels
        self.tokenizer = tokenizer

    # ------------------------------------------------------------------ construction
    @classmethod
    def _from_running(cls, run: _Running, *, tokens, doc_offsets, bos_id, effects, meta) -> "Dashboards":
        d, n, c = run.d_sae, run.n, run.context
        value = run.ex_value.T.contiguous().cpu()  # [d, n]
        order = value.argsort(dim=1, descending=True, stable=True)  # topk already sorts; keep it certain
        value = value.gather(1, order)
        doc = run.ex_doc.T.cpu().gather(1, order)
        pos = run.ex_pos.T.cpu().gather(1, order)
        ctx = run.ex_ctx.permute(1, 0, 2).cpu().gather(1, order[..., None].expand(-1, -1, 2 * c + 1))  # [d, n, W]
        empty = value <= 0
        offsets_t = torch.as_tensor(doc_offsets, dtype=torch.int64)
        gidx = torch.where(empty, torch.full_like(doc, -1), offsets_t[doc.clamp(min=0)] + pos)
        feat, slot, off = ctx.nonzero(as_tuple=True)
        indptr = torch.zeros(d + 1, dtype=torch.int64)
        indptr[1:] = torch.bincount(feat, minlength=d).cumsum(0)
        count = run.count.cpu().numpy()
        hist = run.hist.view(d, -1).cpu().numpy()
        arrays = {
            "tokens": np.asarray(tokens, dtype=np.int64),
            "doc_offsets": np.asarray(doc_offsets, dtype=np.int64),
            "ex_gidx": gidx.numpy(),
            "ex_value": value.numpy().astype(np.float32),
            "ctx_indptr": indptr.numpy(),
            "ctx_slot": slot.numpy().astype(np.uint8),
            "ctx_offset": (off - c).numpy().astype(np.int8),
            "ctx_value": ctx[feat, slot, off].numpy().astype(np.float32),
            "active_count": count.astype(np.int64),
            "sum_activation": run.total.cpu().numpy(),
            "max_activation": run.max.cpu().numpy().astype(np.float32),
        }
        arrays.update(_sparse_hist(hist))
        if effects is not None:
            arrays.update({
                "logit_top_ids": effects["top_ids"].numpy().astype(np.int32),
                "logit_top_values": effects["top_values"].numpy().astype(np.float32),
                "logit_bottom_ids": effects["bottom_ids"].numpy().astype(np.int32),
                "logit_bottom_values": effects["bottom_values"].numpy().astype(np.float32),
                "logit_mean": effects["mean"].numpy().astype(np.float32),
                "logit_std": effects["std"].numpy().astype(np.float32),
            })
        meta = dict(meta, version=FORMAT_VERSION, n_examples=n, context=c, n_tokens=run.n_tokens,
                    bos_id=bos_id, hist_edges="logspace(-3, 4, 141)")
        return cls(arrays, meta)

    # ------------------------------------------------------------------ properties
    @property
    def d_sae(self) -> int:
        return int(self.meta["d_sae"])

    @property
    def n_tokens(self) -> int:
        return int(self.meta["n_tokens"])

    @property
    def sae_name(self) -> str:
        return str(self.meta.get("sae_name", ""))

    @property
    def max_activation(self) -> np.ndarray:
        return self.arrays["max_activation"].astype(np.float32)

    @property
    def active_count(self) -> np.ndarray:
        return self.arrays["active_count"]

    @property
    def density(self) -> np.ndarray:
        return self.arrays["active_count"] / max(1, self.n_tokens)

    @property
    def mean_activation(self) -> np.ndarray:
        count = self.arrays["active_count"]
        return np.where(count > 0, self.arrays["sum_activation"] / np.maximum(count, 1), 0.0).astype(np.float32)

    def histogram_counts(self, i: int) -> np.ndarray:
        """The full fixed-bin histogram of feature ``i`` (``len(HIST_EDGES) - 1`` counts)."""
        out = np.zeros(len(HIST_EDGES) - 1, dtype=np.int64)
        a, b = self.arrays["hist_indptr"][i], self.arrays["hist_indptr"][i + 1]
        lo = int(self.arrays["hist_lo"][i])
        out[lo : lo + (b - a)] = self.arrays["hist_counts"][a:b]
        return out

    def top_examples(self, i: int) -> list[dict]:
        """``[{"token_ids", "values", "max_pos", "value", "doc", "position"}]`` of feature ``i``, strongest first."""
        i = self._check(i)
        a = self.arrays
        c = int(self.meta["context"])
        offsets = a["doc_offsets"]
        p0, p1 = int(a["ctx_indptr"][i]), int(a["ctx_indptr"][i + 1])
        slots, offs, vals = a["ctx_slot"][p0:p1], a["ctx_offset"][p0:p1], a["ctx_value"][p0:p1]
        bos = self.meta.get("bos_id")
        out = []
        for s, g in enumerate(a["ex_gidx"][i]):
            g = int(g)
            if g < 0 or a["ex_value"][i, s] <= 0:
                continue
            doc = int(np.searchsorted(offsets, g, side="right") - 1)
            start, end = int(offsets[doc]), int(offsets[doc + 1])
            if bos is not None and end > start and int(a["tokens"][start]) == bos:
                start += 1  # BOS is never shown
            lo, hi = max(start, g - c), min(end, g + c + 1)
            window = np.zeros(2 * c + 1, dtype=np.float32)
            sel = slots == s
            window[offs[sel].astype(np.int64) + c] = vals[sel]
            out.append({
                "token_ids": a["tokens"][lo:hi].tolist(),
                "values": window[lo - g + c : hi - g + c].astype(float).tolist(),
                "max_pos": g - lo,
                "value": float(a["ex_value"][i, s]),
                "doc": doc,
                "position": g - int(offsets[doc]),
            })
        return out

    def _check(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ValueError(f"feature ids are integers; got {i!r}")
        i = int(i)
        if not 0 <= i < self.d_sae:
            raise ValueError(f"unknown feature {i}: this SAE has features 0 to {self.d_sae - 1}")
        return i

    def feature(self, i: int, tokenizer=None) -> FeatureDashboardData:
        """The dashboard of feature ``i`` (its automatic label, when there is one)."""
        i = self._check(i)
        tok = tokenizer or self.tokenizer
        if tok is None:
            raise ValueError("Dashboards.feature needs a tokenizer to show tokens: pass tokenizer=scope.tokenizer")
        examples = []
        for ex in self.top_examples(i):
            examples.append({"tokens": token_strings(tok, ex["token_ids"]), "values": ex["values"], "max_pos": ex["max_pos"]})
        label = self.auto_labels[i] if self.auto_labels is not None and i < len(self.auto_labels) else None
        return FeatureDashboardData(
            feature=i,
            label=label,
            label_source="auto" if label else None,
            density=float(self.density[i]),
            max_activation=float(self.max_activation[i]),
            mean_activation=float(self.mean_activation[i]),
            histogram=_histogram_dict(self.histogram_counts(i)),
            top_examples=examples,
            logits_promoted=self._logits(i, "top", tok),
            logits_suppressed=self._logits(i, "bottom", tok),
            source=str(self.meta.get("source", "")),
            n_tokens=self.n_tokens,
        )

    def _logits(self, i: int, which: str, tok) -> list[tuple[str, float]]:
        ids = self.arrays.get(f"logit_{which}_ids")
        if ids is None:
            return []
        values = self.arrays[f"logit_{which}_values"][i]
        return list(zip(token_strings(tok, ids[i].tolist()), [float(v) for v in values]))

    def max_token_index(self, tokenizer=None) -> dict[str, np.ndarray]:
        """For search: normalised token text -> ``[d_sae]`` counts of top examples peaking on it (cached)."""
        if getattr(self, "_max_index", None) is None:
            strings = _TokenStrings(tokenizer or self.tokenizer)
            gidx = self.arrays["ex_gidx"]
            ok = (gidx >= 0) & (self.arrays["ex_value"] > 0)
            feats, _ = np.nonzero(ok)
            ids = self.arrays["tokens"][gidx[ok]]
            index: dict[str, np.ndarray] = {}
            for f, t in zip(feats.tolist(), ids.tolist()):
                w = _show(strings(t))
                if w:
                    row = index.setdefault(w.lower(), np.zeros(self.d_sae, dtype=np.int32))
                    row[f] += 1
            self._max_index = index
        return self._max_index

    # ------------------------------------------------------------------ labels
    def compute_auto_labels(self, tokenizer=None) -> list[str | None]:
        """Automatic labels of every feature (see :func:`auto_label`), kept in ``self.auto_labels``."""
        tok = tokenizer or self.tokenizer
        labels: list[str | None] = []
        strings = _TokenStrings(tok)
        a = self.arrays
        strong = None
        if "logit_top_ids" in a and "logit_mean" in a:
            strong = _strong_logits(a["logit_top_values"][:, :5], a["logit_mean"], a["logit_std"], self.meta.get("vocab_size"))
        for i in range(self.d_sae):
            examples = self.top_examples(i) if a["ex_value"][i, 0] > 0 else []
            promoted = [strings(t) for t, ok in zip(a["logit_top_ids"][i, :5].tolist(), strong[i]) if ok] if strong is not None else []
            labels.append(auto_label(
                [(strings(ex["token_ids"][ex["max_pos"]]),
                  strings(ex["token_ids"][ex["max_pos"] - 1]) if ex["max_pos"] > 0 else None, ex["value"])
                 for ex in examples],
                promoted,
            ))
        self.auto_labels = labels
        return labels

    # ------------------------------------------------------------------ files
    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``dashboards.safetensors`` (arrays: token ids, not strings; float16 values where they
        fit), ``meta.json`` and ``labels.json`` (the automatic labels) into ``directory``, atomically."""
        from safetensors.numpy import save_file

        out = Path(directory).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        arrays = _compact(_quantise_context(self.arrays, self.d_sae, int(self.meta["n_examples"])))
        meta = dict(self.meta)
        tmp = out / f".{ARRAYS_FILE}.tmp"
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp), metadata={"format": "scope_widgets.dashboards"})
        os.replace(tmp, out / ARRAYS_FILE)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(out / ARRAYS_FILE, 0o666 & ~umask)  # safetensors writes 0600; package data must be readable
        _write_json(out / META_FILE, meta)
        if self.auto_labels is not None:
            _write_json(out / LABELS_FILE, {"source": "auto", "note": "made automatically from top tokens and logit effects",
                                            "labels": {str(i): s for i, s in enumerate(self.auto_labels) if s}})
        return out

    @classmethod
    def load(cls, directory: str | os.PathLike, tokenizer=None) -> "Dashboards":
        """Read what :meth:`save` wrote (arrays widened back to int64 / float32)."""
        from safetensors.numpy import load_file

        src = Path(directory).expanduser()
        if not (src / ARRAYS_FILE).is_file() or not (src / META_FILE).is_file():
            raise FileNotFoundError(f"{src} holds no dashboards (expected {ARRAYS_FILE} and {META_FILE})")
        meta = json.loads((src / META_FILE).read_text(encoding="utf-8"))
        if int(meta.get("version", 0)) > FORMAT_VERSION:
            raise ValueError(f"{src} was written by a newer scope_widgets (format {meta['version']}); upgrade to read it")
        arrays = _dequantise_context({k: _widen(v) for k, v in load_file(str(src / ARRAYS_FILE)).items()})
        labels = None
        if (src / LABELS_FILE).is_file():
            raw = json.loads((src / LABELS_FILE).read_text(encoding="utf-8")).get("labels", {})
            labels = [None] * int(meta["d_sae"])
            for k, v in raw.items():
                if 0 <= int(k) < len(labels):
                    labels[int(k)] = v
        return cls(arrays, meta, labels, tokenizer)

    def __repr__(self) -> str:
        alive = int((self.arrays["active_count"] > 0).sum())
        return (f"Dashboards({self.sae_name!r}: {self.d_sae} features, {alive} active, over {self.n_tokens} tokens, "
                f"{self.meta.get('n_examples')} examples per feature)")


def _quantise_context(arrays: dict[str, np.ndarray], d_sae: int, n_examples: int) -> dict[str, np.ndarray]:
    """Context activations as uint8 steps of each example's own scale (its largest value in the window):
    1 byte per entry instead of 4, at 1/255 of the example's max, plenty for colouring tokens."""
    if "ctx_value" not in arrays:
        return arrays
    out = dict(arrays)
    values = arrays["ctx_value"].astype(np.float32)  # activations are >= 0
    feat = np.repeat(np.arange(d_sae), np.diff(arrays["ctx_indptr"]))
    flat = feat * n_examples + arrays["ctx_slot"].astype(np.int64)
    scale = np.zeros(d_sae * n_examples, dtype=np.float32)
    np.maximum.at(scale, flat, np.abs(values))
    scale16 = scale.astype(np.float16)
    if not np.isfinite(scale16).all():  # beyond float16: keep float32 scales
        scale16 = scale
    denom = np.maximum(scale16.astype(np.float32)[flat], 1e-30)
    out["ctx_q"] = np.clip(np.rint(np.abs(values) / denom * 255), 0, 255).astype(np.uint8)
    out["ctx_scale"] = scale16.reshape(d_sae, n_examples)
    del out["ctx_value"]
    return out


def _dequantise_context(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if "ctx_q" not in arrays:
        return arrays
    out = dict(arrays)
    scale = arrays["ctx_scale"].astype(np.float32)
    d_sae, n_examples = scale.shape
    feat = np.repeat(np.arange(d_sae), np.diff(arrays["ctx_indptr"]))
    flat = feat * n_examples + arrays["ctx_slot"].astype(np.int64)
    out["ctx_value"] = (arrays["ctx_q"].astype(np.float32) / 255.0) * scale.reshape(-1)[flat]
    del out["ctx_q"], out["ctx_scale"]
    return out


def _sparse_hist(hist: np.ndarray) -> dict[str, np.ndarray]:
    """Keep each feature's histogram from its first to its last nonzero bin."""
    nz = hist > 0
    any_ = nz.any(1)
    lo = np.where(any_, nz.argmax(1), 0)
    hi = np.where(any_, hist.shape[1] - nz[:, ::-1].argmax(1), 0)
    spans = hi - lo
    indptr = np.concatenate([[0], np.cumsum(spans)])
    cols = np.arange(hist.shape[1])
    keep = (cols[None, :] >= lo[:, None]) & (cols[None, :] < hi[:, None])
    return {"hist_lo": lo.astype(np.int64), "hist_indptr": indptr.astype(np.int64), "hist_counts": hist[keep].astype(np.int64)}


def _histogram_dict(counts: np.ndarray) -> dict:
    nz = np.nonzero(counts)[0]
    if not len(nz):
        return {"edges": [], "counts": []}
    lo, hi = int(nz[0]), int(nz[-1]) + 1
    return {"edges": [float(e) for e in HIST_EDGES[lo : hi + 1]], "counts": [int(c) for c in counts[lo:hi]]}


def _compact(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Smaller dtypes for saving: int32 ids and indices when they fit, float16 values when they fit."""
    out = {}
    for k, v in arrays.items():
        if v.dtype == np.int64 and (v.size == 0 or (v.min() >= np.iinfo(np.int32).min and v.max() <= np.iinfo(np.int32).max)):
            v = v.astype(np.int32)
        elif k in ("ex_value", "ctx_value", "logit_top_values", "logit_bottom_values") and v.dtype == np.float32:
            if v.size == 0 or np.abs(v).max() < 6e4:
                v = v.astype(np.float16)
        elif k == "sum_activation":
            v = v.astype(np.float32)
        out[k] = v
    return out


def _widen(v: np.ndarray) -> np.ndarray:
    if v.dtype in (np.int32, np.int16):
        return v.astype(np.int64)
    if v.dtype == np.float16:
        return v.astype(np.float32)
    return v


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# ====================================================================================================
# token strings and automatic labels


def token_strings(tokenizer, ids) -> list[str]:
    """Each token's own text (spaces and newlines kept)."""
    return tokenizer.batch_decode([[int(i)] for i in ids])


class _TokenStrings:
    """A memoised id -> string decoder (labels for 16k features decode the same tokens often)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer, self.cache = tokenizer, {}

    def __call__(self, i: int) -> str:
        i = int(i)
        if i not in self.cache:
            self.cache[i] = self.tokenizer.decode([i])
        return self.cache[i]


_SPECIAL = re.compile(r"^<[^<>]*>$|^\[[A-Z_]+\]$")


def _show(token: str) -> str | None:
    """A token as a label word: stripped; whitespace-only tokens named; special tokens dropped."""
    if token is None:
        return None
    if _SPECIAL.match(token.strip()):
        return None
    t = token.strip()
    if not t:
        if "\n" in token:
            return "\\n"
        if "\t" in token:
            return "\\t"
        return "␣" if token else None
    if any(ord(ch) < 32 for ch in t) or "\ufffd" in t:  # control characters, partial UTF-8 bytes
        return None
    return t[:20]


#: A promoted token enters an automatic label only when the feature's logit effect on it stands out:
#: z / sqrt(2 ln vocab) >= this (about 1 for a random direction; early-layer features rarely pass).
LABEL_LOGIT_Z = 1.25


def _strong_logits(values: np.ndarray, mean: np.ndarray, std: np.ndarray, vocab: int | None) -> np.ndarray:
    """Which of each feature's top promoted logits stand out enough to name it: ``[d_sae, n]`` bool."""
    scale = math.sqrt(2 * math.log(max(3, int(vocab or 262144))))
    z = (np.asarray(values, dtype=np.float32) - np.asarray(mean)[:, None]) / np.maximum(np.asarray(std)[:, None], 1e-12)
    return z / scale >= LABEL_LOGIT_Z


def auto_label(examples: Sequence[tuple[str, str | None, float]], promoted: Sequence[str] = (), max_parts: int = 3) -> str | None:
    """A short automatic label from a feature's top examples and promoted tokens.

    ``examples`` are ``(max_token, previous_token, activation)``; ``promoted`` the tokens its decoder
    direction promotes most. The label lists the tokens it fires on most often (weighted by activation,
    case folded), ``"after X"`` when what repeats is the token before, and ``"→ Y"`` for what it
    promotes: ``"Paris / France / French"``, ``"after ( → )"``. None for a feature with no examples.
    """
    if not examples:
        return None
    n = len(examples)
    need = 2 if n >= 4 else 1
    words: Counter = Counter()
    count: Counter = Counter()
    shown: dict[str, str] = {}
    prev: Counter = Counter()
    for tok, before, value in examples:
        w = _show(tok)
        if w:
            key = w.lower()
            words[key] += float(value)
            count[key] += 1
            shown.setdefault(key, w)
        p = _show(before) if before is not None else None
        if p:
            prev[p.lower()] += 1
            shown.setdefault("prev:" + p.lower(), p)
    parts = [shown[k] for k, _ in words.most_common() if count[k] >= need][:max_parts]
    if len(parts) < 2 and prev:
        key, c = prev.most_common(1)[0]
        if c >= max(2, math.ceil(0.4 * n)):
            parts.append(f"after {shown['prev:' + key]}")
    if not parts and words:  # nothing repeats: the strongest example's token
        parts = [shown[words.most_common(1)[0][0]]]
    promo = []
    seen = {p.lower() for p in parts}
    for t in promoted:
        w = _show(t)
        if w and w.lower() not in seen and w not in ("\\n", "␣"):
            promo.append(w)
            seen.add(w.lower())
        if len(promo) == 2:
            break
    label = " / ".join(parts)
    if promo:
        label = f"{label} → {', '.join(promo)}" if label else f"→ {', '.join(promo)}"
    return label[:60] or None


# ====================================================================================================
# Gemma Scope 2 examples.safetensors


#: The layout of Gemma Scope 2's ``examples.safetensors`` (as read from the released files' headers by
#: third parties; not documented by the release itself). F = d_sae, K = 1000 examples, S sequences of 512.
GS2_EXAMPLE_KEYS = {
    "activations": "[F, K] float: the feature's activation at each of its top K examples",
    "seq_ids": "[F, K] int: which row of `tokens` each example is in (negative: no example)",
    "positions": "[F, K] int: the token position of each example in its row",
    "tokens": "[S, 512] int: the token corpus the examples point into",
    "top_tokens": "[F, 10] int: token ids the feature promotes most",
    "top_logits": "[F, 10] float: their logit effects",
    "bottom_tokens": "[F, 10] int: token ids the feature suppresses most",
    "bottom_logits": "[F, 10] float: their logit effects",
    "feature_frequencies": "[F] float: how often the feature fires",
}
_GS2_EXAMPLES = ("activations", "seq_ids", "positions", "tokens")
_GS2_LOGITS = ("top_tokens", "top_logits")


class GemmaScopeExamples:
    """A lazy reader of a Gemma Scope 2 ``examples.safetensors`` (memory-mapped: only the rows a
    feature needs are read). Unknown keys are ignored; missing ones give a clear error when needed."""

    def __init__(self, path: str | os.PathLike) -> None:
        from safetensors import safe_open

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no examples file at {self.path}")
        try:
            self._fh = safe_open(str(self.path), framework="pt")
        except Exception as err:
            raise ValueError(f"{self.path} is not a readable safetensors file ({err})") from err
        self.keys = set(self._fh.keys())
        if not (set(_GS2_EXAMPLES) <= self.keys or set(_GS2_LOGITS) <= self.keys):
            expected = "\n".join(f"  {k}: {v}" for k, v in GS2_EXAMPLE_KEYS.items())
            raise ValueError(
                f"{self.path} does not look like a Gemma Scope 2 examples.safetensors: it has the keys "
                f"{sorted(self.keys)}, but needs at least {list(_GS2_EXAMPLES)} (top examples) or "
                f"{list(_GS2_LOGITS)} (top logits). The layout read here:\n{expected}"
            )
        self.has_examples = set(_GS2_EXAMPLES) <= self.keys
        self._cache: dict[str, torch.Tensor] = {}
        self.d_sae = int(self._shape(_GS2_EXAMPLES[0] if self.has_examples else _GS2_LOGITS[0])[0])

    def _shape(self, key: str) -> list[int]:
        return list(self._fh.get_slice(key).get_shape())

    def _row(self, key: str, i: int) -> torch.Tensor | None:
        if key not in self.keys:
            return None
        return self._fh.get_slice(key)[i : i + 1][0]

    def _whole(self, key: str) -> torch.Tensor | None:
        if key not in self.keys:
            return None
        if key not in self._cache:
            self._cache[key] = self._fh.get_tensor(key)
        return self._cache[key]

    def examples(self, i: int, n: int) -> list[tuple[float, int, int]]:
        """The ``n`` strongest ``(activation, seq_id, position)`` of feature ``i``."""
        if not self.has_examples:
            return []
        acts = self._row("activations", i).float()
        seqs = self._row("seq_ids", i).long()
        poss = self._row("positions", i).long()
        n_seqs, seq_len = self._shape("tokens")[:2]
        ok = (acts > 0) & (seqs >= 0) & (seqs < n_seqs) & (poss >= 0) & (poss < seq_len)
        order = torch.argsort(torch.where(ok, acts, torch.full_like(acts, -1.0)), descending=True, stable=True)
        return [(float(acts[j]), int(seqs[j]), int(poss[j])) for j in order[:n].tolist() if bool(ok[j])]

    def all_activations(self, i: int) -> np.ndarray:
        if not self.has_examples:
            return np.zeros(0, dtype=np.float32)
        acts = self._row("activations", i).float()
        return acts[acts > 0].numpy()

    def sequence(self, seq_id: int) -> torch.Tensor:
        return self._fh.get_slice("tokens")[seq_id : seq_id + 1][0].long()

    def logits(self, i: int, which: str) -> tuple[list[int], list[float]] | None:
        ids, vals = self._row(f"{which}_tokens", i), self._row(f"{which}_logits", i)
        if ids is None or vals is None:
            return None
        return [int(t) for t in ids.tolist()], [float(v) for v in vals.float().tolist()]

    def density(self) -> np.ndarray | None:
        """Per-feature firing frequency, when the file has it and it reads as a fraction."""
        freq = self._whole("feature_frequencies")
        if freq is None:
            return None
        freq = freq.float().numpy()
        return freq if float(np.nanmax(freq, initial=0)) <= 1.0 else None

    def max_activation(self) -> np.ndarray | None:
        """Per-feature max of the stored activations, read in row blocks (the whole array of a 262k SAE
        is a gigabyte) and remembered."""
        if "activations" not in self.keys:
            return None
        if "_max" not in self._cache:
            sl = self._fh.get_slice("activations")
            rows, cols = sl.get_shape()[:2]
            step = max(1, _ENCODE_ELEMENTS // max(1, cols))
            self._cache["_max"] = torch.cat([sl[a : a + step].float().amax(1).clamp_min(0) for a in range(0, rows, step)])
        return self._cache["_max"].numpy()


class _ExampleLabels:
    """Automatic labels of a Gemma Scope 2 SAE, made on demand from its examples file (memoised)."""

    def __init__(self, reader: GemmaScopeExamples, scope, sae, n: int = 20) -> None:
        self.reader, self.strings, self.n, self.memo = reader, _TokenStrings(scope.tokenizer), n, {}
        self.model, self.sae = scope.model, sae

    def get(self, feature: int) -> str | None:
        if feature not in self.memo:
            found = []
            for value, seq, pos in self.reader.examples(feature, self.n):
                row = self.reader.sequence(seq)
                found.append((self.strings(row[pos]), self.strings(row[pos - 1]) if pos > 0 else None, value))
            top = self.reader.logits(feature, "top")
            promoted = []
            if top:
                stats = _logit_stats(self.model, self.sae)
                strong = _strong_logits(np.asarray([top[1][:5]]), stats["mean"][feature : feature + 1].numpy(),
                                        stats["std"][feature : feature + 1].numpy(), unembedding(self.model).shape[0])[0]
                promoted = [self.strings(t) for t, ok in zip(top[0][:5], strong) if ok]
            self.memo[feature] = auto_label(found, promoted)
        return self.memo[feature]


def examples_dashboard(scope, sae, feature: int, reader: GemmaScopeExamples, n_examples: int = 20,
                       context: int = 12, recompute: bool = True) -> FeatureDashboardData:
    """One feature's dashboard from a Gemma Scope 2 ``examples.safetensors``.

    Top examples come from the file (the context tokens from its token corpus). The activation on the
    context tokens is not in the file: with ``recompute`` it is recomputed by running each example's
    sequence (up to its last shown token) through the model; otherwise only the max token carries a
    value. The histogram is over the file's stored top activations (not the whole corpus).
    """
    tok = scope.tokenizer
    found = reader.examples(feature, n_examples)
    windows = []
    for value, seq, pos in found:
        row = reader.sequence(seq)
        lo, hi = max(0, pos - context), min(len(row), pos + context + 1)
        bos = getattr(tok, "bos_token_id", None)
        pad = getattr(tok, "pad_token_id", None)
        while lo < pos and int(row[lo]) in (bos, pad):
            lo += 1
        windows.append((value, row, lo, hi, pos))
    values_by_example: list[list[float]] = []
    exact = False
    if recompute and windows:
        try:
            values_by_example = _recompute_windows(scope, sae, feature, windows)
            exact = True
        except Exception as err:  # a model that cannot read this corpus: show the max values only
            warnings.warn(f"could not recompute context activations ({type(err).__name__}: {err}); showing max tokens only", stacklevel=2)
    examples = []
    for j, (value, row, lo, hi, pos) in enumerate(windows):
        vals = values_by_example[j] if exact else [value if p == pos else 0.0 for p in range(lo, hi)]
        examples.append({"tokens": token_strings(tok, row[lo:hi].tolist()), "values": vals, "max_pos": pos - lo})
    acts = reader.all_activations(feature)
    counts, edges = np.histogram(acts, bins=30) if len(acts) else (np.zeros(0, dtype=np.int64), np.zeros(0))
    density = reader.density()
    promoted = reader.logits(feature, "top")
    suppressed = reader.logits(feature, "bottom")
    if promoted is None or suppressed is None:
        effects = logit_effects(scope.model, sae, features=[feature])
        promoted = (effects["top_ids"][0].tolist(), effects["top_values"][0].tolist())
        suppressed = (effects["bottom_ids"][0].tolist(), effects["bottom_values"][0].tolist())
    label, source = _label_for(sae, feature)
    if label is None:
        label = _ExampleLabels(reader, scope, sae).get(feature)
        source = "auto" if label else None
    return FeatureDashboardData(
        feature=feature, label=label, label_source=source,
        density=float(density[feature]) if density is not None else float("nan"),
        max_activation=float(acts.max()) if len(acts) else 0.0,
        mean_activation=float(acts.mean()) if len(acts) else 0.0,
        histogram={"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
        top_examples=examples,
        logits_promoted=list(zip(token_strings(tok, promoted[0]), promoted[1])),
        logits_suppressed=list(zip(token_strings(tok, suppressed[0]), suppressed[1])),
        source=f"examples.safetensors ({reader.path}); histogram and mean over its stored top activations"
        + ("" if exact else "; context activations not recomputed"),
    )


def _recompute_windows(scope, sae, feature: int, windows) -> list[list[float]]:
    """The feature's activation on each window's tokens, from a forward pass over the sequence prefix."""
    out = []
    pad = scope.tokenizer.pad_token_id if scope.tokenizer.pad_token_id is not None else 0
    for start in range(0, len(windows), 8):
        group = windows[start : start + 8]
        width = max(hi for _, _, _, hi, _ in group)
        ids = torch.full((len(group), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, (_, row, _, hi, _) in enumerate(group):
            ids[r, :hi] = row[:hi]
            mask[r, :hi] = 1
        x = hooks.capture_activations(scope.model, [sae.hook_point_in], ids.to(scope.device), mask.to(scope.device))[sae.hook_point_in]
        with torch.no_grad():
            f = sae.encode_feature(x.to(sae.device), feature).float().cpu()  # [rows, width]
        for r, (_, _, lo, hi, _) in enumerate(group):
            out.append([float(v) for v in f[r, lo:hi]])
    return out


# ====================================================================================================
# a small built-in corpus, for SAEs with neither shipped dashboards nor examples


SAMPLE_TEXTS: tuple[str, ...] = (
    "The Eiffel Tower is in Paris, the capital of France. Millions of tourists visit it every year, and many of them climb the stairs to the second floor.",
    "Berlin is the capital of Germany, Rome the capital of Italy and Madrid the capital of Spain. London sits on the River Thames.",
    "Tokyo, the capital of Japan, is one of the largest cities in the world. Its trains are famous for running on time.",
    "\"Where are you going?\" asked Anna.\n\"To the market,\" said Ben. \"We need eggs, milk and bread.\"\n\"Can I come too?\"",
    "Customer: Hi, my order arrived yesterday but the box was empty.\nAgent: I'm so sorry to hear that! Could you give me your order number?",
    "Q: What is the largest planet in the solar system?\nA: Jupiter. It is more than twice as massive as all the other planets combined.",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "import numpy as np\n\nx = np.linspace(0, 1, 100)\ny = np.sin(2 * np.pi * x)\nprint(y.max(), y.min())\n",
    "for (let i = 0; i < items.length; i++) {\n  if (items[i].price > 100) {\n    console.log(items[i].name);\n  }\n}",
    "SELECT name, COUNT(*) AS orders FROM customers JOIN orders ON customers.id = orders.customer_id GROUP BY name ORDER BY orders DESC;",
    "<html>\n<head><title>My page</title></head>\n<body>\n<p>Hello, <b>world</b>!</p>\n</body>\n</html>",
    "The recipe is simple: mix 200 g of flour, 2 eggs and 300 ml of milk, then fry thin pancakes in a hot pan with a little butter.",
    "In 1969, Neil Armstrong and Buzz Aldrin walked on the Moon while Michael Collins orbited above in the command module.",
    "The French Revolution began in 1789 and ended in 1799. It abolished the monarchy and proclaimed the rights of man.",
    "Photosynthesis turns light, water and carbon dioxide into glucose and oxygen. It happens in the chloroplasts of plant cells.",
    "The mitochondria is often called the powerhouse of the cell, because it produces most of the cell's energy as ATP.",
    "2 + 2 = 4, 3 × 7 = 21, and the square root of 144 is 12. The sum of the angles of a triangle is 180 degrees.",
    "Sales rose from 1,204 units in January to 1,350 in February and 1,512 in March, an increase of 25.6% over the quarter.",
    "The meeting is on Thursday, 14 March 2024, at 3:30 pm in room 2.17. Please bring the quarterly report.",
    "Call us at +1 (555) 123-4567 or write to support@example.com. Our office is open Monday to Friday, 9 am to 5 pm.",
    "Once upon a time, in a village at the edge of a great forest, there lived a girl who could talk to birds.",
    "The dragon had not left its cave in three hundred years, until one morning a knight knocked on the stone door.",
    "It was raining when the detective finally found the letter. It said only: \"Meet me at the old lighthouse at midnight.\"",
    "Roses are red,\nViolets are blue,\nSugar is sweet,\nAnd so are you.",
    "I am writing to complain about the delay of my flight from Amsterdam to New York last Tuesday, which was six hours late.",
    "Dear Emma,\n\nThank you so much for the lovely birthday present. The scarf is beautiful and I wear it every day.\n\nLove,\nSophie",
    "The hotel was clean and the staff were friendly, but the breakfast was disappointing and the Wi-Fi kept dropping out. Three stars.",
    "Top tips for a good night's sleep:\n1. Go to bed at the same time every day.\n2. Avoid coffee after 2 pm.\n3. Keep your bedroom dark and cool.",
    "The football match ended 2-1 after a late goal in the 89th minute. The home fans celebrated long after the final whistle.",
    "The stock market fell sharply on Monday as investors worried about rising interest rates and weak earnings from technology companies.",
    "Il était une fois une petite fille qui vivait avec sa grand-mère dans une maison au bord de la mer.",
    "Es war einmal ein König, der drei Töchter hatte. Die jüngste war die schönste von allen.",
    "Había una vez un niño que vivía en un pequeño pueblo entre las montañas y soñaba con ver el mar.",
    "Die Hauptstadt von Deutschland ist Berlin. Paris ist die Hauptstadt von Frankreich.",
    "東京は日本の首都です。毎年たくさんの観光客が訪れます。",
    "从前有一座山，山上有一座庙，庙里有一个老和尚在给小和尚讲故事。",
    "Жил-был старик со своею старухою у самого синего моря.",
    "The patient reported headaches for three weeks. The doctor prescribed rest, plenty of water and ibuprofen twice a day.",
    "Climate change is raising sea levels, melting glaciers and making heat waves, droughts and floods more frequent.",
    "Error: cannot find module 'express'. Run `npm install express` and try again.",
    "$ git commit -m \"Fix off-by-one error in the parser\"\n[main 3f2a1c9] Fix off-by-one error in the parser\n 1 file changed, 2 insertions(+), 1 deletion(-)",
    "Theorem. There are infinitely many prime numbers.\nProof. Suppose there were finitely many, p1, ..., pn. Then p1 * ... * pn + 1 has a prime factor not in the list.",
    "The cat sat on the mat. The dog lay by the fire. Outside, the snow kept falling on the quiet street.",
    "I think the most important invention of the last century is the internet, because it changed how we learn, work and talk to each other.",
    "Honeybees communicate by dancing: the waggle dance tells other bees the direction and distance of flowers.",
    "Mount Everest, at 8,849 metres, is the highest mountain on Earth. It lies on the border between Nepal and China.",
    "The Amazon rainforest covers much of Brazil, Peru and Colombia and is home to millions of species of insects, plants and birds.",
    "Shopping list:\n- apples\n- bread\n- cheese\n- coffee\n- tomatoes",
    "{\n  \"name\": \"example\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\"react\": \"^18.2.0\"}\n}",
    "Knock knock.\nWho's there?\nLettuce.\nLettuce who?\nLettuce in, it's cold out here!",
    "The museum will reopen next month after a two-year renovation, with a new wing for modern art and a rooftop café.",
    "According to the report, unemployment fell to 3.9 percent in April, the lowest level since the year 2000.",
    "He opened the door slowly. The room was dark, and somewhere in the corner a clock was ticking.",
    "Water boils at 100 degrees Celsius at sea level, but at the top of a high mountain it boils at a lower temperature.",
    "The children ran down to the river, laughing, because the first warm day of spring had finally arrived.",
    "Please do not hesitate to contact me if you have any questions. Kind regards, John Smith",
    "The violin, the viola, the cello and the double bass make up the string section of an orchestra.",
    "Abstract. We propose a new method for training sparse autoencoders that improves reconstruction while keeping features interpretable.",
    "The Great Wall of China is more than 20,000 kilometres long and was built over many centuries by different dynasties.",
    "My favourite hobby is gardening: I grow tomatoes, beans, lettuce and a few sunflowers every summer.",
)


def builtin_texts() -> list[str]:
    """The small built-in corpus: the sentences above plus the corpus module's prompt set."""
    texts = list(SAMPLE_TEXTS)
    try:
        from scope_widgets.corpus import PROMPTS

        texts.extend(p for p in PROMPTS if len(p) >= 20)
    except Exception:  # the corpus module is optional here
        pass
    return texts


# ====================================================================================================
# feature_dashboard and search: what Scope calls


_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # sae -> Dashboards | GemmaScopeExamples
_locks: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_global_lock = threading.Lock()
_shipped: dict[str, Dashboards] = {}


def shipped_dashboards(directory: str | os.PathLike = DEFAULT_DASHBOARDS_DIR) -> Dashboards | None:
    """The precomputed dashboards shipped for the default SAE (read once), or None when absent."""
    key = str(directory)
    if key not in _shipped:
        try:
            _shipped[key] = Dashboards.load(directory)
        except FileNotFoundError:
            return None
    return _shipped[key]


def dashboards_for(scope, sae=None, *, progress: bool = True) -> Dashboards | GemmaScopeExamples:
    """The dashboard source of an SAE, once per SAE (cached in memory): the shipped data for the
    default SAE; a Gemma Scope 2 ``examples.safetensors`` when the SAE has one; otherwise dashboards
    computed on :func:`builtin_texts` (a few thousand tokens: quick, but small)."""
    sae = scope._resolve_saes(sae)[0]
    with _global_lock:
        lock = _locks.setdefault(sae, threading.Lock())
    with lock:
        cached = _cache.get(sae)
        if cached is not None:
            return cached
        source = None
        shipped = shipped_dashboards()
        if shipped is not None and shipped.meta.get("sae_fingerprint") == sae_fingerprint(sae):
            source = shipped
        elif getattr(sae, "examples_path", None):
            source = GemmaScopeExamples(sae.examples_path)
            if not source.has_examples:
                source = None
        if source is None:
            if shipped is not None and shipped.sae_name == sae.name:
                warnings.warn(
                    f"the shipped dashboards were made for another version of {sae.name!r}; computing dashboards "
                    "on the small built-in corpus instead (regenerate with: python -m scope_widgets.dashboards --default)",
                    stacklevel=3,
                )
            source = compute_dashboards(scope, builtin_texts(), sae, progress=progress, source="the built-in sample corpus")
        from scope_widgets.labels import labels_for

        if isinstance(source, Dashboards):
            source.tokenizer = scope.tokenizer
            labels_for(sae).set_auto_labels(source.auto_labels)
        else:
            labels_for(sae).set_auto_labels(_ExampleLabels(source, scope, sae))
        _cache[sae] = source
        return source


def _label_for(sae, feature: int):
    from scope_widgets.labels import labels_for

    return labels_for(sae).get_with_source(feature)


def feature_dashboard(scope, sae, feature: int) -> FeatureDashboardData:
    """What ``scope.dashboard(feature)`` returns: see :func:`dashboards_for` for where the data comes
    from. The user's own label, when set, replaces the automatic one."""
    sae = scope._resolve_saes(sae)[0]
    if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)) or not 0 <= int(feature) < sae.d_sae:
        raise ValueError(f"unknown feature {feature!r}: this SAE has features 0 to {sae.d_sae - 1}")
    feature = int(feature)
    source = dashboards_for(scope, sae)
    if isinstance(source, GemmaScopeExamples):
        return examples_dashboard(scope, sae, feature, source)
    data = source.feature(feature, scope.tokenizer)
    label, where = _label_for(sae, feature)
    data.label, data.label_source = label, where
    return data


@dataclass
class SearchHit:
    """One feature found by :func:`search_features`. ``why`` is ``"activation"``, ``"logits"`` or ``"both"``."""

    feature: int
    score: float
    label: str | None
    why: str
    activation_score: float = 0.0
    logit_score: float = 0.0
    extra: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("extra")
        return out


#: Neutral sentences the query is read in (its own tokens only count).
SEARCH_CONTEXTS = (
    "I read about {q} yesterday.",
    "Here is a short note on {q}, written down.",
    "They kept talking about {q} all evening.",
    "The next word is {q}",
)


def _query_positions(tokenizer, text: str, start: int, end: int, n_ids: int) -> list[int]:
    """Token positions whose characters overlap ``text[start:end]``."""
    try:
        enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
        spans = enc["offset_mapping"]
        pos = [i for i, (a, b) in enumerate(spans) if b > a and a < end and b > start]
        if pos:
            return pos
    except Exception:
        pass
    prefix = len(tokenizer(text[:start].rstrip(), add_special_tokens=True)["input_ids"])
    return list(range(min(prefix, n_ids - 1), n_ids))


def search_features(scope, sae, query: str, k: int = 10, dashboards: Dashboards | None = None) -> list[SearchHit]:
    """The ``k`` features most associated with ``query``, by two signals, each in [0, 1]:

    - **activation**: the query is read in a few neutral sentences (:data:`SEARCH_CONTEXTS`); a feature's
      activation on the query's own tokens (max over them, mean over sentences) is divided by its max
      over the corpus and multiplied by a specificity ``min(1, log(1/density) / log(1e4))``, so features
      that fire everywhere do not win;
    - **logits**: how far the feature's logit effect on the query's first token (with and without a
      leading space) sits above the feature's mean over the vocabulary, in standard deviations ``z``,
      scaled by ``sqrt(2 ln vocab)`` (about the largest ``z`` a random direction reaches):
      ``clamp((z / sqrt(2 ln vocab) - 1) / 1.5, 0, 1)``.

    With corpus dashboards (shipped or computed) the activation signal also counts **the corpus**: the
    fraction of the feature's top examples that peak on one of the query's own tokens; the activation
    score is then the mean of that and the sentence score (agreement ranks first).

    ``score`` is activation + logits. ``why`` says which signal found the feature (``"both"`` when each
    gives at least 0.1).
    """
    sae = scope._resolve_saes(sae)[0]
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    query = scope._check_text(query, "the query").strip()
    source = dashboards if dashboards is not None else dashboards_for(scope, sae)
    if isinstance(source, Dashboards):
        corpus_max = torch.as_tensor(source.max_activation)
        density = torch.as_tensor(source.density, dtype=torch.float32)
    else:
        m = source.max_activation()
        corpus_max = torch.as_tensor(m) if m is not None else torch.zeros(sae.d_sae)
        d = source.density()
        density = torch.as_tensor(d) if d is not None else torch.full((sae.d_sae,), 1e-4)

    # activation on the query's tokens
    texts, spans = [], []
    for template in SEARCH_CONTEXTS:
        start = template.index("{q}")
        texts.append(template.replace("{q}", query))
        spans.append((start, start + len(query)))
    acts = scope.features(texts, k=1, sae=sae)
    per_context = []
    with torch.no_grad():
        for text, (a, b), fa in zip(texts, spans, acts):
            pos = [p for p in _query_positions(scope.tokenizer, text, a, b, fa.n_tokens) if p >= fa.first_position]
            if not pos:
                continue
            f = sae.encode(fa.inputs[pos]).float().amax(0).cpu()  # [d_sae]
            per_context.append(f)
    a_raw = torch.stack(per_context).mean(0) if per_context else torch.zeros(sae.d_sae)
    scale = torch.maximum(corpus_max.float(), a_raw)
    rel = torch.where(scale > 0, a_raw / scale.clamp_min(1e-12), torch.zeros_like(a_raw))
    spec = torch.where(density > 0, (torch.log(1.0 / density.clamp_min(1e-12)) / math.log(1e4)).clamp(0, 1), torch.ones_like(density))
    act_score = rel * spec

    # logit effect on the query's first token
    ids = set()
    for variant in (" " + query, query):
        got = scope.tokenizer(variant, add_special_tokens=False)["input_ids"]
        if got:
            ids.add(int(got[0]))
    w_u = unembedding(scope.model)
    ids = [i for i in ids if 0 <= i < w_u.shape[0]]
    logit_score = torch.zeros(sae.d_sae)
    if ids:
        if isinstance(source, Dashboards) and "logit_mean" in source.arrays:
            mean = torch.as_tensor(source.arrays["logit_mean"]).float()
            std = torch.as_tensor(source.arrays["logit_std"]).float()
        else:
            stats = _logit_stats(scope.model, sae)
            mean, std = stats["mean"], stats["std"]
        with torch.no_grad():  # (W_dec * g) @ W_U[ids].T, without a [d_sae, d_model] float32 copy
            targets = w_u[ids].float() * _gain(scope.model, w_u.shape[1], w_u.device)  # [n_ids, d]
            eff = (sae.W_dec.detach() @ targets.to(device=sae.device, dtype=sae.W_dec.dtype).T).float().cpu()  # [d_sae, n_ids]
        z = ((eff - mean[:, None]) / std.clamp_min(1e-12)[:, None]).amax(1)
        z = z / math.sqrt(2 * math.log(max(3, w_u.shape[0])))  # 1 ~ the largest z of a random direction
        logit_score = ((z - 1.0) / 1.5).clamp(0, 1)

    # the corpus: how many of the feature's top examples peak on one of the query's own tokens
    corpus_score = torch.zeros(sae.d_sae)
    if isinstance(source, Dashboards):
        words = set()
        for variant in (query, " " + query):
            for t in token_strings(scope.tokenizer, scope.tokenizer(variant, add_special_tokens=False)["input_ids"]):
                w = _show(t)
                if w and w not in ("\\n", "␣"):
                    words.add(w.lower())
        index = source.max_token_index(scope.tokenizer)
        for w in words:
            if w in index:
                corpus_score += torch.as_tensor(index[w], dtype=torch.float32)
        corpus_score = (corpus_score / max(1, int(source.meta.get("n_examples", 1)))).clamp(0, 1)
    act_score = torch.maximum(act_score, corpus_score) * 0.5 + torch.minimum(act_score, corpus_score) * 0.5 \
        if isinstance(source, Dashboards) else act_score

    score = act_score + logit_score
    k = min(k, sae.d_sae)
    values, order = score.topk(k)
    labels_store = None
    try:
        from scope_widgets.labels import labels_for

        labels_store = labels_for(sae)
    except Exception:  # pragma: no cover - labels never block search
        pass
    hits = []
    for v, i in zip(values.tolist(), order.tolist()):
        if v <= 0:
            break
        a, lgt = float(act_score[i]), float(logit_score[i])
        why = "both" if a >= 0.1 and lgt >= 0.1 else ("activation" if a >= lgt else "logits")
        hits.append(SearchHit(feature=int(i), score=float(v), label=labels_store.get(i) if labels_store else None,
                              why=why, activation_score=a, logit_score=lgt,
                              extra={"activation": float(a_raw[i])}))
    return hits


_stats_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _logit_stats(model, sae) -> dict[str, torch.Tensor]:
    """Per-feature mean and std of the logit effect over the vocabulary (cached per SAE)."""
    if sae not in _stats_cache:
        w_u = unembedding(model)
        with torch.no_grad():
            mu, gram = _vocab_moments(w_u)
            means, stds = [], []
            step = max(1, _LOGIT_ELEMENTS // max(1, w_u.shape[1]))
            for start in range(0, sae.d_sae, step):
                dirs = logit_directions(model, sae, list(range(start, min(sae.d_sae, start + step))))
                mean = dirs @ mu
                means.append(mean.cpu())
                stds.append((((dirs @ gram) * dirs).sum(-1) - mean**2).clamp_min(1e-20).sqrt().cpu())
        _stats_cache[sae] = {"mean": torch.cat(means), "std": torch.cat(stds)}
    return _stats_cache[sae]


# ====================================================================================================
# the shipped data for the default SAE


def default_corpus_texts(target_tokens: int = 250_000, chars_per_token: float = 3.6, piece_chars: int = 1600) -> tuple[list[str], str]:
    """Texts for the default SAE's dashboards: the corpus's held-out split first, then training
    documents in a fixed hash order until about ``target_tokens`` tokens; documents are cut into
    pieces of about ``piece_chars`` characters at line breaks. Returns (texts, description)."""
    from scope_widgets.corpus import build_corpus, text_hash

    corpus = build_corpus()
    budget = int(target_tokens * chars_per_token)
    docs = list(corpus.heldout)
    n_held = len(docs)
    docs += sorted(corpus.train, key=lambda d: text_hash(d.text))
    texts, used, n_docs = [], 0, 0
    for d in docs:
        if used >= budget:
            break
        n_docs += 1
        for piece in _pieces(d.text, piece_chars):
            texts.append(piece)
            used += len(piece)
    held = min(n_docs, n_held)
    desc = (f"scope_widgets.corpus: {held} held-out documents + {n_docs - held} training documents "
            f"(fingerprint {corpus.fingerprint()[:12]}), cut into {len(texts)} pieces")
    return texts, desc


def _pieces(text: str, size: int) -> list[str]:
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind("\n", start + size // 2, end)
            if cut > start:
                end = cut
        piece = text[start:end].strip()
        if len(piece) >= 40:
            out.append(piece)
        start = end
    return out


def _default_cache_root() -> Path:
    from scope_widgets.models import cache_dir

    return cache_dir() / "dashboards"


def build_default(out: str | os.PathLike = DEFAULT_DASHBOARDS_DIR, target_tokens: int = 250_000, n_examples: int = 20,
                  context: int = 12, batch_size: int = 8, checkpoint: str | os.PathLike | None = None,
                  progress: bool = True, activation_cache: bool = True) -> Dashboards:
    """Compute and save the dashboards of the bundled default SAE (``--default`` on the command line).

    The model's activations over the corpus are cached in ``<cache_dir>/dashboards/activations`` so that
    regenerating after retraining the SAE (same layer) only re-encodes them."""
    from scope_widgets.scope import Scope

    scope = Scope.load()
    texts, desc = default_corpus_texts(target_tokens)
    root = _default_cache_root()
    ckpt = checkpoint or (root / f"default-{sae_fingerprint(scope.sae)}.ckpt.safetensors")
    dash = compute_dashboards(scope, texts, n_examples=n_examples, context=context, batch_size=batch_size,
                              checkpoint=ckpt, progress=progress, source=desc,
                              activation_cache=root / "activations" if activation_cache else None)
    dash.save(out)
    return dash


def _main(argv: Sequence[str] | None = None) -> None:
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m scope_widgets.dashboards",
                                 description="Compute feature dashboards (the shipped ones of the default SAE with --default).")
    ap.add_argument("--default", action="store_true", help="compute the default SAE's dashboards and write them into the package")
    ap.add_argument("--activations-only", action="store_true",
                    help="only cache the model's activations over the default corpus at --hook (no SAE needed)")
    ap.add_argument("--hook", default=None, help="hook point for --activations-only (default: the bundled SAE's)")
    ap.add_argument("--out", default=str(DEFAULT_DASHBOARDS_DIR), help="output directory")
    ap.add_argument("--tokens", type=int, default=250_000, help="about how many corpus tokens to read")
    ap.add_argument("--examples", type=int, default=20, help="top examples kept per feature")
    ap.add_argument("--context", type=int, default=12, help="tokens shown either side of the max token")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--checkpoint", default=None, help="checkpoint file (resumes when it exists)")
    ap.add_argument("--no-activation-cache", action="store_true", help="do not cache the model's activations on disk")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.activations_only:
        from scope_widgets.models import load_default_model
        from scope_widgets.scope import DEFAULT_SAE_DIR, Scope

        hook = args.hook
        if hook is None:
            config = json.loads((DEFAULT_SAE_DIR / "config.json").read_text()) if (DEFAULT_SAE_DIR / "config.json").is_file() else {}
            hook = config.get("hf_hook_point_in") or "model.layers.6.output"
        model, tok = load_default_model()
        texts, _ = default_corpus_texts(args.tokens)
        where = precompute_activations(Scope(model, tok), texts, hook, _default_cache_root() / "activations",
                                       batch_size=args.batch_size, max_tokens=512)
        print(f"activations at {hook} cached in {where} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return
    if not args.default:
        ap.error("pass --default (or --activations-only); call compute_dashboards() from Python for other SAEs")
    dash = build_default(args.out, args.tokens, args.examples, args.context, args.batch_size, args.checkpoint,
                         activation_cache=not args.no_activation_cache)
    size = sum(p.stat().st_size for p in Path(args.out).iterdir() if p.is_file())
    print(f"{dash!r}\nwritten to {args.out} ({size / 1e6:.2f} MB) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    _main()
