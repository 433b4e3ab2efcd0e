"""Preprocessing: logs to matrices, binarization, BM25/TF-IDF weighting, text sequences."""

from ._binarize import RatingBinarizer
from ._encoder import InteractionEncoder
from ._text import TextSequencer
from ._weighting import BM25Weighting, TfidfWeighting

__all__ = [
    "BM25Weighting",
    "InteractionEncoder",
    "RatingBinarizer",
    "TextSequencer",
    "TfidfWeighting",
]
