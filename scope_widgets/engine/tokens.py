"""Tokens: text to ids (with BOS, cut to a limit), batches of ids padded on the right, ids back to strings,
and prompts padded on the left for batched generation.

Right padding keeps every real token at its own position, so a padded batch gives each text exactly the
activations it gets alone (the attention mask hides the padding). Generation appends to the end of every
row, so its prompts are padded on the left instead.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

__all__ = ["pad_id", "encode", "pad_batch", "left_padded", "token_strings"]


def pad_id(tokenizer) -> int:
    """The tokenizer's padding id (0 when it has none)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def encode(tokenizer, text: str, limit: int | None = None, warn: bool = False, reserve: int = 0,
           hint: int | None = None) -> tuple[list[int], bool]:
    """``(ids with BOS, truncated?)``: the text's token ids cut to ``limit - reserve``.

    With ``warn`` a cut text raises a ``UserWarning`` that says how many tokens were dropped (and, with
    ``hint``, that ``max_tokens=`` up to that many reads more).
    """
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    if limit is None:
        return ids, False
    keep = limit - reserve
    if len(ids) <= keep:
        return ids, False
    if warn:
        warnings.warn(
            f"the text has {len(ids)} tokens, more than the {keep} this model can read"
            + (f" while leaving room for {reserve} new tokens" if reserve else "")
            + f"; only the first {keep} are used"
            + (f" (pass max_tokens= up to {hint} to read more, at the cost of time on a CPU)" if hint else ""),
            stacklevel=3,
        )
    return ids[:keep], True


def pad_batch(rows: Sequence[Sequence[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids [B, T], attention_mask [B, T])`` (long) for rows of ids, right-padded with ``pad``."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.as_tensor(list(r), dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask


def left_padded(tokenizer, prompts: Sequence[str], device=None):
    """The prompts tokenised (with BOS) as one batch padded on the left, for ``model.generate``: a
    ``BatchEncoding`` with ``input_ids`` and ``attention_mask``, on ``device``. The tokenizer's own padding
    side is left as it was."""
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        enc = tokenizer(list(prompts), return_tensors="pt", padding=True)
    finally:
        tokenizer.padding_side = side
    return enc.to(device) if device is not None else enc


def token_strings(tokenizer, ids: Sequence[int]) -> list[str]:
    """Each token's own text (spaces and newlines kept, special tokens by name)."""
    return tokenizer.batch_decode([[int(i)] for i in ids])
