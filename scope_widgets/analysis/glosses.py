"""What a dictionary says of a word: WordNet's definitions, shipped as a small file, for search.

``scope.search(word)`` reads the word in a few frames and in short texts the model writes about it; the
model's texts drift ("I am writing this letter because I have been thinking of you..." whatever the word).
A dictionary's definitions do not: "a metal pot for stewing or boiling; usually has a lid" is about kettles
and names none. For a word, :func:`glosses` gives the definitions (with their example sentences) of its
first :data:`SENSES` senses in its first part of speech (nouns, then verbs, then adjectives), each followed
by those of up to :data:`HYPONYMS` of its kinds ("teakettle: kettle for boiling water to make tea").

The file (``data/glosses/wordnet_glosses.json.gz``, WordNet 3.0, Princeton University's licence: see
``data/glosses/LICENSE``) is built where Debian's ``wordnet-base`` is installed, deterministically::

    python -m scope_widgets.analysis.glosses            # writes the shipped file
    python -m scope_widgets.analysis.glosses --check    # builds it again and compares
"""
from __future__ import annotations

import functools
import gzip
import json
import sys
from pathlib import Path

from ..corpus.everyday import WORDNET_DIR

__all__ = ["glosses", "build", "write", "GLOSS_FILE", "SENSES", "HYPONYMS"]

GLOSS_FILE = Path(__file__).resolve().parents[1] / "data" / "glosses" / "wordnet_glosses.json.gz"
#: Senses of a word read, most frequent first (WordNet orders them by frequency in its tagged corpus).
SENSES = 2
#: Kinds of each sense (hyponyms) whose definitions are read too.
HYPONYMS = 4
_PARTS = ("noun", "verb", "adj")
_POS = {"n": "noun", "v": "verb", "a": "adj", "s": "adj"}


def _synsets(root: Path, pos: str) -> dict[int, tuple[str, list[tuple[str, int, str]]]]:
    """``{offset: (gloss, [(pointer, offset, part of speech)])}`` of one ``data.<pos>`` file (offsets are byte offsets)."""
    out = {}
    raw = (root / f"data.{pos}").read_bytes()
    at = 0
    for line in raw.split(b"\n"):
        start, at = at, at + len(line) + 1
        if not line or line.startswith(b" "):
            continue
        head, _, gloss = line.decode("latin-1").partition("|")
        h = head.split()
        i = 4 + 2 * int(h[3], 16)
        ptrs = h[i + 1 : i + 1 + 4 * int(h[i])]
        out[start] = (gloss.strip(), [(ptrs[j], int(ptrs[j + 1]), _POS.get(ptrs[j + 2], "")) for j in range(0, len(ptrs), 4)])
    return out


def build(root: Path = WORDNET_DIR) -> dict:
    """``{"glosses": [text, ...], "words": {word: [index, ...]}}`` from WordNet's files under ``root``:
    every lemma (``ice_cream`` as ``"ice cream"``), its first part of speech, :data:`SENSES` senses, and
    :data:`HYPONYMS` hyponyms of each; definitions shared by many words are stored once."""
    data = {pos: _synsets(root, pos) for pos in _PARTS}
    texts: list[str] = []
    number: dict[str, int] = {}
    words: dict[str, list[int]] = {}

    def index(text: str) -> int:
        if text not in number:
            number[text] = len(texts)
            texts.append(text)
        return number[text]

    for pos in _PARTS:
        for line in (root / f"index.{pos}").read_text(encoding="latin-1").split("\n"):
            if not line or line.startswith(" "):
                continue
            parts = line.split()
            word = parts[0].replace("_", " ")
            if word in words:  # its first part of speech only
                continue
            got: list[int] = []
            for offset in [int(o) for o in parts[-int(parts[2]):]][:SENSES]:
                gloss, pointers = data[pos][offset]
                got.append(index(gloss))
                kinds = [data[p][o][0] for s, o, p in pointers if s == "~" and p in data][:HYPONYMS]
                got.extend(index(k) for k in kinds)
            words[word] = got
    return {"source": "WordNet 3.0 (Princeton University; Debian wordnet-base)", "senses": SENSES,
            "hyponyms": HYPONYMS, "glosses": texts, "words": words}


def write(table: dict, path: Path = GLOSS_FILE) -> None:
    """The table as gzipped JSON, byte for byte the same for the same table (no timestamp in the header)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(table, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))


@functools.lru_cache(maxsize=2)
def _table(path: Path = GLOSS_FILE) -> dict | None:
    try:
        return json.loads(gzip.decompress(path.read_bytes()))
    except FileNotFoundError:
        return None


def _forms(word: str) -> list[str]:
    """The word as WordNet spells lemmas (lower case, single spaces), then its singular by English rules."""
    w = " ".join(word.lower().split())
    out = [w]
    for suffix, repl in (("ies", "y"), ("ves", "f"), ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            out.append(w[: len(w) - len(suffix)] + repl)
    return out


def glosses(word: str, path: Path = GLOSS_FILE) -> list[str]:
    """The definitions WordNet gives for ``word`` (see the module's docstring), or [] for a word it lacks or
    when the file is missing."""
    table = _table(path)
    if table is None or not isinstance(word, str):
        return []
    for form in _forms(word):
        if form in table["words"]:
            return [table["glosses"][i] for i in table["words"][form]]
    return []


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not (WORDNET_DIR / "index.noun").exists():
        print(f"WordNet is not installed at {WORDNET_DIR}: apt-get install wordnet-base", file=sys.stderr)
        return 2
    table = build()
    if "--check" in argv:
        same = _table.__wrapped__(GLOSS_FILE) == table
        print("the shipped file matches WordNet" if same else "the shipped file differs: run without --check to rebuild")
        return 0 if same else 1
    write(table)
    print(f"{GLOSS_FILE}: {len(table['words']):,} words, {len(table['glosses']):,} definitions, "
          f"{GLOSS_FILE.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
