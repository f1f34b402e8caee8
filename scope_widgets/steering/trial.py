"""Trying steering vectors side by side: batched greedy continuations, each row with a vector of its own
added at the hook point, and the plain checks of whether a continuation is still good text.

Used by search (``scope.search(word, steer=True)`` tries its candidates this way) and by the default SAE's
benchmark, so that both judge a steered text by the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from ..engine.hooks import edit_activations
from ..engine.tokens import left_padded, pad_batch, pad_id
from .generation import REPETITION_PENALTY, sampling_kwargs

__all__ = ["FLUENT_NLL", "MAX_REPEAT", "MIN_WORDS", "steered_continuations", "continuation_nll", "repeat_fraction", "is_fluent"]

#: A continuation is fluent when the unsteered model finds it no less likely than this (mean nats per token),
FLUENT_NLL = 5.0
#: repeats at most this share of its word 3-grams,
MAX_REPEAT = 0.35
#: and has at least this many words.
MIN_WORDS = 8


def steered_continuations(model, tokenizer, hook_point: str, prompts: Sequence[str], vectors: torch.Tensor,
                          positions: str = "all", new_tokens: int = 25,
                          repetition_penalty: float = REPETITION_PENALTY) -> list[str]:
    """Greedy continuations, one per prompt: row ``r`` adds ``vectors[r]`` at ``hook_point`` at the steering
    ``positions`` (``all``, ``prompt`` or ``generated``, as in ``Steering``; BOS is never steered), with
    generation's default repetition penalty (as ``scope.generate`` and the steering panel have it).

    The rows run as one left-padded batch; a zero vector gives the unsteered continuation."""
    if len(prompts) != vectors.shape[0]:
        raise ValueError(f"{len(prompts)} prompts but {vectors.shape[0]} vectors: give one vector per prompt")
    device = next(model.parameters()).device
    enc = left_padded(tokenizer, prompts, device)
    mask = enc["attention_mask"].bool()
    first = mask.float().argmax(1)  # the BOS position of each row (left padding)
    width = mask.shape[1]
    vec = vectors.to(device=device, dtype=next(model.parameters()).dtype)

    def edit(h):
        if h.shape[1] > 1:  # the prompt's pass
            t = torch.arange(h.shape[1], device=h.device)
            keep = mask[:, : h.shape[1]] & (t[None, :] != first[:, None])
            if positions == "generated":  # from the prompt's last position, which predicts the first new token
                keep &= t[None, :] == width - 1
            return h + keep[..., None].to(h.dtype) * vec[:, None, :]
        if positions == "prompt":
            return h
        return h + vec[:, None, :]

    with edit_activations(model, hook_point, edit), torch.no_grad():
        settings = {**sampling_kwargs(tokenizer, new_tokens, 0.0, repetition_penalty), "pad_token_id": pad_id(tokenizer)}
        out = model.generate(**enc, **settings)  # greedy, penalised as scope.generate is; padded as encoded
    return [tokenizer.decode(row[width:], skip_special_tokens=True) for row in out]


def continuation_nll(model, tokenizer, prompts: Sequence[str], texts: Sequence[str]) -> list[float]:
    """Mean token NLL (nats) of each text as a continuation of its prompt, under the model as it is (call it
    outside any steering: this is how surprising the unsteered model finds the steered text). An empty
    continuation gets ``inf``."""
    device = next(model.parameters()).device
    rows, spans = [], []
    for p, t in zip(prompts, texts):
        a = tokenizer(p, add_special_tokens=True)["input_ids"]
        b = tokenizer(t, add_special_tokens=False)["input_ids"] if t else []
        rows.append(a + b)
        spans.append((len(a), len(b)))
    out = [float("inf")] * len(rows)
    todo = [i for i, (_, n) in enumerate(spans) if n]
    if not todo:
        return out
    ids, attn = pad_batch([rows[i] for i in todo], pad_id(tokenizer))  # right padding: each row's positions are its own
    with torch.no_grad():
        logits = model(input_ids=ids.to(device), attention_mask=attn.to(device)).logits.float()
    for j, i in enumerate(todo):
        start, n = spans[i]
        target = ids[j, start : start + n].to(logits.device)
        out[i] = float(torch.nn.functional.cross_entropy(logits[j, start - 1 : start - 1 + n], target))
    return out


def repeat_fraction(text: str) -> float:
    """The share of the text's word 3-grams that repeat an earlier one (0 for fewer than three words)."""
    words = re.findall(r"\w+", text.lower())
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return 0.0 if not grams else 1 - len(set(grams)) / len(grams)


def is_fluent(text: str, nll: float) -> bool:
    """Good text by the plain rules above: likely enough, not looping, long enough."""
    return nll <= FLUENT_NLL and repeat_fraction(text) <= MAX_REPEAT and len(re.findall(r"\w+", text)) >= MIN_WORDS
