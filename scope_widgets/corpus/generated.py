"""Text the embedded model writes itself: seeded sampling from prompt lists, cached as JSON lines.

Generation is the slow part of the corpus (about 140 new tokens/s on two CPU cores in bfloat16), so it
is resumable: each finished batch is appended to the cache at once, and a rerun only writes what is
missing. The cache holds the exact text used, so a corpus rebuilt from it is identical even where another
torch build would sample differently.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

from ..engine.tokens import left_padded
from ..runtime import cache_dir
from .documents import MAX_DOC_CHARS, Document, cap, clean

__all__ = ["GENERATED_LICENCE", "generated_cache_path", "generate_model_text", "load_generated"]

GENERATED_LICENCE = "Gemma 3 output (Gemma Terms of Use; no rights claimed in outputs)"
#: Model-written documents shorter than this (after cleaning) are dropped.
MIN_GENERATED_CHARS = 80


def generated_cache_path(name: str = "model_generated_v2") -> Path:
    return cache_dir() / "corpus" / f"{name}.jsonl"


def _read_cache(cache: Path | None) -> dict[str, str]:
    done: dict[str, str] = {}
    if cache and cache.exists():
        for line in cache.read_text(encoding="utf-8").split("\n"):  # not splitlines: texts hold U+2028
            if line.strip():
                rec = json.loads(line)
                done[rec["key"]] = rec["text"]
    return done


def generate_model_text(
    model,
    tokenizer,
    jobs: Sequence[tuple[str, str]],
    max_new_tokens: int = 128,
    temperature: float = 0.9,
    top_k: int = 40,
    seed: int = 0,
    batch_size: int = 64,
    cache_path: str | Path | None = None,
    progress: bool = True,
) -> list[Document]:
    """Documents written by the model from ``jobs`` (``(key, prompt)`` pairs), seeded per batch.

    The batch layout follows ``jobs`` and the keys already cached, so a resumed run samples the missing
    batches exactly as an uninterrupted one would have.
    """
    import torch
    from tqdm.auto import tqdm

    cache = Path(cache_path) if cache_path else None
    done = _read_cache(cache)
    batches = [list(jobs[i : i + batch_size]) for i in range(0, len(jobs), batch_size)]
    todo = [b for b in batches if any(key not in done for key, _ in b)]
    if todo:
        device = next(model.parameters()).device
        bar = tqdm(total=sum(len(b) for b in todo), desc="generating corpus text", disable=not progress, mininterval=10)
        try:
            for chunk in todo:
                enc = left_padded(tokenizer, [p for _, p in chunk], device)
                torch.manual_seed(seed * 1_000_003 + int(hashlib.sha256(chunk[0][0].encode()).hexdigest()[:8], 16))
                with torch.no_grad():
                    out = model.generate(
                        **enc, do_sample=True, temperature=temperature, top_k=top_k, top_p=1.0,
                        max_new_tokens=max_new_tokens, repetition_penalty=1.1, pad_token_id=tokenizer.pad_token_id,
                    )
                new = out[:, enc["input_ids"].shape[1] :]
                recs = []
                for (key, prompt), row in zip(chunk, new):
                    text = prompt + tokenizer.decode(row, skip_special_tokens=True)
                    done[key] = text
                    recs.append(json.dumps({"key": key, "text": text}, ensure_ascii=False))
                if cache:
                    cache.parent.mkdir(parents=True, exist_ok=True)
                    with cache.open("a", encoding="utf-8") as fh:
                        fh.write("\n".join(recs) + "\n")
                bar.update(len(chunk))
        finally:
            bar.close()
    return _documents([(key, done[key]) for key, _ in jobs])


def _documents(records: Sequence[tuple[str, str]]) -> list[Document]:
    docs = []
    for key, text in records:
        text = cap(clean(text), MAX_DOC_CHARS)
        if len(text) >= MIN_GENERATED_CHARS:
            docs.append(Document("model_generated", key, GENERATED_LICENCE, text))
    return docs


def load_generated(cache_path: str | Path | None = None) -> list[Document]:
    """Model-written documents from the cache alone, sorted by key (empty before any generation)."""
    cache = Path(cache_path) if cache_path else generated_cache_path()
    return _documents(sorted(_read_cache(cache).items()))
