"""The JumpReLU SAE (and transcoder) as a torch module, with the Gemma Scope 2 parameter names.

    pre = x @ w_enc + b_enc                       # [..., d_sae]
    f   = relu(pre) * (pre > threshold)           # JumpReLU: pre == threshold is NOT active
    x'  = f @ w_dec + b_dec (+ x @ affine_skip_connection for affine transcoders)   # [..., d_out]

No ``b_dec`` is subtracted from the input. An SAE whose config says ``input_norm="rms"`` (Gemma Scope 1
transcoders) first replaces x by ``x * rsqrt(mean(x**2) + eps)``, computed in float32, everywhere it reads x
(``encoder_input``), the affine skip included. SAEs are frozen (``requires_grad=False``) unless asked:
this is an inference library; call ``sae.requires_grad_(True)`` (or pass ``requires_grad=True``) to train.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from scope_widgets.runtime import parse_dtype
from scope_widgets.runtime import resolve_device as _runtime_device
from scope_widgets.saes.config import SAEConfig, width_label
from scope_widgets.saes.params import AFFINE_NAME, expected_shapes, validate_params

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

def resolve_device(device: torch.device | str | int | None) -> torch.device | None:
    """None stays None (keep where the tensors are); anything else through runtime.resolve_device."""
    return None if device is None else _runtime_device(device)


def _normalize_rows_(w: Tensor) -> Tensor:  # [n, d], in place
    norms = torch.linalg.vector_norm(w, dim=1, keepdim=True, dtype=torch.float32).clamp_min_(1e-12)
    return w.div_(norms.to(w.dtype))


class SAE(nn.Module):
    """A JumpReLU sparse autoencoder or transcoder (Gemma Scope 2 layout).

    Build one with ``SAE.from_pretrained(repo_or_dir, folder)``, ``SAE.random(d_in, d_sae)``,
    ``SAE.from_config(cfg, params)`` or ``SAE(cfg)`` (zeros).
    """

    w_enc: nn.Parameter  # [d_in, d_sae]
    b_enc: nn.Parameter  # [d_sae]
    w_dec: nn.Parameter  # [d_sae, d_out]
    b_dec: nn.Parameter  # [d_out]
    threshold: nn.Parameter  # [d_sae]
    affine_skip_connection: nn.Parameter | None  # [d_in, d_out] or None

    def __init__(
        self,
        cfg: SAEConfig,
        params: Mapping[str, Tensor] | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
        requires_grad: bool = False,
        _checked: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(cfg, SAEConfig):
            raise TypeError(f"SAE(cfg, ...) needs an SAEConfig, got {type(cfg).__name__}")
        self._cfg = cfg
        self.examples_path: str | None = None  # local path of examples.safetensors, when known
        device, dtype = resolve_device(device), parse_dtype(dtype)
        if params is None:
            dtype = dtype or torch.float32
            tensors = {k: torch.zeros(s, dtype=dtype, device=device) for k, s in expected_shapes(cfg).items()}
        else:
            tensors = dict(params) if _checked else validate_params(params, cfg)
            dtype = dtype or tensors["w_enc"].dtype
            device = device or tensors["w_enc"].device
        for key, t in tensors.items():
            t = t.detach().to(device=device, dtype=dtype)
            self.register_parameter(key, nn.Parameter(t, requires_grad=requires_grad))
        if AFFINE_NAME not in tensors:
            self.register_parameter(AFFINE_NAME, None)

    # ---- construction ----

    @classmethod
    def from_config(
        cls,
        cfg: SAEConfig,
        params: Mapping[str, Tensor],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
        requires_grad: bool = False,
    ) -> SAE:
        """An SAE from a config and a dict of tensors named as in Gemma Scope 2 (validated)."""
        return cls(cfg, params, device=device, dtype=dtype, requires_grad=requires_grad)

    @classmethod
    def random(
        cls,
        d_in: int,
        d_sae: int,
        *,
        site: str = "resid_post",
        layer: int = 0,
        d_out: int | None = None,
        affine: bool = False,
        seed: int = 0,
        dtype: torch.dtype | str = torch.float32,
        device: torch.device | str = "cpu",
        threshold: float | Tensor | None = None,
        model_name: str | None = None,
        requires_grad: bool = False,
    ) -> SAE:
        """A random but sensible SAE, allocated directly on ``device`` (fine at 262k features).

        Decoder rows are unit norm, the encoder is the decoder transposed (an independent random unit
        matrix for transcoders), biases are zero. ``threshold=None`` calibrates per-feature thresholds
        (jittered +-10%) so that, for inputs with unit variance per dimension (x ~ N(0, I)), about
        min(64, d_sae / 8) features fire per token.
        """
        cfg = SAEConfig(
            d_in,
            d_sae,
            d_out=d_out,
            site=site,
            layer=layer,
            affine_connection=affine,
            model_name=model_name,
            name=f"random/{site}/layer_{layer}_width_{width_label(d_sae)}",
        )
        dtype = parse_dtype(dtype) or torch.float32
        device = resolve_device(device) or torch.device("cpu")
        gen = torch.Generator(device=device).manual_seed(seed)
        kw: dict[str, Any] = {"generator": gen, "device": device, "dtype": dtype}
        w_dec = _normalize_rows_(torch.randn(cfg.d_sae, cfg.d_out, **kw))  # [d_sae, d_out]
        if cfg.is_transcoder or cfg.d_out != cfg.d_in:
            w_enc = _normalize_rows_(torch.randn(cfg.d_sae, cfg.d_in, **kw)).t().contiguous()  # [d_in, d_sae]
        else:
            w_enc = w_dec.t().contiguous()  # [d_in, d_sae]
        params = {
            "w_enc": w_enc,
            "b_enc": torch.zeros(cfg.d_sae, device=device, dtype=dtype),
            "w_dec": w_dec,
            "b_dec": torch.zeros(cfg.d_out, device=device, dtype=dtype),
            "threshold": _random_threshold(cfg.d_sae, threshold, gen, device, dtype),
        }
        if affine:
            params[AFFINE_NAME] = torch.randn(cfg.d_in, cfg.d_out, **kw).mul_(0.1 / cfg.d_in**0.5)
        return cls(cfg, params, requires_grad=requires_grad, _checked=True)

    @classmethod
    def from_pretrained(
        cls,
        repo_id_or_local_dir: str | os.PathLike[str],
        folder: str | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
        revision: str | None = None,
        include_examples: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
        site: str | None = None,
    ) -> SAE:
        """Load a Gemma Scope 2 folder (config.json + params.safetensors) or a Gemma Scope 1 folder
        (params.npz), from a hub repo (through huggingface_hub's cache; HF_HUB_OFFLINE=1 works) or a
        local directory.

        ``folder`` is e.g. ``"resid_post/layer_13_width_16k_l0_medium"`` (see ``SAE.list(repo)``); it may be
        None for a local directory that itself holds the files. ``dtype=None`` keeps a float32 file's dtype and computes 16-bit files in float32.
        ``include_examples`` also downloads the (large) ``examples.safetensors`` and records its path in
        ``sae.examples_path``. ``site`` overrides the site of Gemma Scope 1 folders outside a ``-res`` /
        ``-mlp`` / ``-att`` / ``-transcoders`` repo.
        """
        from scope_widgets.saes import loaders

        loaded = loaders.load(
            repo_id_or_local_dir,
            folder,
            revision=revision,
            include_examples=include_examples,
            cache_dir=cache_dir,
            site=site,
            device=resolve_device(device),
        )
        if dtype is None and loaded.params["w_enc"].dtype in (torch.float16, torch.bfloat16):
            dtype = torch.float32  # files stored compactly still compute in float32 (Gemma's activations overflow fp16)
        sae = cls(loaded.cfg, loaded.params, device=device, dtype=dtype, _checked=True)
        sae.examples_path = loaded.examples_path
        return sae

    @staticmethod
    def list(
        repo_id_or_local_dir: str | os.PathLike[str],
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> list[str]:
        """The SAE folders a hub repo or local directory offers (folders holding params.safetensors or
        params.npz), sorted naturally (layer_2 before layer_10). ``"."`` is a directory that is itself one."""
        from scope_widgets.saes import loaders

        return loaders.list_folders(repo_id_or_local_dir, revision=revision, cache_dir=cache_dir)

    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``config.json`` + ``params.safetensors`` (Gemma Scope 2 layout); returns the directory."""
        from scope_widgets.saes import loaders

        return loaders.save(self, directory)

    @classmethod
    def from_saelens(cls, sae_lens_sae: Any, *, device: torch.device | str | None = None, dtype: Any = None) -> SAE:
        """Convert a SAELens SAE object (JumpReLU or plain ReLU) without importing sae_lens here."""
        from scope_widgets.saes.saelens import convert

        cfg, params = convert(sae_lens_sae)
        return cls(cfg, params, device=device, dtype=dtype)

    # ---- the math ----

    def encoder_input(self, x: Tensor) -> Tensor:  # [..., d_in] -> [..., d_in]
        """``x`` as the encoder reads it: width checked, RMS-normalised when ``cfg.input_norm == "rms"``
        (in float32, or float64 for float64 inputs), then on the SAE's device in its dtype.

        Code that multiplies by ``W_enc`` itself must start here."""
        x = self._prepare(x, self.d_in, "inputs", cast=self._cfg.input_norm is None)
        if self._cfg.input_norm == "rms":  # at least float32: 16-bit squares of Gemma's activations overflow
            x = x.to(device=self.device, dtype=torch.promote_types(x.dtype, torch.float32))
            x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self._cfg.input_norm_eps)
            x = x.to(dtype=self.dtype)
        return x

    def encode(self, x: Tensor) -> Tensor:  # [..., d_in] -> [..., d_sae]
        """Feature activations, computed in the SAE's dtype on the SAE's device."""
        return self._encode(self.encoder_input(x))

    def _encode(self, x: Tensor) -> Tensor:  # x already through encoder_input
        pre = F.linear(x, self.w_enc.t(), self.b_enc)  # [..., d_sae]
        return _jump_relu(pre, self.threshold)

    def encode_feature(self, x: Tensor, i: int) -> Tensor:  # [..., d_in] -> [...]
        """Feature ``i`` alone, from column ``i`` of the encoder only (no [..., d_sae] tensor is made).

        Equal to ``encode(x)[..., i]`` up to float summation order."""
        i = self._feature_index(i)
        x = self.encoder_input(x)
        pre = x @ self.w_enc[:, i] + self.b_enc[i]  # [...]
        return pre.relu() * (pre > self.threshold[i])

    def encode_features(self, x: Tensor, ids: Sequence[int] | Tensor) -> Tensor:  # [..., d_in] -> [..., len(ids)]
        """Several features by id, from their encoder columns only."""
        idx = torch.as_tensor(ids, dtype=torch.long, device=self.device).reshape(-1)
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.d_sae):
            raise ValueError(f"feature ids must be in [0, {self.d_sae}), got min {int(idx.min())} max {int(idx.max())}")
        x = self.encoder_input(x)
        pre = F.linear(x, self.w_enc[:, idx].t(), self.b_enc[idx])  # [..., n_ids]
        return _jump_relu(pre, self.threshold[idx])

    def decode(self, f: Tensor, x: Tensor | None = None) -> Tensor:  # [..., d_sae] (+ x [..., d_in]) -> [..., d_out]
        """``f @ w_dec + b_dec``, plus ``x @ affine_skip_connection`` for affine transcoders (x required)."""
        if self.affine_skip_connection is not None and x is None:
            raise ValueError(
                f"{self.name} is an affine transcoder: decode(f, x) needs the input x as well, because its "
                "output adds x @ affine_skip_connection (forward(x) passes it for you)"
            )
        return self._decode(f, None if x is None else self.encoder_input(x))

    def _decode(self, f: Tensor, x: Tensor | None) -> Tensor:  # x already through encoder_input
        f = self._prepare(f, self.d_sae, "feature activations")
        out = F.linear(f, self.w_dec.t(), self.b_dec)  # [..., d_out]
        if self.affine_skip_connection is not None:
            out = out + x @ self.affine_skip_connection
        return out

    def forward(self, x: Tensor) -> Tensor:  # [..., d_in] -> [..., d_out]
        """The reconstruction (SAE) or the predicted output (transcoder): ``decode(encode(x), x)``."""
        x = self.encoder_input(x)
        return self._decode(self._encode(x), x)

    def _prepare(self, t: Any, width: int, what: str, cast: bool = True) -> Tensor:
        if not isinstance(t, Tensor):
            t = torch.as_tensor(t)
        if t.ndim == 0 or t.shape[-1] != width:
            got = "a scalar" if t.ndim == 0 else str(t.shape[-1])
            dim = "d_in" if what == "inputs" else "d_sae"
            origin = (
                f"this SAE was trained for {self.cfg.model_name} ({self.hook_point_in})"
                if self.cfg.model_name
                else f"this SAE ({self.name}) reads {self.hook_point_in}"
            )
            raise ValueError(f"SAE expects {what} of width {width} ({dim}) but got {got}: {origin}")
        if cast and (t.dtype != self.dtype or t.device != self.device):
            t = t.to(device=self.device, dtype=self.dtype)
        return t

    def _feature_index(self, i: Any) -> int:
        try:
            i = operator.index(i)
        except TypeError:
            raise TypeError(f"feature index must be an int, got {type(i).__name__}") from None
        if not 0 <= i < self.d_sae:
            raise ValueError(f"feature index {i} is out of range: this SAE has {self.d_sae} features (0..{self.d_sae - 1})")
        return i

    # ---- properties ----

    @property
    def cfg(self) -> SAEConfig:
        return self._cfg

    @property
    def d_in(self) -> int:
        return self._cfg.d_in

    @property
    def d_sae(self) -> int:
        return self._cfg.d_sae

    @property
    def d_out(self) -> int:
        return self._cfg.d_out  # type: ignore[return-value]

    @property
    def W_enc(self) -> Tensor:  # [d_in, d_sae]
        return self.w_enc

    @property
    def W_dec(self) -> Tensor:  # [d_sae, d_out]; row i is feature i's direction
        return self.w_dec

    @property
    def site(self) -> str:
        return self._cfg.site  # type: ignore[return-value]

    @property
    def layer(self) -> int:
        return self._cfg.layer  # type: ignore[return-value]

    @property
    def hook_point_in(self) -> str:
        return self._cfg.hook_point_in  # type: ignore[return-value]

    @property
    def hook_point_out(self) -> str:
        return self._cfg.hook_point_out  # type: ignore[return-value]

    @property
    def is_transcoder(self) -> bool:
        return self._cfg.is_transcoder

    @property
    def is_affine(self) -> bool:
        return self.affine_skip_connection is not None

    @property
    def name(self) -> str:
        return self._cfg.name  # type: ignore[return-value]

    @property
    def device(self) -> torch.device:
        return self.w_enc.device

    @property
    def dtype(self) -> torch.dtype:
        return self.w_enc.dtype

    def __repr__(self) -> str:
        kind = "transcoder" if self.is_transcoder else "SAE"
        widths = f"{self.d_in} -> {self.d_sae}" + (f" -> {self.d_out}" if self.d_out != self.d_in else "")
        affine = (", affine" if self.is_affine else "") + (", RMS-normalised input" if self._cfg.input_norm else "")
        dtype = str(self.dtype).removeprefix("torch.")
        return f"SAE({self.name!r}: {kind} at {self.hook_point_in}, {widths}{affine}, {dtype}, {self.device})"


def _jump_relu(pre: Tensor, threshold: Tensor) -> Tensor:  # [..., n], [n] -> [..., n]
    mask = pre > threshold  # strict: pre == threshold is not active
    if pre.requires_grad:
        return pre.relu() * mask
    return pre.relu_().mul_(mask)  # in place: no second [..., d_sae] tensor at inference


def _random_threshold(
    d_sae: int, threshold: float | Tensor | None, gen: torch.Generator, device: torch.device, dtype: torch.dtype
) -> Tensor:  # [d_sae]
    if threshold is None:
        frac = min(64.0 / d_sae, 0.125)  # fraction of features that should fire on x ~ N(0, I)
        t0 = float(torch.special.ndtri(torch.tensor(1.0 - frac, dtype=torch.float64)))
        jitter = torch.rand(d_sae, generator=gen, device=device, dtype=torch.float32).mul_(0.2).add_(0.9)
        return jitter.mul_(t0).to(dtype)
    t = torch.as_tensor(threshold, dtype=dtype, device=device)
    if t.ndim == 0:
        return t.expand(d_sae).clone()
    if tuple(t.shape) != (d_sae,):
        raise ValueError(f"threshold must be a float or a [d_sae]={d_sae} tensor, got shape {tuple(t.shape)}")
    return t.clone()
