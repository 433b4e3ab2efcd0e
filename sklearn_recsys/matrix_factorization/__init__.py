"""Matrix factorization: implicit ALS, BPR, explicit biased MF and NMF on one shared base."""

from ._als import ImplicitALS
from ._bpr import BPR

__all__ = ["BPR", "ImplicitALS"]
