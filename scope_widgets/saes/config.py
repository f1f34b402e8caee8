"""SAE configuration: a small validated dataclass, and the Gemma Scope 2 ``config.json`` mapping.

Sites and hook points
---------------------
``site`` names what the SAE reads, ``hook_point_in`` / ``hook_point_out`` name where, as module paths
in the Hugging Face module tree with ``.input`` / ``.output`` appended (the Gemma Scope 2 convention):

=============  ==================================================  ==================================================
site           hook_point_in                                       hook_point_out
=============  ==================================================  ==================================================
resid_post     ``model.layers.L.output``                           same
attn_out       ``model.layers.L.self_attn.o_proj.input``           same
mlp_out        ``model.layers.L.post_feedforward_layernorm.output`` same
transcoder     ``model.layers.L.pre_feedforward_layernorm.output`` ``model.layers.L.post_feedforward_layernorm.output``
=============  ==================================================  ==================================================

Input normalisation
-------------------
Gemma Scope 1 transcoders (Gemma 2) were trained on the pre-MLP RMSNorm's output *without* its ``(1 + w)``
gain (the gain was folded into the MLP). No module of the model outputs that, so such an SAE reads the
norm's input (``model.layers.L.pre_feedforward_layernorm.input``) and normalises it itself:
``input_norm="rms"`` makes ``encode`` compute ``x * rsqrt(mean(x**2) + input_norm_eps)`` in float32 first.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

SITES: tuple[str, ...] = ("resid_post", "attn_out", "mlp_out", "transcoder")
TYPES: tuple[str, ...] = ("sae", "transcoder")
ARCHITECTURES: tuple[str, ...] = ("jump_relu",)
INPUT_NORMS: tuple[str, ...] = ("rms",)  # what `input_norm` may say besides None
GEMMA_RMS_EPS = 1e-6  # rms_norm_eps of Gemma 2 and Gemma 3
DEFAULT_LAYERS_PREFIX = "model.layers"

# Gemma Scope 2 folder families -> site (the `_all` variants hold every layer).
_FAMILIES = {
    "resid_post": "resid_post",
    "resid_post_all": "resid_post",
    "attn_out": "attn_out",
    "attn_out_all": "attn_out",
    "mlp_out": "mlp_out",
    "mlp_out_all": "mlp_out",
    "transcoder": "transcoder",
    "transcoder_all": "transcoder",
}
UNSUPPORTED_FAMILIES: tuple[str, ...] = ("crosscoder", "clt")

# Residual width of the Gemma 3 text models: used only when a config.json is read without params.
GEMMA3_D_MODEL = {
    "gemma-3-270m": 640,
    "gemma-3-1b": 1152,
    "gemma-3-4b": 2560,
    "gemma-3-12b": 3840,
    "gemma-3-27b": 5376,
}

# Keys of a Gemma Scope 2 config.json that SAEConfig maps onto fields; others go to `extra`.
_GS2_KEYS = (
    "hf_hook_point_in",
    "hf_hook_point_out",
    "width",
    "model_name",
    "architecture",
    "l0",
    "affine_connection",
    "type",
)
# Our own extension keys, written by save_pretrained so a saved SAE reads back identically.
_OWN_KEYS = ("site", "name", "layer", "input_norm", "input_norm_eps")

_LAYER_RE = re.compile(r"(?:^|\.)layers\.(\d+)(?:\.|$)")
_FOLDER_LAYER_RE = re.compile(r"(?:^|[/_])layer_(\d+)(?:[/_]|$)")


def default_hook_points(site: str, layer: int, prefix: str = DEFAULT_LAYERS_PREFIX) -> tuple[str, str]:
    """The standard (hook_point_in, hook_point_out) for a site at a layer.

    ``prefix`` is where the decoder layers live: ``model.layers`` for text-only Gemma 3 (270M, 1B),
    ``model.language_model.layers`` for the multimodal checkpoints (4B and up).
    """
    _check_site(site)
    _check_layer(layer)
    base = f"{prefix}.{layer}"
    if site == "resid_post":
        return f"{base}.output", f"{base}.output"
    if site == "attn_out":
        return f"{base}.self_attn.o_proj.input", f"{base}.self_attn.o_proj.input"
    if site == "mlp_out":
        return f"{base}.post_feedforward_layernorm.output", f"{base}.post_feedforward_layernorm.output"
    return f"{base}.pre_feedforward_layernorm.output", f"{base}.post_feedforward_layernorm.output"


def gainless_mlp_input(layer: int, prefix: str = DEFAULT_LAYERS_PREFIX) -> dict[str, Any]:
    """The SAEConfig fields of an SAE that reads the pre-MLP RMSNorm's output *without* its ``(1 + w)``
    gain, as Gemma Scope 1 transcoders (their model card: the gain was folded into the MLP) and SAELens'
    ``blocks.L.ln2.hook_normalized`` do. No module outputs that, so the SAE reads the norm's input and
    applies the gainless norm itself, with Gemma's eps."""
    _check_layer(layer)
    return {
        "hook_point_in": f"{prefix}.{layer}.pre_feedforward_layernorm.input",
        "input_norm": "rms",
        "input_norm_eps": GEMMA_RMS_EPS,
    }


def layer_from_hook(hook: str | None) -> int | None:
    """``model.layers.22.output`` -> 22; None when the string names no layer."""
    if not hook:
        return None
    m = _LAYER_RE.search(hook)
    return int(m.group(1)) if m else None


def layer_from_folder(folder: str | None) -> int | None:
    """``resid_post/layer_13_width_16k_l0_medium`` or ``layer_5/width_16k/average_l0_71`` -> the layer."""
    if not folder:
        return None
    m = _FOLDER_LAYER_RE.search(folder)
    return int(m.group(1)) if m else None


def site_from_folder(folder: str | None) -> str | None:
    """The site a Gemma Scope 2 folder family implies (``resid_post_all/...`` -> resid_post), or None."""
    if not folder:
        return None
    family = folder.strip("/").split("/")[0]
    return _FAMILIES.get(family)


def site_from_hook(hook_in: str | None, hook_out: str | None = None, type: str = "sae") -> str | None:
    """The site a hook string implies, or None when it is not one of the standard four."""
    if type == "transcoder":
        return "transcoder"
    hook = hook_out or hook_in or ""
    if hook_in and re.search(r"\.pre_feedforward_layernorm\.(?:input|output)$", hook_in):
        return "transcoder"
    if hook.endswith(".self_attn.o_proj.input"):
        return "attn_out"
    if hook.endswith(".post_feedforward_layernorm.output"):
        return "mlp_out"
    if re.search(r"(?:^|\.)layers\.\d+\.output$", hook):
        return "resid_post"
    return None


def width_label(d_sae: int) -> str:
    """16384 -> '16k', 262144 -> '262k', 1048576 -> '1m', 100 -> '100'."""
    if d_sae >= 2**20 and d_sae % 2**20 == 0:
        return f"{d_sae // 2**20}m"
    if d_sae >= 1024 and d_sae % 1024 == 0:
        return f"{d_sae // 1024}k"
    return str(d_sae)


def _check_site(site: Any) -> None:
    if site not in SITES:
        raise ValueError(f"unknown SAE site {site!r}: the valid sites are {', '.join(SITES)}")


def _check_layer(layer: Any) -> None:
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
        raise ValueError(f"layer must be an int >= 0, got {layer!r}")


def _check_input_norm(norm: Any, eps: Any) -> None:
    if norm is not None and norm not in INPUT_NORMS:
        raise ValueError(
            f"unknown input_norm {norm!r}: use None (the SAE reads the hook's activation as it is) or 'rms' "
            "(an RMSNorm without gain, as Gemma Scope 1 transcoders need)"
        )
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"input_norm_eps must be a positive number, got {eps!r}")


def _check_width(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


@dataclass
class SAEConfig:
    """What an SAE is: its widths, where it reads and writes, and where it came from.

    Only ``d_in``, ``d_sae`` and a layer (``layer=`` or a hook string naming one) are required; the rest
    is derived: ``d_out = d_in``, ``type`` from the site, hook points from ``default_hook_points``,
    ``site`` from the hook points (``resid_post`` when there are none), ``name`` from site/layer/width.
    """

    d_in: int  # width the SAE reads (the model's hidden size for resid_post)
    d_sae: int  # number of features
    _: KW_ONLY
    d_out: int | None = None  # width the decoder writes; d_in unless a transcoder says otherwise
    architecture: str = "jump_relu"
    type: str | None = None  # "sae" | "transcoder"; derived from site when None
    site: str | None = None  # "resid_post" | "attn_out" | "mlp_out" | "transcoder"
    layer: int | None = None
    hook_point_in: str | None = None  # e.g. "model.layers.5.output"
    hook_point_out: str | None = None
    model_name: str | None = None  # e.g. "google/gemma-3-1b-pt"
    l0: float | None = None  # mean number of active features the SAE was trained for
    affine_connection: bool = False  # transcoders with a linear skip: decode adds x @ affine_skip_connection
    input_norm: str | None = None  # "rms": encode reads x * rsqrt(mean(x**2) + input_norm_eps) (Gemma Scope 1 transcoders)
    input_norm_eps: float = GEMMA_RMS_EPS
    name: str | None = None  # short display name, e.g. "gemma-scope-2-1b-pt/resid_post/layer_13_width_16k_l0_medium"
    extra: dict[str, Any] = field(default_factory=dict)  # config keys we do not interpret, kept verbatim

    def __post_init__(self) -> None:
        _check_width("d_in", self.d_in)
        _check_width("d_sae", self.d_sae)
        if self.d_out is None:
            self.d_out = self.d_in
        _check_width("d_out", self.d_out)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"unsupported SAE architecture {self.architecture!r}: only {', '.join(ARCHITECTURES)} is "
                "supported (a plain ReLU SAE is a jump_relu SAE with threshold 0)"
            )
        if self.type is not None and self.type not in TYPES:
            raise ValueError(f"unknown SAE type {self.type!r}: the valid types are {', '.join(TYPES)}")
        self._resolve_layer()
        self._resolve_site()
        if self.type is None:
            self.type = "transcoder" if self.site == "transcoder" else "sae"
        if (self.type == "transcoder") != (self.site == "transcoder"):
            raise ValueError(
                f"type {self.type!r} does not match site {self.site!r}: transcoders have site 'transcoder' "
                "and every other site has type 'sae'"
            )
        if self.type == "sae" and self.d_out != self.d_in:
            raise ValueError(
                f"d_out ({self.d_out}) must equal d_in ({self.d_in}) for an SAE, which reconstructs its input; "
                "only transcoders write a different width"
            )
        default_in, default_out = default_hook_points(self.site, self.layer)
        self.hook_point_in = self.hook_point_in or default_in
        self.hook_point_out = self.hook_point_out or default_out
        for attr in ("hook_point_in", "hook_point_out"):
            hook_layer = layer_from_hook(getattr(self, attr))
            if hook_layer is not None and hook_layer != self.layer:
                raise ValueError(f"{attr} {getattr(self, attr)!r} names layer {hook_layer} but layer is {self.layer}")
        if self.l0 is not None and (
            isinstance(self.l0, bool) or not isinstance(self.l0, (int, float)) or not math.isfinite(self.l0) or self.l0 < 0
        ):
            raise ValueError(f"l0 must be a number >= 0 or None, got {self.l0!r}")
        if not isinstance(self.affine_connection, bool):
            raise ValueError(f"affine_connection must be True or False, got {self.affine_connection!r}")
        _check_input_norm(self.input_norm, self.input_norm_eps)
        if not isinstance(self.extra, dict):
            raise ValueError(f"extra must be a dict, got {type(self.extra).__name__}")
        if self.name is None:
            self.name = f"{self.site}/layer_{self.layer}_width_{width_label(self.d_sae)}"

    def _resolve_layer(self) -> None:
        if self.layer is None:
            self.layer = layer_from_hook(self.hook_point_in)
        if self.layer is None:
            self.layer = layer_from_hook(self.hook_point_out)
        if self.layer is None:
            raise ValueError(
                "layer is required: pass layer=<int> or a hook point naming one, e.g. hook_point_in='model.layers.5.output'"
            )
        _check_layer(self.layer)

    def _resolve_site(self) -> None:
        if self.site is None:
            if self.hook_point_in or self.hook_point_out:
                self.site = site_from_hook(self.hook_point_in, self.hook_point_out, self.type or "sae")
                if self.site is None:
                    raise ValueError(
                        f"cannot tell the site from the hook points {self.hook_point_in!r} -> {self.hook_point_out!r}: "
                        f"pass site= one of {', '.join(SITES)}"
                    )
            else:
                self.site = "transcoder" if self.type == "transcoder" else "resid_post"
        _check_site(self.site)

    @property
    def hub_model_id(self) -> str | None:
        """The hub id of the model this SAE was made for (``model_name`` with known aliases mapped)."""
        return hub_model_id(self.model_name)

    @property
    def is_transcoder(self) -> bool:
        return self.type == "transcoder"

    def replace(self, **changes: Any) -> SAEConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ---- Gemma Scope 2 config.json ----

    @classmethod
    def from_gemma_scope_2(
        cls,
        config: dict[str, Any],
        folder: str | None = None,
        *,
        d_in: int | None = None,
        d_out: int | None = None,
        repo_id: str | None = None,
    ) -> SAEConfig:
        """Build a config from a Gemma Scope 2 ``config.json`` dict.

        ``folder`` (e.g. ``resid_post_all/layer_5_width_16k_l0_small``) gives the site through its family
        and the display name; failing that, the site comes from the hook strings. ``config.json`` does not
        record ``d_in``: pass it (the loader takes it from ``w_enc``), else it is looked up from the
        Gemma 3 model named in ``model_name``.
        """
        if not isinstance(config, dict):
            raise ValueError(f"a Gemma Scope 2 config must be a JSON object, got {type(config).__name__}")
        if "width" not in config:
            raise ValueError("config has no 'width' (the number of features, d_sae)")
        hook_in = config.get("hf_hook_point_in")
        hook_out = config.get("hf_hook_point_out") or hook_in
        sae_type = config.get("type", "sae")
        if sae_type not in TYPES:
            raise ValueError(f"unknown SAE type {sae_type!r} in config: the valid types are {', '.join(TYPES)}")
        site = config.get("site") or _site_for(folder, hook_in, hook_out, sae_type)
        layer = config.get("layer")
        if layer is None:
            layer = layer_from_hook(hook_in) if hook_in else None
            layer = layer if layer is not None else layer_from_folder(folder)
        if d_in is None:
            d_in = _d_model_of(config.get("model_name"))
        name = config.get("name") or _display_name(repo_id, folder)
        extra = {k: v for k, v in config.items() if k not in _GS2_KEYS and k not in _OWN_KEYS}
        return cls(
            d_in=d_in,
            d_sae=config["width"],
            d_out=d_out,
            architecture=config.get("architecture", "jump_relu"),
            type=sae_type,
            site=site,
            layer=layer,
            hook_point_in=hook_in,
            hook_point_out=hook_out,
            model_name=config.get("model_name"),
            l0=config.get("l0"),
            affine_connection=config.get("affine_connection", False),
            input_norm=config.get("input_norm"),
            input_norm_eps=config.get("input_norm_eps", GEMMA_RMS_EPS),
            name=name,
            extra=extra,
        )

    def to_gemma_scope_2(self) -> dict[str, Any]:
        """The Gemma Scope 2 ``config.json`` dict (the standard keys, then ``extra``)."""
        out: dict[str, Any] = {
            "hf_hook_point_in": self.hook_point_in,
            "hf_hook_point_out": self.hook_point_out,
            "width": self.d_sae,
            "model_name": self.model_name,
            "architecture": self.architecture,
            "l0": self.l0,
            "affine_connection": self.affine_connection,
            "type": self.type,
        }
        if self.input_norm is not None:  # our extension: written only when used, so plain configs stay plain
            out.update(input_norm=self.input_norm, input_norm_eps=self.input_norm_eps)
        out.update(self.extra)
        return out


def _site_for(folder: str | None, hook_in: str | None, hook_out: str | None, sae_type: str) -> str:
    if sae_type == "transcoder":
        return "transcoder"
    family = folder.strip("/").split("/")[0] if folder else ""
    if family in UNSUPPORTED_FAMILIES:
        raise ValueError(
            f"folder family {family!r} ({folder}) is not a single-layer SAE: crosscoders and CLTs are not supported"
        )
    site = site_from_folder(folder) or site_from_hook(hook_in, hook_out, sae_type)
    if site is None:
        raise ValueError(
            f"cannot tell the SAE site from folder {folder!r} or hook points {hook_in!r} -> {hook_out!r}: "
            f"expected a folder family ({', '.join(_FAMILIES)}) or a standard hook point"
        )
    return site


#: Model names in Gemma Scope 2 configs whose hub id differs (the 270M pretrained model has no "-pt" suffix).
MODEL_ID_ALIASES = {"google/gemma-3-270m-pt": "google/gemma-3-270m"}


def hub_model_id(model_name: str | None) -> str | None:
    """The hub id of the model an SAE config names (``google/gemma-3-270m-pt`` -> ``google/gemma-3-270m``)."""
    return MODEL_ID_ALIASES.get(model_name, model_name) if model_name else model_name


def _d_model_of(model_name: str | None) -> int:
    short = (model_name or "").split("/")[-1]
    for prefix, width in GEMMA3_D_MODEL.items():
        if short == prefix or short.startswith(prefix + "-"):
            return width
    raise ValueError(
        f"d_in is not recorded in config.json and model {model_name!r} is not a known Gemma 3 model: pass d_in="
    )


def _display_name(repo_id: str | None, folder: str | None) -> str | None:
    parts = [p for p in ((repo_id or "").split("/")[-1], (folder or "").strip("/")) if p and p != "."]
    return "/".join(parts) or None
