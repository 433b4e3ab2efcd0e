"""Linear autoencoders solved in closed form: EASE."""

from ._ease import EASE

__all__ = ["EASE"]
