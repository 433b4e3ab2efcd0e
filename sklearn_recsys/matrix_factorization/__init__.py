"""Matrix factorization: implicit ALS, BPR, explicit biased MF, NMF, hybrid and multi-task MF."""

from ._als import ImplicitALS
from ._bpr import BPR
from ._explicit import ExplicitMF
from ._hybrid import HybridMF
from ._multitask import MultiTaskMF
from ._nmf import NMF

__all__ = ["BPR", "ExplicitMF", "HybridMF", "ImplicitALS", "MultiTaskMF", "NMF"]
