"""Validation, top-k kernels, estimator discovery and recommender checks."""

from ._topk import mask_seen, top_k
from ._validation import check_interaction_matrix, check_interactions, check_item_indices
from .discovery import all_estimators

__all__ = [
    "all_estimators",
    "check_interaction_matrix",
    "check_interactions",
    "check_item_indices",
    "mask_seen",
    "top_k",
]
