"""Sparse approximate inverse of a sparse SPD matrix: incomplete LDL^T, then an inverse factor.

The building block of :class:`~sklearn_recsys.linear.SparseEASE` (the SANSA
scheme of Spisak et al., RecSys 2023): ``A ~ P^T S^-1 L D L^T S^-1 P`` by a
left-looking incomplete Cholesky factorization with at most ``cap`` entries
per column (``S`` the Jacobi scaling, ``P`` a fill-reducing ordering), then
``K ~ L^-1`` by minimal-residual column updates pruned to the same ``cap``, so
that ``A^-1 ~ W^T W`` with ``W = D^-1/2 K S P`` sparse. Memory stays bounded by
``cap`` entries per column throughout.
"""

import numpy as np
import scipy.sparse as sp
from numba import njit

__all__ = ["sparse_inverse_factor"]

# columns of L @ M computed at a time: the product of two columns of at most
# cap entries has at most cap**2, so a block bounds the peak memory
_BLOCK_ENTRIES = 2**25


@njit(cache=True)
def _incomplete_cholesky(indptr, indices, data, n, cap):
    """Left-looking incomplete Cholesky of the lower triangle of CSC ``A``.

    Keeps the ``cap`` largest entries (in magnitude) below the diagonal of
    each column of ``L``; each dropped entry ``e`` of the reduced matrix adds
    ``|e|`` to both diagonals it couples (Ajiz & Jennings 1984), which keeps
    the factored matrix positive definite, so no pivot breaks down in exact
    arithmetic. Returns CSC arrays of ``L`` (rows sorted) and ``ok``.
    """
    Lp = np.zeros(n + 1, np.int64)
    Li = np.empty(n * (cap + 1), np.int64)
    Lx = np.empty(n * (cap + 1), np.float64)
    w = np.zeros(n, np.float64)
    mark = np.full(n, -1, np.int64)
    pattern = np.empty(n, np.int64)
    extra = np.zeros(n, np.float64)
    # head[r]: linked list (through nxt) of the columns whose next entry is in row r
    head = np.full(n, -1, np.int64)
    nxt = np.full(n, -1, np.int64)
    ptr = np.zeros(n, np.int64)
    pos = 0
    for j in range(n):
        npat = 0
        for p in range(indptr[j], indptr[j + 1]):
            i = indices[p]
            if i >= j:
                if mark[i] != j:
                    mark[i] = j
                    pattern[npat] = i
                    npat += 1
                w[i] = data[p]
        if mark[j] != j:
            mark[j] = j
            pattern[npat] = j
            npat += 1
            w[j] = 0.0
        k = head[j]
        head[j] = -1
        while k != -1:
            k_next = nxt[k]
            p0 = ptr[k]
            ljk = Lx[p0]
            for p in range(p0, Lp[k + 1]):
                i = Li[p]
                if mark[i] != j:
                    mark[i] = j
                    pattern[npat] = i
                    npat += 1
                    w[i] = 0.0
                w[i] -= ljk * Lx[p]
            if p0 + 1 < Lp[k + 1]:
                ptr[k] = p0 + 1
                r = Li[p0 + 1]
                nxt[k] = head[r]
                head[r] = k
            k = k_next
        m = 0
        rows = np.empty(npat, np.int64)
        vals = np.empty(npat, np.float64)
        for t in range(npat):
            i = pattern[t]
            if i != j and w[i] != 0.0:
                rows[m] = i
                vals[m] = w[i]
                m += 1
        compensation = 0.0
        if m > cap:
            order = np.argsort(-np.abs(vals[:m]))
            for t in range(cap, m):
                e = abs(vals[order[t]])
                compensation += e
                extra[rows[order[t]]] += e
            keep = order[:cap]
            rows = rows[keep]
            vals = vals[keep]
            m = cap
        else:
            rows = rows[:m]
            vals = vals[:m]
        pivot = w[j] + extra[j] + compensation
        for t in range(npat):
            w[pattern[t]] = 0.0
        if not pivot > 0.0:
            return Lp, Li, Lx, False
        d = np.sqrt(pivot)
        start = pos
        Li[pos] = j
        Lx[pos] = d
        pos += 1
        order = np.argsort(rows)
        for t in range(m):
            Li[pos] = rows[order[t]]
            Lx[pos] = vals[order[t]] / d
            pos += 1
        Lp[j + 1] = pos
        if m > 0:
            ptr[j] = start + 1
            r = Li[start + 1]
            nxt[j] = head[r]
            head[r] = j
    return Lp, Li[:pos], Lx[:pos], True


@njit(cache=True)
def _prune_columns(indptr, indices, data, cap):
    """CSC arrays keeping the ``cap`` largest-magnitude entries of each column (rows sorted)."""
    n = len(indptr) - 1
    out_p = np.zeros(n + 1, np.int64)
    for j in range(n):
        out_p[j + 1] = out_p[j] + min(cap, indptr[j + 1] - indptr[j])
    out_i = np.empty(out_p[n], np.int64)
    out_x = np.empty(out_p[n], data.dtype)
    for j in range(n):
        a, b = indptr[j], indptr[j + 1]
        if b - a <= cap:
            keep = np.arange(a, b)
        else:
            keep = a + np.sort(np.argsort(-np.abs(data[a:b]))[:cap])
        q = out_p[j]
        for p in keep:
            out_i[q] = indices[p]
            out_x[q] = data[p]
            q += 1
    return out_p, out_i, out_x


def _pruned(M, cap):
    M = M.tocsc()
    M.sum_duplicates()
    p, i, x = _prune_columns(M.indptr.astype(np.int64), M.indices.astype(np.int64), M.data,
                             cap)
    return sp.csc_matrix((x, i, p), shape=M.shape)


def _column_dots(A, B):
    return np.asarray(A.multiply(B).sum(axis=0)).ravel()


def _approximate_unit_lower_inverse(L, cap, steps):
    """``K ~ L^-1`` for unit lower-triangular CSC ``L``, at most ``cap + 1`` entries per column.

    From ``K = 2I - L`` (the first two terms of the Neumann series), each step
    moves every column along its residual ``r = e_j - L k`` by the step that
    minimises ``||e_j - L k||`` (minimal residual), then prunes it.
    """
    n = L.shape[0]
    K = _pruned(2 * sp.identity(n, format="csc") - L, cap + 1)
    block = max(1, _BLOCK_ENTRIES // max(1, (cap + 1) ** 2))
    for _ in range(steps):
        parts = []
        for start in range(0, n, block):
            stop = min(start + block, n)
            K_b = K[:, start:stop]
            R = sp.identity(n, format="csc")[:, start:stop] - L @ K_b
            LR = L @ R
            denominator = _column_dots(LR, LR)
            step = np.divide(_column_dots(R, LR), denominator,
                             out=np.zeros(stop - start), where=denominator > 0)
            parts.append(_pruned(K_b + R @ sp.diags(step), cap + 1))
        K = sp.hstack(parts, format="csc")
    return K


def sparse_inverse_factor(A, cap, steps):
    """Sparse ``W`` with ``A^-1 ~ W^T W``, for sparse SPD ``A``.

    Parameters
    ----------
    A : sparse matrix of shape (n, n)
        Symmetric positive definite.
    cap : int
        Most entries below the diagonal per column of the factors (the memory
        bound: ``W`` holds at most ``n * (cap + 1)`` entries).
    steps : int
        Minimal-residual steps of the approximate inverse factor.

    Returns
    -------
    W : csr_matrix of shape (n, n), float64
        Columns in the order of ``A``'s.
    """
    A = sp.csc_matrix(A, dtype=np.float64)
    n = A.shape[0]
    scale = 1.0 / np.sqrt(A.diagonal())
    # ordering: least-connected items first, a cheap stand-in for minimum degree
    order = np.argsort(np.diff(A.indptr), kind="stable")
    S = sp.diags(scale[order])
    B = (S @ A[order][:, order] @ S).tocsc()
    B.sort_indices()
    Lp, Li, Lx, ok = _incomplete_cholesky(B.indptr.astype(np.int64),
                                          B.indices.astype(np.int64), B.data, n, cap)
    if not ok:  # rounding only: the compensated factorization cannot break down otherwise
        raise FloatingPointError("The incomplete factorization broke down; raise alpha.")
    L = sp.csc_matrix((Lx, Li, Lp), shape=(n, n))
    d = L.diagonal()
    L = (L @ sp.diags(1.0 / d)).tocsc()  # unit lower triangular; A' = L diag(d**2) L^T
    K = _approximate_unit_lower_inverse(L, cap, steps)
    W = sp.diags(1.0 / d) @ K @ S
    # back to A's item order: column order[c] of A is column c of W
    W = W.tocsc()[:, np.argsort(order)]
    return W.tocsr()
