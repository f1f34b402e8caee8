"""Documents and the corpus: cleaning, length caps, identity by text hash, and the held-out split.

A document's split depends on its own text alone (a hash bucket), so adding a source never moves a
held-out document into training.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

__all__ = ["Document", "Corpus", "text_hash", "clean", "cap", "HELDOUT_PERMILLE", "MAX_DOC_CHARS", "MIN_DOC_CHARS"]

#: Held-out share in parts per thousand of the document-hash space.
HELDOUT_PERMILLE = 80
#: Documents are cut to at most this many characters (at a line boundary when one is near).
MAX_DOC_CHARS = 3000
#: Documents shorter than this (after cleaning) are dropped.
MIN_DOC_CHARS = 200


# --------------------------------------------------------------------------------------------------
# documents


def _normalise(text: str) -> str:
    return " ".join(text.split())


def text_hash(text: str) -> str:
    """sha256 of the whitespace-collapsed text: the document's identity, dedup key and split key."""
    return hashlib.sha256(_normalise(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    source: str  # a key of SOURCES
    origin: str  # file path (or prompt id) it came from
    licence: str  # the licence of this document's text, as far as the source says
    text: str

    @property
    def id(self) -> str:
        return text_hash(self.text)[:16]

    @property
    def split(self) -> str:
        return "heldout" if int(text_hash(self.text)[:8], 16) % 1000 < HELDOUT_PERMILLE else "train"


@dataclass
class Corpus:
    train: list[Document] = field(default_factory=list)
    heldout: list[Document] = field(default_factory=list)

    def stats(self) -> dict:
        out: dict = {}
        for split in ("train", "heldout"):
            for d in getattr(self, split):
                s = out.setdefault(d.source, {"train_docs": 0, "heldout_docs": 0, "chars": 0})
                s[f"{split}_docs"] += 1
                s["chars"] += len(d.text)
        return out

    def fingerprint(self) -> str:
        """sha256 over the ordered document ids of both splits: equal fingerprints, equal corpora."""
        h = hashlib.sha256()
        for split in ("train", "heldout"):
            h.update(split.encode())
            for d in getattr(self, split):
                h.update(d.id.encode())
        return h.hexdigest()


def cap(text: str, max_chars: int) -> str:
    text = text.strip()
    if len(text) <= max_chars:
        return text
    cut = text.rfind("\n", max_chars // 2, max_chars)
    if cut < 0:
        cut = text.rfind(" ", max_chars // 2, max_chars)
    return text[: cut if cut > 0 else max_chars].rstrip()


def clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    text = re.sub(r"[ \u00a0]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    # control characters other than newline make for odd tokens; drop them
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)
    return text.strip()
