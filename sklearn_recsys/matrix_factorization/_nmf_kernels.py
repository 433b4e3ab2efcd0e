"""Numba kernels of NMF: multiplicative updates of one side's rows on the stored entries
(ratings, Zhang et al.) or on every cell (implicit feedback, Lee & Seung; a few rows at a
time), and the predictions at the stored entries that the ratings' recorded loss needs."""

import numpy as np
from numba import njit, prange

from ..utils._parallel import parallel_kernel

__all__ = ["nmf_dense_steps", "nmf_observed_sweep", "stored_entry_predictions"]


@parallel_kernel
def nmf_observed_sweep(indptr, indices, data, X, Y, reg, n_steps, smallest):
    """Multiplicative updates of every row of the non-negative ``X`` in place, on the stored
    entries only (ratings: zeros are missing; Zhang et al. 2006).

    Row ``u`` is updated ``n_steps`` times with the other side ``Y`` fixed:
    ``x_uf <- x_uf * sum_i y_if r_ui / (D_uf + reg_u x_uf)`` with ``D_uf = sum_{i observed}
    y_if (x_u . y_i)`` and ``reg_u = reg * n_u``. A row without entries is set to 0.

    An update that falls below ``smallest`` (the smallest normal number of ``X``'s dtype)
    is stored as 0: multiplicative updates drive factors towards 0, and subnormal floats
    take the processor's slow path in every later product.
    """
    n_rows, k = X.shape
    for u in prange(n_rows):
        start, end = indptr[u], indptr[u + 1]
        if start == end:
            for f in range(k):
                X[u, f] = 0.0
            continue
        num = np.zeros(k)
        for idx in range(start, end):
            i = indices[idx]
            for f in range(k):
                num[f] += Y[i, f] * data[idx]
        lam = reg * (end - start)
        den = np.empty(k)
        for _ in range(n_steps):
            den[:] = 0.0
            for idx in range(start, end):
                i = indices[idx]
                pred = 0.0
                for f in range(k):
                    pred += X[u, f] * Y[i, f]
                for f in range(k):
                    den[f] += Y[i, f] * pred
            for f in range(k):
                d = den[f] + lam * X[u, f]
                # not d > 0: a NaN denominator (an overflow) must give NaN, not 0
                v = X[u, f] * num[f] / d if not d <= 0 else 0.0
                X[u, f] = 0.0 if v < smallest else v  # NaN stays: the engine sees it


# a few rows on one thread: a parallel region would wake threads for little work, and BLAS
# called soon after waits for them while they spin
@njit(cache=True, nogil=True, error_model="numpy")
def nmf_dense_steps(X, num, YtY, reg, n_steps, smallest):
    """``n_steps`` multiplicative updates of every row of the float64 ``X`` in place, zeros
    as data: ``x_uf <- x_uf * (num_uf / (x_u . YtY_f + reg x_uf))``, 0 where the
    denominator is 0 (not where it is NaN), with the numerator ``num = A @ Y`` given.

    The same steps as the model's dense products of all rows at once, for a few rows: one
    user's fold-in of 50 steps takes 0.1 ms here against 0.5 ms of NumPy calls. An update
    below ``smallest`` is stored as 0 (see :func:`nmf_observed_sweep`).
    """
    n_rows, k = X.shape
    den = np.empty(k)
    for u in range(n_rows):
        for _ in range(n_steps):
            for f in range(k):
                s = 0.0
                for g in range(k):
                    s += X[u, g] * YtY[g, f]
                den[f] = s + reg * X[u, f]
            for f in range(k):
                # 0 where the denominator is 0; a NaN one gives NaN, as in NumPy's steps
                v = 0.0 if den[f] <= 0 else X[u, f] * (num[u, f] / den[f])
                X[u, f] = 0.0 if v < smallest else v  # NaN stays: the engine sees it


@parallel_kernel
def stored_entry_predictions(indptr, indices, W, H, out):
    """``out[p] = W[u] . H[j]`` in float64 for each stored entry ``p = (u, j)`` of a CSR matrix.

    Gathering ``W[rows]`` and ``H[indices]`` for an ``einsum`` copied two
    ``(nnz, k)`` float64 arrays every sweep: the recorded loss took 60-70% of
    the fit (audit 59c).
    """
    for u in prange(indptr.shape[0] - 1):
        for p in range(indptr[u], indptr[u + 1]):
            j = indices[p]
            s = 0.0
            for f in range(W.shape[1]):
                s += np.float64(W[u, f]) * np.float64(H[j, f])
            out[p] = s
