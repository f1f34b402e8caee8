"""scope_widgets: live Jupyter widgets for sparse-autoencoder interpretability of Gemma 3.

Public names only. Heavy modules (torch, transformers, anywidget) load on first use, so
``import scope_widgets as sw`` is quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "Scope": "scope_widgets.scope",
    "SAE": "scope_widgets.saes",
    "FeatureActivations": "scope_widgets.features",
    "SAELoadError": "scope_widgets.saes",
    "Explorer": "scope_widgets.widgets",
    "AttributionView": "scope_widgets.widgets",
    "Compare": "scope_widgets.widgets",
    "save_html": "scope_widgets.widgets",
    "TokenHeatmap": "scope_widgets.widgets",
    "FeatureList": "scope_widgets.widgets",
    "FeatureDashboard": "scope_widgets.widgets",
    "FeatureMap": "scope_widgets.widgets",
    "SteeringPanel": "scope_widgets.widgets",
}

__all__ = sorted(_PUBLIC) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from scope_widgets.features import FeatureActivations
    from scope_widgets.saes import SAE, SAELoadError
    from scope_widgets.scope import Scope
    from scope_widgets.widgets import (
        AttributionView,
        Compare,
        Explorer,
        FeatureDashboard,
        FeatureList,
        FeatureMap,
        SteeringPanel,
        TokenHeatmap,
        save_html,
    )


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'scope_widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
