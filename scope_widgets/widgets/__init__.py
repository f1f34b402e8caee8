"""The notebook widgets (anywidget): one class per view plus the composite ``Explorer``, and ``FeatureMap``
(a plotly FigureWidget in an ipywidgets box; plotly loads with the first map).

All share one front-end bundle (``scope_widgets/static/widget.js``, built from ``js/``).
"""

from .attribution_view import AttributionView
from .compare import Compare
from .dashboard import FeatureDashboard
from .explorer import Explorer
from .feature_map import FeatureMap
from .export import save_html
from .feature_list import FeatureList
from .heatmap import TokenHeatmap
from .steering_panel import SteeringPanel

__all__ = ["AttributionView", "Compare", "Explorer", "FeatureDashboard", "FeatureList", "FeatureMap", "SteeringPanel", "TokenHeatmap", "save_html"]
