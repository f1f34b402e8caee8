"""The offline corpus: text for training and evaluating the default SAE, with no network.

Every source is text that installs from a package registry or ships with the operating system, plus text
that the embedded model writes itself from a prompt set. The recipe, not the text, is what ships:
:func:`build_corpus` rebuilds the same documents on the same machine image, and ``docs/corpus.md``
records the provenance and licence of each source.

    >>> from scope_widgets.corpus import build_corpus
    >>> corpus = build_corpus(sources=["python_docstrings"], budget_scale=0.05)
    >>> len(corpus.train) > len(corpus.heldout) > 0
    True

Files: ``documents`` (a document, the split, cleaning), ``files`` (reading files), ``technical`` and
``everyday`` (the sources), ``prompts`` and ``generated`` (the model-written share), ``recipe`` (the mix).
"""
from .documents import HELDOUT_PERMILLE, MAX_DOC_CHARS, MIN_DOC_CHARS, Corpus, Document, text_hash
from .generated import generate_model_text, generated_cache_path, load_generated
from .prompts import GENRES, PROMPTS, TOPICS, topic_prompts
from .recipe import EVERYDAY_SOURCES, SOURCES, Source, build_corpus, iter_source, licence_table
from .technical import roff_to_text

__all__ = [
    "Document", "Corpus", "Source", "SOURCES", "EVERYDAY_SOURCES", "PROMPTS", "TOPICS", "GENRES", "HELDOUT_PERMILLE",
    "MAX_DOC_CHARS", "MIN_DOC_CHARS", "build_corpus", "iter_source", "generate_model_text", "generated_cache_path",
    "load_generated", "licence_table", "text_hash", "topic_prompts", "roff_to_text",
]
