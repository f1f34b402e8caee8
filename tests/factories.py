"""Test helpers: tiny random SAEs and writers of fake SAE folders and hub caches (no downloads).

    sae = tiny_sae(d_in=16, d_sae=32)
    write_gemma_scope_2(tmp_path, sae, "resid_post/layer_0_width_32_l0_small")
    write_gemma_scope_1(tmp_path, sae, "layer_0/width_32/average_l0_5")
    make_fake_hub_cache(cache_dir, "google/gemma-scope-2-270m-pt", gemma_scope_2_files(sae, folder))
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes

from scope_widgets.saes import SAE, SAEConfig

FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def tiny_sae(
    d_in: int = 16,
    d_sae: int = 32,
    *,
    site: str = "resid_post",
    layer: int = 0,
    d_out: int | None = None,
    affine: bool = False,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    model_name: str | None = "google/gemma-3-270m-pt",
    name: str | None = None,
) -> SAE:
    """A small SAE with every parameter random (biases and skip included), so tests catch a wrong bias.

    Thresholds lie in [0.05, 0.5] and ``b_enc`` in about [-0.2, 0.2]: on ``torch.randn`` inputs some
    features fire and some do not.
    """
    cfg = SAEConfig(
        d_in,
        d_sae,
        d_out=d_out,
        site=site,
        layer=layer,
        affine_connection=affine,
        model_name=model_name,
        l0=8,
        name=name,
    )
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)

    params = {
        "w_enc": rand(cfg.d_in, cfg.d_sae, scale=cfg.d_in**-0.5),
        "b_enc": rand(cfg.d_sae, scale=0.1),
        "w_dec": rand(cfg.d_sae, cfg.d_out, scale=cfg.d_sae**-0.5),
        "b_dec": rand(cfg.d_out, scale=0.1),
        "threshold": (torch.rand(cfg.d_sae, generator=g, dtype=torch.float64) * 0.45 + 0.05).to(dtype),
    }
    if affine:
        params["affine_skip_connection"] = rand(cfg.d_in, cfg.d_out, scale=cfg.d_in**-0.5)
    return SAE.from_config(cfg, params)


# ---- file contents ----


def gemma_scope_2_config(sae: SAE) -> dict:
    """A config.json exactly as Gemma Scope 2 writes it (none of save_pretrained's extra keys)."""
    return sae.cfg.to_gemma_scope_2()


def gemma_scope_2_files(sae: SAE, folder: str, *, examples: bytes | None = None) -> dict[str, bytes]:
    """Repo path -> bytes for a Gemma Scope 2 folder: config.json, params.safetensors (+ examples)."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in sae.named_parameters()}
    prefix = f"{folder.strip('/')}/" if folder.strip("/") not in ("", ".") else ""
    files = {
        f"{prefix}config.json": json.dumps(gemma_scope_2_config(sae), indent=2).encode(),
        f"{prefix}params.safetensors": safetensors_bytes(tensors),
    }
    if examples is not None:
        files[f"{prefix}examples.safetensors"] = examples
    return files


def gemma_scope_1_files(sae: SAE, folder: str) -> dict[str, bytes]:
    """Repo path -> bytes for a Gemma Scope 1 folder: params.npz with W_enc, W_dec, b_enc, b_dec, threshold."""
    buf = io.BytesIO()
    p = {k: v.detach().cpu().float().numpy() for k, v in sae.named_parameters()}
    np.savez(buf, W_enc=p["w_enc"], W_dec=p["w_dec"], b_enc=p["b_enc"], b_dec=p["b_dec"], threshold=p["threshold"])
    return {f"{folder.strip('/')}/params.npz": buf.getvalue()}


def write_files(root: str | os.PathLike[str], files: dict[str, bytes]) -> Path:
    root = Path(root)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


# ---- folders on disk ----


def write_gemma_scope_2(root: str | os.PathLike[str], sae: SAE, folder: str, *, examples: bytes | None = None) -> Path:
    """Write ``root/folder/{config.json, params.safetensors}`` as Gemma Scope 2 does; returns the folder."""
    write_files(root, gemma_scope_2_files(sae, folder, examples=examples))
    return Path(root) / folder


def write_gemma_scope_1(root: str | os.PathLike[str], sae: SAE, folder: str) -> Path:
    """Write ``root/folder/params.npz`` as Gemma Scope 1 does; returns the folder."""
    write_files(root, gemma_scope_1_files(sae, folder))
    return Path(root) / folder


def make_fake_hub_cache(
    cache_dir: str | os.PathLike[str],
    repo_id: str,
    files: dict[str, bytes],
    *,
    commit: str = FAKE_COMMIT,
    revision: str = "main",
) -> Path:
    """Lay out a real huggingface_hub cache so ``hf_hub_download(repo_id, path, cache_dir=cache_dir)`` finds
    the files with HF_HUB_OFFLINE=1::

        cache_dir/models--org--name/refs/<revision>            (holds the commit hash)
        cache_dir/models--org--name/blobs/<sha256>            (the bytes)
        cache_dir/models--org--name/snapshots/<commit>/<path> (symlink -> ../../blobs/<sha256>, or a copy)

    Returns the snapshot directory. Calling it again for the same repo adds files.
    """
    storage = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    snapshot = storage / "snapshots" / commit
    (storage / "blobs").mkdir(parents=True, exist_ok=True)
    (storage / "refs").mkdir(parents=True, exist_ok=True)
    (storage / "refs" / revision).write_text(commit)
    for rel, data in files.items():
        blob = storage / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        pointer = snapshot / rel
        pointer.parent.mkdir(parents=True, exist_ok=True)
        if pointer.exists() or pointer.is_symlink():
            pointer.unlink()
        try:
            pointer.symlink_to(os.path.relpath(blob, pointer.parent))
        except OSError:  # no symlinks (some Windows setups): huggingface_hub copies too
            shutil.copyfile(blob, pointer)
    return snapshot


# ---- a tiny Scope with SAEs whose every parameter is random ----

TINY_TEXT = "The cat sat on the mat."


def tiny_scope(*saes_spec, seed: int = 0):
    """A Scope on a tiny random Gemma 3 with one SAE per ``(site, layer)`` (default: resid_post at layer 1);
    affine transcoders for site "transcoder". Biases are random too, so every attribution node is exercised."""
    from scope_widgets import Scope
    from tiny_models import tiny_gemma

    model, tok = tiny_gemma(seed=seed)
    hidden = model.config.hidden_size
    saes = [tiny_sae(hidden, 64, site=site, layer=layer, seed=i, affine=site == "transcoder", model_name=None,
                     name=f"{site}_{layer}")
            for i, (site, layer) in enumerate(saes_spec or [("resid_post", 1)])]
    return Scope(model, tok, saes)
