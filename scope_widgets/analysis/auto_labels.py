"""Automatic labels: a short name for a feature from what its top examples and promoted tokens share."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .lexicon import STOPWORDS, WORD_CLASSES, simple_lemma, word_class

__all__ = ["TokenStrings", "show_token", "LABEL_LOGIT_Z", "strong_logits", "auto_label", "DENSE_LABEL",
           "profile_label", "usual_label", "TOP_MARK", "CLASS_SHARE", "class_head", "PLACE_SHARE", "top_place"]

#: The longest label made from one source (top examples, or a token profile).
LABEL_CHARS = 70
#: Between what a dense feature usually fires on and what its top examples repeat.
TOP_MARK = " · top: "


class TokenStrings:
    """A memoised id -> string decoder (labels for 16k features decode the same tokens often)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer, self.cache = tokenizer, {}

    def __call__(self, i: int) -> str:
        i = int(i)
        if i not in self.cache:
            self.cache[i] = self.tokenizer.decode([i])
        return self.cache[i]


_SPECIAL = re.compile(r"^<[^<>]*>$|^\[[A-Z_]+\]$")


def show_token(token: str) -> str | None:
    """A token as a label word: stripped; whitespace-only tokens named; special tokens dropped."""
    if token is None:
        return None
    if _SPECIAL.match(token.strip()):
        return None
    t = token.strip()
    if not t:
        if "\n" in token:
            return "\\n"
        if "\t" in token:
            return "\\t"
        return "␣" if token else None
    if any(ord(ch) < 32 for ch in t) or "\ufffd" in t:  # control characters, partial UTF-8 bytes
        return None
    return t[:20]


#: A promoted token enters an automatic label only when the feature's logit effect on it stands out:
#: z / sqrt(2 ln vocab) >= this (about 1 for a random direction; early-layer features rarely pass).
LABEL_LOGIT_Z = 1.25


def strong_logits(values: np.ndarray, mean: np.ndarray, std: np.ndarray, vocab: int | None) -> np.ndarray:
    """Which of each feature's top promoted logits stand out enough to name it: ``[d_sae, n]`` bool."""
    scale = math.sqrt(2 * math.log(max(3, int(vocab or 262144))))
    z = (np.asarray(values, dtype=np.float32) - np.asarray(mean)[:, None]) / np.maximum(np.asarray(std)[:, None], 1e-12)
    return z / scale >= LABEL_LOGIT_Z


def _key(word: str, lex) -> str:
    """Inflections and capitalisation merged: "Dogs", "dog" and "dogs" share a key."""
    if lex is not None and word.isalpha():
        return lex.lemma(word.lower())
    return simple_lemma(word)


def auto_label(examples: Sequence[tuple[str, str | None, float]], promoted: Sequence[str] = (), max_parts: int = 3,
               contexts: Sequence[Sequence[str]] | None = None, lex=None, nexts: Sequence[str | None] | None = None) -> str | None:
    """A short automatic label from a feature's top examples, their context and its promoted tokens.

    ``examples`` are ``(max_token, previous_token, activation)``; ``contexts`` (optional) each example's
    window of token strings and ``nexts`` the token after each max token; ``promoted`` the tokens its
    decoder direction promotes most; ``lex`` an
    optional :class:`~.lexicon.Lexicon`. The label lists the words it fires on most often (weighted by
    activation; inflections and capitalisation merged), prefixed by what they share when the lexicon
    knows (``"edible fruit: apple / banana / pear"``), ``"after X"`` when what repeats is the token before,
    ``"(text about Y)"`` when the firing tokens vary but a content word recurs around them, ``"…"`` after
    a few of its words when none repeats (a class of words, not one word), ``"(before X)"`` when what
    repeats is the token after, and ``"→ Z"`` for what it promotes: ``"Paris / France → French"``.
    None for a feature with no examples.
    """
    if not examples:
        return None
    n = len(examples)
    need = 2 if n >= 4 else 1
    words: Counter = Counter()
    count: Counter = Counter()
    surface: dict[str, Counter] = {}
    prev: Counter = Counter()
    prev_shown: dict[str, str] = {}
    for tok, before, value in examples:
        w = show_token(tok)
        if w:
            key = _key(w, lex)
            words[key] += float(value)
            count[key] += 1
            surface.setdefault(key, Counter())[w] += 1
        p = show_token(before) if before is not None else None
        if p:
            prev[p.lower()] += 1
            prev_shown.setdefault(p.lower(), p)

    def shown(key: str) -> str:  # the base form when it occurs, else the most frequent surface form
        forms = surface[key]
        base = [f for f in forms if f.lower() == key]
        return max(base, key=lambda f: (forms[f], f.islower())) if base else forms.most_common(1)[0][0]

    head = ""
    if lex is not None:
        alpha = {k: float(count[k]) for k in count if k.isalpha() and len(k) > 2}
        hyper = lex.shared_hypernym(alpha) if alpha else None
        if hyper:
            head = f"{hyper}: "
    if head:  # the shared meaning names the feature; list its commonest words, whatever their count
        keys = [k for k, _ in words.most_common() if k.isalpha() and len(k) > 2][:max_parts]
        parts = [shown(k) for k in keys]
    else:
        keys = [k for k, _ in words.most_common() if count[k] >= need][:max_parts]
        parts = [shown(k) for k in keys]
        if not parts and words:  # nothing repeats: a few of its words, and "…" (it is a class of words)
            distinct = [shown(k) for k, _ in words.most_common(max_parts)]
            parts = [" / ".join(distinct) + (" …" if len(words) > 1 else "")]
    where = []  # what repeats around the firing token, when the token itself does not say enough
    if not head and len(keys) < 2:
        if prev:
            key, c = prev.most_common(1)[0]
            if c >= max(2, math.ceil(0.4 * n)):
                where.append(f"after {prev_shown[key]}")
        nxt = Counter(w for t in (nexts or ()) if t is not None and (w := show_token(t)))
        if nxt:
            word, c = nxt.most_common(1)[0]
            if c >= max(2, math.ceil(0.4 * n)):
                where.append(f"before {word}")
    after_tok = f" ({', '.join(where)})" if where else ""
    about = ""
    top_share = count[keys[0]] / n if keys else 0.0
    if contexts and top_share < 0.4 and not head:
        seen: Counter = Counter()
        for window in contexts:
            present = {_key(w, lex) for t in window if (w := show_token(t)) and w.isalpha() and len(w) > 2}
            seen.update(k for k in present if k not in STOPWORDS)
        if seen:
            word, c = min(seen.items(), key=lambda kv: (-kv[1], kv[0]))  # ties by word: a set fed it
            if c >= max(3, math.ceil(0.5 * len(contexts))) and word not in {_key(p, lex) for p in parts}:
                about = f" (text about {word})"
    promo = []
    taken = {_key(p, lex) for p in parts}
    for t in promoted:
        w = show_token(t)
        if w and _key(w, lex) not in taken and w not in ("\\n", "␣"):
            promo.append(w)
            taken.add(_key(w, lex))
        if len(promo) == 2:
            break
    label = head + " / ".join(parts) + after_tok + about
    if promo:
        label = f"{label} → {', '.join(promo)}" if label else f"→ {', '.join(promo)}"
    return label[:LABEL_CHARS] or None


#: From this density on, a feature's top examples (its strongest 20 of thousands of firings) are outliers:
#: its label names the tokens it usually fires on (its token profile) unless the two agree.
DENSE_LABEL = 0.01


def profile_label(rows: Sequence[tuple[str, int, float]], max_parts: int = 3, lex=None) -> str | None:
    """A label from a feature's token profile, ``[(token, texts, P(fires | token))]`` in the profile's
    order (see ``token_profile``): its first tokens (inflections and capitalisation merged), prefixed by
    what they share when the lexicon knows. None for an empty profile."""
    order: list[str] = []
    weight: Counter = Counter()
    surface: dict[str, Counter] = {}
    for token, count, p in rows:
        w = show_token(token)
        if not w:
            continue
        key = _key(w, lex)
        if key not in surface:
            order.append(key)
        weight[key] += count * p
        surface.setdefault(key, Counter())[w] += count
    if not order:
        return None
    shown = [surface[k].most_common(1)[0][0] for k in order]
    head = ""
    if lex is not None:
        alpha = {k: weight[k] for k in order if k.isalpha() and len(k) > 2}
        hyper = lex.shared_hypernym(alpha) if alpha else None
        head = f"{hyper}: " if hyper else ""
    if not head:
        kind = class_head(shown[:6], max_parts)
        head = f"{kind}: " if kind else ""
    return (head + " / ".join(shown[:max_parts]))[:LABEL_CHARS]


#: A dense feature's profile label is headed by the kind of function word it usually fires on ("prepositions:
#: of / to / about") when at least this many of its first six tokens are of that kind (:func:`.lexicon.word_class`).
CLASS_SHARE = 5


def class_head(words: Sequence[str], shown: int = 3) -> str | None:
    """The kind of token that ``words`` (a profile's first tokens, as label words) are: one kind for at
    least :data:`CLASS_SHARE` of six (all of four or five) and for each of the first ``shown`` (those the
    label lists); ``"function words"`` when all are function words of mixed classes (``"function words and
    punctuation"`` when the label lists punctuation too); else None."""
    if len(words) < 4:
        return None
    kinds = [word_class(w) for w in words]
    counts = Counter(k for k in kinds if k)
    if counts:
        kind, n = counts.most_common(1)[0]
        if n >= math.ceil(CLASS_SHARE * len(words) / 6) and all(k == kind for k in kinds[:shown]):
            return kind
    function = set(WORD_CLASSES) | {"punctuation"}
    if all(k in function for k in kinds) and any(k != "punctuation" for k in kinds):
        return "function words and punctuation" if "punctuation" in kinds[:shown] else "function words"
    return None


#: A dense feature's top examples "stand alike" (:func:`top_place`) when at least this share of them do
#: (13 of 20: a reader found such claims helpful, those that fit 12 of 20 no help, 8 to 10 of 20 misleading).
PLACE_SHARE = 0.65
#: The places :func:`top_place` names that are said beside repeated words too (a piece of a word is not).
_LINE_PLACES = ("first tokens of a text", "at line starts")


def top_place(examples: Sequence[tuple[str, str | None, str | None]]) -> str | None:
    """Where a feature's top examples stand, when at least :data:`PLACE_SHARE` of them stand alike: a kind
    of place (``"first tokens of a text"``, ``"at line starts"``, ``"inside numbers"``: a digit after digits,
    ``187|0``; ``"inside words"``: a piece that goes on from the letters before it, ``Snig|lets``; ``"word
    beginnings"``: a piece the next token goes on from, ``Cal|ifornia``), the token they follow and the one
    they precede (``"after also, before ):"``), or both (``"inside numbers, before -"``); None when they
    do not. ``examples`` are ``(token, previous token, next token)`` as the tokenizer spells them, the
    previous one None at the start of a text (after BOS)."""
    if not examples:
        return None
    need = PLACE_SHARE * len(examples)
    counts = {
        "first tokens of a text": sum(prev is None for _, prev, _ in examples),
        "at line starts": sum(prev is None or prev.endswith("\n") for _, prev, _ in examples),
        "inside numbers": sum(bool(prev) and prev[-1:].isdigit() and tok[:1].isdigit() for tok, prev, _ in examples),
        "inside words": sum(bool(prev) and prev[-1:].isalnum() and tok[:1].isalnum() for tok, prev, _ in examples),
        "word beginnings": sum(tok[-1:].isalnum() and bool(nxt) and nxt[:1].isalnum()
                               and not (prev and prev[-1:].isalnum() and tok[:1].isalnum()) for tok, prev, nxt in examples),
    }
    parts = [next((place for place, c in counts.items() if c >= need), None)]
    for side, i in (("after", 1), ("before", 2)):
        shown = Counter(w for ex in examples if (w := show_token(ex[i])))
        if shown and (side == "before" or parts[0] not in _LINE_PLACES):  # "after \n" says "at line starts" again
            word, c = shown.most_common(1)[0]
            if c >= need:
                parts.append(f"{side} {word}")
    return ", ".join(p for p in parts if p) or None


def usual_label(example_label: str | None, rows: Sequence[tuple[str, int, float]], density: float, lex=None,
                place: str | None = None) -> str | None:
    """The label to show: the one from the top examples, unless the feature is dense (``DENSE_LABEL``),
    the examples share no meaning (no WordNet hypernym in front) and their first word is not among the
    six tokens it usually fires on (its profile): then the profile's label, which describes what a user
    will see it fire on, followed by what its top examples repeat (``"he / his / who · top: salesman /
    child"``), so that the label agrees with both halves of its dashboard. A top-examples label of a
    function word or a few (``If``) gives way too when the profile names their kind
    (``"function words: that / when / which · top: If"``).

    When nothing in the top examples repeats, the second half says where they stand instead, ``place``
    (:func:`top_place`): the tokens beside them (``", / or / and · top: after ,, before ,"``),
    or a kind of place (``"- / _ / \" · top: inside words"``). A text or line start is said beside repeated
    words too (``"- / un / C · top: Cal / Ph / P (at line starts)"``)."""
    if density < DENSE_LABEL or not rows:
        return example_label
    usual = profile_label(rows, lex=lex)
    if not usual:
        return example_label
    if example_label:
        head, _, rest = example_label.partition(": ")
        if rest and re.fullmatch(r"[A-Za-z][A-Za-z' -]*", head):
            return example_label  # the examples share a meaning (a WordNet hypernym): that names it
        first = example_label.split(": ", 1)[-1].split(" / ")[0].split(" (")[0].split(" →")[0].strip(" …")
        top = {_key(w, lex) for t, _, _ in rows[:6] if (w := show_token(t))}
        if first and _key(first, lex) in top and not _one_of_its_kind(example_label, usual):
            return example_label
    words = (_repeated_words(example_label) or "").split(" / ")
    suffix = f" ({place})" if place and place.startswith(_LINE_PLACES) else ""
    while words and len(usual) + len(TOP_MARK) + len(" / ".join(words)) + len(suffix) > LABEL_CHARS + 20:
        words.pop()  # whole words only
    if any(words):
        return f"{usual}{TOP_MARK}{' / '.join(words)}{suffix}"
    if place and len(usual) + len(TOP_MARK) + len(place) <= LABEL_CHARS + 20:
        return f"{usual}{TOP_MARK}{place}"
    return usual


#: The heads :func:`class_head` gives: a profile label with one names the kind of token a feature fires on.
CLASS_HEADS = frozenset(WORD_CLASSES) | {"punctuation", "function words", "function words and punctuation"}


def _one_of_its_kind(example_label: str, usual: str) -> bool:
    """Whether a top-examples label is only function words, punctuation beside them (``If``, ``at``,
    ``me / I``, ``, / you / are``; without a context such as ``(after .)`` or a promoted ``→``) where the
    profile's label names their kind (``function words: that / when / which``): one function word does not
    name a feature that fires on many of them."""
    if " (" in example_label or "→" in example_label or usual.split(": ", 1)[0] not in CLASS_HEADS:
        return False
    kinds = [word_class(w.strip(" …")) for w in example_label.split(" / ")]
    # punctuation alone shows its kind already, and says which marks (". / ? / !": where sentences end)
    return all(k is not None for k in kinds) and any(k != "punctuation" for k in kinds)


def _repeated_words(example_label: str | None) -> str | None:
    """The words part of a top-examples label (no ``→ promoted``, ``(after …)`` or ``(text about …)``),
    or None when nothing in it repeats (it ends in ``…``) or it holds no word."""
    if not example_label:
        return None
    words = example_label.split(" →")[0].split(" (")[0].strip()
    if not words or words.endswith("…") or not re.search(r"[A-Za-z]{2}", words):
        return None
    return words
