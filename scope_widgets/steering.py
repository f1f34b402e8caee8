"""Steering edits (add, clamp, ablate) as hooks that are always removed.

- ``add``: ``h <- h + c * W_dec[i]`` at the SAE's output hook point;
- ``clamp``: ``h <- h + (c - f_i(x)) * W_dec[i]``: the feature is set to ``c`` and the SAE's error term kept
  (``x`` is the activation at the SAE's input hook: the same point for an SAE, the MLP input for a transcoder);
- ``ablate``: clamp to 0.

``positions="all"`` steers every position but BOS (whose huge norm makes it a poor place to intervene);
``positions="generated"`` steers only the positions that predict new tokens: the last prompt token and
every generated one, so the prompt's own representation is left as it was.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import torch

from scope_widgets.hooks import edit_activations

METHODS = ("add", "clamp", "ablate")
POSITIONS = ("all", "generated")
MAX_ABS_COEFFICIENT = 1e4  # beyond this a coefficient is a typo, not an experiment


@dataclass(frozen=True)
class Steering:
    """A validated steering request for one SAE: feature ids, coefficients, method and positions."""

    features: tuple[int, ...]
    coefficients: tuple[float, ...]
    method: str = "add"
    positions: str = "all"
    extra: dict = field(default_factory=dict, compare=False)

    def __bool__(self) -> bool:
        return bool(self.features)


def validate(steer, sae, method: str = "add", positions: str = "all", max_abs: float = MAX_ABS_COEFFICIENT) -> Steering:
    """Check a user's ``{feature: coefficient}`` (or, for ablate, a list of features) against an SAE.

    Raises ValueError naming the bad entry and what to do; nothing is touched before it passes.
    """
    if method not in METHODS:
        raise ValueError(f"unknown steering method {method!r}: use one of {', '.join(METHODS)}")
    if positions not in POSITIONS:
        raise ValueError(f"unknown positions {positions!r}: use 'all' or 'generated'")
    if steer is None:
        return Steering((), (), method, positions)
    if isinstance(steer, numbers.Integral) and not isinstance(steer, bool):
        steer = [steer]
    if isinstance(steer, Mapping):
        items = list(steer.items())
    elif method == "ablate" and not isinstance(steer, (str, bytes)):
        items = [(feature, 0.0) for feature in steer]
    else:
        raise ValueError(
            f"steer must be a dict {{feature_id: coefficient}} (or a list of feature ids with method='ablate'), "
            f"not {type(steer).__name__}"
        )
    features, coefficients = [], []
    for feature, coefficient in items:
        if isinstance(feature, bool) or not isinstance(feature, (numbers.Integral, str)):
            raise ValueError(f"feature ids are integers; got {feature!r} ({type(feature).__name__})")
        try:
            index = int(feature)
        except ValueError:
            raise ValueError(f"feature ids are integers; got {feature!r}") from None
        if not 0 <= index < sae.d_sae:
            raise ValueError(
                f"unknown feature {index}: the SAE {sae.name!r} has features 0 to {sae.d_sae - 1}"
            )
        if method == "ablate":
            value = 0.0
        else:
            if isinstance(coefficient, bool) or not isinstance(coefficient, numbers.Real):
                raise ValueError(f"the coefficient for feature {index} must be a number, got {coefficient!r}")
            value = float(coefficient)
            if not math.isfinite(value):
                raise ValueError(f"the coefficient for feature {index} is {value}: coefficients must be finite numbers")
            if abs(value) > max_abs:
                raise ValueError(
                    f"the coefficient {value:g} for feature {index} is beyond +/-{max_abs:g}, far outside any "
                    "activation this SAE produces; typical useful values are a few times the feature's "
                    "maximum activation (see its dashboard)"
                )
        if index in features:
            raise ValueError(f"feature {index} appears twice in the steering request")
        features.append(index)
        coefficients.append(value)
    return Steering(tuple(features), tuple(coefficients), method, positions)


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


def _mask(steering: Steering, tracker: _PositionTracker, seq_len: int, device, skip_bos: bool):
    """[seq] bool mask of the positions to steer, or None for all of them.

    Worked out from Python ints, so a decoding step never waits on the GPU to decide.
    """
    start = tracker.start(seq_len)
    first = 1 if skip_bos else 0  # the first position that may be steered
    if steering.positions == "generated":
        first = max(first, tracker.prompt_len - 1)
    if start >= first:
        return None
    return torch.arange(start, start + seq_len, device=device) >= first


@contextmanager
def apply(model, sae, steering: Steering, *, skip_bos: bool = True, prompt_len: int | None = None) -> Iterator[None]:
    """Steer every forward pass this thread makes inside the block; the hooks go on exit, whatever happens."""
    if not steering:
        yield
        return
    ids = torch.tensor(steering.features, dtype=torch.long, device=sae.W_dec.device)
    coef = torch.tensor(steering.coefficients, dtype=sae.W_dec.dtype, device=sae.W_dec.device)
    directions = sae.W_dec.detach().index_select(0, ids)  # [m, d_out]
    w_enc = sae.W_enc.detach().index_select(1, ids)  # [d_in, m]
    b_enc = sae.b_enc.detach().index_select(0, ids)  # [m]
    threshold = sae.threshold.detach().index_select(0, ids)  # [m]
    add_vector = coef @ directions  # [d_out]
    tracker = _PositionTracker(prompt_len)
    latest_input: dict[str, torch.Tensor] = {}

    def feature_values(x: torch.Tensor) -> torch.Tensor:  # [..., d_in] -> [..., m]
        pre = x.to(w_enc.dtype) @ w_enc + b_enc
        return torch.relu(pre) * (pre > threshold)

    def edit(h: torch.Tensor) -> torch.Tensor:  # h: [batch, seq, d_out] (or [seq, d_out])
        seq_len = h.shape[-2]
        keep = _mask(steering, tracker, seq_len, h.device, skip_bos)
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
