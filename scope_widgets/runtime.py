"""Runtime basics that everything else stands on: the cache folder, device and dtype rules, atomic
writes, the one copy of each argument check, and the progress-bar rule.

This module imports nothing of the package: it is the bottom layer (see docs/internals.md). Every check
raises ``ValueError`` (or ``TypeError``) with a message that says what was wrong and what to do.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "cache_dir", "resolve_device", "parse_dtype", "default_dtype", "atomic_write", "atomic_write_text",
    "atomic_write_json",
    "check_text", "check_feature", "check_features", "check_position", "check_k", "check_coefficient",
    "PROGRESS_DELAY_S", "progress_bar", "in_batches",
]


# ---------------------------------------------------------------------------------------------- places
def cache_dir() -> Path:
    """The user cache directory of scope_widgets (``$SCOPE_WIDGETS_CACHE`` overrides it)."""
    env = os.environ.get("SCOPE_WIDGETS_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scope_widgets"


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> None:
    """Write a file through ``write(temporary path)`` in its folder, then move it into place: readers see
    the old file or the new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; an ordinary file (package data too) is readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file so that readers see the old file or the new one, never half of it."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any, indent: int | None = None) -> None:
    atomic_write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + ("\n" if indent else ""))


# ---------------------------------------------------------------------------------------------- devices
def resolve_device(device: str | torch.device | int | None = "auto") -> torch.device:
    """``"auto"`` (or None) means CUDA when present, else the CPU; a CUDA device without CUDA is refused."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {str(device)!r} was requested but CUDA is not available on this machine; "
            "use device='cpu' or device='auto'"
        )
    return device


def parse_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    """torch.bfloat16, "bfloat16", "bf16", "float32", "fp16" ... -> a torch dtype (None stays None)."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    aliases = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32"}
    name = aliases.get(str(dtype), str(dtype)).removeprefix("torch.")
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise ValueError(f"unknown floating dtype {dtype!r}: use e.g. torch.float32 or 'bfloat16'")
    return value


def default_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """A model's dtype: bf16 on a GPU and float32 on the CPU unless told otherwise."""
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return parse_dtype(dtype)


# ---------------------------------------------------------------------------------------------- checks
def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_text(text, what: str = "text") -> str:
    """A non-empty string, or a clear error."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, not {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"{what} is empty (or only whitespace): give the model some text to read")
    return text


def check_texts(texts, what: str, each: str) -> list[str]:
    """A non-empty list of non-empty strings (``what`` names the argument, ``each`` one of its texts)."""
    if isinstance(texts, str):
        raise ValueError(f"{what} must be a list of texts, not one string: {what}=[{_short(texts)!r}, ...]")
    if not isinstance(texts, Sequence) or not texts:
        raise ValueError(f"{what} must be a non-empty list of texts")
    return [check_text(t, f"{each} {i}") for i, t in enumerate(texts)]


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_feature(feature, d_sae: int, sae_name: str | None = None) -> int:
    """A feature id in ``0 .. d_sae - 1`` (ints and strings of digits are accepted), or a clear error."""
    if isinstance(feature, bool) or not (_is_int(feature) or isinstance(feature, str)):
        raise ValueError(f"feature ids are integers; got {feature!r} ({type(feature).__name__})")
    try:
        index = int(feature)
    except ValueError:
        raise ValueError(f"feature ids are integers; got {feature!r}") from None
    if not 0 <= index < d_sae:
        owner = f"the SAE {sae_name!r}" if sae_name else "this SAE"
        raise ValueError(f"unknown feature {index}: {owner} has features 0 to {d_sae - 1}")
    return index


def check_features(features, d_sae: int, sae_name: str | None = None) -> list[int]:
    """Several feature ids (each checked, no duplicates)."""
    out = []
    for f in features:
        i = check_feature(f, d_sae, sae_name)
        if i in out:
            raise ValueError(f"feature {i} appears twice")
        out.append(i)
    return out


def check_position(pos, n_tokens: int) -> int:
    """A token position (negative counts from the end) inside a text of ``n_tokens`` tokens."""
    if not _is_int(pos):
        raise ValueError(f"token positions are integers; got {pos!r}")
    pos = int(pos)
    if pos < 0:
        pos += n_tokens
    if not 0 <= pos < n_tokens:
        raise ValueError(f"position {pos} is outside the text: it has {n_tokens} tokens (0 to {n_tokens - 1})")
    return pos


def check_k(k, what: str = "k") -> int:
    """A positive integer count."""
    if not _is_int(k) or k < 1:
        raise ValueError(f"{what} must be a positive integer, got {k!r}")
    return int(k)


def check_coefficient(value, what: str, max_abs: float) -> float:
    """A finite steering coefficient within ``+-max_abs``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"the coefficient for {what} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"the coefficient for {what} is {value}: coefficients must be finite numbers")
    if abs(value) > max_abs:
        raise ValueError(
            f"the coefficient {value:g} for {what} is beyond +/-{max_abs:g}, far outside any activation this "
            "SAE produces; typical useful values are a few times the feature's maximum activation (see its dashboard)"
        )
    return value


# ---------------------------------------------------------------------------------------------- progress
#: Work that lasts longer than this shows a ``tqdm.auto`` bar (a widget in Jupyter, text in a terminal).
PROGRESS_DELAY_S = 2.0


def progress_bar(total: int, desc: str, unit: str = "text", show: bool | None = None, initial: int = 0):
    """A ``tqdm.auto`` bar over ``total`` items; use it as a context manager (it closes on Ctrl-C too).

    ``show=None``: only once the work has lasted ``PROGRESS_DELAY_S`` seconds (short calls print nothing),
    and never outside the main thread (a widget's worker would print into whichever cell is running);
    ``True``: at once; ``False``: never.
    """
    from tqdm.auto import tqdm

    if show is None and threading.current_thread() is not threading.main_thread():
        show = False
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=show is False,
                delay=0.0 if show else PROGRESS_DELAY_S)


def in_batches(fn: Callable[[list], Sequence], items: Sequence, batch_size, *, desc: str, unit: str = "text",
               show: bool | None = None) -> list:
    """``fn(chunk)`` for consecutive chunks of ``batch_size`` items, results concatenated in order, with a
    progress bar over the items (see ``progress_bar`` for ``show``)."""
    size = check_k(batch_size, "batch_size")
    items = list(items)
    out: list = []
    with progress_bar(len(items), desc, unit, show) as bar:
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            out.extend(fn(chunk))
            bar.update(len(chunk))
    return out
