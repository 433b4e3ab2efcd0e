"""Sparse times dense products on every core: scipy's run on one.

Scoring by an item-item matrix (``X @ W``) and the closed forms built from one
multiply a CSR matrix by a dense ``(n_items, n_items)`` array; scipy's product
runs on one thread. The kernel here splits the rows among numba's threads and
sums each row in scipy's order (its stored entries in turn, each adding its
share of a row of the dense array), so every entry is the same float as
scipy's, whatever the thread count or the batch.
"""

import numpy as np
import scipy.sparse as sp
from numba import prange

from ._parallel import parallel_kernel

__all__ = ["add_csr_dense_product", "csr_dense_product"]


@parallel_kernel
def add_csr_dense_product(indptr, indices, data, dense, out):
    """``out += S @ dense`` for CSR ``S`` given by its arrays, dense ``out``; rows in parallel."""
    for r in prange(out.shape[0]):
        for p in range(indptr[r], indptr[r + 1]):
            j = indices[p]
            v = data[p]
            for c in range(dense.shape[1]):
                out[r, c] += v * dense[j, c]


def csr_dense_product(S, dense):
    """``S @ dense`` as a dense array of their common dtype, as scipy computes it.

    Parameters
    ----------
    S : sparse matrix or ndarray of shape (n_rows, n)
        Left factor; a sparse one is taken in CSR.
    dense : ndarray of shape (n, n_cols)
        Right factor.

    Returns
    -------
    product : ndarray of shape (n_rows, n_cols)
        In ``np.result_type(S.dtype, dense.dtype)``; from the parallel kernel
        when ``S`` is sparse and ``dense`` a floating array, from ``S @ dense``
        otherwise (a dense ``S`` goes to BLAS).
    """
    if not sp.issparse(S) or not isinstance(dense, np.ndarray) or dense.dtype.kind != "f":
        return np.asarray(S @ dense)
    S = S.tocsr()
    dtype = np.result_type(S.dtype, dense.dtype)
    out = np.zeros((S.shape[0], dense.shape[1]), dtype=dtype)
    add_csr_dense_product(S.indptr, S.indices, S.data.astype(dtype, copy=False),
                          np.ascontiguousarray(dense), out)
    return out
