"""From the training-time SAE to the file that ships: fold the standardisation, save in Gemma Scope 2 layout."""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from ..saes import SAE, SAEConfig
from ..saes.loaders import save as save_folder
from .batchtopk import BatchTopKSAE
from .config import TrainConfig

__all__ = ["fold_standardisation", "jumprelu_encode", "jumprelu_forward", "save_sae", "SAVE_DTYPES"]

SAVE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


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


def save_sae(out_dir: str | Path, params: dict[str, torch.Tensor], cfg: TrainConfig, l0: float, metrics: dict | None = None) -> Path:
    """Write ``config.json`` + ``params.safetensors`` in the Gemma Scope 2 layout (and ``metrics.json``).

    The one writer of that layout is :func:`scope_widgets.saes.loaders.save`; this only builds the SAE.
    """
    d_in, width = params["w_enc"].shape
    sae_cfg = SAEConfig(int(d_in), int(width), site="resid_post", layer=cfg.layer, model_name=cfg.model_name,
                        l0=int(round(l0)), hook_point_in=cfg.hook_point, hook_point_out=cfg.hook_point)
    sae = SAE.from_config(sae_cfg, params, dtype=SAVE_DTYPES[cfg.save_dtype])
    out = save_folder(sae, out_dir)
    if metrics is not None:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return out
