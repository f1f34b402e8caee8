"""Which of search's features *steer*: the candidates are tried on the model before one is recommended.

A feature that reads a concept well does not always write it: at a middle layer many concept features
stand for "this token is a dog" rather than "the text is about dogs", and adding them makes the model
repeat itself or drift. So ``scope.search(word, steer=True)`` takes search's best readers
(:data:`STEER_POOL`) and:

1. ranks them by what they *write* (:func:`writing_scores`): each is added, at one and at 1.5 times its
   steering scale, to neutral text (a few openings and the unsteered model's own continuations of them,
   read teacher-forced), and scored by the mean probability that the next token is one of the concept's
   words. This is the "output score" of Arad, Mueller and Belinkov (2025); on the default SAE it picks
   features that steer more often than the reading order or short greedy trials do
   (``python -m benchmarks.steer_selection``, docs/default_sae.md);
2. tries the ones it returns on the sliders (:func:`rank_by_steering` without reordering): at a few
   coefficients, after a few neutral openings, greedily, and reports the share of openings each turned to
   the concept in good text (the rules of :mod:`scope_widgets.steering.trial`) and the smallest coefficient
   that did it.

The concept's words are the query's own and the words whose input embeddings are nearest to it in the
model (inflections, synonyms, close relatives), so no word list is written by hand; in a trial the query's
own word counts double.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import replace

import torch

from ..engine.hooks import edit_activations
from ..engine.tokens import pad_batch, pad_id
from ..steering.trial import continuation_nll, is_fluent, steered_continuations
from .records import SearchHit

__all__ = ["TRIAL_PROMPTS", "TRIAL_SCALES", "STEER_CANDIDATES", "STEER_POOL", "WRITING_SCALES", "concept_words",
           "concept_token_ids", "embedding_neighbours", "mentions", "neutral_reading", "writing_scores", "rank_by_steering"]

#: Neutral openings the candidates continue (none names a topic).
TRIAL_PROMPTS = ("It was a quiet afternoon, and", "The first thing I noticed was", "Last weekend, my friends and I")
#: Coefficients tried, in units of each feature's steering scale (the slider spans about 3).
TRIAL_SCALES = (0.6, 1.0, 1.5)
#: At most this many hits are tried in greedy continuations (the rest keep ``steers=None``).
STEER_CANDIDATES = 8
#: How many of search's best readers are ranked by what they write: every pick that steered on the default
#: SAE's 41 benchmark concepts was among the first 20, and picks from further down only outwrote better
#: readers (docs/default_sae.md).
STEER_POOL = 24
#: Coefficients at which what a feature writes is measured, in units of its steering scale (the best counts).
WRITING_SCALES = (1.0, 1.5)
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
_readings: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # model -> neutral_reading


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


def concept_token_ids(tokenizer, words: Sequence[str]) -> list[int]:
    """The tokens that write one of ``words`` as a whole word after a space, as given and capitalised."""
    ids = set()
    for w in words:
        for variant in (" " + w.strip(), " " + w.strip().capitalize()):
            got = tokenizer(variant, add_special_tokens=False)["input_ids"]
            if len(got) == 1:
                ids.add(int(got[0]))
    return sorted(ids)


def neutral_reading(model, tokenizer, hook_point: str) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """``(ids, attention_mask, starts)``: :data:`TRIAL_PROMPTS` followed by the unsteered model's greedy
    continuations, right-padded; ``starts[r]`` is the last position of row r's opening, the first that
    predicts a written token. Computed once per model."""
    if model not in _readings:
        prompts = list(TRIAL_PROMPTS)
        zeros = torch.zeros(len(prompts), model.get_input_embeddings().weight.shape[1])
        # plain greedy text to read (the writing rule was measured on it), not a continuation to judge
        texts = steered_continuations(model, tokenizer, hook_point, prompts, zeros, new_tokens=_NEW_TOKENS,
                                      repetition_penalty=1.0)
        heads = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
        rows = [h + tokenizer(t, add_special_tokens=False)["input_ids"] for h, t in zip(heads, texts)]
        ids, attn = pad_batch(rows, pad_id(tokenizer))
        _readings[model] = (ids, attn, [len(h) - 1 for h in heads])
    return _readings[model]


def writing_scores(model, tokenizer, sae, features: Sequence[int], token_ids: Sequence[int],
                   scales: dict[int, float], chunk: int = 4) -> tuple[dict[int, float], float]:
    """``(scores, unsteered)``: per feature, the mean probability that the next token is one of
    ``token_ids`` over the written positions of :func:`neutral_reading`, with the feature added at every
    non-BOS position at each of :data:`WRITING_SCALES` times its scale (the best counts); and the same
    probability without steering. ``chunk`` (feature, coefficient) pairs run as one batch: on Gemma 3's
    262k-word vocabulary the logits of one pair are about 70 MB."""
    ids, attn, starts = neutral_reading(model, tokenizer, sae.hook_point_out)
    device = next(model.parameters()).device
    ids, attn = ids.to(device), attn.to(device)
    n_rows = ids.shape[0]
    written = torch.zeros_like(attn, dtype=torch.bool)
    for r, s in enumerate(starts):
        written[r, s : int(attn[r].sum()) - 1] = True
    # logits only where some row has a written position: the unembedding is most of the cost (262k words)
    keep_at = torch.arange(min(starts), ids.shape[1] - 1, device=device)
    written = written[:, keep_at]
    targets = torch.tensor(list(token_ids), dtype=torch.long, device=device)
    units = {f: sae.W_dec[f].detach().float() for f in features}
    units[None] = torch.zeros_like(sae.W_dec[0], dtype=torch.float32)
    jobs = [(None, 0.0)] + [(f, m) for m in WRITING_SCALES for f in features]  # (feature, multiple); None: unsteered
    best: dict[int, float] = {}
    unsteered = 0.0
    for at in range(0, len(jobs), chunk):
        part = jobs[at : at + chunk]
        vec = torch.stack([m * scales.get(f, 0.0) * units[f] for f, m in part]).repeat_interleave(n_rows, 0).to(device)
        keep = attn.repeat(len(part), 1).clone()
        keep[:, 0] = 0  # BOS is never steered

        def edit(h, vec=vec, keep=keep):
            return h + keep[:, : h.shape[1], None].to(h.dtype) * vec[:, None, :].to(h.dtype)

        with edit_activations(model, sae.hook_point_out, edit), torch.no_grad():
            logits = model(input_ids=ids.repeat(len(part), 1), attention_mask=attn.repeat(len(part), 1),
                           logits_to_keep=keep_at).logits
        logits = logits.float()
        p = (logits[..., targets] - logits.logsumexp(-1, keepdim=True)).exp().sum(-1)  # [rows, T]
        mask = written.repeat(len(part), 1)
        for j, (f, _) in enumerate(part):
            span = slice(j * n_rows, (j + 1) * n_rows)
            value = float(p[span][mask[span]].mean())
            if f is None:
                unsteered = value
            else:
                best[f] = max(best.get(f, 0.0), value)
    return best, unsteered


def rank_by_steering(model, tokenizer, sae, hits: Sequence[SearchHit], stems: tuple[set[str], set[str]],
                     scales: dict[int, float], new_tokens: int = _NEW_TOKENS, reorder: bool = True) -> list[SearchHit]:
    """The hits, each with ``steers`` (the share of the trial openings it turned to the concept, its own or
    related words, in good text, at its best coefficient) and ``steer_coefficient`` (the smallest coefficient
    that reached it), ordered by how well they steer and then by their reading order. At each coefficient a
    continuation counts once for a related word and once more for the query's own: a feature that writes
    "dog" comes before one that writes "cat" when the query is "dog". One batched generation for all.
    ``reorder=False`` keeps the hits' order and only reports how they steered."""
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
        ranked.append((-value if reorder else 0, order, replace(h, steers=n_related / len(TRIAL_PROMPTS),
                                              steer_coefficient=coefficient if value else None)))
    return [h for *_, h in sorted(ranked, key=lambda r: r[:2])]
