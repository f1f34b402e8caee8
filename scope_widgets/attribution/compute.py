"""One forward and one backward pass: the attribution of a next-token target to every active SAE feature.

For a text cut after ``position`` the model runs once, with a zero "probe" added at each hooked SAE's output
hook point. The probes change nothing, but the gradient of the target metric with respect to them is the
model's own gradient ``g`` at the hook. Each SAE writes (exactly, by the definition of its error term)

    h = sum_i f_i * W_dec[i]  +  b_dec  (+ x @ W_skip for affine transcoders)  +  error,

so ``g . h`` splits into one score per active (position, feature), ``f_i * (W_dec[i] . g)``, plus an error
node ``g . error``, a bias node ``g . b_dec``, a skip node, and BOS (whose features are left out: ablation
and steering never touch BOS either). Features read from the *real* model: with several SAEs hooked, each
one's scores are its share of the true gradient at its own hook (the others change nothing).

Cost: the layers below the lowest hook run without autograd (grad mode is switched on by the first hook
reached, for this thread only), the backward pass asks only for the probes' gradients (no weight gradients), and the
unembedding runs on the last position only. Active features are found in chunks, so memory grows with the
number of active features, never with ``n_tokens x d_sae``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..engine import hooks
from ..engine.tokens import encode
from ..features.encoding import encode_chunk_rows
from ..runtime import check_position

__all__ = ["SAEAttribution", "Forward", "attribute_pass", "token_id", "run_logits", "active_features"]


@dataclass
class SAEAttribution:
    """The scores of one SAE: sparse over active (position, feature) pairs, dense over positions for nodes."""

    sae: object
    positions: torch.Tensor  # [m] int64, BOS left out
    features: torch.Tensor  # [m] int64
    activations: torch.Tensor  # [m] float32
    scores: torch.Tensor  # [m] float32: activation x (W_dec[feature] . gradient at the hook)
    error: torch.Tensor  # [n] float32: gradient . error term, per position (BOS included)
    bias: torch.Tensor  # [n] float32: gradient . b_dec
    skip: torch.Tensor  # [n] float32: gradient . (x @ W_skip) for affine transcoders, else zeros
    total: torch.Tensor  # [n] float32: gradient . h (the hook's whole linear effect)
    gradient_norm: torch.Tensor  # [n] float32: |gradient| per position


@dataclass
class Forward:
    """What the attribution pass saw: the ids it ran and the logits at the last of them."""

    ids: list[int]  # the text's ids up to and including the position
    logits: torch.Tensor  # [vocab] float32 at that position


def token_id(tokenizer, token, what: str) -> int:
    """A single token: an id, or a string that is exactly one token (a leading space counts)."""
    vocab = len(tokenizer)
    if isinstance(token, bool):
        raise ValueError(f"{what} must be a token string or a token id, got {token!r}")
    if isinstance(token, int):
        if not 0 <= token < vocab:
            raise ValueError(f"{what} id {token} is outside the vocabulary (0 to {vocab - 1})")
        return int(token)
    if not isinstance(token, str) or token == "":
        raise ValueError(f"{what} must be a non-empty token string (e.g. ' Paris') or a token id, got {token!r}")
    ids = tokenizer(token, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = [tokenizer.decode([i]) for i in ids]
        hint = ""
        if not token.startswith(" ") and len(tokenizer(" " + token, add_special_tokens=False)["input_ids"]) == 1:
            hint = f"; with a leading space, {' ' + token!r} is one token"
        raise ValueError(f"{what} {token!r} is {len(ids)} tokens {pieces}, not one: pick a single token{hint}")
    return int(ids[0])


def run_logits(model, ids: Sequence[int]) -> torch.Tensor:
    """``[vocab]`` float32 logits at the last of ``ids`` (the unembedding on that position only)."""
    device = next(model.parameters()).device
    input_ids = torch.tensor([list(ids)], device=device)
    try:
        out = model(input_ids=input_ids, use_cache=False, logits_to_keep=1)
    except TypeError:  # a model without logits_to_keep
        out = model(input_ids=input_ids, use_cache=False)
    return out.logits[0, -1].float()


def active_features(sae, x: torch.Tensor, first: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(positions, features, activations)`` of every active feature at rows ``first..`` of ``x [n, d_in]``,
    encoded in chunks so no ``[n, d_sae]`` tensor is made for wide SAEs."""
    step = encode_chunk_rows(sae, x.device)
    pos, feat, val = [], [], []
    with torch.no_grad():
        for start in range(first, x.shape[0], step):
            f = sae.encode(x[start : start + step])  # [chunk, d_sae]
            p, i = torch.nonzero(f, as_tuple=True)
            pos.append(p + start)
            feat.append(i)
            val.append(f[p, i].float())
    if not pos:
        empty = torch.zeros(0, dtype=torch.long, device=x.device)
        return empty, empty.clone(), torch.zeros(0, device=x.device)
    return torch.cat(pos), torch.cat(feat), torch.cat(val)


def attribute_pass(model, tokenizer, saes: Sequence, text: str, position, metric, max_tokens: int) -> tuple[Forward, list[SAEAttribution]]:
    """Run the attribution pass; ``metric(logits [vocab]) -> scalar`` is what is attributed.

    Raises ValueError for a position outside the text; the model is never changed (hooks are removed and
    grad mode restored in ``finally``)."""
    ids, _ = encode(tokenizer, text, max_tokens, warn=True)
    pos = check_position(position, len(ids))
    ids = ids[: pos + 1]
    bos = getattr(tokenizer, "bos_token_id", None)
    first = 1 if bos is not None and ids[0] == bos else 0
    order = sorted(saes, key=lambda s: hooks.parse_hook_point(s.hook_point_out).layer)
    inputs: dict[str, torch.Tensor] = {}
    probes: dict[str, torch.Tensor] = {}
    outputs: dict[str, torch.Tensor] = {}

    def remember(name):
        def fn(x):
            inputs[name] = x.detach()[0]
            return None

        return fn

    def splice(sae):
        def fn(h):
            torch.set_grad_enabled(True)  # from the first hook on (this thread only; restored below)
            probe = torch.zeros_like(h, requires_grad=True)
            probes[sae.name] = probe
            outputs[sae.name] = h.detach()[0]
            return h + probe

        return fn

    edits = []
    for s in order:
        if s.hook_point_in != s.hook_point_out:
            edits.append((s.hook_point_in, remember(s.name)))
        edits.append((s.hook_point_out, splice(s)))
    previous = torch.is_grad_enabled()
    try:
        torch.set_grad_enabled(False)
        with hooks.hooked(model, edits):
            logits = run_logits(model, ids)
        value = metric(logits)
        grads = torch.autograd.grad(value, [probes[s.name] for s in order], allow_unused=True)
    finally:
        torch.set_grad_enabled(previous)
    results = {}
    for s, g in zip(order, grads):
        h = outputs[s.name]
        g = torch.zeros_like(h) if g is None else g[0]
        x = inputs.get(s.name, h)
        results[s.name] = _split(s, x.to(s.W_enc.device), h, g, first)
    return Forward(ids=ids, logits=logits.detach()), [results[s.name] for s in saes]


def _split(sae, x: torch.Tensor, h: torch.Tensor, g: torch.Tensor, first: int) -> SAEAttribution:
    """Split ``g . h`` into the SAE's feature scores and its error, bias and skip nodes (see the module doc)."""
    g32, h32 = g.float(), h.float()
    pos, feat, act = active_features(sae, x, first)
    with torch.no_grad():
        w_dec = sae.W_dec.detach()
        rows = w_dec.index_select(0, feat).float().to(g32.device)  # [m, d_out]
        pos_d = pos.to(g32.device)
        scores = act.to(g32.device) * (rows * g32.index_select(0, pos_d)).sum(-1)
        recon = torch.zeros_like(h32).index_add_(0, pos_d, act.to(g32.device)[:, None] * rows)
        bias_vec = sae.b_dec.detach().float().to(g32.device)
        skip_out = torch.zeros_like(h32)
        if getattr(sae, "affine_skip_connection", None) is not None:
            x_in = sae.encoder_input(x).float()  # what the skip reads (RMS-normalised for Gemma Scope 1 transcoders)
            skip_out = (x_in @ sae.affine_skip_connection.detach().float()).to(g32.device)
        recon_all = recon + bias_vec + skip_out
        if first:  # BOS: no features, no error; its whole effect is its own node (see ``Attribution.bos``)
            recon_all[:first] = h32[:first]
        error = ((h32 - recon_all) * g32).sum(-1)
        bias = (g32 @ bias_vec)
        skip = (skip_out * g32).sum(-1)
        if first:
            bias[:first] = 0.0
            skip[:first] = 0.0
        return SAEAttribution(
            sae=sae,
            positions=pos_d.cpu(),
            features=feat.cpu(),
            activations=act.cpu(),
            scores=scores.cpu(),
            error=error.cpu(),
            bias=bias.cpu(),
            skip=skip.cpu(),
            total=(h32 * g32).sum(-1).cpu(),
            gradient_norm=g32.norm(dim=-1).cpu(),
        )
