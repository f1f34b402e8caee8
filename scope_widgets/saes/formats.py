"""SAE file formats: Gemma Scope 2 (config.json + params.safetensors) and Gemma Scope 1 (params.npz).

Reading is safe: safetensors (its header checked before anything is read), and
``numpy.load(allow_pickle=False)``; nothing is ever unpickled. Every failure is an ``SAELoadError``
naming the path, what is wrong and what to do.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from scope_widgets.saes.config import SAEConfig, gainless_mlp_input, layer_from_folder
from scope_widgets.saes.errors import SAELoadError
from scope_widgets.saes.params import AFFINE_NAME, PARAM_NAMES, validate_params

CONFIG = "config.json"
PARAMS_ST = "params.safetensors"
PARAMS_NPZ = "params.npz"
EXAMPLES = "examples.safetensors"
PARAM_FILES = (PARAMS_ST, PARAMS_NPZ)

REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
GS1_REPO_RE = re.compile(r"gemma-scope-(\d+b)-(pt|it)-(res|mlp|att|transcoders)(?:-[\w.]+)?(?:/|$)", re.IGNORECASE)
_GS1_SITES = {"res": "resid_post", "mlp": "mlp_out", "att": "attn_out", "transcoders": "transcoder"}
_GS1_NAMES = {"W_enc": "w_enc", "W_dec": "w_dec", "b_enc": "b_enc", "b_dec": "b_dec", "threshold": "threshold"}
_MAX_HEADER = 100 * 2**20  # a safetensors header larger than this is not a real header


@dataclass
class Loaded:
    cfg: SAEConfig
    params: dict[str, Tensor]  # validated against cfg
    examples_path: str | None = None



#: Folder families listed nowhere because nothing here loads them (see ``refuse_unsupported``).
UNLISTED_FAMILIES = ("embedding",)


def refuse_unsupported(folder: str | None, where: str) -> None:
    """A clear error for folders scope_widgets cannot use (before any file is read)."""
    family = (folder or "").strip("/").split("/")[0]
    if family == "embedding":
        raise SAELoadError(
            f"{where}/{folder}: Gemma Scope 1 embedding SAEs read the token embeddings (rescaled), which scope_widgets "
            "does not hook; choose a layer_N folder (see SAE.list)"
        )


def folders_from_files(files: list[str]) -> list[str]:
    """Repo file paths -> the folders holding a params file, naturally sorted (``"."`` for the root);
    folder families that cannot be loaded here (``UNLISTED_FAMILIES``) are left out."""
    folders = {(os.path.dirname(f) or ".") for f in files if os.path.basename(f) in PARAM_FILES}
    folders = {f for f in folders if f.split("/")[0] not in UNLISTED_FAMILIES}
    return sorted(folders, key=natural_key)


def natural_key(s: str) -> list[Any]:
    """Sort key: layer_2 before layer_10."""
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", s)]


def sae_folders_in(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if any(f in filenames for f in PARAM_FILES):
            rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
            if rel.split("/")[0] not in UNLISTED_FAMILIES:
                found.append(rel)
    return sorted(found, key=natural_key)


def folders_hint(folders: list[str], wanted: str | None, label: str = "available folders") -> str:
    if not folders:
        return ""
    close = difflib.get_close_matches(wanted or "", folders, n=5, cutoff=0.6) if wanted else []
    if close:
        return f" Did you mean: {', '.join(close)}?"
    shown = ", ".join(folders[:10]) + (", ..." if len(folders) > 10 else "")
    return f" {label.capitalize()} ({len(folders)}): {shown}."


# ---------------------------------------------------------------------------------------------------
# Gemma Scope 2


def read_gemma_scope_2(
    config_path: Path | str,
    params_path: Path | str,
    *,
    folder: str | None,
    repo_id: str | None,
    device: torch.device | None = None,
) -> tuple[SAEConfig, dict[str, Tensor]]:
    raw = read_json(config_path)
    params = canonical_names(read_safetensors(params_path, device))
    w_enc, w_dec = params.get("w_enc"), params.get("w_dec")
    for key, t in (("w_enc", w_enc), ("w_dec", w_dec)):
        if t is None:
            raise SAELoadError(
                f"{params_path}: missing tensor '{key}' (found: {', '.join(sorted(params)) or 'none'}); "
                f"a JumpReLU SAE needs {', '.join(PARAM_NAMES)}"
            )
        if t.ndim != 2:
            raise SAELoadError(f"{params_path}: tensor '{key}' should be a matrix but has shape {tuple(t.shape)}")
    d_in, d_sae = w_enc.shape  # type: ignore[union-attr]
    if "width" in raw and raw["width"] != d_sae:
        raise SAELoadError(
            f"{config_path}: width {raw['width']} does not match params.safetensors (w_enc has {d_sae} features): "
            "the config and params come from different SAEs"
        )
    raw = {"width": d_sae, **raw}
    if AFFINE_NAME in params and not raw.get("affine_connection", False):
        warnings.warn(f"{params_path} holds '{AFFINE_NAME}': treating the SAE as affine", stacklevel=4)
        raw["affine_connection"] = True
    try:
        d_out = w_dec.shape[1] if raw.get("type") == "transcoder" else None  # type: ignore[union-attr]
        cfg = SAEConfig.from_gemma_scope_2(raw, folder, d_in=d_in, d_out=d_out, repo_id=repo_id)
    except ValueError as e:
        raise SAELoadError(f"{config_path}: {e}") from e
    return cfg, validate_params(params, cfg, source=str(params_path))


def read_json(path: Path | str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SAELoadError(f"{path}: cannot read config.json ({e}): download the folder again") from e
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise SAELoadError(
            f"{path}: invalid JSON in config.json (line {e.lineno}, column {e.colno}: {e.msg}): "
            "the file is corrupt or was edited by hand; download it again"
        ) from e
    if not isinstance(raw, dict):
        raise SAELoadError(f"{path}: config.json should hold a JSON object, not a {type(raw).__name__}")
    return raw


def check_safetensors_file(path: Path | str) -> None:
    """Cheap structural check, so a cut-off download says 'truncated' rather than a parser error."""
    size = os.path.getsize(path)
    redo = "delete it and download (or save) it again"
    if size < 8:
        raise SAELoadError(f"{path}: truncated safetensors file ({size} bytes): {redo}")
    with open(path, "rb") as fh:
        (n_header,) = struct.unpack("<Q", fh.read(8))
        if n_header > _MAX_HEADER:
            raise SAELoadError(f"{path}: corrupt safetensors file (not a valid header; header size {n_header}): {redo}")
        if 8 + n_header > size:
            raise SAELoadError(
                f"{path}: truncated safetensors file (the header alone needs {8 + n_header} bytes, "
                f"the file has {size}): {redo}"
            )
        try:
            header = json.loads(fh.read(n_header))
            end = max(
                (int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            raise SAELoadError(f"{path}: corrupt safetensors file (unreadable header: {e}): {redo}") from e
    if 8 + n_header + end > size:
        raise SAELoadError(
            f"{path}: truncated safetensors file (expected {8 + n_header + end} bytes, found {size}; "
            f"the download was probably interrupted): {redo}"
        )


def read_safetensors(path: Path | str, device: torch.device | None = None) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    check_safetensors_file(path)
    try:
        return load_file(str(path), device=str(device) if device is not None else "cpu")
    except Exception as e:  # SafetensorError and friends
        raise SAELoadError(
            f"{path}: corrupt safetensors file ({type(e).__name__}: {e}): delete it and download it again"
        ) from e


def canonical_names(params: dict[str, Tensor]) -> dict[str, Tensor]:
    """Accept ``W_enc`` / ``W_dec`` spellings as well as the Gemma Scope 2 ``w_enc`` / ``w_dec``."""
    return {_GS1_NAMES.get(k, k): v for k, v in params.items()}


# ---------------------------------------------------------------------------------------------------
# Gemma Scope 1


def read_gemma_scope_1(
    npz_path: Path | str,
    *,
    folder: str | None,
    repo_id: str | None,
    site: str | None = None,
    device: torch.device | None = None,
) -> tuple[SAEConfig, dict[str, Tensor]]:
    arrays = read_npz(npz_path, wanted=tuple(_GS1_NAMES) + tuple(_GS1_NAMES.values()))
    params = canonical_names({k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in arrays.items()})
    w_enc, w_dec = params.get("w_enc"), params.get("w_dec")
    for key, t in (("W_enc", w_enc), ("W_dec", w_dec)):
        if t is None:
            raise SAELoadError(
                f"{npz_path}: missing array '{key}' (found: {', '.join(sorted(arrays)) or 'none'}); "
                "a Gemma Scope 1 params.npz holds W_enc, W_dec, b_enc, b_dec, threshold"
            )
        if t.ndim != 2:
            raise SAELoadError(f"{npz_path}: array '{key}' should be a matrix but has shape {tuple(t.shape)}")
    where = f"{repo_id or ''}/{folder or ''}/{npz_path}"
    layer = layer_from_folder(folder) if folder else None
    layer = layer if layer is not None else layer_from_folder(str(npz_path))
    if layer is None:
        raise SAELoadError(f"{npz_path}: cannot tell the layer: expected a folder like layer_5/width_16k/average_l0_71")
    l0 = re.search(r"average_l0_(\d+)", where)
    site = site or _gs1_site(where, npz_path)
    try:
        cfg = SAEConfig(
            d_in=w_enc.shape[0],  # type: ignore[union-attr]
            d_sae=w_enc.shape[1],  # type: ignore[union-attr]
            d_out=w_dec.shape[1] if site == "transcoder" else None,  # type: ignore[union-attr]
            site=site,
            layer=layer,
            **(gainless_mlp_input(layer) if site == "transcoder" else {}),  # see gainless_mlp_input
            model_name=_gs1_model_name(where),
            l0=int(l0.group(1)) if l0 else None,
            name="/".join(p for p in ((repo_id or "").split("/")[-1], folder or "") if p),
        )
    except ValueError as e:
        raise SAELoadError(f"{npz_path}: {e}") from e
    params = validate_params(params, cfg, source=str(npz_path))
    if device is not None:
        params = {k: v.to(device) for k, v in params.items()}
    return cfg, params


def read_npz(path: Path | str, wanted: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays named in ``wanted`` from an .npz, never unpickling anything."""
    redo = "delete it and download it again"
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise SAELoadError(_refuse_pickle(path, e)) from e
        raise SAELoadError(f"{path}: not a readable .npz archive ({e}): {redo}") from e
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise SAELoadError(f"{path}: truncated or corrupt .npz archive ({e}): {redo}") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise SAELoadError(f"{path}: expected an .npz archive of named arrays, found a single .npy array")
    out: dict[str, np.ndarray] = {}
    with archive:
        for key in archive.files:
            if key not in wanted:
                continue
            try:
                arr = archive[key]
            except ValueError as e:
                if "pickle" in str(e).lower() or "object" in str(e).lower():
                    raise SAELoadError(_refuse_pickle(path, e, key)) from e
                raise SAELoadError(f"{path}: array '{key}' is unreadable ({e}): {redo}") from e
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
                raise SAELoadError(f"{path}: truncated or corrupt .npz archive (array '{key}': {e}): {redo}") from e
            if arr.dtype.kind != "f":
                raise SAELoadError(f"{path}: array '{key}' has dtype {arr.dtype}; SAE parameters must be floating point")
            out[key] = arr
    return out


def _refuse_pickle(path: Path | str, err: Exception, key: str | None = None) -> str:
    what = f"array '{key}' is" if key else "it holds"
    return (
        f"{path}: refusing to unpickle: {what} a pickled / object array ({err}), and loading pickles can run "
        "arbitrary code; re-save it with numpy.savez of plain float arrays (W_enc, W_dec, b_enc, b_dec, threshold)"
    )


def _gs1_site(where: str, path: Path | str) -> str:
    m = GS1_REPO_RE.search(where) or GS1_REPO_RE.search(Path(path).resolve().as_posix())
    if m:
        return _GS1_SITES[m.group(3).lower()]
    warnings.warn(
        f"{path}: cannot tell the site of this Gemma Scope 1 SAE (no -res/-mlp/-att/-transcoders repo name): "
        "assuming resid_post; pass site= to SAE.from_pretrained to say otherwise",
        stacklevel=5,
    )
    return "resid_post"


def _gs1_model_name(where: str) -> str | None:
    m = GS1_REPO_RE.search(where)
    if not m:
        return None
    size, variant = m.group(1).lower(), m.group(2).lower()
    return f"google/gemma-2-{size}" + ("-it" if variant == "it" else "")
