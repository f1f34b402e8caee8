"""Conversion from a SAELens SAE object, duck-typed: sae_lens is never imported here."""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import Tensor

from scope_widgets.saes.config import SAEConfig, gainless_mlp_input, layer_from_hook, site_from_hook

# TransformerLens hook names (SAELens) -> our site
_TL_SITES = {
    "hook_resid_post": "resid_post",
    "hook_attn_out": "attn_out",
    "attn.hook_z": "attn_out",
    "hook_mlp_out": "mlp_out",
}
_TL_RE = re.compile(r"^blocks\.(\d+)\.(.+)$")
# SAELens architectures (``cfg.architecture()``) this conversion expresses exactly: ReLU or JumpReLU encoders.
_ARCHITECTURES = ("standard", "jumprelu", "transcoder", "skip_transcoder", "jumprelu_transcoder",
                  "jumprelu_skip_transcoder")


def convert(sae: Any) -> tuple[SAEConfig, dict[str, Tensor]]:
    """A SAELens JumpReLU (or plain ReLU) SAE or transcoder -> (SAEConfig, Gemma Scope 2 params).

    Reads ``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_out]``, ``b_enc``, ``b_dec``, ``threshold`` (zeros
    when absent: a ReLU SAE), the skip transcoders' ``W_skip [d_out, d_in]`` (SAELens adds ``x @ W_skip.T``;
    ours is ``affine_skip_connection = W_skip.T``), and the hook names from ``cfg.metadata`` or ``cfg``.
    ``apply_b_dec_to_input`` is folded into ``b_enc`` (SAELens never applies it to transcoders);
    activation normalisation cannot be and is refused, and so are TopK and gated SAEs.
    """
    cfg = getattr(sae, "cfg", None)
    meta = getattr(cfg, "metadata", None)

    def setting(name: str) -> Any:
        for source in (meta, cfg):
            value = getattr(source, name, None) if source is not None else None
            if value is not None:
                return value
        return None

    architecture = getattr(cfg, "architecture", None)
    architecture = architecture() if callable(architecture) else architecture
    if isinstance(architecture, str) and architecture not in _ARCHITECTURES:
        raise ValueError(
            f"SAELens {architecture!r} SAEs are not supported by SAE.from_saelens: only ReLU / JumpReLU SAEs and "
            f"transcoders ({', '.join(_ARCHITECTURES)}) convert exactly"
        )
    norm = setting("normalize_activations")
    if norm not in (None, "none"):
        raise ValueError(
            f"this SAELens SAE normalises its inputs ({norm!r}), which a JumpReLU SAE here cannot express"
        )
    w_enc = _tensor(sae, "W_enc")  # [d_in, d_sae]
    w_dec = _tensor(sae, "W_dec")  # [d_sae, d_out]
    b_enc = _tensor(sae, "b_enc")  # [d_sae]
    b_dec = _tensor(sae, "b_dec")  # [d_out]
    w_skip = getattr(sae, "W_skip", None)  # [d_out, d_in]
    threshold = getattr(sae, "threshold", None)
    if threshold is None and getattr(sae, "log_threshold", None) is not None:
        threshold = sae.log_threshold.detach().exp()
    threshold = torch.zeros_like(b_enc) if threshold is None else threshold.detach().clone()

    hook = setting("hook_name")
    if not isinstance(hook, str):
        raise ValueError("the SAELens SAE names no hook (cfg.metadata.hook_name / cfg.hook_name)")
    hook_out = setting("hook_name_out")
    is_transcoder = hook_out is not None or w_skip is not None or "transcoder" in type(sae).__name__.lower()
    if setting("apply_b_dec_to_input") and not is_transcoder:
        b_enc = b_enc - b_dec @ w_enc  # (x - b_dec) @ W_enc + b_enc == x @ W_enc + (b_enc - b_dec @ W_enc)
    if is_transcoder:
        site, layer = "transcoder", _tl_layer(hook)
        hooks = _transcoder_hooks(hook, hook_out, layer, str(setting("model_name") or ""))
    else:
        site, layer, hook_in = _site_layer(hook)
        hooks = {"hook_point_in": hook_in}
    params = {"w_enc": w_enc, "b_enc": b_enc, "w_dec": w_dec, "b_dec": b_dec, "threshold": threshold}
    if w_skip is not None:
        params["affine_skip_connection"] = _skip(w_skip, w_enc.shape[0], w_dec.shape[1])
    our = SAEConfig(
        d_in=w_enc.shape[0],
        d_sae=w_enc.shape[1],
        d_out=w_dec.shape[1],
        site=site,
        layer=layer,
        affine_connection=w_skip is not None,
        model_name=setting("model_name"),
        name=f"saelens/{setting('release') or site}/{setting('sae_id') or f'layer_{layer}'}",
        extra={"saelens_hook_name": hook, **({"saelens_hook_name_out": hook_out} if hook_out else {})},
        **hooks,
    )
    return our, {k: v.detach().clone() for k, v in params.items()}


def _skip(w_skip: Any, d_in: int, d_out: int) -> Tensor:
    """SAELens' ``W_skip [d_out, d_in]`` (its forward adds ``x @ W_skip.T``) -> ours, ``[d_in, d_out]``."""
    if not isinstance(w_skip, Tensor) or w_skip.ndim != 2:
        raise ValueError(f"the SAELens transcoder's W_skip should be a [d_out, d_in] matrix, got {w_skip!r:.80}")
    if tuple(w_skip.shape) != (d_out, d_in):
        raise ValueError(
            f"the SAELens transcoder's W_skip has shape {tuple(w_skip.shape)}, but SAELens lays it out as "
            f"[d_out, d_in] = ({d_out}, {d_in}) (W_enc and W_dec say d_in={d_in}, d_out={d_out})"
        )
    return w_skip.detach().t().contiguous()


def _tensor(sae: Any, name: str) -> Tensor:
    value = getattr(sae, name, None)
    if not isinstance(value, Tensor):
        raise ValueError(f"the SAELens SAE has no tensor {name!r}")
    return value.detach()


def _tl_layer(hook: str) -> int:
    m = _TL_RE.match(hook)
    layer = int(m.group(1)) if m else layer_from_hook(hook)
    if layer is None:
        raise ValueError(f"cannot tell the layer of SAELens hook {hook!r}")
    return layer


def _transcoder_hooks(hook: str, hook_out: str | None, layer: int, model_name: str) -> dict[str, Any]:
    """A SAELens transcoder's (input, output) hooks -> our hook points (and input norm)."""
    m = _TL_RE.match(hook)
    part = m.group(2) if m else None
    if m is None:  # already a Hugging Face hook string
        fields: dict[str, Any] = {"hook_point_in": hook}
    elif part == "ln2.hook_normalized":  # the pre-MLP norm's output without its gain
        if "gemma" not in model_name.lower():
            raise ValueError(
                f"SAELens hook {hook!r} of model {model_name or 'unknown'!r}: scope_widgets reproduces the gainless "
                "pre-MLP norm of Gemma models (an RMSNorm) only"
            )
        fields = gainless_mlp_input(layer)
    elif part in ("hook_resid_mid", "hook_mlp_in"):  # TransformerLens: both are the residual before ln2
        fields = {"hook_point_in": f"model.layers.{layer}.pre_feedforward_layernorm.input"}
    else:
        raise ValueError(
            f"unsupported SAELens transcoder hook {hook!r}: expected blocks.L.ln2.hook_normalized, "
            "blocks.L.hook_resid_mid, blocks.L.hook_mlp_in or a Hugging Face hook string"
        )
    if hook_out is not None and not re.fullmatch(rf"blocks\.{layer}\.hook_mlp_out", hook_out):
        if hook_out.startswith("blocks."):
            raise ValueError(f"unsupported SAELens transcoder output hook {hook_out!r}: expected blocks.{layer}.hook_mlp_out")
        fields["hook_point_out"] = hook_out
    return fields


def _site_layer(hook: str) -> tuple[str, int, str | None]:
    """A SAELens SAE hook name (TransformerLens or HF style) -> (site, layer, HF hook_point_in or None)."""
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
