"""Closed-form linear item-item models: EASE, its sparse approximation, multi-behaviour EASE."""

from ._ease import EASE
from ._multi_behavior import MultiBehaviorEASE
from ._sparse_ease import SparseEASE

__all__ = ["EASE", "MultiBehaviorEASE", "SparseEASE"]
