"""Neural recommenders (autoencoders). TensorFlow is imported only inside ``fit``."""

from ._autorec import AutoRec
from ._cdae import CDAE
from ._mult import MultDAE, MultVAE

__all__ = ["AutoRec", "CDAE", "MultDAE", "MultVAE"]
