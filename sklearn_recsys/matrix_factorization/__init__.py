"""Matrix factorization: implicit ALS, BPR, explicit biased MF and NMF on one shared base."""

from ._als import ImplicitALS

__all__ = ["ImplicitALS"]
