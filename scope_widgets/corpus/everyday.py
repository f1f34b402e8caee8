"""Everyday English that Debian ships: fortune cookies and WordNet's glosses and example sentences.

Both are walked in a fixed order and grouped into documents of related text (fortunes of one file, synsets
of one WordNet lexicographer file such as ``noun.animal`` or ``noun.food``), so a document reads like one
kind of text rather than a shuffle. Install them with ``apt-get install fortunes fortunes-min wordnet-base``
(``scripts/setup`` does); a machine without them simply gets a corpus without these sources.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from .files import path_rank, read_text

__all__ = ["fortunes", "wordnet_glosses", "unwrap", "FORTUNE_DIR", "WORDNET_DIR"]

FORTUNE_DIR = Path("/usr/share/games/fortunes")
WORDNET_DIR = Path("/usr/share/wordnet")
#: Fortune files that are not prose (pictures made of characters, Debian tips, Unix lore).
_FORTUNE_SKIP = {"ascii-art", "debian", "linux", "linuxcookie", "computers", "perl", "knghtbrd", "paradoxum"}
_FORTUNE_LICENCE = "fortune-mod data files (BSD-style; Debian package fortunes/fortunes-min, see its copyright)"
_WORDNET_LICENCE = "WordNet 3.0 licence (Princeton University; permissive, notice kept)"
#: Characters per document when short items (fortunes, synsets) are joined.
_GROUP_CHARS = 1500

# WordNet's lexicographer files, by number (lexnames(5WN)); only the everyday ones are used.
_LEXNAMES = {
    3: "noun.Tops", 4: "noun.act", 5: "noun.animal", 6: "noun.artifact", 7: "noun.attribute", 8: "noun.body",
    9: "noun.cognition", 10: "noun.communication", 11: "noun.event", 12: "noun.feeling", 13: "noun.food",
    14: "noun.group", 15: "noun.location", 16: "noun.motive", 17: "noun.object", 18: "noun.person",
    19: "noun.phenomenon", 20: "noun.plant", 21: "noun.possession", 22: "noun.process", 23: "noun.quantity",
    24: "noun.relation", 25: "noun.shape", 26: "noun.state", 27: "noun.substance", 28: "noun.time",
    29: "verb.body", 30: "verb.change", 31: "verb.cognition", 32: "verb.communication", 33: "verb.competition",
    34: "verb.consumption", 35: "verb.contact", 36: "verb.creation", 37: "verb.emotion", 38: "verb.motion",
    39: "verb.perception", 40: "verb.possession", 41: "verb.social", 42: "verb.stative", 43: "verb.weather",
    0: "adj.all", 1: "adj.pert", 2: "adv.all",
}


def _joined(items: list[str], origin: str) -> Iterator[tuple[str, str]]:
    """Consecutive items joined into documents of about _GROUP_CHARS characters."""
    buf: list[str] = []
    size = 0
    part = 0
    for item in items:
        buf.append(item)
        size += len(item) + 2
        if size >= _GROUP_CHARS:
            yield f"{origin}#{part}", "\n\n".join(buf)
            buf, size, part = [], 0, part + 1
    if buf:
        yield f"{origin}#{part}", "\n\n".join(buf)


def unwrap(text: str, min_line: int = 50) -> str:
    """Join hard-wrapped prose lines; keep line breaks in verse, lists and dialogue (short lines).

    A paragraph whose lines (all but its last) are mostly at least ``min_line`` characters long was wrapped
    by its typist, and becomes one line; any other paragraph is kept as it is.
    """
    out = []
    for para in re.split(r"\n\s*\n", text):
        lines = [ln.rstrip() for ln in para.split("\n")]
        body = lines[:-1]
        if body and sum(len(ln.strip()) >= min_line for ln in body) >= 0.7 * len(body):
            para = " ".join(ln.strip() for ln in lines if ln.strip())
        out.append(para)
    return "\n\n".join(out)


def fortunes() -> Iterator[tuple[str, str, str]]:
    """English fortune cookies (quotations, jokes, short stories, verse), one file's worth at a time."""
    if not FORTUNE_DIR.is_dir():
        return
    files = sorted(p for p in FORTUNE_DIR.iterdir() if p.is_file() and not p.suffix and p.name not in _FORTUNE_SKIP)
    groups = []
    for path in files:
        text = read_text(path)
        if not text:
            continue
        items = [unwrap(t.strip()) for t in re.split(r"\n%\n", text) if len(t.strip()) > 20]
        groups.extend(_joined(items, str(path)))
    for origin, text in sorted(groups, key=lambda g: path_rank(g[0], "fortune")):
        yield origin, _FORTUNE_LICENCE, text


def _synset(line: str) -> tuple[int, str] | None:
    """``(lexfile number, "words: gloss")`` from one line of a WordNet ``data.*`` file."""
    if line.startswith("  ") or "|" not in line:
        return None
    head, gloss = line.split("|", 1)
    f = head.split()
    lexfile, n_words = int(f[1]), int(f[3], 16)
    words = [f[4 + 2 * i].replace("_", " ") for i in range(n_words)]
    words = [re.sub(r"\([a-z]+\)$", "", w) for w in words]  # adjective markers such as (a), (p)
    gloss = gloss.strip()
    # glosses read "definition; "example one"; "example two"": make the examples sentences of their own
    parts = [p.strip() for p in gloss.split(";")]
    definition = "; ".join(p for p in parts if not p.startswith('"'))
    examples = [p.strip('"').strip() for p in parts if p.startswith('"')]
    text = f"{words[0]}" + (f" (also {', '.join(words[1:4])})" if len(words) > 1 else "") + f": {definition}."
    if examples:
        text += " For example: " + " ".join(e[0].upper() + e[1:] + ("" if e[-1:] in ".!?" else ".") for e in examples if e)
    return lexfile, text


def wordnet_glosses() -> Iterator[tuple[str, str, str]]:
    """WordNet synsets (words, definition, example sentences), grouped by lexicographer file."""
    by_lexfile: dict[int, list[str]] = {}
    for pos in ("noun", "verb", "adj", "adv"):
        path = WORDNET_DIR / f"data.{pos}"
        text = read_text(path) if path.exists() else None
        if not text:
            continue
        for line in text.splitlines():
            s = _synset(line)
            if s is not None:
                by_lexfile.setdefault(s[0], []).append(s[1])
    groups = []
    for lexfile, items in sorted(by_lexfile.items()):
        groups.extend(_joined(items, f"wordnet/{_LEXNAMES.get(lexfile, lexfile)}"))
    for origin, text in sorted(groups, key=lambda g: path_rank(g[0], "wordnet")):
        yield origin, _WORDNET_LICENCE, text
