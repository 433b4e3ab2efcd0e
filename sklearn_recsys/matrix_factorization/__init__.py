"""Matrix factorization: implicit ALS, BPR, explicit biased MF, NMF and hybrid MF on one base."""

from ._als import ImplicitALS
from ._bpr import BPR
from ._explicit import ExplicitMF
from ._hybrid import HybridMF
from ._nmf import NMF

__all__ = ["BPR", "ExplicitMF", "HybridMF", "ImplicitALS", "NMF"]
