"""Conversion from a SAELens SAE object, duck-typed: sae_lens is never imported here."""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import Tensor

from scope_widgets.saes.config import SAEConfig, layer_from_hook, site_from_hook

# TransformerLens hook names (SAELens) -> our site
_TL_SITES = {
    "hook_resid_post": "resid_post",
    "hook_attn_out": "attn_out",
    "attn.hook_z": "attn_out",
    "hook_mlp_out": "mlp_out",
}
_TL_RE = re.compile(r"^blocks\.(\d+)\.(.+)$")


def convert(sae: Any) -> tuple[SAEConfig, dict[str, Tensor]]:
    """A SAELens JumpReLU (or plain ReLU) SAE -> (SAEConfig, Gemma Scope 2 params).

    Reads ``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_out]``, ``b_enc``, ``b_dec``, ``threshold`` (zeros
    when absent: a ReLU SAE), and the hook name from ``cfg.metadata.hook_name`` or ``cfg.hook_name``.
    ``apply_b_dec_to_input`` is folded into ``b_enc``; activation normalisation cannot be and is refused.
    """
    cfg = getattr(sae, "cfg", None)
    meta = getattr(cfg, "metadata", None)

    def setting(name: str) -> Any:
        for source in (meta, cfg):
            value = getattr(source, name, None) if source is not None else None
            if value is not None:
                return value
        return None

    if hasattr(sae, "W_skip") and getattr(sae, "W_skip") is not None:
        raise ValueError("SAELens skip transcoders (W_skip) are not supported by SAE.from_saelens")
    norm = setting("normalize_activations")
    if norm not in (None, "none"):
        raise ValueError(
            f"this SAELens SAE normalises its inputs ({norm!r}), which a JumpReLU SAE here cannot express"
        )
    w_enc = _tensor(sae, "W_enc")  # [d_in, d_sae]
    w_dec = _tensor(sae, "W_dec")  # [d_sae, d_out]
    b_enc = _tensor(sae, "b_enc")  # [d_sae]
    b_dec = _tensor(sae, "b_dec")  # [d_out]
    threshold = getattr(sae, "threshold", None)
    if threshold is None and getattr(sae, "log_threshold", None) is not None:
        threshold = sae.log_threshold.detach().exp()
    threshold = torch.zeros_like(b_enc) if threshold is None else threshold.detach().clone()
    if setting("apply_b_dec_to_input"):
        b_enc = b_enc - b_dec @ w_enc  # (x - b_dec) @ W_enc + b_enc == x @ W_enc + (b_enc - b_dec @ W_enc)

    hook = setting("hook_name")
    if not isinstance(hook, str):
        raise ValueError("the SAELens SAE names no hook (cfg.metadata.hook_name / cfg.hook_name)")
    is_transcoder = setting("hook_name_out") is not None or "transcoder" in type(sae).__name__.lower()
    site, layer, hook_in = _site_layer(hook, is_transcoder)
    our = SAEConfig(
        d_in=w_enc.shape[0],
        d_sae=w_enc.shape[1],
        d_out=w_dec.shape[1],
        site=site,
        layer=layer,
        hook_point_in=hook_in,
        model_name=setting("model_name"),
        name=f"saelens/{setting('release') or site}/{setting('sae_id') or f'layer_{layer}'}",
        extra={"saelens_hook_name": hook},
    )
    params = {"w_enc": w_enc, "b_enc": b_enc, "w_dec": w_dec, "b_dec": b_dec, "threshold": threshold}
    return our, {k: v.detach().clone() for k, v in params.items()}


def _tensor(sae: Any, name: str) -> Tensor:
    value = getattr(sae, name, None)
    if not isinstance(value, Tensor):
        raise ValueError(f"the SAELens SAE has no tensor {name!r}")
    return value.detach()


def _site_layer(hook: str, is_transcoder: bool) -> tuple[str, int, str | None]:
    """A SAELens hook name (TransformerLens or HF style) -> (site, layer, HF hook_point_in or None)."""
    if is_transcoder:
        layer = layer_from_hook(hook)
        m = _TL_RE.match(hook)
        layer = int(m.group(1)) if m else layer
        if layer is None:
            raise ValueError(f"cannot tell the layer of SAELens hook {hook!r}")
        return "transcoder", layer, None
    m = _TL_RE.match(hook)
    if m:
        site = _TL_SITES.get(m.group(2))
        if site is None:
            raise ValueError(f"unsupported SAELens hook {hook!r}: expected one of {', '.join(_TL_SITES)}")
        return site, int(m.group(1)), None
    site = site_from_hook(hook, hook)
    layer = layer_from_hook(hook)
    if site is None or layer is None:
        raise ValueError(f"cannot tell the site and layer of SAELens hook {hook!r}")
    return site, layer, hook
