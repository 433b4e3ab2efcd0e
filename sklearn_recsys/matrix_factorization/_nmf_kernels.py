"""Numba kernels of NMF on ratings: multiplicative updates of one side's rows on the stored
entries (Zhang et al.), and the predictions at those entries that its recorded loss needs."""

import numpy as np
from numba import prange

from ..utils._parallel import parallel_kernel

__all__ = ["nmf_observed_sweep", "stored_entry_predictions"]


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
                v = X[u, f] * num[f] / d if d > 0 else 0.0
                X[u, f] = v if v >= smallest else 0.0


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
