"""Neural recommenders (autoencoders, ConvMF, sequential models); TensorFlow only in ``fit``."""

from ._autorec import AutoRec
from ._cdae import CDAE
from ._convmf import ConvMF
from ._gru4rec import GRU4Rec
from ._mult import MultDAE, MultVAE
from ._multitask import MultiTaskDAE
from ._sasrec import SASRec

__all__ = ["AutoRec", "CDAE", "ConvMF", "GRU4Rec", "MultDAE", "MultVAE", "MultiTaskDAE", "SASRec"]
