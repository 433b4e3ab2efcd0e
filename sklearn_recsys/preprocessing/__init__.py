"""Preprocessing of interaction matrices: BM25 and TF-IDF weighting."""

from ._weighting import BM25Weighting, TfidfWeighting

__all__ = ["BM25Weighting", "TfidfWeighting"]
