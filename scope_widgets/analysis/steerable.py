"""Which of search's features *steer*: each candidate is tried on the sliders before it is recommended.

A feature that reads a concept well does not always write it: at a middle layer many concept features
stand for "this token is a dog" rather than "the text is about dogs", and adding them makes the model
repeat itself or drift. So ``scope.search(word, steer=True)`` adds each of the best-reading candidates,
at a few coefficients around its steering scale, to a few neutral openings, lets the model write greedily,
and puts first the features whose continuations talk about the concept and stay good text (the rules of
:mod:`scope_widgets.steering.trial`). "Talk about the concept" means using the query's own word or one of
the words whose input embeddings are nearest to it in the model (inflections, synonyms, close relatives),
so no word list is written by hand; the query's own word counts double.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import replace

import torch

from ..steering.trial import continuation_nll, is_fluent, steered_continuations
from .records import SearchHit

__all__ = ["TRIAL_PROMPTS", "TRIAL_SCALES", "STEER_CANDIDATES", "concept_words", "embedding_neighbours", "mentions", "rank_by_steering"]

#: Neutral openings the candidates continue (none names a topic).
TRIAL_PROMPTS = ("It was a quiet afternoon, and", "The first thing I noticed was", "Last weekend, my friends and I")
#: Coefficients tried, in units of each feature's steering scale (the slider spans about 3).
TRIAL_SCALES = (0.6, 1.0, 1.5)
#: How many of the best-reading candidates are tried.
STEER_CANDIDATES = 8
_NEW_TOKENS = 20
_SUFFIXES = ("ing", "ed", "es", "s", "er", "ly")


def _stem(word: str) -> str:
    w = word.lower()
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def _words(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[^\W\d_]{3,}", text.lower())}


_word_tokens: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # tokenizer -> {vocabulary size: mask}


def _is_word_token(tokenizer, n: int) -> torch.Tensor:
    """``[n]`` bool: tokens that are a whole word of 3+ letters after a space (SentencePiece's or BPE's)."""
    masks = _word_tokens.setdefault(tokenizer, {})
    if n not in masks:
        pieces = tokenizer.convert_ids_to_tokens(list(range(n)))
        masks[n] = torch.tensor([bool(p) and re.fullmatch(r"[\u2581\u0120][A-Za-z]{3,}", p) is not None for p in pieces])
    return masks[n]


def embedding_neighbours(model, tokenizer, word: str, n: int = 16) -> list[str]:
    """The ``n`` words whose input embeddings are closest (cosine) to the word's (the mean of its tokens'):
    its inflections, synonyms and close relatives ("dog": dogs, pet, puppy, canine, cat, ...)."""
    emb = model.get_input_embeddings().weight.detach()
    ids = tokenizer(" " + word.strip(), add_special_tokens=False)["input_ids"]
    if not ids:
        return []
    with torch.no_grad():
        query = emb[ids].float().mean(0)
        sim = torch.cat([torch.nn.functional.cosine_similarity(chunk.float(), query[None], dim=1)
                         for chunk in emb.split(32768)]).cpu()
    sim[~_is_word_token(tokenizer, emb.shape[0])] = -2.0
    top = sim.topk(min(n, sim.numel())).indices.tolist()
    return [tokenizer.convert_ids_to_tokens(i)[1:] for i in top if sim[i] > -2.0]


def concept_words(word: str, neighbours: Sequence[str] = ()) -> tuple[set[str], set[str]]:
    """``(own, related)`` stems: the query's own words, and those with its embedding ``neighbours``."""
    own = _words(word)
    return own, own.union(*map(_words, neighbours))


def mentions(text: str, stems: set[str]) -> bool:
    """Whether the text uses one of the concept's stems."""
    return not _words(text).isdisjoint(stems)


def rank_by_steering(model, tokenizer, sae, hits: Sequence[SearchHit], stems: tuple[set[str], set[str]],
                     scales: dict[int, float], new_tokens: int = _NEW_TOKENS) -> list[SearchHit]:
    """The hits, each with ``steers`` (the share of the trial openings it turned to the concept, its own or
    related words, in good text, at its best coefficient) and ``steer_coefficient`` (the smallest coefficient
    that reached it), ordered by how well they steer and then by their reading order. At each coefficient a
    continuation counts once for a related word and once more for the query's own: a feature that writes
    "dog" comes before one that writes "cat" when the query is "dog". One batched generation for all."""
    if not hits:
        return []
    rows = [(h.feature, s * scales[h.feature]) for h in hits for s in TRIAL_SCALES]  # (feature, coefficient)
    prompts = [p for _ in rows for p in TRIAL_PROMPTS]
    vectors = torch.stack([c * sae.W_dec[f].detach().float().cpu() for f, c in rows for _ in TRIAL_PROMPTS])
    texts = steered_continuations(model, tokenizer, sae.hook_point_out, prompts, vectors, new_tokens=new_tokens)
    nll = continuation_nll(model, tokenizer, prompts, texts)
    own, related = stems
    per_row, per_hit = len(TRIAL_PROMPTS), len(TRIAL_SCALES)
    counts = []  # per row: (openings with a related word, with the query's own), fluent ones only
    for r in range(len(rows)):
        span = slice(r * per_row, (r + 1) * per_row)
        good = [t for t, n in zip(texts[span], nll[span]) if is_fluent(t, n)]
        counts.append((sum(mentions(t, related) for t in good), sum(mentions(t, own) for t in good)))
    ranked = []
    for order, h in enumerate(hits):
        tried = [(sum(counts[r]), counts[r][0], rows[r][1]) for r in range(order * per_hit, (order + 1) * per_hit)]
        value, n_related, coefficient = max(tried, key=lambda t: t[0])  # the first (smallest) coefficient of the best
        ranked.append((-value, order, replace(h, steers=n_related / len(TRIAL_PROMPTS),
                                              steer_coefficient=coefficient if value else None)))
    return [h for *_, h in sorted(ranked, key=lambda r: r[:2])]
