"""The Hugging Face hub: SAE files through huggingface_hub's cache (so ``HF_HUB_OFFLINE=1`` works), with
errors that say what to do.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from scope_widgets.saes.config import UNSUPPORTED_FAMILIES
from scope_widgets.saes.errors import SAELoadError
from scope_widgets.saes.formats import (
    CONFIG, EXAMPLES, GS1_REPO_RE, PARAMS_NPZ, PARAMS_ST, Loaded, folders_from_files, folders_hint, natural_key,
    read_gemma_scope_1, read_gemma_scope_2, sae_folders_in,
)

class _RemoteMissing(SAELoadError):
    """The hub answered: no such file in the repo."""


def load_hub(
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
    if GS1_REPO_RE.search(repo_id + "/") or "average_l0_" in (folder or ""):
        return _load_hub_gs1(repo_id, folder, site=site, device=device, **get)
    try:
        config_path = hub_file(repo_id=repo_id, folder=folder, filename=CONFIG, **get)
    except _RemoteMissing as e:
        files = remote_files(repo_id, revision)
        if folder and _in_repo(folder, PARAMS_NPZ) in files:
            return _load_hub_gs1(repo_id, folder, site=site, device=device, **get)
        need = "" if folder else " Pass the SAE's folder as the second argument."
        raise SAELoadError(f"{e}{need}{folders_hint(folders_from_files(files), folder)}") from e
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


class _Never(Exception):
    """Stands in for an exception class this huggingface_hub version does not have."""


def hub_errors() -> SimpleNamespace:
    """huggingface_hub's exception classes, whichever generation is installed.

    1.x raises ``RemoteEntryNotFoundError`` for a file the hub does not have; 0.x raises
    ``EntryNotFoundError``, of which ``LocalEntryNotFoundError`` (not cached, hub unreachable) is a
    subclass there, so the local case must be caught first.
    """
    import huggingface_hub

    try:
        from huggingface_hub import errors as mod
    except ImportError:  # hub < 0.24
        mod = huggingface_hub.utils

    def get(name: str) -> type[BaseException]:
        return getattr(mod, name, None) or getattr(huggingface_hub.utils, name, None) or _Never

    return SimpleNamespace(
        repo=get("RepositoryNotFoundError"), gated=get("GatedRepoError"), revision=get("RevisionNotFoundError"),
        local=get("LocalEntryNotFoundError"),
        remote=getattr(mod, "RemoteEntryNotFoundError", None) or get("EntryNotFoundError"),
        http=get("HfHubHTTPError"),
    )


def hub_file(
    *, repo_id: str, folder: str | None, filename: str, revision: str | None, cache_dir: Any
) -> str:
    """``hf_hub_download`` of one file, its errors turned into SAELoadErrors that say what to do."""
    import huggingface_hub as hf

    err = hub_errors()
    path = _in_repo(folder, filename)
    try:
        return hf.hf_hub_download(repo_id, path, revision=revision, cache_dir=cache_dir)
    except err.repo as e:  # GatedRepoError included
        raise SAELoadError(_repo_not_found(repo_id, e)) from e
    except err.revision as e:
        raise SAELoadError(f"{repo_id} has no revision {revision!r}: check the branch, tag or commit") from e
    except err.local as e:  # before `remote`: in hub 0.x it subclasses EntryNotFoundError
        cached = cached_folders(repo_id, cache_dir, revision)
        raise SAELoadError(
            f"{repo_id}: {path} is not in the local Hugging Face cache ({_cache_root(cache_dir)}) and the hub "
            f"could not be reached.{_offline_advice(repo_id, folder)}{folders_hint(cached, folder, 'cached folders')}"
        ) from e
    except err.remote as e:
        raise _RemoteMissing(f"{repo_id} has no file {path}: check the folder name with SAE.list({repo_id!r}).") from e
    except (OSError, ValueError, err.http) as e:
        raise SAELoadError(f"{repo_id}: could not download {path} ({type(e).__name__}: {e})") from e


def _repo_not_found(repo_id: str, err: Exception) -> str:
    if isinstance(err, hub_errors().gated):
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


def remote_files(repo_id: str, revision: str | None) -> list[str]:
    """The repo's file list, or [] when it cannot be had (used for hints only)."""
    import huggingface_hub as hf

    try:
        return list(hf.list_repo_files(repo_id, revision=revision))
    except Exception:
        return []


def _cache_root(cache_dir: Any) -> str:
    from huggingface_hub import constants

    return str(Path(cache_dir or constants.HF_HUB_CACHE).expanduser())


def cached_folders(repo_id: str, cache_dir: Any, revision: str | None) -> list[str]:
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
        found.update(sae_folders_in(snap))
    return sorted(found, key=natural_key)


def list_hub_folders(repo_id: str, *, revision: str | None, cache_dir: Any) -> list[str]:
    """The SAE folders of a hub repo; offline, those in the local cache (with a warning)."""
    import huggingface_hub as hf

    try:
        files = hf.list_repo_files(repo_id, revision=revision)
    except hub_errors().repo as e:
        raise SAELoadError(_repo_not_found(repo_id, e)) from e
    except Exception as e:  # offline, no connection, hub down: fall back to what the cache holds
        cached = cached_folders(repo_id, cache_dir, revision)
        if cached:
            warnings.warn(
                f"could not list {repo_id} on the hub ({type(e).__name__}); listing the folders in the local cache only",
                stacklevel=3,
            )
            return cached
        raise SAELoadError(
            f"cannot list the SAE folders of {repo_id}: the hub could not be reached ({type(e).__name__}: {e}) "
            f"and the local cache holds none.{_offline_advice(repo_id, None)}"
        ) from e
    return folders_from_files(files)

