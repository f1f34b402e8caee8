"""A map of an SAE's features: a 2-D layout of its decoder directions, and what to colour it by.

    xy = feature_layout(sae)          # np.float32 [d_sae, 2], deterministic, cached per SAE

How the layout is made (docs/feature_map.md has the measurements):

1. The decoder rows, unit length, centred, with the few directions of outsized variance damped (a shrunk
   whitening; otherwise the residual stream's massive dimensions decide every neighbour).
2. Each feature's ``n_neighbours`` nearest features by cosine, exactly (chunked matrix products).
3. Only similarities above chance pull: an edge's weight rises from 0 to 1 around the largest cosine that
   random directions reach among ``d_sae`` of them, ``sqrt(2 ln d_sae / d)`` (``d``: the effective
   number of dimensions).
4. A UMAP-like force layout of that graph: attraction along the edges, repulsion from randomly drawn
   features, ``epochs`` rounds from a seeded random start.

The coordinates are rounded to float16 (the precision of the file shipped for the default SAE and of
the cache), so a fresh computation and a cached one give the same numbers.
"""

from __future__ import annotations

import math
import os
import re
import threading
import weakref
from pathlib import Path

import numpy as np
import torch

from ..runtime import atomic_write, cache_dir, progress_bar
from .label_store import safe_name
from .lexicon import WORD_CLASSES
from .stats import sae_fingerprint

__all__ = ["LAYOUT_VERSION", "SHIPPED_LAYOUT", "compute_layout", "feature_layout", "layout_path", "save_layout",
           "load_layout", "feature_densities", "LABEL_KINDS", "label_kind"]

#: Bumped whenever the recipe changes: older cached layouts are then recomputed.
LAYOUT_VERSION = 1
#: The precomputed layout of the default SAE (float16 [16384, 2], about 64 KB).
SHIPPED_LAYOUT = Path(__file__).resolve().parents[1] / "data" / "default_dashboards" / "feature_map.safetensors"

_memory: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


# ====================================================================================================
# the layout


def _damp(w_dec: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Unit rows, centred, each principal direction divided by ``sqrt(its variance + the mean variance)``
    (a shrunk whitening: the few directions of outsized variance, the residual stream's massive
    dimensions, are damped to about the rest, which barely change), unit again; and the effective number
    of dimensions left (the participation ratio of the damped variances)."""
    x = w_dec.float()
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    x = x - x.mean(0)
    cov = (x.T @ x / x.shape[0]).double()
    evals, evecs = torch.linalg.eigh(cov)
    evals = evals.clamp_min(0)
    scale = 1.0 / (evals + evals.mean() + 1e-30).sqrt()
    z = x @ (evecs * scale).to(x.dtype)
    damped = evals * scale * scale
    dims = float(damped.sum() ** 2 / (damped ** 2).sum().clamp_min(1e-30))
    return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12), max(dims, 1.0)


def _neighbours(z: torch.Tensor, k: int, progress: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` most similar other rows (exact cosine): ``(similarities, indices)``, ``[n, k]``."""
    n = z.shape[0]
    chunk = max(1, min(n, (1 << 25) // max(n, 1)))  # about 128 MB of similarities at a time
    sims, idx = [], []
    with progress_bar(-(-n // chunk), "feature map: nearest features", unit="chunk", show=progress) as bar:
        for start in range(0, n, chunk):
            s = z[start:start + chunk] @ z.T
            rows = torch.arange(s.shape[0], device=s.device)
            s[rows, rows + start] = -float("inf")  # not its own neighbour
            v, i = s.topk(k, dim=1)
            sims.append(v.cpu())
            idx.append(i.cpu())
            bar.update(1)
    return torch.cat(sims).numpy().astype(np.float64), torch.cat(idx).numpy()


def _edges(sims: np.ndarray, idx: np.ndarray, dims: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected edges ``(i, j, weight)``: a pair listed by either end once, weighted by how far its cosine
    stands above what random directions reach (a logistic step around ``sqrt(2 ln n / dims)``)."""
    n, k = idx.shape
    i = np.repeat(np.arange(n), k)
    j = idx.reshape(-1)
    s = sims.reshape(-1)
    key = np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j)
    _, first = np.unique(key, return_index=True)
    i, j, s = i[first], j[first], s[first]
    chance = math.sqrt(2 * math.log(max(n, 2)) / max(dims, 1))
    width = 0.25 / math.sqrt(max(dims, 1))
    w = 1.0 / (1.0 + np.exp(-np.clip((s - chance) / width, -50, 50)))
    keep = w > 1e-3
    return i[keep], j[keep], w[keep]


def _force_layout(i: np.ndarray, j: np.ndarray, w: np.ndarray, n: int, epochs: int, seed: int,
                  negatives: int = 5) -> np.ndarray:
    """UMAP's attraction and repulsion (a = 1.577, b = 0.895: its ``min_dist=0.1``) as whole-graph steps:
    each round, every edge is drawn with probability ``w``, pulls both its ends together, and pushes each
    end away from ``negatives`` random features; the step shrinks linearly to zero."""
    a, b = 1.577, 0.895
    rng = np.random.default_rng(seed)
    pos = rng.uniform(-10.0, 10.0, (2, n))
    x, y = pos[0], pos[1]
    for epoch in range(epochs):
        alpha = 1.0 - epoch / epochs
        drawn = rng.random(len(w)) < w
        si, sj = i[drawn], j[drawn]
        dx, dy = x[si] - x[sj], y[si] - y[sj]
        d2 = np.maximum(dx * dx + dy * dy, 1e-9)
        pull = -2 * a * b * d2 ** (b - 1) / (1 + a * d2 ** b)
        gx, gy = np.clip(pull * dx, -4, 4), np.clip(pull * dy, -4, 4)
        sx = np.bincount(si, gx, n) - np.bincount(sj, gx, n)
        sy = np.bincount(si, gy, n) - np.bincount(sj, gy, n)
        src = np.repeat(np.concatenate([si, sj]), negatives)
        dst = rng.integers(0, n, len(src))
        nx, ny = x[src] - x[dst], y[src] - y[dst]
        d2n = nx * nx + ny * ny
        push = 2 * b / ((0.001 + d2n) * (1 + a * d2n ** b))
        hx = np.where(src == dst, 0.0, np.clip(push * nx, -4, 4))
        hy = np.where(src == dst, 0.0, np.clip(push * ny, -4, 4))
        x += alpha * (sx + np.bincount(src, hx, n))
        y += alpha * (sy + np.bincount(src, hy, n))
    return np.stack([x, y], 1)


def compute_layout(w_dec, *, n_neighbours: int = 10, epochs: int = 500, seed: int = 0,
                   progress: bool | None = None) -> np.ndarray:
    """The layout of decoder rows ``w_dec [d_sae, d]`` (a tensor or an array): ``np.float32 [d_sae, 2]``,
    centred, the 99th percentile of ``|coordinate|`` scaled to 1, rounded to float16. Deterministic for
    the same input on the same machine. The neighbour search runs where ``w_dec`` lives (a GPU is much
    faster for wide SAEs: it is quadratic in ``d_sae``)."""
    w = torch.as_tensor(w_dec).detach()
    n = w.shape[0]
    if w.ndim != 2 or n < 2:
        raise ValueError(f"a layout needs decoder rows [d_sae >= 2, d]; got shape {tuple(w.shape)}")
    if not torch.isfinite(w).all():
        raise ValueError("the decoder has NaN or infinite entries: no layout")
    with torch.no_grad():
        z, dims = _damp(w)
        sims, idx = _neighbours(z, min(n_neighbours, n - 1), progress)
    i, j, weight = _edges(sims, idx, min(dims, n - 1.0))
    xy = _force_layout(i, j, weight, n, epochs, seed)
    xy -= np.median(xy, axis=0)
    xy /= max(float(np.percentile(np.abs(xy), 99)), 1e-12)
    return xy.astype(np.float16).astype(np.float32)


# ====================================================================================================
# files and the cache


def layout_path(sae) -> Path:
    """Where an SAE's computed layout is cached: ``<cache_dir>/feature_maps/<name>-<fingerprint>-v<version>``."""
    return cache_dir() / "feature_maps" / f"{safe_name(sae.name)}-{sae_fingerprint(sae)}-v{LAYOUT_VERSION}.safetensors"


def save_layout(xy: np.ndarray, sae, path: str | os.PathLike) -> Path:
    """Write a layout as float16 with the SAE's name and fingerprint (atomically; readable by all)."""
    from safetensors.numpy import save_file

    path = Path(path).expanduser()
    meta = {"sae_name": str(sae.name), "sae_fingerprint": sae_fingerprint(sae), "layout_version": str(LAYOUT_VERSION)}
    atomic_write(path, lambda tmp: save_file({"xy": np.ascontiguousarray(np.asarray(xy, dtype=np.float16))}, tmp, metadata=meta))
    return path


def load_layout(path: str | os.PathLike, sae) -> np.ndarray | None:
    """The layout in ``path`` when it was made for this very SAE (name, fingerprint, recipe); else None."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            xy = f.get_tensor("xy")
    except Exception:  # a truncated or foreign file: compute again
        return None
    if (meta.get("sae_name") != str(sae.name) or meta.get("sae_fingerprint") != sae_fingerprint(sae)
            or meta.get("layout_version") != str(LAYOUT_VERSION) or xy.shape != (sae.d_sae, 2)):
        return None
    return xy.astype(np.float32)


def feature_layout(sae, *, cache: bool = True, progress: bool | None = None) -> np.ndarray:
    """The map coordinates of every feature, ``np.float32 [d_sae, 2]`` (see :func:`compute_layout`):
    the shipped file for the default SAE, else the disk cache, else computed once (seconds at 16k
    features on a CPU) and cached. ``cache=False`` neither reads nor writes files. A copy each call."""
    with _lock:
        known = _memory.get(sae)
    if known is not None:
        return known.copy()
    xy = None
    if cache:
        xy = load_layout(SHIPPED_LAYOUT, sae)
        if xy is None:
            xy = load_layout(layout_path(sae), sae)
    if xy is None:
        xy = compute_layout(sae.W_dec, progress=progress)
        if cache:
            try:
                save_layout(xy, sae, layout_path(sae))
            except OSError:  # a read-only cache: the layout still works, it is just not kept
                pass
    with _lock:
        _memory[sae] = xy
    return xy.copy()


# ====================================================================================================
# what to colour by


def feature_densities(source) -> np.ndarray | None:
    """Each feature's firing density (the fraction of tokens it is active on) from a dashboard source
    (``Dashboards.density`` or ``GemmaScopeExamples.density()``); None when the source has none."""
    density = getattr(source, "density", None)
    if callable(density):
        density = density()
    return None if density is None else np.asarray(density, dtype=np.float64).reshape(-1)


#: The kinds :func:`label_kind` sorts labels into, in legend order.
LABEL_KINDS = ("punctuation & spaces", "numbers", "names", "words", "word groups", "other scripts",
               "code & symbols", "your labels", "no label")

_NUMBER = re.compile(r"[\d.,%+\-]*\d[\d.,%+\-]*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_GROUP = re.compile(r"^[a-z][a-z ]*: ")  # "edible fruit: apple / banana"
_PUNCTUATION = set(".,;:!?'\"()[]-–—…“”‘’«»")


def label_kind(label: str | None, user: bool = False) -> str:
    """What a label names, by its first part (the token the feature fires on most): one of ``LABEL_KINDS``.
    A user's own label is ``"your labels"`` whatever it says."""
    if user and label:
        return "your labels"
    if not label or not label.strip():
        return "no label"
    head = label.split(": ", 1)[0]
    if head == "punctuation":  # a dense feature's head names the kind of token it fires on (auto_labels.class_head)
        return "punctuation & spaces"
    if head in WORD_CLASSES or head.startswith("function words"):
        return "words"
    if _GROUP.match(label):
        return "word groups"
    first = re.split(r" / | \(| → ", label, maxsplit=1)[0].strip().rstrip("…").strip()
    if first in ("\\n", "\\t", "␣", ""):
        return "punctuation & spaces"
    if all(not ch.isalnum() for ch in first):
        return "punctuation & spaces" if set(first) <= _PUNCTUATION else "code & symbols"
    if _NUMBER.fullmatch(first):
        return "numbers"
    if _WORD.fullmatch(first):
        return "names" if first[0].isupper() and not first.isupper() else "words"
    if any(ord(ch) > 127 and ch.isalpha() for ch in first):
        return "other scripts"
    return "code & symbols"
