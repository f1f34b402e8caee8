"""SAE parameters: the tensor names and shapes of the Gemma Scope 2 layout, and their validation.

Shared by the loaders (which check what they read) and the JumpReLU module (which holds the tensors), so
neither needs the other.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from scope_widgets.saes.config import SAEConfig
from scope_widgets.saes.errors import SAELoadError

__all__ = ["PARAM_NAMES", "AFFINE_NAME", "expected_shapes", "validate_params", "count_nonfinite"]

PARAM_NAMES: tuple[str, ...] = ("w_enc", "b_enc", "w_dec", "b_dec", "threshold")
AFFINE_NAME = "affine_skip_connection"
_CHUNK = 1 << 24  # elements per finiteness check, to bound the temporary mask's memory


def expected_shapes(cfg: SAEConfig) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape, in Gemma Scope 2 layout."""
    shapes = {
        "w_enc": (cfg.d_in, cfg.d_sae),
        "b_enc": (cfg.d_sae,),
        "w_dec": (cfg.d_sae, cfg.d_out),
        "b_dec": (cfg.d_out,),
        "threshold": (cfg.d_sae,),
    }
    if cfg.affine_connection:
        shapes[AFFINE_NAME] = (cfg.d_in, cfg.d_out)
    return shapes


_SHAPE_NAMES = {
    "w_enc": "[d_in, d_sae]",
    "b_enc": "[d_sae]",
    "w_dec": "[d_sae, d_out]",
    "b_dec": "[d_out]",
    "threshold": "[d_sae]",
    AFFINE_NAME: "[d_in, d_out]",
}


def validate_params(params: Mapping[str, Any], cfg: SAEConfig, source: str = "params") -> dict[str, Tensor]:
    """Check names, shapes, dtypes and finiteness; return the tensors the SAE needs (others are dropped).

    Raises SAELoadError naming ``source`` and the offending tensor.
    """
    shapes = expected_shapes(cfg)
    missing = [k for k in shapes if k not in params]
    if missing:
        raise SAELoadError(
            f"{source}: missing tensor(s) {', '.join(missing)} (found: {', '.join(sorted(params)) or 'none'}); "
            f"a JumpReLU SAE needs {', '.join(shapes)}"
        )
    if not cfg.affine_connection and AFFINE_NAME in params:
        raise SAELoadError(
            f"{source}: has '{AFFINE_NAME}' but the config says affine_connection is false: "
            "set affine_connection=True in the config"
        )
    out: dict[str, Tensor] = {}
    for key, shape in shapes.items():
        t = params[key]
        if not isinstance(t, Tensor):
            raise SAELoadError(f"{source}: '{key}' is a {type(t).__name__}, not a torch.Tensor")
        if tuple(t.shape) != shape:
            raise SAELoadError(
                f"{source}: tensor '{key}' has shape {tuple(t.shape)} but {_SHAPE_NAMES[key]} is {shape} "
                f"(d_in={cfg.d_in}, d_sae={cfg.d_sae}, d_out={cfg.d_out}): the file does not match its config"
            )
        if not t.is_floating_point():
            raise SAELoadError(f"{source}: tensor '{key}' has dtype {t.dtype}; SAE parameters must be floating point")
        bad = count_nonfinite(t)
        if bad:
            raise SAELoadError(
                f"{source}: tensor '{key}' has {bad} NaN/inf value(s): the file is corrupt or came from a diverged "
                "training run; download or re-save it"
            )
        out[key] = t
    return out


def count_nonfinite(t: Tensor) -> int:
    """Number of NaN/inf entries, checked in chunks so a 262k-wide matrix needs no full-size mask."""
    flat = t.detach().reshape(-1)
    bad = 0
    for start in range(0, flat.numel(), _CHUNK):
        chunk = flat[start : start + _CHUNK]
        if not bool(torch.isfinite(chunk).all()):
            bad += int((~torch.isfinite(chunk)).sum())
    return bad
