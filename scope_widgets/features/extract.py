"""Extraction: texts -> one batched forward pass that stops at the deepest hooked layer -> sparse features.

Takes a model, its tokenizer and SAEs (never a Scope), so analysis code can read features too.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np
import torch

from ..engine import hooks
from ..runtime import in_batches
from ..engine.tokens import encode, pad_batch, pad_id, token_strings
from .activations import FeatureActivations, FeatureReference
from .encoding import encode_chunk_rows, encode_sparse

__all__ = ["extract", "text_maxima"]


def extract(
    model, tokenizer, saes: Sequence, texts: Sequence[str], k: int, max_tokens: int,
    references: dict[str, FeatureReference | Callable[[], FeatureReference | None]] | None = None,
    cut_hint: int | None = None, warn: bool = True,
) -> list[dict[str, FeatureActivations]]:
    """For each text, ``{sae name: FeatureActivations}`` from one forward pass over the whole batch.

    Texts longer than ``max_tokens`` are cut (``acts.truncated``), with a warning unless ``warn=False``;
    with ``cut_hint`` it says that ``max_tokens=`` up to that many reads more. Right padding keeps every real
    token's position, so a batch gives each text exactly what it gets alone. ``references`` gives each
    SAE's usual levels (for ``standout``), or a function that counts them when first needed.
    """
    encoded = [encode(tokenizer, t, max_tokens, warn=warn, hint=cut_hint) for t in texts]
    lengths = [len(ids) for ids, _ in encoded]
    input_ids, mask = pad_batch([ids for ids, _ in encoded], pad_id(tokenizer))
    device = next(model.parameters()).device
    captured = hooks.capture_activations(model, [s.hook_point_in for s in saes], input_ids.to(device), mask.to(device))
    bos = getattr(tokenizer, "bos_token_id", None)
    results = []
    for row, (text, (ids, truncated)) in enumerate(zip(texts, encoded)):
        tokens = token_strings(tokenizer, ids)
        has_bos = bos is not None and ids[0] == bos
        per_sae = {}
        for s in saes:
            x = captured[s.hook_point_in][row, : lengths[row]].to(s.W_enc.device)  # [n, d_in]
            sparse = encode_sparse(s, x, k, first_counted=1 if has_bos and len(ids) > 1 else 0)
            ref = (references or {}).get(s.name)
            per_sae[s.name] = FeatureActivations(
                text=text,
                tokens=tokens,
                token_ids=np.asarray(ids, dtype=np.int64),
                top_ids=sparse.top_ids.cpu().numpy(),
                top_values=sparse.top_values.cpu().numpy(),
                inputs=x.clone(),
                sae=s,
                has_bos=has_bos,
                truncated=truncated,
                max_per_feature=sparse.max_per_feature,
                count_per_feature=sparse.count_per_feature,
                reference=None if callable(ref) else ref,
                reference_source=ref if callable(ref) else None,
            )
        results.append(per_sae)
    return results


def text_maxima(model, tokenizer, sae, texts: Sequence[str], max_tokens: int, batch_size: int = 16,
                skip_token_ids: Collection[int] = ()) -> torch.Tensor:
    """``[len(texts), d_sae]``: each feature's maximum over each text's tokens, float32 CPU. BOS is left out
    (as ``extract`` leaves it out of ``max_per_feature``: a text of BOS alone keeps it), and so is every
    token in ``skip_token_ids`` (search reads texts about a word away from the word itself).

    What search and concept scores compare: one number per (text, feature). Long runs show a progress bar.
    """
    skip = torch.tensor(sorted(skip_token_ids), dtype=torch.long)
    bos = getattr(tokenizer, "bos_token_id", None)
    device = next(model.parameters()).device

    def maxima(chunk: list[str]) -> list[torch.Tensor]:
        ids, mask = pad_batch([encode(tokenizer, t, max_tokens, warn=True)[0] for t in chunk], pad_id(tokenizer))
        x = hooks.capture_activations(model, [sae.hook_point_in], ids.to(device), mask.to(device))[sae.hook_point_in]
        keep = mask.bool() & ~torch.isin(ids, skip)
        if bos is not None:
            keep[:, 0] &= ~((ids[:, 0] == bos) & (mask.sum(1) > 1))
        step = encode_chunk_rows(sae, x.device)  # encoded rows are d_sae wide
        out = []
        with torch.no_grad():
            for row in range(len(chunk)):
                rows = x[row][keep[row].to(x.device)]
                best = torch.zeros(sae.d_sae)
                for at in range(0, rows.shape[0], step):
                    best = torch.maximum(best, sae.encode(rows[at : at + step]).amax(0).float().cpu())
                out.append(best)
        return out

    out = in_batches(maxima, list(texts), batch_size, desc="feature maxima")
    return torch.stack(out) if out else torch.zeros(0, sae.d_sae)
