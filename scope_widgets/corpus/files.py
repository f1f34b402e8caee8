"""Reading text files for the corpus: a stable order over paths, safe decoding, a sorted walk."""
from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Callable

__all__ = ["path_rank", "read_text", "walk"]


def path_rank(path: str, salt: str) -> str:
    """A stable pseudo-random order over file paths, so a budget takes a spread, not the first letters."""
    return hashlib.sha256(f"{salt}:{path}".encode()).hexdigest()


def read_text(path: Path) -> str | None:
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if b"\x00" in raw[:4096]:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def walk(root: Path, accept: Callable[[Path], bool]) -> list[Path]:
    """Every file under root that accept() takes, in sorted order (symlinks not followed)."""
    found: list[Path] = []
    if not root.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if not p.is_symlink() and accept(p):
                found.append(p)
    return found
