"""Comparing two texts: the features whose activation differs most between them.

``compare(a, b)`` takes two ``FeatureActivations`` of the same SAE and ranks features by the absolute
difference of their maximum (or mean) activation over each text, BOS excluded. A positive difference is
"more in A", a negative one "more in B". Raw activations favour features that fire hard on anything
(BOS-like tokens, punctuation); ``by="relative"`` divides each feature's maximum by its usual strong
activation (from the SAE's dashboards), so a content feature at its usual level counts as much as a
loud one, which is usually what "what differs between these texts?" means.
"""

from __future__ import annotations

import torch

from ..runtime import check_k

__all__ = ["BY", "compare"]

BY = ("max", "mean", "relative")


def compare(a, b, k: int = 20, by: str = "max") -> list[tuple[int, float, float]]:
    """``[(feature_id, value_in_a, value_in_b)]``, the ``k`` largest ``|value_in_a - value_in_b|`` first.

    ``by="max"`` compares each feature's maximum over a text's tokens (what a heatmap shows at its peak);
    ``by="mean"`` its mean over the tokens (how much of the text it covers); ``by="relative"`` its maximum
    over its usual strong activation (needs the SAE's reference statistics; the values returned are then
    those ratios). Features silent in both texts are left out."""
    k = check_k(k)
    if by not in BY:
        raise ValueError(f"by must be one of {BY}, got {by!r}")
    if a.sae is not b.sae:
        raise ValueError("the two texts were read with different SAEs: compare texts read by the same one")
    if by == "max":
        va, vb = a.max_per_feature.float(), b.max_per_feature.float()
    elif by == "mean":
        va, vb = a.mean_per_feature(), b.mean_per_feature()
    else:
        refs = [x.usual_levels() for x in (a, b)]
        if refs[0] is None or refs[1] is None:
            raise ValueError("by='relative' needs the SAE's usual activation levels (read the texts with "
                             "scope.features, which provides them); use by='max'")
        va, vb = (torch.from_numpy(r.ratio(x.max_per_feature.float().cpu().numpy())).float() for x, r in zip((a, b), refs))
    va, vb = va.cpu(), vb.cpu()
    diff = (va - vb).abs()
    order = diff.argsort(descending=True)[: min(k, diff.numel())]
    return [(int(i), float(va[i]), float(vb[i])) for i in order.tolist() if diff[i] > 0]
