"""Products of a sparse matrix into a dense result on every core: scipy's run on one.

Scoring by an item-item matrix (``X @ W``) and the closed forms built from one
multiply a CSR matrix by a dense ``(n_items, n_items)`` array, or (ItemKNN) by
a sparse one whose product is wanted dense; scipy's products run on one
thread, and the sparse one builds a sparse result (index and value per entry,
more memory than the dense scores it becomes). The kernels here split the rows
among numba's threads and sum each row in scipy's order (its stored entries in
turn, each adding its share of a row of the right factor), so every entry is
the same float as scipy's, whatever the thread count or the batch.
"""

import numpy as np
import scipy.sparse as sp
from numba import prange

from ._parallel import parallel_kernel

__all__ = ["add_csr_csr_product", "add_csr_dense_product", "csr_csr_dense_product",
           "csr_dense_product"]


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


@parallel_kernel
def add_csr_csr_product(indptr, indices, data, right_indptr, right_indices, right_data, out):
    """``out += S @ T`` for CSR ``S`` and ``T`` given by their arrays, dense ``out``."""
    for r in prange(out.shape[0]):
        for p in range(indptr[r], indptr[r + 1]):
            j = indices[p]
            v = data[p]
            for q in range(right_indptr[j], right_indptr[j + 1]):
                out[r, right_indices[q]] += v * right_data[q]


def csr_csr_dense_product(S, T):
    """``(S @ T).toarray()`` for sparse ``T`` without the sparse product, as scipy computes it.

    Parameters
    ----------
    S : sparse matrix or ndarray of shape (n_rows, n)
        Left factor; a sparse one is taken in CSR.
    T : sparse matrix of shape (n, n_cols)
        Right factor, taken in CSR.

    Returns
    -------
    product : ndarray of shape (n_rows, n_cols)
        In ``np.result_type(S.dtype, T.dtype)``; from the parallel kernel
        when both are sparse and floating, from scipy otherwise.
    """
    if not (sp.issparse(S) and sp.issparse(T) and S.dtype.kind == "f" and T.dtype.kind == "f"):
        product = S @ T
        return np.asarray(product.toarray() if sp.issparse(product) else product)
    S, T = S.tocsr(), T.tocsr()
    dtype = np.result_type(S.dtype, T.dtype)
    out = np.zeros((S.shape[0], T.shape[1]), dtype=dtype)
    add_csr_csr_product(S.indptr, S.indices, S.data.astype(dtype, copy=False),
                        T.indptr, T.indices, T.data.astype(dtype, copy=False), out)
    return out


def with_float64_values(A):
    """CSR or CSC ``A`` with its values in float64, sharing its index arrays.

    For sums over users (Gram matrices, co-occurrence counts): scipy accumulates a
    sparse product in its operands' dtype, and a float32 running sum stops growing at
    2**24 (16,777,216 users sharing an item counted no further); float64 is exact for
    counts up to 2**53. Costs ``nnz`` float64 values, not a copy of the indices.
    """
    if A.dtype == np.float64:
        return A
    return type(A)((A.data.astype(np.float64), A.indices, A.indptr), shape=A.shape)
