"""Attribution: which SAE features caused a next-token prediction, and what removing them does.

``compute`` runs the one forward and one backward pass and splits the gradient at each hooked SAE into
feature scores and error, bias and skip nodes; ``result`` holds the ``Attribution`` a notebook queries
(``top``, ``per_token``, ``feature``, ``ablate``, ``faithfulness``). Takes a model, a tokenizer and SAEs,
never a ``Scope``; ``Scope.attribute`` delegates here.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..runtime import check_text
from .compute import SAEAttribution, attribute_pass, token_id
from .result import Ablation, Attribution, Faithfulness, pearson

__all__ = ["attribute", "Attribution", "Ablation", "Faithfulness", "SAEAttribution", "token_id", "pearson"]


def attribute(model, tokenizer, saes: Sequence, text: str, position=-1, target=None, contrast=None,
              max_tokens: int = 8192) -> Attribution:
    """Attribute the prediction after token ``position`` of ``text`` to the features of every SAE in
    ``saes`` (the first is the primary one). ``target`` is the predicted token (default: the model's top
    prediction there), ``contrast`` an optional second token: the attributed metric is then the logit
    difference target - contrast. Tokens are strings of exactly one token (" Paris") or ids.

    Every argument is checked before the model runs; the model is left exactly as it was.
    """
    check_text(text)
    if not saes:
        raise ValueError("attribution needs at least one hooked SAE: load the Scope with sae=...")
    target_id = None if target is None else token_id(tokenizer, target, "the target")
    contrast_id = None if contrast is None else token_id(tokenizer, contrast, "the contrast")
    if contrast_id is not None and contrast_id == target_id:
        raise ValueError("the contrast is the same token as the target: pick two different tokens")
    chosen: dict[str, int] = {}

    def metric(logits):
        if target_id is None:  # the model's own top prediction (its logit, or against the contrast)
            ranked = logits.detach().argsort(descending=True)
            chosen["target"] = int(ranked[0] if int(ranked[0]) != contrast_id else ranked[1])
        t = chosen.get("target", target_id)
        value = logits[t]
        return value - logits[contrast_id] if contrast_id is not None else value

    forward, per_sae = attribute_pass(model, tokenizer, saes, text, position, metric, max_tokens)
    bos = getattr(tokenizer, "bos_token_id", None)
    return Attribution(model, tokenizer, forward, per_sae, len(forward.ids) - 1,
                       chosen.get("target", target_id), contrast_id, bos is not None and forward.ids[0] == bos)
