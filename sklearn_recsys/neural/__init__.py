"""Neural recommenders (autoencoders). TensorFlow is imported only inside ``fit``."""

from ._mult import MultDAE, MultVAE

__all__ = ["MultDAE", "MultVAE"]
