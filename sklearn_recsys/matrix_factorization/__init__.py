"""Matrix factorization: implicit ALS, BPR, explicit biased MF and NMF on one shared base."""

from ._als import ImplicitALS
from ._bpr import BPR
from ._explicit import ExplicitMF
from ._nmf import NMF

__all__ = ["BPR", "ExplicitMF", "ImplicitALS", "NMF"]
