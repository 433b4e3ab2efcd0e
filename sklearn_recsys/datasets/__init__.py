"""Synthetic interaction data and loaders of public recommender datasets."""

from ._synthetic import make_interactions

__all__ = ["make_interactions"]
