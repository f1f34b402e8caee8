"""Trait types shared by the widgets."""

from __future__ import annotations

import math
import numbers
from typing import Any

import traitlets


def _coefficients_to_json(value: dict, _widget: Any) -> dict:
    # JSON object keys are strings
    return {str(k): float(v) for k, v in (value or {}).items()}


def _coefficients_from_json(value: Any, _widget: Any) -> dict:
    return dict(value or {})


class FeatureCoefficients(traitlets.Dict):
    """``{feature_id: coefficient}`` with int keys and float values in Python, string keys on the wire.

    Assign a new dict to change it (in-place edits are not seen by traitlets, nor by the browser).
    """

    info_text = "a dict {feature id (int; negative ids are a panel's concept directions): coefficient (finite number)}"

    def validate(self, obj: Any, value: Any) -> dict:
        value = super().validate(obj, value)
        out: dict[int, float] = {}
        for key, coef in value.items():
            if isinstance(key, bool):
                self.error(obj, value, info=f"feature ids are integers, not {key!r}")
            try:
                fid = int(key)
            except (TypeError, ValueError):
                raise traitlets.TraitError(f"feature ids are integers; got {key!r}") from None
            if isinstance(key, float) and key != fid:
                raise traitlets.TraitError(f"feature ids are integers; got {key!r}")
            if fid < 0 and fid not in (getattr(obj, "directions", None) or {}):
                raise traitlets.TraitError(f"feature ids are non-negative integers (negative ids name a panel's concept "
                                           f"directions, and this widget has none with id {fid}); got {key!r}")
            if isinstance(coef, bool) or not isinstance(coef, numbers.Real) or not math.isfinite(float(coef)):
                raise traitlets.TraitError(f"the coefficient of feature {fid} must be a finite number; got {coef!r}")
            out[fid] = float(coef)
        return out


def coefficients_trait(**kwargs: Any) -> FeatureCoefficients:
    return FeatureCoefficients(**kwargs).tag(sync=True, to_json=_coefficients_to_json, from_json=_coefficients_from_json)


def optional_feature() -> traitlets.Int:
    """A feature id or None."""
    return traitlets.Int(None, allow_none=True, min=0).tag(sync=True)


def optional_position() -> traitlets.Int:
    """A token position or None."""
    return traitlets.Int(None, allow_none=True, min=0).tag(sync=True)
