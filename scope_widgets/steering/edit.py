"""Steering hooks: a validated request applied at the SAE's hook point, always removed on exit.

Hooks are thread-scoped (see engine.hooks): a steered generation in a widget's worker never leaks into a
cell the user runs meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import torch

from ..engine.hooks import edit_activations
from .request import Steering

__all__ = ["apply"]


class _PositionTracker:
    """Knows the absolute positions of a hooked activation's rows during generation, as Python ints.

    A pass over more than one token starts at position 0 (the prompt, or a full re-run without cache);
    a one-token pass continues from the last one (KV-cached decoding).
    """

    def __init__(self, prompt_len: int | None = None) -> None:
        self.next = 0
        self.prompt_len = prompt_len  # learnt from the first pass when not given

    def start(self, seq_len: int) -> int:
        start = 0 if seq_len > 1 else self.next
        if self.prompt_len is None:
            self.prompt_len = seq_len
        self.next = start + seq_len
        return start


def _mask(steering: Steering, tracker: _PositionTracker, seq_len: int, device, skip_bos: bool,
          unsteered: frozenset[int] = frozenset()):
    """[seq] bool mask of the positions to steer, or None for all of them; ``unsteered`` positions (a chat
    template's tokens) are never steered.

    Worked out from Python ints, so a decoding step never waits on the GPU to decide.
    """
    start = tracker.start(seq_len)
    first = 1 if skip_bos else 0  # the first position that may be steered
    end = None  # the first position that may not
    if steering.positions == "generated":
        first = max(first, tracker.prompt_len - 1)
    elif steering.positions == "prompt":
        end = tracker.prompt_len
    skipped = [p - start for p in unsteered if start <= p < start + seq_len]
    if start >= first and (end is None or start + seq_len <= end) and not skipped:
        return None
    pos = torch.arange(start, start + seq_len, device=device)
    keep = pos >= first
    if end is not None:
        keep &= pos < end
    if skipped:
        keep[torch.tensor(skipped, device=device)] = False
    return keep


@contextmanager
def apply(model, sae, steering: Steering, *, skip_bos: bool = True, prompt_len: int | None = None,
          unsteered: frozenset[int] = frozenset()) -> Iterator[None]:
    """Steer every forward pass this thread makes inside the block; the hooks go on exit, whatever happens.
    ``unsteered``: absolute positions left alone (a chat template's own tokens)."""
    if not steering:
        yield
        return
    # The encoder columns and decoder rows of the steered features are selected once, here, rather than
    # through sae.encode_features at every step: a decoding step then costs no index_select and no device sync.
    ids = torch.tensor(steering.features, dtype=torch.long, device=sae.W_dec.device)
    coef = torch.tensor(steering.coefficients, dtype=sae.W_dec.dtype, device=sae.W_dec.device)
    directions = sae.W_dec.detach().index_select(0, ids)  # [m, d_out]
    w_enc = sae.W_enc.detach().index_select(1, ids)  # [d_in, m]
    b_enc = sae.b_enc.detach().index_select(0, ids)  # [m]
    threshold = sae.threshold.detach().index_select(0, ids)  # [m]
    add_vector = coef @ directions  # [d_out]
    for d, c in zip(steering.directions, steering.direction_coefficients):  # concept directions: always added
        add_vector = add_vector + c * d.vector.to(device=add_vector.device, dtype=add_vector.dtype)
    tracker = _PositionTracker(prompt_len)
    latest_input: dict[str, torch.Tensor] = {}

    def feature_values(x: torch.Tensor) -> torch.Tensor:  # [..., d_in] -> [..., m]
        pre = sae.encoder_input(x) @ w_enc + b_enc  # encoder_input: the input norm some SAEs apply (no device sync)
        return torch.relu(pre) * (pre > threshold)

    def edit(h: torch.Tensor) -> torch.Tensor:  # h: [batch, seq, d_out] (or [seq, d_out])
        seq_len = h.shape[-2]
        keep = _mask(steering, tracker, seq_len, h.device, skip_bos, unsteered)
        if keep is not None and not bool(keep.any()):  # e.g. decoding steps under positions="prompt"
            return h
        if steering.method == "add":
            delta = add_vector.expand(*h.shape[:-1], -1)
        else:
            x = latest_input.get("x", h) if sae.hook_point_in != sae.hook_point_out else h
            delta = (coef - feature_values(x)) @ directions  # [..., d_out]
        delta = delta.to(h.dtype)
        if keep is not None:
            delta = delta * keep.to(h.dtype).unsqueeze(-1)
        return h + delta

    with ExitStack() as stack:
        if steering.method != "add" and sae.hook_point_in != sae.hook_point_out:

            def remember(x: torch.Tensor):
                latest_input["x"] = x
                return None

            stack.enter_context(edit_activations(model, sae.hook_point_in, remember))
        stack.enter_context(edit_activations(model, sae.hook_point_out, edit))
        yield
