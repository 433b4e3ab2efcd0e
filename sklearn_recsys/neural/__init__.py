"""Neural recommenders (autoencoders, ConvMF). TensorFlow is imported only inside ``fit``."""

from ._autorec import AutoRec
from ._cdae import CDAE
from ._convmf import ConvMF
from ._mult import MultDAE, MultVAE
from ._multitask import MultiTaskDAE

__all__ = ["AutoRec", "CDAE", "ConvMF", "MultDAE", "MultVAE", "MultiTaskDAE"]
