"""Approximate nearest-neighbour search for recommending from large catalogues.

:class:`ApproximateRecommender` wraps a factorization model and serves its
top-k from an inverted-file or HNSW index of the item vectors (faiss,
``pip install ".[ann]"``) instead of scoring every item.
"""

from ._approximate import ApproximateRecommender

__all__ = ["ApproximateRecommender"]
