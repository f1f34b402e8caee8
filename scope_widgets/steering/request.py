"""What a steering request is: features (or concept directions), coefficients, a method and positions.

- ``add``: ``h <- h + c * W_dec[i]`` at the SAE's output hook point (a :class:`Direction` adds ``c * v``);
- ``clamp``: ``h <- h + (c - f_i(x)) * W_dec[i]``: the feature is set to ``c`` and the SAE's error term kept;
- ``ablate``: clamp to 0.

Positions: ``"all"`` every position but BOS (whose huge norm makes it a poor place to intervene);
``"prompt"`` only the prompt's own positions (the generated text then follows from a steered context);
``"generated"`` only the positions that predict new tokens (the last prompt token and every new one).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from ..runtime import check_coefficient, check_feature

__all__ = ["METHODS", "POSITIONS", "DEFAULT_POSITIONS", "MAX_ABS_COEFFICIENT", "Direction", "Steering", "validate"]

METHODS = ("add", "clamp", "ablate")
POSITIONS = ("all", "prompt", "generated")
MAX_ABS_COEFFICIENT = 1e5  # beyond this a coefficient is a typo, not an experiment (layer-9 norms are ~7,000)
#: Where the steering panel steers unless told otherwise: measured on the default SAE (docs/default_sae.md).
DEFAULT_POSITIONS = "all"


@dataclass(frozen=True, eq=False)
class Direction:
    """A direction in the activation space the SAE reads (``vector [d]``, unit norm), usable like a feature:
    ``scope.generate(prompt, steer={direction: 40.0})`` adds ``40 * vector`` (method ``add`` only).

    Make one from examples with ``scope.direction(examples, against)`` (difference of means); ``scale`` is
    a typical size for coefficients (e.g. the raw difference's norm), which the steering panel uses.
    """

    name: str
    vector: torch.Tensor
    hook_point: str
    scale: float = 1.0

    def __repr__(self) -> str:
        return f"Direction({self.name!r}, d={self.vector.shape[-1]}, at {self.hook_point}, scale {self.scale:.3g})"


@dataclass(frozen=True)
class Steering:
    """A validated steering request for one SAE: feature ids and directions, coefficients, method, positions."""

    features: tuple[int, ...]
    coefficients: tuple[float, ...]
    method: str = "add"
    positions: str = "all"
    directions: tuple[Direction, ...] = ()
    direction_coefficients: tuple[float, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.features) or bool(self.directions)


def validate(steer, sae, method: str = "add", positions: str = "all", max_abs: float = MAX_ABS_COEFFICIENT) -> Steering:
    """Check a user's ``{feature or Direction: coefficient}`` (or, for ablate, a list of features).

    Raises ValueError naming the bad entry and what to do; nothing is touched before it passes.
    """
    if method not in METHODS:
        raise ValueError(f"unknown steering method {method!r}: use one of {', '.join(METHODS)}")
    if positions not in POSITIONS:
        raise ValueError(f"unknown positions {positions!r}: use one of {', '.join(repr(p) for p in POSITIONS)}")
    if steer is None:
        return Steering((), (), method, positions)
    if (isinstance(steer, numbers.Integral) and not isinstance(steer, bool)) or isinstance(steer, Direction):
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
    features, coefficients, directions, dir_coefs = [], [], [], []
    for key, coefficient in items:
        if isinstance(key, Direction):
            if method != "add":
                raise ValueError(f"a Direction can only be added (method='add'), not {method!r}: it is not an SAE feature")
            if key.hook_point != sae.hook_point_out or key.vector.shape[-1] != sae.d_out:
                raise ValueError(
                    f"the direction {key.name!r} lives at {key.hook_point} (width {key.vector.shape[-1]}), but the SAE "
                    f"{sae.name!r} writes at {sae.hook_point_out} (width {sae.d_out}): make it with that SAE"
                )
            if any(d is key for d in directions):
                raise ValueError(f"the direction {key.name!r} appears twice in the steering request")
            directions.append(key)
            dir_coefs.append(check_coefficient(coefficient, f"direction {key.name!r}", max_abs))
            continue
        index = check_feature(key, sae.d_sae, sae.name)
        value = 0.0 if method == "ablate" else check_coefficient(coefficient, f"feature {index}", max_abs)
        if index in features:
            raise ValueError(f"feature {index} appears twice in the steering request")
        features.append(index)
        coefficients.append(value)
    return Steering(tuple(features), tuple(coefficients), method, positions, tuple(directions), tuple(dir_coefs))
