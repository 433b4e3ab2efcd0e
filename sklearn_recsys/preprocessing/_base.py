"""Shared base of the transformers that map an interaction matrix to one of the same shape."""

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

from ..base import item_shares

__all__ = ["InteractionTransformer"]


class InteractionTransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Tags of an item-preserving, sparse, non-negative, dtype-preserving transformer.

    ``fit`` records each item's share of the interactions it was given (the
    popularity the beyond-accuracy scorers and re-rankers read from a Pipeline:
    its input's, before a step drops or reweighs interactions).
    """

    def _record_popularity(self, X):
        """Keep each item's share of the interactions of the validated CSR ``X``; returns
        the per-item counts."""
        counts = np.bincount(X.indices, minlength=X.shape[1])
        self._item_popularity = item_shares(counts)
        return counts

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
