"""The offline corpus recipe: text for training and evaluating the default SAE, with no network.

Every source is text that installs from a package registry or ships with the operating system, plus
text that the embedded model writes itself from a hand-written prompt set (:data:`PROMPTS`). The
recipe, not the text, is what ships: :func:`build_corpus` rebuilds the same documents on the same
machine image (files are walked in sorted order, picked by a hash of their path, generation uses a
fixed seed per prompt), and ``docs/corpus.md`` records the provenance and licence of each source.

Documents are cleaned, length-capped, de-duplicated (exact match after collapsing whitespace) and split
by a hash of their text: a document whose hash falls in the held-out bucket (8% by default) is never
used for training, whatever else changes in the corpus.

    >>> from scope_widgets.corpus import build_corpus
    >>> corpus = build_corpus(sources=["python_docstrings"], budget_scale=0.05)
    >>> len(corpus.train) > len(corpus.heldout) > 0
    True
"""
from __future__ import annotations

import ast
import gzip
import hashlib
import json
import os
import re
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

__all__ = [
    "Document",
    "Corpus",
    "Source",
    "SOURCES",
    "PROMPTS",
    "build_corpus",
    "iter_source",
    "generate_model_text",
    "generated_cache_path",
]

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


def _cap(text: str, max_chars: int) -> str:
    text = text.strip()
    if len(text) <= max_chars:
        return text
    cut = text.rfind("\n", max_chars // 2, max_chars)
    if cut < 0:
        cut = text.rfind(" ", max_chars // 2, max_chars)
    return text[: cut if cut > 0 else max_chars].rstrip()


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    text = re.sub(r"[ \u00a0]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    # control characters other than newline make for odd tokens; drop them
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)
    return text.strip()


def _path_rank(path: str, salt: str) -> str:
    """A stable pseudo-random order over file paths, so a budget takes a spread, not the first letters."""
    return hashlib.sha256(f"{salt}:{path}".encode()).hexdigest()


def _read_text(path: Path) -> str | None:
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


def _walk(root: Path, accept: Callable[[Path], bool]) -> list[Path]:
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


# --------------------------------------------------------------------------------------------------
# sources: each yields (origin, licence, text) in a deterministic order

_STDLIB = Path(sysconfig.get_paths()["stdlib"])
_PURELIB = Path(sysconfig.get_paths()["purelib"])
_SKIP_STDLIB = ("site-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo", "__pycache__", "ensurepip")


def _stdlib_files() -> list[Path]:
    def ok(p: Path) -> bool:
        rel = p.relative_to(_STDLIB).parts
        return p.suffix == ".py" and not any(part in _SKIP_STDLIB for part in rel[:-1])

    return _walk(_STDLIB, ok)


def _src_python_docstrings() -> Iterator[tuple[str, str, str]]:
    """Docstrings of the Python standard library (module, class and function docstrings), via ast."""
    for path in sorted(_stdlib_files(), key=lambda p: _path_rank(str(p.relative_to(_STDLIB)), "doc")):
        text = _read_text(path)
        if text is None:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        parts = []
        for node in [tree, *ast.walk(tree)]:
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 80:
                    name = getattr(node, "name", path.stem)
                    parts.append(f"{name}\n\n{doc}")
        if parts:
            yield str(path.relative_to(_STDLIB)), "PSF-2.0", "\n\n".join(parts)


def _src_python_source() -> Iterator[tuple[str, str, str]]:
    """Python source code with its comments: the standard library and installed packages."""
    files = [(p, "PSF-2.0") for p in _stdlib_files()]
    licences = _package_licences()
    for p in _walk(_PURELIB, lambda p: p.suffix == ".py" and "tests" not in p.parts and "__pycache__" not in p.parts):
        top = p.relative_to(_PURELIB).parts[0]
        files.append((p, licences.get(top.lower().replace("-", "_"), "see the package's METADATA")))
    for path, lic in sorted(files, key=lambda t: _path_rank(str(t[0]), "src")):
        text = _read_text(path)
        if text and text.count("#") >= 3:  # code with comments
            yield str(path), lic, text


def _metadata_fields(text: str) -> tuple[dict[str, str], str]:
    head, _, body = text.partition("\n\n")
    fields: dict[str, str] = {}
    for line in head.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith(" "):
            fields.setdefault(key.strip(), value.strip())
            if key.strip() == "Classifier" and value.strip().startswith("License ::"):
                fields.setdefault("License-Classifier", value.strip().split("::")[-1].strip())
    return fields, body


_LICENCES_CACHE: dict[str, str] | None = None


def _package_licences() -> dict[str, str]:
    """Map normalised top-level import/distribution names to the licence each package declares."""
    global _LICENCES_CACHE
    if _LICENCES_CACHE is None:
        out: dict[str, str] = {}
        for meta in sorted(_PURELIB.glob("*.dist-info/METADATA")):
            fields, _ = _metadata_fields(_read_text(meta) or "")
            lic = fields.get("License-Expression") or fields.get("License-Classifier") or fields.get("License", "")
            lic = lic.splitlines()[0][:60] if lic else "unstated"
            name = fields.get("Name", meta.parent.name.split("-")[0])
            out[name.lower().replace("-", "_")] = lic
            top = meta.parent / "top_level.txt"
            for mod in (_read_text(top) or "").split():
                out.setdefault(mod.lower(), lic)
        _LICENCES_CACHE = out
    return _LICENCES_CACHE


def _src_package_docs() -> Iterator[tuple[str, str, str]]:
    """Long descriptions in installed packages' METADATA, and README/markdown/rst files they ship."""
    licences = _package_licences()
    items: list[tuple[str, str, str]] = []
    for meta in sorted(_PURELIB.glob("*.dist-info/METADATA")):
        fields, body = _metadata_fields(_read_text(meta) or "")
        name = fields.get("Name", meta.parent.name)
        items.append((str(meta), licences.get(name.lower().replace("-", "_"), "unstated"), body))
    for p in _walk(_PURELIB, lambda p: p.suffix.lower() in (".md", ".rst", ".txt") and "dist-info" not in str(p)):
        if p.name.lower() in ("requirements.txt", "entry_points.txt", "top_level.txt", "record.txt"):
            continue
        top = p.relative_to(_PURELIB).parts[0].lower()
        items.append((str(p), licences.get(top, "see the package's METADATA"), _read_text(p) or ""))
    for origin, lic, text in sorted(items, key=lambda t: _path_rank(t[0], "pkg")):
        if text:
            yield origin, lic, text


_DOC_NAME = re.compile(r"(readme|news|faq|changes|intro|notes|\.md|\.rst|\.txt|howto|todo|thanks)", re.I)


def _src_debian_doc() -> Iterator[tuple[str, str, str]]:
    """Package documentation under /usr/share/doc (READMEs, NEWS, FAQs, markdown, text; changelogs sparingly)."""
    root = Path("/usr/share/doc")

    def ok(p: Path) -> bool:
        n = p.name.lower()
        return (bool(_DOC_NAME.search(n)) or n.startswith("changelog")) and not n.endswith((".html", ".png", ".gif", ".svg"))

    seen_changelog_pkgs: set[str] = set()
    for p in sorted(_walk(root, ok), key=lambda p: _path_rank(str(p), "debdoc")):
        pkg = p.relative_to(root).parts[0]
        if p.name.lower().startswith("changelog"):
            if pkg in seen_changelog_pkgs or len(seen_changelog_pkgs) >= 60:  # one changelog per package, few
                continue
            seen_changelog_pkgs.add(pkg)
        text = _read_text(p)
        if text:
            yield str(p), f"per package: /usr/share/doc/{pkg}/copyright", text


_ROFF_ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[+-]?\d"), ""),  # size changes
    (re.compile(r"\\\*(\(..|\[[^\]]*\]|.)"), ""),  # strings
    (re.compile(r"\\\((em|en)"), "-"),
    (re.compile(r"\\\(aq"), "'"),
    (re.compile(r"\\\((lq|rq|dq)"), '"'),
    (re.compile(r"\\\(bu"), "*"),
    (re.compile(r"\\\(co"), "(c)"),
    (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),
    (re.compile(r"\\[-]"), "-"),
    (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\[&/,|^~0:%]"), ""),
    (re.compile(r"\\ "), " "),
    (re.compile(r"\\c$", re.M), ""),
]
_ROFF_TEXT_MACROS = {"B", "I", "SM", "SB", "SH", "SS", "IP", "TP", "BR", "BI", "IB", "IR", "RI", "RB", "Nm", "Nd", "Fl", "Ar", "Sh", "It", "Pa"}


def roff_to_text(src: str) -> str:
    """A small, deterministic roff/man stripper (no groff, so the result is the same on every machine)."""
    out: list[str] = []
    skipping_def = False
    for line in src.splitlines():
        if skipping_def:
            if line.startswith(".."):
                skipping_def = False
            continue
        if line.startswith((".\\\"", "'\\\"", '.\\"')) or line.startswith("\\\""):
            continue
        if line.startswith((".", "'")):
            parts = line[1:].strip().split(None, 1)
            if not parts:
                continue
            macro, arg = parts[0], (parts[1] if len(parts) > 1 else "")
            if macro in ("de", "de1", "am", "ig"):
                skipping_def = True
                continue
            if macro in ("SH", "Sh"):
                out.append("")
                out.append(arg.strip('"'))
            elif macro in ("PP", "LP", "P", "sp", "br", "Pp"):
                out.append("")
            elif macro in _ROFF_TEXT_MACROS:
                if macro in ("BR", "BI", "IB", "IR", "RI", "RB"):
                    arg = "".join(re.findall(r'"([^"]*)"|(\S+)', arg) and [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', arg)])
                out.append(arg.strip('"'))
            # everything else (TH, if, ie, el, nr, ds, so, ...) is formatting: dropped
            continue
        out.append(line)
    text = "\n".join(out)
    for pat, rep in _ROFF_ESCAPES:
        text = pat.sub(rep, text)
    return text.replace("\\\\", "\\")


def _man_files(localised: bool) -> list[Path]:
    root = Path("/usr/share/man")

    def ok(p: Path) -> bool:
        rel = p.relative_to(root).parts
        is_local = not rel[0].startswith("man")
        return p.name.endswith(".gz") and is_local == localised

    return _walk(root, ok)


def _src_man(localised: bool) -> Iterator[tuple[str, str, str]]:
    for p in sorted(_man_files(localised), key=lambda p: _path_rank(str(p), "man")):
        src = _read_text(p)
        if not src or src.lstrip().startswith(".so "):
            continue
        yield str(p), "per package: /usr/share/doc/<package>/copyright", roff_to_text(src)


def _src_man_pages():
    """English manual pages, /usr/share/man/man*/ (gzip-read, roff stripped)."""
    return _src_man(False)


def _src_man_pages_i18n():
    """Translated manual pages, /usr/share/man/<lang>/ (German, French, Swedish, Japanese, ...)."""
    return _src_man(True)


def _src_licences() -> Iterator[tuple[str, str, str]]:
    """Licence texts (sparingly): /usr/share/common-licenses and the Python licence."""
    files = _walk(Path("/usr/share/common-licenses"), lambda p: True)
    files.append(_STDLIB / "LICENSE.txt")
    for p in files:
        text = _read_text(p)
        if text:
            yield str(p), "the licence text itself (verbatim copying permitted)", text


@dataclass(frozen=True)
class Source:
    name: str
    fn: Callable[[], Iterable[tuple[str, str, str]]]
    budget_chars: int  # the most characters this source contributes (before the split)
    licence: str  # for docs/corpus.md
    max_doc_chars: int = MAX_DOC_CHARS
    max_per_group: int = 0  # at most this many documents per group (package, command family); 0: no cap


def _group(origin: str) -> str:
    """The family a document belongs to, for the per-group caps that keep one package from dominating."""
    p = Path(origin)
    for root in (_PURELIB, _STDLIB, Path("/usr/share/doc")):
        try:
            first = p.relative_to(root).parts[0]
            return re.sub(r"-[0-9].*\.dist-info$", "", first).split(".")[0].lower()
        except ValueError:
            pass
    if str(p).startswith("/usr/share/man/"):
        return re.split(r"[_.-]", p.name, maxsplit=1)[0].lower()
    return str(p)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        Source("python_docstrings", _src_python_docstrings, 1_400_000, "PSF-2.0 (Python standard library)"),
        Source("python_source", _src_python_source, 1_200_000, "PSF-2.0 (stdlib); each package's own licence (site-packages)", 2000, 12),
        Source("package_docs", _src_package_docs, 1_600_000, "each package's own licence, from its METADATA", MAX_DOC_CHARS, 12),
        Source("debian_doc", _src_debian_doc, 900_000, "each Debian package's /usr/share/doc/<pkg>/copyright", MAX_DOC_CHARS, 6),
        Source("man_pages", _src_man_pages, 1_600_000, "each Debian package's /usr/share/doc/<pkg>/copyright", MAX_DOC_CHARS, 8),
        Source("man_pages_i18n", _src_man_pages_i18n, 700_000, "each Debian package's copyright (translations: same terms)", MAX_DOC_CHARS, 8),
        Source("licences", _src_licences, 60_000, "licence texts, verbatim copying permitted", 2500),
        # model_generated is not walked here: see generate_model_text()
    ]
}


def iter_source(name: str, budget_scale: float = 1.0, max_doc_chars: int | None = None) -> Iterator[Document]:
    """Cleaned, capped documents of one source until its (scaled) character budget is spent."""
    src = SOURCES[name]
    budget = int(src.budget_chars * budget_scale)
    cap = max_doc_chars or src.max_doc_chars
    used = 0
    per_group: dict[str, int] = {}
    for origin, licence, text in src.fn():
        text = _cap(_clean(text), cap)
        if len(text) < MIN_DOC_CHARS:
            continue
        if src.max_per_group:
            g = _group(origin)
            if per_group.get(g, 0) >= src.max_per_group:
                continue
            per_group[g] = per_group.get(g, 0) + 1
        yield Document(name, origin, licence, text)
        used += len(text)
        if used >= budget:
            return


# --------------------------------------------------------------------------------------------------
# text written by the embedded model

#: A broad hand-written prompt set: the model continues each one (seeded sampling) into a document.
PROMPTS: tuple[str, ...] = (
    # stories
    "Once upon a time, in a village at the edge of a great forest,",
    "The spaceship's engines went silent, and Captain Mara realised",
    "It was raining when the detective finally found the letter. It said:",
    "My grandmother always told me that the old lighthouse",
    "The dragon had not left its cave in three hundred years, until one morning",
    "Tom opened the box his father had left him. Inside, there was",
    "The last train of the night pulled into the empty station.",
    "When the robot woke up for the first time, the first thing it saw was",
    "She had never seen the ocean before. As the bus turned the corner,",
    "The king announced that whoever could solve the riddle would",
    "Chapter 1\n\nThe summer I turned twelve, everything changed.",
    "A short fable: The fox and the crow",
    "The children ran down to the river, laughing, because",
    "In the year 2150, cities floated above the clouds and",
    "The old man sat on the bench every day, feeding the pigeons, and",
    # dialogue
    "\"Where are you going?\" asked Anna.\n\"To the market,\" said Ben.",
    "Customer: Hi, I bought a kettle last week and it stopped working.\nAgent:",
    "Interviewer: What made you want to become a doctor?\nDr. Patel:",
    "Teacher: Can anyone tell me why the sky is blue?\nStudent:",
    "Alice: Did you finish the report?\nBob: Not yet, I",
    "Q: What is the capital of France?\nA: Paris.\nQ: What is the largest planet?\nA:",
    "User: Can you explain how photosynthesis works?\nAssistant:",
    "MOM: Have you done your homework?\nJAKE:",
    "Doctor: How long have you had these headaches?\nPatient:",
    "A conversation between two friends planning a trip to Japan:\n\nSam:",
    # lists and how-to
    "Top 10 tips for a good night's sleep:\n1.",
    "Shopping list:\n- eggs\n- milk\n-",
    "Things to pack for a camping trip:\n\n*",
    "How to change a flat tyre, step by step:\n\nStep 1:",
    "The planets of the solar system, in order from the Sun:",
    "A checklist for moving house:\n\n1.",
    "Five reasons to learn a second language:\n\n1.",
    "Frequently asked questions\n\nQ: How do I reset my password?\nA:",
    # recipes
    "Recipe: Classic pancakes\n\nIngredients:\n",
    "How to make a simple tomato soup.\n\nYou will need:",
    "Grandma's chocolate chip cookies\n\nPreheat the oven to",
    "Vegetable curry (serves 4)\n\nIngredients:\n-",
    "To bake bread at home, first",
    # news-like and factual prose
    "BREAKING NEWS: Scientists have discovered",
    "The city council voted on Tuesday to",
    "LONDON (Reuters) - Shares in",
    "The weather forecast for the weekend:",
    "In a press release issued this morning, the company said",
    "Local school wins national science competition.",
    "The football match ended 2-1 after",
    "Election results: with 95% of votes counted,",
    "The museum will reopen next month after a two-year renovation that",
    "Wikipedia article: The Amazon rainforest\n\nThe Amazon rainforest is",
    "The history of the bicycle begins in",
    "Mount Everest is the highest mountain on Earth,",
    "The human heart has four chambers:",
    "Photosynthesis is the process by which",
    "The French Revolution began in 1789 when",
    "Honeybees communicate with each other by",
    "The Great Wall of China",
    "Volcanoes form when",
    "The theory of evolution by natural selection",
    "Antibiotics are medicines that",
    "Climate change refers to",
    "The Roman Empire was",
    "Jupiter has at least",
    "Elephants are the largest land animals",
    # opinion, letters, reviews, ads
    "Dear Sir or Madam,\n\nI am writing to complain about",
    "Dear Emma,\n\nThank you so much for the lovely birthday present.",
    "Review: ★★★★☆\nThe hotel was clean and the staff were friendly, but",
    "Movie review: The film opens with",
    "I think the most important invention of the last century is",
    "FOR SALE: Blue mountain bike, barely used.",
    "Job advertisement: We are looking for a friendly and reliable",
    "To whom it may concern,\n\nI would like to recommend",
    "Product description: This stainless steel water bottle",
    "Diary, Monday 3rd March.\nToday was strange.",
    "Hey! Long time no see. Guess what happened at work today?",
    "Restaurant menu\n\nStarters\n-",
    # maths and numbers
    "Problem: A train travels 120 km in 2 hours. What is its average speed?\nSolution:",
    "Let x be a real number such that 2x + 3 = 11. Then",
    "The derivative of f(x) = x^2 + 3x is",
    "Theorem. There are infinitely many prime numbers.\nProof.",
    "Table of squares:\n1 x 1 = 1\n2 x 2 = 4\n3 x 3 = 9\n",
    "If a rectangle has a length of 8 cm and a width of 5 cm, its area is",
    "Convert 3/4 to a percentage:",
    "The Pythagorean theorem states that",
    "2 + 2 = 4\n3 + 5 = 8\n7 + 6 =",
    "Sales figures for 2023:\nJanuary: 1,204\nFebruary: 1,350\nMarch:",
    "The probability of rolling two sixes with a pair of dice is",
    "Exercise 4. Solve the system of equations:",
    "In 1969, when Apollo 11 landed on the Moon,",
    "The population of the town grew from 5,000 in 1950 to",
    # code and technical
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "# A simple web server in Python\nimport http.server\n",
    "function debounce(fn, wait) {\n",
    "SELECT name, COUNT(*) FROM orders\n",
    "To install the package, run:\n\n    pip install",
    "Error: cannot find module 'express'. This error usually means",
    "public class HelloWorld {\n    public static void main(String[] args) {\n",
    "<!DOCTYPE html>\n<html>\n<head>\n<title>",
    "#include <stdio.h>\n\nint main(void) {\n",
    "git commit -m \"Fix bug in",
    "How does a hash table work? A hash table",
    "The difference between TCP and UDP is",
    "fn main() {\n    let numbers = vec![",
    "{\n  \"name\": \"example\",\n  \"version\": \"1.0.0\",\n",
    # other languages
    "Il était une fois une petite fille qui",
    "Es war einmal ein König, der",
    "Había una vez un niño que vivía",
    "C'era una volta un piccolo paese",
    "Era uma vez uma menina chamada",
    "Dit is een verhaal over",
    "Det var en gång en",
    "Dawno, dawno temu, w małej wiosce",
    "Жил-был старик со своею старухою",
    "昔々、ある村に",
    "从前有一座山，山上有一座庙，",
    "옛날 옛적에",
    "Bir zamanlar küçük bir köyde",
    "في قديم الزمان",
    "एक समय की बात है",
    "Ngày xửa ngày xưa,",
    "Hapo zamani za kale,",
    "La recette de la ratatouille :\n\nIngrédients :",
    "Sehr geehrte Damen und Herren,\n\nich schreibe Ihnen, weil",
    "El tiempo para mañana:",
    "Die Hauptstadt von Deutschland ist",
    "Le chat est assis sur",
    "Translate to French: The weather is nice today.\nFrench:",
    "English: Good morning, how are you?\nSpanish:",
    # poetry, songs, misc
    "A poem about the sea:\n\n",
    "Roses are red,\nViolets are blue,\n",
    "Haiku:\n",
    "The lyrics of the song began:",
    "Knock knock.\nWho's there?\n",
    "Motivational quote of the day:",
    "Meeting minutes, 14 May\n\nAttendees:",
    "Abstract. We propose a new method for",
    "Terms and conditions\n\n1. Introduction\n\n",
    "Instructions: Read the passage below and answer the questions.\n\n",
    "Tweet: Just had the best coffee of my life at",
    "Breaking: the local zoo welcomed a baby",
    "The rules of chess are simple:",
    "My favourite hobby is gardening because",
    "Travel guide: Three days in Rome\n\nDay 1:",
    "Customer reviews for wireless headphones:\n\n1.",
    "The meeting has been moved to Thursday at 3 pm because",
    "Welcome to our podcast! Today we are talking about",
    "Sports report: In last night's basketball game,",
    "Letter to the editor:\n\n",
    "Emergency instructions: In case of fire,",
    "A brief biography of Marie Curie:",
    "Timeline of the Second World War:\n\n1939 -",
    "The instructions for the board game say:",
)


def generated_cache_path() -> Path:
    from .models import cache_dir

    return cache_dir() / "corpus" / "model_generated_v1.jsonl"


def generate_model_text(
    model,
    tokenizer,
    prompts: Sequence[str] = PROMPTS,
    samples_per_prompt: int = 1,
    max_new_tokens: int = 128,
    temperature: float = 0.9,
    top_k: int = 40,
    seed: int = 0,
    batch_size: int = 24,
    cache_path: str | Path | None = None,
    progress: bool = True,
) -> list[Document]:
    """Documents written by the model from PROMPTS: seeded sampling, one seed per (prompt, sample).

    Results are cached as JSON lines (one per document, in prompt order) so later builds are instant;
    the cache holds the exact text used, so a corpus rebuilt from it is identical even where a different
    torch build would sample differently.
    """
    import torch

    cache = Path(cache_path) if cache_path else None
    done: dict[str, str] = {}
    if cache and cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            done[rec["key"]] = rec["text"]
    jobs = [(f"p{pi:03d}s{si}", pi, si) for pi in range(len(prompts)) for si in range(samples_per_prompt)]
    todo = [j for j in jobs if j[0] not in done]
    if todo:
        from tqdm.auto import tqdm

        device = next(model.parameters()).device
        pad_side = tokenizer.padding_side
        tokenizer.padding_side = "left"
        try:
            bar = tqdm(total=len(todo), desc="generating corpus text", disable=not progress)
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                texts = [prompts[pi] for _, pi, _ in chunk]
                enc = tokenizer(texts, return_tensors="pt", padding=True).to(device)
                # one generator seed per batch; the batch layout is fixed by the recipe, so is the result
                torch.manual_seed(seed * 1_000_003 + int(hashlib.sha256(chunk[0][0].encode()).hexdigest()[:8], 16))
                with torch.no_grad():
                    out = model.generate(
                        **enc,
                        do_sample=True,
                        temperature=temperature,
                        top_k=top_k,
                        top_p=1.0,
                        max_new_tokens=max_new_tokens,
                        repetition_penalty=1.1,
                        pad_token_id=tokenizer.pad_token_id,
                    )
                new = out[:, enc["input_ids"].shape[1] :]
                recs = []
                for (key, pi, _), row in zip(chunk, new):
                    text = prompts[pi] + tokenizer.decode(row, skip_special_tokens=True)
                    done[key] = text
                    recs.append(json.dumps({"key": key, "text": text}, ensure_ascii=False))
                if cache:
                    cache.parent.mkdir(parents=True, exist_ok=True)
                    with cache.open("a", encoding="utf-8") as fh:
                        fh.write("\n".join(recs) + "\n")
                bar.update(len(chunk))
            bar.close()
        finally:
            tokenizer.padding_side = pad_side
    docs = []
    for key, pi, _ in jobs:
        text = _cap(_clean(done[key]), MAX_DOC_CHARS)
        if len(text) >= 80:
            docs.append(Document("model_generated", key, "Gemma 3 output (Gemma Terms of Use; no rights claimed in outputs)", text))
    return docs


def load_generated(cache_path: str | Path | None = None) -> list[Document]:
    """Model-written documents from the cache alone (empty when it has not been generated yet)."""
    cache = Path(cache_path) if cache_path else generated_cache_path()
    if not cache.exists():
        return []
    docs = []
    for line in cache.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        text = _cap(_clean(rec["text"]), MAX_DOC_CHARS)
        if len(text) >= 80:
            docs.append(Document("model_generated", rec["key"], "Gemma 3 output (Gemma Terms of Use; no rights claimed in outputs)", text))
    docs.sort(key=lambda d: d.origin)
    return docs


# --------------------------------------------------------------------------------------------------
# the recipe


def build_corpus(
    sources: Sequence[str] | None = None,
    budget_scale: float = 1.0,
    extra: Iterable[Document] = (),
    include_generated: bool = True,
    generated_cache: str | Path | None = None,
) -> Corpus:
    """Build the corpus: the file sources in SOURCES order, then `extra` and the cached model text.

    Exact duplicates (after collapsing whitespace) keep their first occurrence. The split is by text
    hash (HELDOUT_PERMILLE), so a document's split never depends on what else is in the corpus.
    """
    names = list(SOURCES) if sources is None else list(sources)
    docs: list[Document] = []
    for name in names:
        if name == "model_generated":
            continue
        docs.extend(iter_source(name, budget_scale))
    docs.extend(extra)
    if include_generated and (sources is None or "model_generated" in names):
        docs.extend(load_generated(generated_cache))
    corpus = Corpus()
    seen: set[str] = set()
    for d in docs:
        h = text_hash(d.text)
        if h in seen:
            continue
        seen.add(h)
        (corpus.heldout if d.split == "heldout" else corpus.train).append(d)
    return corpus


def licence_table(corpus: Corpus) -> list[tuple[str, str, str, int]]:
    """(source, group, licence, documents) for every group in the corpus: the provenance record."""
    counts: dict[tuple[str, str, str], int] = {}
    for d in corpus.train + corpus.heldout:
        group = "prompts" if d.source == "model_generated" else _group(d.origin)
        key = (d.source, group, d.licence)
        counts[key] = counts.get(key, 0) + 1
    return [(*k, v) for k, v in sorted(counts.items())]


def _main(argv: Sequence[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Build the offline corpus and print its statistics.")
    ap.add_argument("--generate", action="store_true", help="also write the model-generated text (slow on CPU)")
    ap.add_argument("--budget-scale", type=float, default=1.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--samples-per-prompt", type=int, default=1)
    ap.add_argument("--licences", action="store_true", help="print the per-package provenance and licence table")
    args = ap.parse_args(argv)
    if args.generate:
        from .models import load_default_model

        model, tok = load_default_model(device=args.device)
        generate_model_text(model, tok, samples_per_prompt=args.samples_per_prompt, cache_path=generated_cache_path())
    corpus = build_corpus(budget_scale=args.budget_scale)
    if args.licences:
        print("| source | group | licence | docs |\n|---|---|---|---|")
        for row in licence_table(corpus):
            print("| " + " | ".join(str(c) for c in row) + " |")
        return
    print(json.dumps({"fingerprint": corpus.fingerprint(), "sources": corpus.stats()}, indent=1))


if __name__ == "__main__":
    _main(sys.argv[1:])
