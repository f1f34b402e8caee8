"""Features: sparse encoding, FeatureActivations, and extraction from texts."""
from .activations import FeatureActivations, FeatureReference, label_names, names_word
from .encoding import ENCODE_CHUNK_BYTES, SparseEncoding, encode_sparse
from .compare import compare
from .extract import extract, text_maxima

__all__ = ["compare", "FeatureActivations", "FeatureReference", "SparseEncoding", "encode_sparse", "extract", "text_maxima", "ENCODE_CHUNK_BYTES",
           "label_names", "names_word"]
