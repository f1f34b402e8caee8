"""The unembedding maths: the final norm's gain, ``W_U``, and the logit effects of decoder directions.

    logit_effect[i] = (W_dec[i] * g) @ W_U.T      with g = 1 + final_norm.weight for Gemma
                                                  (g = final_norm.weight for other RMSNorm models)

(the RMS normaliser of the final norm is a positive scalar per feature, so it changes no ranking and is
left out). Nothing keeps a ``[d_sae, vocab]`` matrix: features are processed in chunks.
"""

from __future__ import annotations

import weakref

import torch

from ..runtime import progress_bar
from .hooks import decoder_layers

__all__ = ["N_LOGITS", "final_norm_gain", "unembedding", "norm_gain", "logit_directions", "vocab_moments",
           "logit_effects", "logit_stats"]

N_LOGITS = 10
_LOGIT_ELEMENTS = 1 << 25  # floats per logit-effect chunk ([features, vocab])


def final_norm_gain(model) -> torch.Tensor | None:
    """The elementwise gain of the model's final norm: ``1 + weight`` for Gemma's RMSNorm, ``weight``
    for other norms; None when no final norm is found."""
    stack = decoder_layers(model)
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


def norm_gain(model, width: int, device) -> torch.Tensor:
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
    return w * norm_gain(model, w.shape[-1], w.device)


def vocab_moments(w_u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
    with torch.no_grad(), progress_bar(len(starts), "logit effects", "chunk", show=None if progress else False) as bar:
        mu, gram = vocab_moments(w_u)
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
            bar.update(1)
    return {k: torch.cat(v) for k, v in out.items()}


_stats_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def logit_stats(model, sae) -> dict[str, torch.Tensor]:
    """Per-feature mean and std of the logit effect over the vocabulary (cached per SAE)."""
    if sae not in _stats_cache:
        w_u = unembedding(model)
        with torch.no_grad():
            mu, gram = vocab_moments(w_u)
            means, stds = [], []
            step = max(1, _LOGIT_ELEMENTS // max(1, w_u.shape[1]))
            for start in range(0, sae.d_sae, step):
                dirs = logit_directions(model, sae, list(range(start, min(sae.d_sae, start + step))))
                mean = dirs @ mu
                means.append(mean.cpu())
                stds.append((((dirs @ gram) * dirs).sum(-1) - mean**2).clamp_min(1e-20).sqrt().cpu())
        _stats_cache[sae] = {"mean": torch.cat(means), "std": torch.cat(stds)}
    return _stats_cache[sae]
