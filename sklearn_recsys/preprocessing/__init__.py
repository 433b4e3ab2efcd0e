"""Preprocessing: logs to matrices (InteractionEncoder), binarization, BM25 and TF-IDF."""

from ._binarize import RatingBinarizer
from ._encoder import InteractionEncoder
from ._weighting import BM25Weighting, TfidfWeighting

__all__ = ["BM25Weighting", "InteractionEncoder", "RatingBinarizer", "TfidfWeighting"]
