"""Reading and writing SAE files: Gemma Scope 2 (config.json + params.safetensors), Gemma Scope 1
(params.npz), local directories and the Hugging Face hub (through huggingface_hub's cache).

Every failure is an ``SAELoadError`` naming the path, what is wrong and what to do. Loading is safe:
safetensors, and ``numpy.load(allow_pickle=False)``; nothing is ever unpickled.
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
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from scope_widgets.saes.config import (
    SITES,
    UNSUPPORTED_FAMILIES,
    SAEConfig,
    layer_from_folder,
)
from scope_widgets.saes.errors import SAELoadError
from scope_widgets.saes.jumprelu import AFFINE_NAME, PARAM_NAMES, validate_params

if TYPE_CHECKING:  # pragma: no cover
    from scope_widgets.saes.jumprelu import SAE

CONFIG = "config.json"
PARAMS_ST = "params.safetensors"
PARAMS_NPZ = "params.npz"
EXAMPLES = "examples.safetensors"
PARAM_FILES = (PARAMS_ST, PARAMS_NPZ)

_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_GS1_REPO_RE = re.compile(r"gemma-scope-(\d+b)-(pt|it)-(res|mlp|att|transcoders)(?:-[\w.]+)?(?:/|$)", re.IGNORECASE)
_GS1_SITES = {"res": "resid_post", "mlp": "mlp_out", "att": "attn_out", "transcoders": "transcoder"}
_GS1_NAMES = {"W_enc": "w_enc", "W_dec": "w_dec", "b_enc": "b_enc", "b_dec": "b_dec", "threshold": "threshold"}
_MAX_HEADER = 100 * 2**20  # a safetensors header larger than this is not a real header


@dataclass
class Loaded:
    cfg: SAEConfig
    params: dict[str, Tensor]  # validated against cfg
    examples_path: str | None = None


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
    if kind == "local":
        return _load_local(where, _norm_folder(folder), site=site, device=device)
    return _load_hub(
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
        return _local_folders(Path(where))
    import huggingface_hub as hf
    from huggingface_hub import errors as hf_errors

    try:
        files = hf.list_repo_files(where, revision=revision)
    except hf_errors.RepositoryNotFoundError as e:
        raise SAELoadError(_repo_not_found(where, e)) from e
    except Exception as e:  # offline, no connection, hub down: fall back to what the cache holds
        cached = _cached_folders(where, cache_dir, revision)
        if cached:
            warnings.warn(
                f"could not list {where} on the hub ({type(e).__name__}); listing the folders in the local cache only",
                stacklevel=3,
            )
            return cached
        raise SAELoadError(
            f"cannot list the SAE folders of {where}: the hub could not be reached ({type(e).__name__}: {e}) "
            f"and the local cache holds none.{_offline_advice(where, None)}"
        ) from e
    return folders_from_files(files)


def save(sae: SAE, directory: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` + ``params.safetensors`` (Gemma Scope 2 layout) atomically."""
    from safetensors.torch import save_file

    out = Path(directory).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    config = sae.cfg.to_gemma_scope_2()
    config.update({"site": sae.site, "layer": sae.layer, "name": sae.name})  # our keys: read back identically
    tensors = {k: p.detach().contiguous().cpu() for k, p in sae.named_parameters()}  # Gemma Scope 2 names
    tmp_params, tmp_config = out / f".{PARAMS_ST}.tmp", out / f".{CONFIG}.tmp"
    save_file(tensors, str(tmp_params), metadata={"format": "pt"})
    tmp_config.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_params, out / PARAMS_ST)
    os.replace(tmp_config, out / CONFIG)
    return out


def folders_from_files(files: list[str]) -> list[str]:
    """Repo file paths -> the folders holding a params file, naturally sorted (``"."`` for the root)."""
    folders = {(os.path.dirname(f) or ".") for f in files if os.path.basename(f) in PARAM_FILES}
    return sorted(folders, key=natural_key)


def natural_key(s: str) -> list[Any]:
    """Sort key: layer_2 before layer_10."""
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", s)]


# ---------------------------------------------------------------------------------------------------
# local directories


def _classify(source: str | os.PathLike[str]) -> tuple[str, Any]:
    path = Path(source).expanduser()
    if path.is_dir():
        return "local", path
    text = os.fspath(source)
    if isinstance(text, str) and _REPO_ID_RE.match(text) and not path.exists():
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


def _local_folders(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if any(f in filenames for f in PARAM_FILES):
            rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
            found.append(rel)
    return sorted(found, key=natural_key)


def _load_local(root: Path, folder: str | None, *, site: str | None, device: torch.device | None) -> Loaded:
    sub = root / folder if folder else root
    if not sub.is_dir():
        raise SAELoadError(
            f"{sub}: no such SAE folder in {root}.{_folders_hint(_local_folders(root), folder)} "
            "Check the folder name with SAE.list(<dir>)."
        )
    present = {name for name in (CONFIG, PARAMS_ST, PARAMS_NPZ, EXAMPLES) if (sub / name).is_file()}
    display = _local_display(root)
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
    hint = _folders_hint(_local_folders(root), folder) if folder or not present else ""
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
    m = _GS1_REPO_RE.search(where) or _GS1_REPO_RE.search(Path(path).resolve().as_posix())
    if m:
        return _GS1_SITES[m.group(3).lower()]
    warnings.warn(
        f"{path}: cannot tell the site of this Gemma Scope 1 SAE (no -res/-mlp/-att/-transcoders repo name): "
        "assuming resid_post; pass site= to SAE.from_pretrained to say otherwise",
        stacklevel=5,
    )
    return "resid_post"


def _gs1_model_name(where: str) -> str | None:
    m = _GS1_REPO_RE.search(where)
    if not m:
        return None
    size, variant = m.group(1).lower(), m.group(2).lower()
    return f"google/gemma-2-{size}" + ("-it" if variant == "it" else "")


# ---------------------------------------------------------------------------------------------------
# the hub


class _RemoteMissing(SAELoadError):
    """The hub answered: no such file in the repo."""


def _load_hub(
    repo_id: str,
    folder: str | None,
    *,
    revision: str | None,
    include_examples: bool,
    cache_dir: str | os.PathLike[str] | None,
    site: str | None,
    device: torch.device | None,
) -> Loaded:
    family = (folder or "").split("/")[0]
    if family in UNSUPPORTED_FAMILIES:
        raise SAELoadError(
            f"{repo_id}/{folder}: {family} folders hold multi-layer crosscoders / CLTs, which are not supported; "
            "choose a resid_post, attn_out, mlp_out or transcoder folder (see SAE.list)"
        )
    get = dict(revision=revision, cache_dir=cache_dir)
    if _GS1_REPO_RE.search(repo_id + "/") or "average_l0_" in (folder or ""):
        return _load_hub_gs1(repo_id, folder, site=site, device=device, **get)
    try:
        config_path = hub_file(repo_id=repo_id, folder=folder, filename=CONFIG, **get)
    except _RemoteMissing as e:
        files = _remote_files(repo_id, revision)
        if folder and _in_repo(folder, PARAMS_NPZ) in files:
            return _load_hub_gs1(repo_id, folder, site=site, device=device, **get)
        need = "" if folder else " Pass the SAE's folder as the second argument."
        raise SAELoadError(f"{e}{need}{_folders_hint(folders_from_files(files), folder)}") from e
    params_path = hub_file(repo_id=repo_id, folder=folder, filename=PARAMS_ST, **get)
    cfg, params = read_gemma_scope_2(config_path, params_path, folder=folder, repo_id=repo_id, device=device)
    examples = _examples_path(folder, include_examples, repo_id=repo_id, **get)
    return Loaded(cfg, params, examples)


def _load_hub_gs1(
    repo_id: str, folder: str | None, *, site: str | None, device: torch.device | None, **get: Any
) -> Loaded:
    npz = hub_file(folder=folder, filename=PARAMS_NPZ, repo_id=repo_id, **get)
    cfg, params = read_gemma_scope_1(npz, folder=folder, repo_id=repo_id, site=site, device=device)
    return Loaded(cfg, params, None)


def _examples_path(folder: str | None, include: bool, *, repo_id: str, revision: str | None, cache_dir: Any) -> str | None:
    if include:
        return hub_file(folder=folder, filename=EXAMPLES, repo_id=repo_id, revision=revision, cache_dir=cache_dir)
    import huggingface_hub as hf

    cached = hf.try_to_load_from_cache(repo_id, _in_repo(folder, EXAMPLES), cache_dir=cache_dir, revision=revision)
    return cached if isinstance(cached, str) else None


def _in_repo(folder: str | None, filename: str) -> str:
    return f"{folder}/{filename}" if folder else filename


def hub_file(
    *, repo_id: str, folder: str | None, filename: str, revision: str | None, cache_dir: Any
) -> str:
    """``hf_hub_download`` of one file, its errors turned into SAELoadErrors that say what to do."""
    import huggingface_hub as hf
    from huggingface_hub import errors as hf_errors

    path = _in_repo(folder, filename)
    try:
        return hf.hf_hub_download(repo_id, path, revision=revision, cache_dir=cache_dir)
    except hf_errors.RepositoryNotFoundError as e:  # GatedRepoError included
        raise SAELoadError(_repo_not_found(repo_id, e)) from e
    except hf_errors.RevisionNotFoundError as e:
        raise SAELoadError(f"{repo_id} has no revision {revision!r}: check the branch, tag or commit") from e
    except hf_errors.RemoteEntryNotFoundError as e:
        raise _RemoteMissing(f"{repo_id} has no file {path}: check the folder name with SAE.list({repo_id!r}).") from e
    except hf_errors.LocalEntryNotFoundError as e:
        cached = _cached_folders(repo_id, cache_dir, revision)
        raise SAELoadError(
            f"{repo_id}: {path} is not in the local Hugging Face cache ({_cache_root(cache_dir)}) and the hub "
            f"could not be reached.{_offline_advice(repo_id, folder)}{_folders_hint(cached, folder, 'cached folders')}"
        ) from e
    except (OSError, ValueError, hf_errors.HfHubHTTPError) as e:
        raise SAELoadError(f"{repo_id}: could not download {path} ({type(e).__name__}: {e})") from e


def _repo_not_found(repo_id: str, err: Exception) -> str:
    from huggingface_hub import errors as hf_errors

    if isinstance(err, hf_errors.GatedRepoError):
        return (
            f"{repo_id} is gated: accept its licence on https://huggingface.co/{repo_id} and log in "
            "(`hf auth login` or HF_TOKEN)"
        )
    return (
        f"no hub repo {repo_id!r} (or it is private): check the id, e.g. 'google/gemma-scope-2-1b-pt', "
        "or log in if it is private"
    )


def _offline_advice(repo_id: str, folder: str | None) -> str:
    from huggingface_hub import constants

    include = f" --include '{folder}/*'" if folder else ""
    offline = " HF_HUB_OFFLINE=1 is set." if constants.HF_HUB_OFFLINE else ""
    return (
        f"{offline} To fix: set HF_HUB_OFFLINE=0 on a machine with network access to download it, or download it "
        f"first (`hf download {repo_id}{include}`), and check the folder name with SAE.list({repo_id!r})."
    )


def _remote_files(repo_id: str, revision: str | None) -> list[str]:
    """The repo's file list, or [] when it cannot be had (used for hints only)."""
    import huggingface_hub as hf

    try:
        return list(hf.list_repo_files(repo_id, revision=revision))
    except Exception:
        return []


def _cache_root(cache_dir: Any) -> str:
    from huggingface_hub import constants

    return str(Path(cache_dir or constants.HF_HUB_CACHE).expanduser())


def _cached_folders(repo_id: str, cache_dir: Any, revision: str | None) -> list[str]:
    """SAE folders present in the local hub cache for a repo (for hints and offline listing)."""
    storage = Path(_cache_root(cache_dir)) / ("models--" + repo_id.replace("/", "--"))
    snapshots = storage / "snapshots"
    if not snapshots.is_dir():
        return []
    ref = storage / "refs" / (revision or "main")
    commit = ref.read_text().strip() if ref.is_file() else revision
    chosen = [snapshots / commit] if commit and (snapshots / commit).is_dir() else list(snapshots.iterdir())
    found: set[str] = set()
    for snap in chosen:
        found.update(_local_folders(snap))
    return sorted(found, key=natural_key)


def _folders_hint(folders: list[str], wanted: str | None, label: str = "available folders") -> str:
    if not folders:
        return ""
    close = difflib.get_close_matches(wanted or "", folders, n=5, cutoff=0.6) if wanted else []
    if close:
        return f" Did you mean: {', '.join(close)}?"
    shown = ", ".join(folders[:10]) + (", ..." if len(folders) > 10 else "")
    return f" {label.capitalize()} ({len(folders)}): {shown}."

