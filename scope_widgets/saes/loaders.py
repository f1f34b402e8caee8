"""Loading and saving SAEs: where a folder is (a local directory or a hub repo), listing folders, saving.

The file formats are in ``saes.formats``, hub access in ``saes.hub``.

Every failure is an ``SAELoadError`` naming the path, what is wrong and what to do. Loading is safe:
safetensors, and ``numpy.load(allow_pickle=False)``; nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from scope_widgets.runtime import atomic_write_text
from scope_widgets.saes.config import SITES
from scope_widgets.saes.errors import SAELoadError
from scope_widgets.saes.formats import (
    CONFIG, EXAMPLES, PARAMS_NPZ, PARAMS_ST, REPO_ID_RE, Loaded, folders_hint,
    read_gemma_scope_1, read_gemma_scope_2, refuse_unsupported, sae_folders_in,
)
from scope_widgets.saes.hub import list_hub_folders, load_hub

if TYPE_CHECKING:  # pragma: no cover
    from scope_widgets.saes.jumprelu import SAE

# ---------------------------------------------------------------------------------------------------
# entry points


def load(
    source: str | os.PathLike[str],
    folder: str | None,
    *,
    revision: str | None = None,
    include_examples: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    site: str | None = None,
    device: torch.device | None = None,
) -> Loaded:
    """Load the SAE in ``folder`` of a local directory or hub repo (see ``SAE.from_pretrained``)."""
    if site is not None and site not in SITES:
        raise ValueError(f"unknown SAE site {site!r}: the valid sites are {', '.join(SITES)}")
    kind, where = _classify(source)
    refuse_unsupported(_norm_folder(folder), str(where))
    if kind == "local":
        return _load_local(where, _norm_folder(folder), site=site, device=device)
    return load_hub(
        where,
        _norm_folder(folder),
        revision=revision,
        include_examples=include_examples,
        cache_dir=cache_dir,
        site=site,
        device=device,
    )


def list_folders(
    source: str | os.PathLike[str],
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> list[str]:
    """SAE folders (holding params.safetensors or params.npz) of a local directory or hub repo."""
    kind, where = _classify(source)
    if kind == "local":
        return sae_folders_in(Path(where))
    return list_hub_folders(where, revision=revision, cache_dir=cache_dir)


def save(sae: SAE, directory: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` + ``params.safetensors`` (Gemma Scope 2 layout) atomically."""
    from safetensors.torch import save_file

    out = Path(directory).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    config = sae.cfg.to_gemma_scope_2()
    config.update({"site": sae.site, "layer": sae.layer, "name": sae.name})  # our keys: read back identically
    tensors = {k: p.detach().contiguous().cpu() for k, p in sae.named_parameters()}  # Gemma Scope 2 names
    tmp_params = out / f".{PARAMS_ST}.tmp"
    save_file(tensors, str(tmp_params), metadata={"format": "pt"})
    tmp_params.chmod(0o644)  # safetensors writes 0600; a saved SAE (package data too) must be readable
    os.replace(tmp_params, out / PARAMS_ST)
    atomic_write_text(out / CONFIG, json.dumps(config, indent=2) + "\n")
    return out


# ---------------------------------------------------------------------------------------------------
# local directories


def _classify(source: str | os.PathLike[str]) -> tuple[str, Any]:
    path = Path(source).expanduser()
    if path.is_dir():
        return "local", path
    text = os.fspath(source)
    if isinstance(text, str) and REPO_ID_RE.match(text) and not path.exists():
        return "hub", text
    if path.exists():
        raise SAELoadError(
            f"{path} is a file: pass the directory holding config.json + params.safetensors (or params.npz)"
        )
    raise SAELoadError(
        f"{source}: no such local directory, and not a hub repo id of the form 'org/name' "
        "(e.g. 'google/gemma-scope-2-1b-pt')"
    )


def _norm_folder(folder: str | os.PathLike[str] | None) -> str | None:
    if folder is None:
        return None
    text = os.fspath(folder).replace("\\", "/").strip("/")
    return None if text in ("", ".") else text


def _load_local(root: Path, folder: str | None, *, site: str | None, device: torch.device | None) -> Loaded:
    sub = root / folder if folder else root
    if not sub.is_dir():
        raise SAELoadError(
            f"{sub}: no such SAE folder in {root}.{folders_hint(sae_folders_in(root), folder)} "
            "Check the folder name with SAE.list(<dir>)."
        )
    present = {name for name in (CONFIG, PARAMS_ST, PARAMS_NPZ, EXAMPLES) if (sub / name).is_file()}
    display = _local_display(root)
    layered = sorted(p.name for p in sub.glob("params_layer_*.safetensors"))
    if layered and PARAMS_ST not in present:
        raise SAELoadError(
            f"{sub} holds a cross-layer transcoder or crosscoder ({len(layered)} files such as {layered[0]}), "
            "which scope_widgets does not support yet. Supported: single-layer SAEs and transcoders "
            "(resid_post, attn_out, mlp_out, transcoder folders; see SAE.list(<dir>))."
        )
    if CONFIG in present or PARAMS_ST in present:
        for needed in (CONFIG, PARAMS_ST):
            if needed not in present:
                raise SAELoadError(
                    f"{sub}: {needed} is missing (a Gemma Scope 2 folder holds config.json and "
                    "params.safetensors): copy or download the whole folder"
                )
        cfg, params = read_gemma_scope_2(
            sub / CONFIG, sub / PARAMS_ST, folder=folder, repo_id=display, device=device
        )
        examples = str(sub / EXAMPLES) if EXAMPLES in present else None
        return Loaded(cfg, params, examples)
    if PARAMS_NPZ in present:
        cfg, params = read_gemma_scope_1(sub / PARAMS_NPZ, folder=folder, repo_id=display, site=site, device=device)
        return Loaded(cfg, params, None)
    hint = folders_hint(sae_folders_in(root), folder) if folder or not present else ""
    raise SAELoadError(
        f"{sub} holds no SAE: expected config.json + params.safetensors (Gemma Scope 2) or params.npz "
        f"(Gemma Scope 1).{hint} Check the folder name with SAE.list(<dir>)."
    )


def _local_display(root: Path) -> str:
    """A hub snapshot .../models--org--name/snapshots/<commit> -> 'org/name'; else the directory's name."""
    parts = root.resolve().parts
    for i, part in enumerate(parts):
        if part.startswith("models--") and i + 1 < len(parts) and parts[i + 1] == "snapshots":
            return part.removeprefix("models--").replace("--", "/")
    return root.resolve().name


