"""Shared base of the transformers that map an interaction matrix to one of the same shape."""

from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

__all__ = ["InteractionTransformer"]


class InteractionTransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Tags of an item-preserving, sparse, non-negative, dtype-preserving transformer."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
