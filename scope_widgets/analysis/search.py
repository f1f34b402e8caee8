"""Search: features that are *selective* for a concept, and concept directions from examples.

A feature is scored by how well its maximum over a text separates texts about the concept from texts
that are not (AUROC: the chance that a random example text beats a random counter-example; 1.0 is perfect,
0.5 is chance), not by how strongly it fires: a comma feature fires hard everywhere and so separates
nothing. Three ways in:

- ``separating(examples, against)``: your own example texts and counter-examples;
- ``search_word(word)``: the word read in a few neutral frames, a few short texts the model writes about
  it and its dictionary definitions (:mod:`.glosses`; so features of the *topic*, not only of the word's
  token, are found), against a built-in background (:data:`.background.BACKGROUND`) and the same read of
  generic nouns (:data:`CONTROL_WORDS`); a small bonus goes to features whose decoder direction promotes
  the word as the next token (those steer toward it);
- ``concept_direction(examples, against)``: the difference of the mean activations, for steering.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import replace

import torch

from ..engine import hooks
from ..engine.tokens import encode, left_padded, pad_batch, pad_id
from ..engine.unembed import logit_stats, norm_gain, unembedding
from ..features import label_names, names_word, text_maxima
from ..runtime import in_batches
from ..steering import Direction
from .background import BACKGROUND
from .glosses import glosses
from .records import SearchHit
from .sources import max_activation
from .token_profile import reliability

__all__ = ["WORD_FRAMES", "auroc", "separating", "search_word", "concept_texts", "neutral_texts", "concept_direction", "typical_norm",
           "steering_scale"]

#: Neutral frames the searched word is read in.
WORD_FRAMES = (
    "{q}",
    "The word is {q}.",
    "I read about {q} yesterday.",
    "They kept talking about {q} all evening.",
    "Here is a short note on {q}.",
    "Everyone seemed to know something about {q}.",
)
#: Generic nouns read in the same :data:`WORD_FRAMES` as the searched word, as more counter-examples: a
#: feature of the frames themselves ("I read about ...", "a short note on ...") fires for every word put
#: there, so it is left behind, and what is left is the word. Measured on three concept suites (27 tuned, 20
#: held out, and 24 more written on 2026-12-03, whose concepts overlap: pizza, cheese, chocolate; tennis,
#: chess, swimming), search's top 5 held a feature with AUROC >= 0.90 for 24, 14 and 7 concepts without
#: them; 24, 14 and 12 with these 16 words (two other sets of 16, concrete nouns: 24, 14, 12 and 24, 14, 12;
#: ``docs/dashboards.md``). A control word that shares a stem with the searched word is left out.
CONTROL_WORDS = ("thing", "place", "person", "day", "way", "part", "story", "group", "kind", "side", "piece", "time",
                 "point", "matter", "item", "case")
#: ``search_word`` reads the word's dictionary definitions (:mod:`.glosses`) when WordNet gives it at least
#: this many (one definition alone is a single text, too few for an AUROC of its own). Measured on the three
#: suites, as for :data:`CONTROL_WORDS`: with the frames' and the model's texts' AUROCs, search's top 5 held a
#: feature with AUROC >= 0.90 for 24, 14 and 12 concepts; with the definitions' as a third of the mean,
#: 24, 15 and 15, and its first hit did for 18, 10 and 8 concepts instead of 17, 10 and 3
#: (``python -m benchmarks.default_sae --skip-reading``; ``docs/default_sae.md``).
MIN_GLOSSES = 2
#: Openings the model continues to write a little about the word (greedy and seeded, so reproducible).
ABOUT_PROMPTS = (
    "An encyclopedia entry about {q}.\n\n",
    "A short story about {q}.\n\n",
    "Some facts about {q}:\n\n",
    "A letter to a friend about {q}.\n\nDear Sam,\n\n",
)
_MAX_TOKENS = 256
#: How much ``search_word`` adds for the gap between the means of the word's texts and the background.
GAP_WEIGHT = 0.5
#: How much ``search_word`` adds for a feature that, over its dashboards' corpus, fires on the word in every
#: text that holds it (the 16 tokens a feature usually fires on are kept; measured on the 27-concept suite:
#: search's top 5 holds a feature with AUROC >= 0.90 for 23 concepts at 0, 24 at 0.1 and 0.25, 22 at 0.5)
PROFILE_WEIGHT = 0.25
#: With counter-examples, the share of ``separating``'s AUROC that is measured against the built-in background
#: instead. Measured on both concept suites (47 concepts; ``benchmarks.default_sae``'s ``search(examples=)``
#: rows): with 3 and with 5 sentences of a concept against as many neutral ones, its first hit has an AUROC
#: >= 0.90 on the suite's other sentences for 3 and 15 concepts at 0, 13 and 26 at 0.5 (11 and 26 at 0.7);
#: against as many sentences of another concept, 2 and 16 at 0, 10 and 30 at 0.5 (9 and 28 at 0.7)
BACKGROUND_SHARE = 0.5
#: In ``separating``, how much a feature gains for firing on the examples near its usual peak (its largest
#: value in the SAE's dashboards' corpus): with a few texts dozens of features separate them perfectly, and
#: those that fire on them as they do on their top examples carry over to the concept's other texts. Both
#: suites, first hit good (AUROC >= 0.90 on the other sentences) with 3 and 5 sentences against as many
#: neutral / of another concept: 13, 26 / 10, 30 without; 15, 26 / 16, 31 with. (Adding as much for a denser
#: feature gave 15, 31 / 17, 30, but put a random vowel feature above one planted on the examples' rare letter:
#: it favours what is common over what is specific, so it is left out.)
TIE_WEIGHT = 0.05
_background_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # sae -> {text: maxima}
_norm_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # sae -> median token norm
_neutral_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # model -> (frames, about) of NEUTRAL_TOPIC
_control_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # sae -> {control word: (frames', glosses' maxima)}
#: What the word's texts are contrasted with, written the same way: the model's style of writing "about
#: something" then cancels out, and what is left is the concept.
NEUTRAL_TOPIC = "everyday things"


def auroc(pos: torch.Tensor, neg: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Per-column AUROC of ``pos [n, F]`` against ``neg [m, F]`` (ties count a half), ``[F]``."""
    out = []
    for s in range(0, pos.shape[1], chunk):
        p, q = pos[:, s : s + chunk], neg[:, s : s + chunk]
        gt = (p[:, None, :] > q[None, :, :]).float().mean((0, 1))
        eq = (p[:, None, :] == q[None, :, :]).float().mean((0, 1))
        out.append(gt + 0.5 * eq)
    return torch.cat(out) if out else torch.zeros(0)


def _maxima(model, tokenizer, sae, texts: Sequence[str], away_from: str | None = None) -> torch.Tensor:
    """Each feature's maximum over each text; with ``away_from``, over the tokens other than that word's own
    (:func:`_own_token_ids`): what a feature does for the *topic*, away from the word itself."""
    skip = _own_token_ids(tokenizer, away_from) if away_from else ()
    return text_maxima(model, tokenizer, sae, list(texts), _MAX_TOKENS, skip_token_ids=skip)


def _background(model, tokenizer, sae, exclude: str | None = None) -> tuple[list[str], torch.Tensor]:
    """The background's texts and maxima (computed once per SAE), without those that mention ``exclude``."""
    cached = _background_cache.get(sae)
    if cached is None:
        cached = dict(zip(BACKGROUND, _maxima(model, tokenizer, sae, BACKGROUND)))
        _background_cache[sae] = cached
    keep = [t for t in BACKGROUND if not (exclude and names_word(t, exclude))]
    return keep, torch.stack([cached[t] for t in keep])


def _controls(model, tokenizer, sae, word: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(frames, glosses)``: maxima of :data:`CONTROL_WORDS` in :data:`WORD_FRAMES`, and of their dictionary
    definitions (:mod:`.glosses`; away from the control word), each ``[n, d_sae]`` (computed once per SAE),
    without the control words that share a stem with ``word``."""
    from .steerable import concept_words

    cached = _control_cache.get(sae)
    if cached is None:
        cached = {c: (_maxima(model, tokenizer, sae, [f.format(q=c) for f in WORD_FRAMES]),
                      _maxima(model, tokenizer, sae, defined, away_from=c) if (defined := glosses(c))
                      else torch.zeros(0, sae.d_sae))
                  for c in CONTROL_WORDS}
        _control_cache[sae] = cached
    own = concept_words(word)[0]
    kept = [m for c, m in cached.items() if own.isdisjoint(concept_words(c)[0])]
    return torch.cat([f for f, _ in kept]), torch.cat([g for _, g in kept])


def _gap(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """How far apart the means are, relative to the feature's largest value seen here, in [-1, 1]."""
    scale = torch.maximum(pos.amax(0), neg.amax(0)).clamp_min(1e-6)
    return (pos.mean(0) - neg.mean(0)) / scale


def _hits(score, activation, logits, extra: dict[str, torch.Tensor], k: int, labels) -> list[SearchHit]:
    k = min(k, score.numel())
    values, order = score.topk(k)
    hits = []
    for v, i in zip(values.tolist(), order.tolist()):
        if v <= 0.5 + 1e-9 and float(activation[i]) <= 0.5:  # no better than chance
            break
        a, lg = float(activation[i]), float(logits[i])
        why = "both" if a >= 0.9 and lg >= 0.1 else ("activation" if a >= 0.5 or lg < 0.1 else "logits")
        hits.append(SearchHit(feature=int(i), score=float(v), label=labels.get(int(i)) if labels else None, why=why,
                              activation_score=a, logit_score=lg, extra={k2: float(t[i]) for k2, t in extra.items()}))
    return hits


def _corpus_peak(corpus, d_sae: int) -> torch.Tensor | None:
    """``[d_sae]``: the features' largest activation in their dashboards' corpus, or None (no dashboards,
    Gemma Scope's examples without it, or another SAE's width)."""
    v = getattr(corpus, "max_activation", None)
    v = v() if callable(v) else v  # a property of our dashboards, a method of Gemma Scope's examples
    v = None if v is None else torch.as_tensor(v, dtype=torch.float32).flatten()
    return v if v is not None and v.numel() == d_sae else None


def separating(model, tokenizer, sae, examples: Sequence[str], against: Sequence[str] | None = None, k: int = 10,
               labels=None, corpus=None) -> list[SearchHit]:
    """Features whose max over a text separates ``examples`` from ``against`` (default: the built-in
    background), best first. ``hit.score`` is the AUROC, plus up to 0.05 for a wider gap between the means
    and, with the SAE's dashboards as ``corpus``, up to :data:`TIE_WEIGHT` for firing on the examples near
    the feature's usual peak (``hit.extra["peak_share"]``: their mean over its corpus maximum, at most 1).

    With ``against`` given, the AUROC is the mean of two: against ``against``, and against the built-in
    background (:data:`BACKGROUND_SHARE`). A handful of texts on each side lets hundreds of features
    separate them perfectly by chance; a feature that also stays quiet on ordinary sentences is one that
    is about the examples. ``hit.extra`` holds ``auroc`` (against ``against`` alone), ``auroc_background``,
    ``mean_in`` and ``mean_out``."""
    pos = _maxima(model, tokenizer, sae, examples)
    background = _background(model, tokenizer, sae)[1]
    neg = _maxima(model, tokenizer, sae, against) if against is not None else background
    a = auroc(pos, neg)
    a_bg = auroc(pos, background) if against is not None else a
    both = (1 - BACKGROUND_SHARE) * a + BACKGROUND_SHARE * a_bg
    score = both + 0.05 * _gap(pos, neg)
    extra = {"auroc": a, "auroc_background": a_bg, "mean_in": pos.mean(0), "mean_out": neg.mean(0)}
    peak = _corpus_peak(corpus, sae.d_sae)
    if peak is not None:
        extra["peak_share"] = (pos.mean(0) / peak.clamp_min(1e-6)).clamp(0, 1)
        score = score + TIE_WEIGHT * extra["peak_share"]
    return _hits(score, both, torch.zeros_like(a), extra, k, labels)


def concept_texts(model, tokenizer, word: str, n_about: int = len(ABOUT_PROMPTS), new_tokens: int = 32) -> tuple[list[str], list[str]]:
    """``(frames, about)``: the word in the neutral frames, and short texts the model writes about it
    (only the written part: the prompt, which names the word, is left out)."""
    frames = [f.format(q=word) for f in WORD_FRAMES]
    if n_about <= 0:
        return frames, []
    prompts = [p.format(q=word) for p in ABOUT_PROMPTS[:n_about]]
    enc = left_padded(tokenizer, prompts, next(model.parameters()).device)
    with torch.no_grad():
        out = model.generate(**enc, do_sample=False, max_new_tokens=new_tokens, repetition_penalty=1.2,
                             pad_token_id=pad_id(tokenizer))
    about = [tokenizer.decode(row[enc["input_ids"].shape[1]:], skip_special_tokens=True).strip() for row in out]
    return frames, [t for t in about if len(t) > 10]


def neutral_texts(model, tokenizer) -> tuple[list[str], list[str]]:
    """``concept_texts`` of :data:`NEUTRAL_TOPIC` (computed once per model)."""
    if model not in _neutral_cache:
        _neutral_cache[model] = concept_texts(model, tokenizer, NEUTRAL_TOPIC)
    return _neutral_cache[model]


def _word_token_ids(tokenizer, word: str, whole: bool = False) -> set[int]:
    """The first token of the word's spellings (with and without a leading space, capitalised), or with
    ``whole`` only the spellings that are one token."""
    ids = set()
    for variant in (" " + word, word, " " + word.capitalize(), word.capitalize()):
        got = tokenizer(variant, add_special_tokens=False)["input_ids"]
        if got and (len(got) == 1 or not whole):
            ids.add(int(got[0]))
    return ids


def _own_token_ids(tokenizer, word: str) -> set[int]:
    """The tokens that spell the word as running text has it: each word of the query after a space, as
    given, lower-case and capitalised (every piece of it), and, where they are one token, the same without
    the space and the plurals in -s and -es. Pieces of other spellings ("Ang" + "er" for "Anger") are common
    to many words and stay in; so does a token that is only white space."""
    ids = set()
    for w in word.split():
        for form in (w, w + "s", w + "es"):
            for variant in {form, form.lower(), form.capitalize()}:
                for spaced in (" " + variant, variant):
                    got = tokenizer(spaced, add_special_tokens=False)["input_ids"]
                    if len(got) == 1 or (form == w and spaced.startswith(" ")):
                        ids.update(int(t) for t in got)
    return {t for t in ids if tokenizer.decode([t]).strip()}


def _profile_bonus(tokenizer, corpus, word: str, d_sae: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(rate, fired, texts)``, each ``[d_sae]``. ``rate`` in [0, 1]: per feature, the share of the corpus
    texts holding the word's token in which the feature fired on it, where that token is among the ones it
    usually fires on (its token profile, kept by the dashboards: :mod:`.token_profile`), scaled down below
    a few such texts (:func:`.token_profile.reliability`); ``fired`` and ``texts`` the two counts behind it. Zeros without a profile."""
    arrays = getattr(corpus, "arrays", None)
    out, fired, texts = torch.zeros(d_sae), torch.zeros(d_sae), torch.zeros(d_sae)
    if not isinstance(arrays, dict) or "profile_ids" not in arrays or arrays["profile_ids"].shape[0] != d_sae:
        return out, fired, texts
    totals = corpus.text_counts()
    for t in _word_token_ids(tokenizer, word, whole=True):
        rows, cols = (arrays["profile_ids"] == t).nonzero()  # each feature holds a token once in its profile
        counts = arrays["profile_counts"][rows, cols]
        n = torch.as_tensor(counts, dtype=torch.float32)
        seen = n.clamp_min(float(totals[t]) if t < len(totals) else 0.0)
        rows = torch.as_tensor(rows, dtype=torch.long)
        rate = torch.as_tensor(reliability(counts, seen.numpy()), dtype=torch.float32)
        better = rate > out[rows]  # the spelling (" dog", "Dog", ...) it fires on most reliably counts
        out[rows[better]], fired[rows[better]], texts[rows[better]] = rate[better], n[better], seen[better]
    return out, fired, texts


#: From this ``corpus_rate`` on, a search hit whose label does not name the word says that it fires on it.
NOTE_RATE = 0.5


def _word_notes(hits: list[SearchHit], word: str) -> list[SearchHit]:
    """Hits that fire on the word in most corpus texts holding it, but whose automatic label comes from
    other, stronger uses (``None / said / replied`` for "mountain"), get a ``note`` saying so."""
    out = []
    for h in hits:
        fired, texts = int(h.extra.get("corpus_fired", 0)), int(h.extra.get("corpus_texts", 0))
        named = h.label is not None and label_names(h.label, word)
        if h.extra.get("corpus_rate", 0.0) >= NOTE_RATE and not named:
            h = replace(h, note=f"fires on {word!r} in {fired} of the {texts} corpus texts that hold it; "
                                f"its label comes from its strongest examples")
        out.append(h)
    return out


def _logit_bonus(model, tokenizer, sae, word: str) -> torch.Tensor:
    """In [0, 1]: how far each feature's logit effect on the word's first token stands above its mean
    over the vocabulary, in units of the largest z-score a random direction reaches."""
    ids = _word_token_ids(tokenizer, word)
    w_u = unembedding(model)
    ids = [i for i in ids if 0 <= i < w_u.shape[0]]
    if not ids:
        return torch.zeros(sae.d_sae)
    stats = logit_stats(model, sae)
    with torch.no_grad():  # (W_dec * g) @ W_U[ids].T, without a [d_sae, d_model] float32 copy
        targets = w_u[ids].float() * norm_gain(model, w_u.shape[1], w_u.device)
        eff = (sae.W_dec.detach() @ targets.to(device=sae.W_dec.device, dtype=sae.W_dec.dtype).T).float().cpu()
    z = ((eff - stats["mean"][:, None]) / stats["std"].clamp_min(1e-12)[:, None]).amax(1)
    z = z / math.sqrt(2 * math.log(max(3, w_u.shape[0])))
    return ((z - 1.0) / 1.5).clamp(0, 1)


def search_word(model, tokenizer, sae, word: str, k: int = 10, generate: bool = True, labels=None,
                steer: bool = False, corpus=None) -> list[SearchHit]:
    """Features selective for ``word``: the mean of up to three AUROCs: of the word in neutral frames against
    the background and the frames read with :data:`CONTROL_WORDS`; with ``generate``, of texts the model
    writes about it against the background and its texts about :data:`NEUTRAL_TOPIC` (so features of its
    writing style cancel out); and of its dictionary definitions (:func:`.glosses.glosses`, when there are
    :data:`MIN_GLOSSES`) against the background and the control words' definitions. Plus
    :data:`GAP_WEIGHT` x the gap between the means (relative to the feature's largest value here), 0.1 x a
    logit bonus for features that promote the word and :data:`PROFILE_WEIGHT` x how reliably a feature
    fires on the word across the dashboards' ``corpus`` (when given, with token profiles). ``hit.extra`` has ``auroc_word``,
    ``auroc_about``, ``auroc_gloss`` (nan where not read), ``corpus_rate`` and ``mean_in``/``mean_out``.

    ``steer``: search's :data:`.steerable.STEER_POOL` best readers are ranked by how likely they make the
    concept's words when added to neutral text (``hit.writes``; ``hit.extra["writes_unsteered"]`` is the same
    without steering), and the first :data:`.steerable.STEER_CANDIDATES` are tried in greedy continuations
    (``hit.steers``, ``hit.steer_coefficient``): :mod:`.steerable`."""
    frames, about = concept_texts(model, tokenizer, word, len(ABOUT_PROMPTS) if generate else 0)
    _, background = _background(model, tokenizer, sae, exclude=word)
    control_frames, control_glosses = _controls(model, tokenizer, sae, word)
    # the frames read with generic nouns, beside the background: what the frames alone light is left behind
    neg = torch.cat([background, control_frames])
    pos_w = _maxima(model, tokenizer, sae, frames)
    a_word = auroc(pos_w, neg)
    pos, aurocs, nan = [pos_w], [a_word], torch.full_like(a_word, float("nan"))
    a_about = a_gloss = nan
    if about:
        # away from the word's own tokens: a feature of the word's form (its -ing, its first letters) fires
        # on every text that repeats the word, a feature of the topic also where the word is not
        pos_a = _maxima(model, tokenizer, sae, about, away_from=word)
        # the model's texts about the word against the background and its texts about nothing in particular
        neg_a = torch.cat([background, _maxima(model, tokenizer, sae, neutral_texts(model, tokenizer)[1])])
        a_about = auroc(pos_a, neg_a)
        pos.append(pos_a)
        aurocs.append(a_about)
    defined = glosses(word)
    if len(defined) >= MIN_GLOSSES:
        # what a dictionary says of the word, against the background and what it says of the generic nouns
        pos_g = _maxima(model, tokenizer, sae, defined, away_from=word)
        a_gloss = auroc(pos_g, torch.cat([background, control_glosses]))
        pos.append(pos_g)
        aurocs.append(a_gloss)
        neg = torch.cat([neg, control_glosses])
    pos, a = torch.cat(pos), torch.stack(aurocs).mean(0)
    bonus = _logit_bonus(model, tokenizer, sae, word)
    # the gap between the means weighs as much as half the AUROC: with a few positive texts many features tie
    # at a perfect AUROC, and the ones that fire strongly on every text about the word are the concept's own
    # (measured on the 27-concept suite with the plain-BatchTopK default: top-5 hits 15 of 27 at 0.05, 19 from
    # 0.15, 20 from 0.4 to 1.0; the Matryoshka default gets 23 of 27 at 0.5)
    rate, fired, held = _profile_bonus(tokenizer, corpus, word, sae.d_sae)
    score = a + GAP_WEIGHT * _gap(pos, neg) + 0.1 * bonus + PROFILE_WEIGHT * rate
    extra = {"auroc_word": a_word, "auroc_about": a_about, "auroc_gloss": a_gloss, "corpus_rate": rate,
             "corpus_fired": fired, "corpus_texts": held, "mean_in": pos.mean(0), "mean_out": neg.mean(0)}
    if not steer:
        return _word_notes(_hits(score, a, bonus, extra, k, labels), word)
    from .steerable import (STEER_CANDIDATES, STEER_POOL, concept_token_ids, concept_words, embedding_neighbours,
                            rank_by_steering, writing_scores)

    hits = _word_notes(_hits(score, a, bonus, extra, max(k, STEER_POOL), labels), word)
    neighbours = embedding_neighbours(model, tokenizer, word)
    scales = {h.feature: steering_scale(model, tokenizer, sae, h.feature) for h in hits}
    writes, unsteered = writing_scores(model, tokenizer, sae, [h.feature for h in hits],
                                       concept_token_ids(tokenizer, [word, *neighbours]), scales)
    order = sorted(range(len(hits)), key=lambda i: (-writes[hits[i].feature], i))  # ties keep the reading order
    best = [replace(hits[i], writes=writes[hits[i].feature], extra={**hits[i].extra, "writes_unsteered": unsteered})
            for i in order[:k]]
    tried = rank_by_steering(model, tokenizer, sae, best[:STEER_CANDIDATES], concept_words(word, neighbours), scales,
                             reorder=False)
    tried = [h if h.steers else replace(h, note=_joined(h.note, f"turned none of the trial openings to {word!r}: "
                                                       f"try scope.direction({word!r}), which often steers where one feature does not"))
             for h in tried]
    return tried + best[STEER_CANDIDATES:]


def _joined(*notes: str | None) -> str:
    return "; ".join(n for n in notes if n)


def steering_scale(model, tokenizer, sae, feature: int | None = None) -> float:
    """A typical size for a steering coefficient: the feature's usual maximum activation, but at least a
    tenth of a typical activation's norm at the hook point; ``feature=None`` gives that tenth alone (the
    scale for concept directions)."""
    floor = 0.1 * typical_norm(model, tokenizer, sae)
    if feature is None:
        return floor
    return max(max_activation(model, tokenizer, sae, feature), floor)


def _token_means(model, tokenizer, hook_point: str, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean activation at ``hook_point`` over the texts' non-BOS tokens, and the median token norm."""
    bos = getattr(tokenizer, "bos_token_id", None)

    def rows(chunk: list[str]) -> list[torch.Tensor]:
        ids, mask = pad_batch([encode(tokenizer, t, _MAX_TOKENS)[0] for t in chunk], pad_id(tokenizer))
        return [hooks.capture_token_rows(model, hook_point, ids, mask, bos_id=bos)]

    x = torch.cat(in_batches(rows, texts, 16, desc=f"activations {hook_point}"))
    return x.mean(0), x.norm(dim=-1).median()


def concept_direction(model, tokenizer, sae, examples: Sequence[str], against: Sequence[str] | None = None,
                      name: str | None = None) -> Direction:
    """The difference of mean activations (examples minus ``against``, default the background) at the
    SAE's output hook point, as a unit :class:`Direction`; its ``scale`` is the median token norm there,
    so a coefficient of ``0.1 * scale`` is a tenth of a typical activation."""
    examples = [t for t in examples if isinstance(t, str) and t.strip()]
    if not examples:
        raise ValueError("concept_direction needs at least one non-empty example text")
    against = list(against) if against is not None else list(BACKGROUND)
    hook = sae.hook_point_out
    mu_in, _ = _token_means(model, tokenizer, hook, examples)
    mu_out, median_norm = _token_means(model, tokenizer, hook, against)
    diff = mu_in - mu_out
    norm = float(diff.norm())
    if not math.isfinite(norm) or norm == 0:
        raise ValueError("the examples and counter-examples have the same mean activation: give texts that differ")
    return Direction(name or f"direction({examples[0][:20]!r}...)", (diff / norm).detach().cpu(), hook, float(median_norm))


def typical_norm(model, tokenizer, sae) -> float:
    """The median norm of a (non-BOS) token's activation where the SAE writes, over the background
    sentences (computed once per SAE): the yardstick for steering coefficients."""
    if sae not in _norm_cache:
        _, median = _token_means(model, tokenizer, sae.hook_point_out, list(BACKGROUND))
        _norm_cache[sae] = float(median)
    return _norm_cache[sae]
