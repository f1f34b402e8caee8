"""Code and documentation that installs with Python and Debian: the technical minority of the corpus.

Docstrings and source of the standard library and installed packages, package documentation, Debian's
``/usr/share/doc``, manual pages (English and translated) and licence texts. Each yields
``(origin, licence, text)`` in a deterministic order.
"""
from __future__ import annotations

import ast
import re
import sysconfig
from pathlib import Path
from typing import Iterator

from .files import path_rank, read_text, walk

__all__ = [
    "python_docstrings", "python_source", "package_docs", "debian_doc", "man_pages", "man_pages_i18n", "licences",
    "roff_to_text", "group_of",
]

_STDLIB = Path(sysconfig.get_paths()["stdlib"])
_PURELIB = Path(sysconfig.get_paths()["purelib"])
_SKIP_STDLIB = ("site-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo", "__pycache__", "ensurepip")


def _stdlib_files() -> list[Path]:
    def ok(p: Path) -> bool:
        rel = p.relative_to(_STDLIB).parts
        return p.suffix == ".py" and not any(part in _SKIP_STDLIB for part in rel[:-1])

    return walk(_STDLIB, ok)


def python_docstrings() -> Iterator[tuple[str, str, str]]:
    """Docstrings of the Python standard library (module, class and function docstrings), via ast."""
    for path in sorted(_stdlib_files(), key=lambda p: path_rank(str(p.relative_to(_STDLIB)), "doc")):
        text = read_text(path)
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


def python_source() -> Iterator[tuple[str, str, str]]:
    """Python source code with its comments: the standard library and installed packages."""
    files = [(p, "PSF-2.0") for p in _stdlib_files()]
    licences = _package_licences()
    for p in walk(_PURELIB, lambda p: p.suffix == ".py" and "tests" not in p.parts and "__pycache__" not in p.parts):
        top = p.relative_to(_PURELIB).parts[0]
        files.append((p, licences.get(top.lower().replace("-", "_"), "see the package's METADATA")))
    for path, lic in sorted(files, key=lambda t: path_rank(str(t[0]), "src")):
        text = read_text(path)
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
            fields, _ = _metadata_fields(read_text(meta) or "")
            lic = fields.get("License-Expression") or fields.get("License-Classifier") or fields.get("License", "")
            lic = lic.splitlines()[0][:60] if lic else "unstated"
            name = fields.get("Name", meta.parent.name.split("-")[0])
            out[name.lower().replace("-", "_")] = lic
            top = meta.parent / "top_level.txt"
            for mod in (read_text(top) or "").split():
                out.setdefault(mod.lower(), lic)
        _LICENCES_CACHE = out
    return _LICENCES_CACHE


def package_docs() -> Iterator[tuple[str, str, str]]:
    """Long descriptions in installed packages' METADATA, and README/markdown/rst files they ship."""
    licences = _package_licences()
    items: list[tuple[str, str, str]] = []
    for meta in sorted(_PURELIB.glob("*.dist-info/METADATA")):
        fields, body = _metadata_fields(read_text(meta) or "")
        name = fields.get("Name", meta.parent.name)
        items.append((str(meta), licences.get(name.lower().replace("-", "_"), "unstated"), body))
    for p in walk(_PURELIB, lambda p: p.suffix.lower() in (".md", ".rst", ".txt") and "dist-info" not in str(p)):
        if p.name.lower() in ("requirements.txt", "entry_points.txt", "top_level.txt", "record.txt"):
            continue
        top = p.relative_to(_PURELIB).parts[0].lower()
        items.append((str(p), licences.get(top, "see the package's METADATA"), read_text(p) or ""))
    for origin, lic, text in sorted(items, key=lambda t: path_rank(t[0], "pkg")):
        if text:
            yield origin, lic, text


_DOC_NAME = re.compile(r"(readme|news|faq|changes|intro|notes|\.md|\.rst|\.txt|howto|todo|thanks)", re.I)


def debian_doc() -> Iterator[tuple[str, str, str]]:
    """Package documentation under /usr/share/doc (READMEs, NEWS, FAQs, markdown, text; changelogs sparingly)."""
    root = Path("/usr/share/doc")

    def ok(p: Path) -> bool:
        n = p.name.lower()
        return (bool(_DOC_NAME.search(n)) or n.startswith("changelog")) and not n.endswith((".html", ".png", ".gif", ".svg"))

    seen_changelog_pkgs: set[str] = set()
    for p in sorted(walk(root, ok), key=lambda p: path_rank(str(p), "debdoc")):
        pkg = p.relative_to(root).parts[0]
        if p.name.lower().startswith("changelog"):
            if pkg in seen_changelog_pkgs or len(seen_changelog_pkgs) >= 60:  # one changelog per package, few
                continue
            seen_changelog_pkgs.add(pkg)
        text = read_text(p)
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

    return walk(root, ok)


def _man(localised: bool) -> Iterator[tuple[str, str, str]]:
    for p in sorted(_man_files(localised), key=lambda p: path_rank(str(p), "man")):
        src = read_text(p)
        if not src or src.lstrip().startswith(".so "):
            continue
        yield str(p), "per package: /usr/share/doc/<package>/copyright", roff_to_text(src)


def man_pages():
    """English manual pages, /usr/share/man/man*/ (gzip-read, roff stripped)."""
    return _man(False)


def man_pages_i18n():
    """Translated manual pages, /usr/share/man/<lang>/ (German, French, Swedish, Japanese, ...)."""
    return _man(True)


def licences() -> Iterator[tuple[str, str, str]]:
    """Licence texts (sparingly): /usr/share/common-licenses and the Python licence."""
    files = walk(Path("/usr/share/common-licenses"), lambda p: True)
    files.append(_STDLIB / "LICENSE.txt")
    for p in files:
        text = read_text(p)
        if text:
            yield str(p), "the licence text itself (verbatim copying permitted)", text


def group_of(origin: str) -> str:
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
