"""Automatic labels: a short name for a feature from what its top examples and promoted tokens share."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

__all__ = ["TokenStrings", "show_token", "LABEL_LOGIT_Z", "strong_logits", "auto_label"]


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


def auto_label(examples: Sequence[tuple[str, str | None, float]], promoted: Sequence[str] = (), max_parts: int = 3) -> str | None:
    """A short automatic label from a feature's top examples and promoted tokens.

    ``examples`` are ``(max_token, previous_token, activation)``; ``promoted`` the tokens its decoder
    direction promotes most. The label lists the tokens it fires on most often (weighted by activation,
    case folded), ``"after X"`` when what repeats is the token before, and ``"→ Y"`` for what it
    promotes: ``"Paris / France / French"``, ``"after ( → )"``. None for a feature with no examples.
    """
    if not examples:
        return None
    n = len(examples)
    need = 2 if n >= 4 else 1
    words: Counter = Counter()
    count: Counter = Counter()
    shown: dict[str, str] = {}
    prev: Counter = Counter()
    for tok, before, value in examples:
        w = show_token(tok)
        if w:
            key = w.lower()
            words[key] += float(value)
            count[key] += 1
            shown.setdefault(key, w)
        p = show_token(before) if before is not None else None
        if p:
            prev[p.lower()] += 1
            shown.setdefault("prev:" + p.lower(), p)
    parts = [shown[k] for k, _ in words.most_common() if count[k] >= need][:max_parts]
    if len(parts) < 2 and prev:
        key, c = prev.most_common(1)[0]
        if c >= max(2, math.ceil(0.4 * n)):
            parts.append(f"after {shown['prev:' + key]}")
    if not parts and words:  # nothing repeats: the strongest example's token
        parts = [shown[words.most_common(1)[0][0]]]
    promo = []
    seen = {p.lower() for p in parts}
    for t in promoted:
        w = show_token(t)
        if w and w.lower() not in seen and w not in ("\\n", "␣"):
            promo.append(w)
            seen.add(w.lower())
        if len(promo) == 2:
            break
    label = " / ".join(parts)
    if promo:
        label = f"{label} → {', '.join(promo)}" if label else f"→ {', '.join(promo)}"
    return label[:60] or None
