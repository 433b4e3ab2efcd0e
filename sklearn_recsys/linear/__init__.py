"""Linear item-item models solved in closed form: EASE and its multi-behaviour extension."""

from ._ease import EASE
from ._multi_behavior import MultiBehaviorEASE

__all__ = ["EASE", "MultiBehaviorEASE"]
