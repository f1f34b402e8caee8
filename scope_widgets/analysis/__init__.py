"""Analysis: dashboards, labels and search, taking a model, a tokenizer and an SAE (never a Scope).

Files: ``records`` (what is handed out), ``stats`` (running statistics of a corpus pass),
``activation_cache`` (the model's activations over a corpus), ``corpus_pass`` (compute_dashboards),
``dashboards_file`` (Dashboards on disk), ``auto_labels``, ``label_store`` (the user's labels),
``gemma_scope_examples`` (Gemma Scope 2's examples file), ``sources`` (which of these an SAE gets),
``background`` and ``search`` (selective features, concept directions), ``default_build`` (the shipped data).
"""
from .corpus_pass import compute_dashboards
from .dashboards_file import Dashboards
from .gemma_scope_examples import GemmaScopeExamples
from .label_store import LabelStore
from .records import FeatureDashboardData, SearchHit
from .search import concept_direction, search_word, separating
from .sources import dashboards_for, feature_dashboard, feature_labels, reference_for

__all__ = ["compute_dashboards", "Dashboards", "GemmaScopeExamples", "LabelStore", "FeatureDashboardData", "SearchHit",
           "concept_direction", "search_word", "separating", "dashboards_for", "feature_dashboard", "feature_labels",
           "reference_for"]
