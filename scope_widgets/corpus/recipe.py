"""The recipe: which sources, in what amounts, and how documents become one de-duplicated, split corpus.

Mostly everyday English (the model's own writing over a topic x genre grid, fortune cookies, WordNet's
glosses and examples), with code, documentation and other languages as minority shares. The budgets are
characters per source; ``budget_scale`` scales them all (the lesson that trains a tiny SAE uses a slice).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from . import everyday, technical
from .documents import MAX_DOC_CHARS, MIN_DOC_CHARS, Corpus, Document, cap, clean, text_hash
from .generated import load_generated

__all__ = ["Source", "SOURCES", "EVERYDAY_SOURCES", "iter_source", "build_corpus", "licence_table"]


@dataclass(frozen=True)
class Source:
    name: str
    fn: Callable[[], Iterable[tuple[str, str, str]]]
    budget_chars: int  # the most characters this source contributes (before the split)
    licence: str  # for docs/corpus.md
    kind: str  # "everyday" or "technical": what share of the mix it belongs to
    max_doc_chars: int = MAX_DOC_CHARS
    max_per_group: int = 0  # at most this many documents per group (package, command family); 0: no cap


SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        Source("fortunes", everyday.fortunes, 2_200_000, "fortune-mod data files (Debian: fortunes, fortunes-min)", "everyday"),
        Source("wordnet", everyday.wordnet_glosses, 3_000_000, "WordNet 3.0 licence (Debian: wordnet-base)", "everyday"),
        Source("python_docstrings", technical.python_docstrings, 350_000, "PSF-2.0 (Python standard library)", "technical"),
        Source("python_source", technical.python_source, 500_000, "PSF-2.0 (stdlib); each package's own licence (site-packages)", "technical", 2000, 12),
        Source("package_docs", technical.package_docs, 400_000, "each package's own licence, from its METADATA", "technical", MAX_DOC_CHARS, 12),
        Source("debian_doc", technical.debian_doc, 250_000, "each Debian package's /usr/share/doc/<pkg>/copyright", "technical", MAX_DOC_CHARS, 6),
        Source("man_pages", technical.man_pages, 400_000, "each Debian package's /usr/share/doc/<pkg>/copyright", "technical", MAX_DOC_CHARS, 8),
        Source("man_pages_i18n", technical.man_pages_i18n, 350_000, "each Debian package's copyright (translations: same terms)", "technical", MAX_DOC_CHARS, 8),
        Source("licences", technical.licences, 30_000, "licence texts, verbatim copying permitted", "technical", 2500),
        # model_generated is not walked here: it comes from the generation cache (corpus.generated)
    ]
}
EVERYDAY_SOURCES = ("model_generated",) + tuple(n for n, s in SOURCES.items() if s.kind == "everyday")


def iter_source(name: str, budget_scale: float = 1.0, max_doc_chars: int | None = None) -> Iterator[Document]:
    """Cleaned, capped documents of one source until its (scaled) character budget is spent."""
    src = SOURCES[name]
    budget = int(src.budget_chars * budget_scale)
    limit = max_doc_chars or src.max_doc_chars
    used = 0
    per_group: dict[str, int] = {}
    for origin, licence, text in src.fn():
        text = cap(clean(text), limit)
        if len(text) < MIN_DOC_CHARS:
            continue
        if src.max_per_group:
            g = technical.group_of(origin)
            if per_group.get(g, 0) >= src.max_per_group:
                continue
            per_group[g] = per_group.get(g, 0) + 1
        yield Document(name, origin, licence, text)
        used += len(text)
        if used >= budget:
            return


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
    unknown = [n for n in names if n not in SOURCES and n != "model_generated"]
    if unknown:
        raise ValueError(f"unknown corpus source(s) {unknown}; known: {sorted(SOURCES) + ['model_generated']}")
    docs: list[Document] = []
    for name in names:
        if name != "model_generated":
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
        if d.source == "model_generated":
            group = d.origin.split(":")[0] if ":" in d.origin else "prompts"
        elif d.source in ("fortunes", "wordnet"):
            group = Path(d.origin.split("#")[0]).name
        else:
            group = technical.group_of(d.origin)
        key = (d.source, group, d.licence)
        counts[key] = counts.get(key, 0) + 1
    return [(*k, v) for k, v in sorted(counts.items())]
