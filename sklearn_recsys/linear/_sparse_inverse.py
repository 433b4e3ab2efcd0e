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

# bound on the entries of one block of columns of L @ K (the residuals): the
# blocks, not K or L, set the peak memory of the inverse's refinement
_BLOCK_ENTRIES = 2**21


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
def _prune_columns(indptr, indices, data, cap, diagonal_offset):
    """CSC arrays keeping the ``cap`` largest-magnitude entries of each column (rows sorted).

    With ``diagonal_offset >= 0``, column ``j`` always keeps its entry in row
    ``diagonal_offset + j`` (the diagonal of a block of columns starting
    there), whatever its magnitude.
    """
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
            magnitude = np.abs(data[a:b])
            if diagonal_offset >= 0:
                for p in range(a, b):
                    if indices[p] == diagonal_offset + j:
                        magnitude[p - a] = np.inf
            keep = a + np.sort(np.argsort(-magnitude)[:cap])
        q = out_p[j]
        for p in keep:
            out_i[q] = indices[p]
            out_x[q] = data[p]
            q += 1
    return out_p, out_i, out_x


def _pruned(M, cap, diagonal_offset=-1):
    M = M.tocsc()
    M.sum_duplicates()
    p, i, x = _prune_columns(M.indptr.astype(np.int64), M.indices.astype(np.int64), M.data,
                             cap, diagonal_offset)
    return sp.csc_matrix((x, i, p), shape=M.shape)


def _identity_columns(n, start, stop):
    """Columns ``start:stop`` of the ``(n, n)`` identity, as CSC."""
    m = stop - start
    return sp.csc_matrix((np.ones(m), np.arange(start, stop), np.arange(m + 1)), shape=(n, m))


def _column_dots(A, B):
    return np.asarray(A.multiply(B).sum(axis=0)).ravel()


def _entries_bound(L_counts, M):
    """Bound on the entries of each column ``j`` of ``L @ M``: ``nnz(L[:, i])`` over ``M[:, j]``."""
    n_columns = M.shape[1]
    columns = np.repeat(np.arange(n_columns), np.diff(M.indptr))
    return np.bincount(columns, weights=L_counts[M.indices], minlength=n_columns)


def _column_blocks(entries, budget):
    """``(start, stop)`` runs of columns whose summed ``entries`` stay near ``budget``."""
    bound = np.cumsum(entries)
    cuts = np.searchsorted(bound, np.arange(budget, bound[-1] if len(bound) else 0, budget))
    edges = np.unique(np.r_[0, cuts, len(entries)])
    return zip(edges[:-1], edges[1:])


def _approximate_unit_lower_inverse(L, cap, steps):
    """``K ~ L^-1`` for unit lower-triangular CSC ``L``, at most ``cap + 1`` entries per column.

    From ``K = 2I - L`` (the first two terms of the Neumann series), each step
    moves every column along the ``2 (cap + 1)`` largest entries ``d`` of its
    residual ``r = e_j - L k`` by the step that minimises ``||r - a L d||``
    (minimal residual), then prunes it. Columns go in blocks whose products
    ``L k`` and ``L d`` hold at most about
    ``_BLOCK_ENTRIES`` entries (column ``j`` of ``L @ M`` has at most
    ``sum(nnz(L[:, i]) for i in M[:, j])``; one column may exceed it, with a
    very large ``cap``). The diagonal is never pruned.
    """
    n = L.shape[0]
    K = _pruned(2 * sp.identity(n, format="csc") - L, cap + 1, diagonal_offset=0)
    L_counts = np.diff(L.indptr).astype(np.float64)
    for _ in range(steps):
        parts = []
        for start, stop in _column_blocks(_entries_bound(L_counts, K), _BLOCK_ENTRIES):
            K_b = K[:, start:stop]
            R = (_identity_columns(n, start, stop) - L @ K_b).tocsc()
            # the step goes along the residual's largest entries only: the
            # update is pruned to cap + 1 entries anyway, and L @ R in full
            # would cost cap**3 per column
            D = _pruned(R, 2 * (cap + 1))
            step = np.zeros(stop - start)
            for a, b in _column_blocks(_entries_bound(L_counts, D), _BLOCK_ENTRIES):
                LD = L @ D[:, a:b]
                denominator = _column_dots(LD, LD)
                np.divide(_column_dots(R[:, a:b], LD), denominator, out=step[a:b],
                          where=denominator > 0)
                del LD
            # the unit diagonal always stays: K remains unit lower triangular
            parts.append(_pruned(K_b + D @ sp.diags(step), cap + 1, diagonal_offset=start))
            del R, D
        K = sp.hstack(parts, format="csc")
    return K


def sparse_inverse_factor(G, shift, cap, steps):
    """Sparse ``W`` with ``A^-1 ~ W^T W`` for ``A = G + shift * I``, sparse and SPD.

    Parameters
    ----------
    G : sparse matrix of shape (n, n)
        Symmetric positive semi-definite (a Gram matrix). The caller should
        hold no other reference to it: it is released as soon as the
        factorization's own (lower-triangle) copy is built.
    shift : float
        Added to the diagonal; > 0 makes ``A`` positive definite.
    cap : int
        Most entries below the diagonal per column of the factors (the memory
        bound: ``W`` holds at most ``n * (cap + 1)`` entries).
    steps : int
        Minimal-residual steps of the approximate inverse factor.

    Returns
    -------
    W : csc_matrix of shape (n, n), float64
        Columns in the order of ``G``'s.
    """
    A = sp.csc_matrix(G)
    del G
    n = A.shape[0]
    diagonal_of_a = A.diagonal().astype(np.float64)
    scale = 1.0 / np.sqrt(diagonal_of_a + shift)
    # ordering: least-connected items first, a cheap stand-in for minimum degree; ties
    # (common) go by the item's own statistics, not its column index, so that relabelling
    # the items relabels the model (by index, the catalogue's order changed 45% of the
    # top-10 slots); the index decides only between items these keys cannot tell apart
    column_sums = np.asarray(A.sum(axis=0), dtype=np.float64).ravel()
    order = np.lexsort((np.arange(n), column_sums, diagonal_of_a, np.diff(A.indptr)))
    del diagonal_of_a, column_sums
    position = np.empty(n, np.int32)
    position[order] = np.arange(n, dtype=np.int32)
    # the scaled, reordered lower triangle, built without a full-size copy of A
    rows, cols = position[A.indices], np.repeat(position, np.diff(A.indptr))
    lower = rows >= cols
    data = (A.data[lower] * scale[A.indices[lower]]
            * np.repeat(scale, np.diff(A.indptr))[lower])
    rows, cols = rows[lower], cols[lower]
    del A, lower
    # the shift, as duplicates of the diagonal that the conversion sums
    diagonal = np.arange(n, dtype=np.int32)
    rows, cols = np.r_[rows, diagonal], np.r_[cols, diagonal]
    data = np.r_[data, shift * scale[order] ** 2]
    B = sp.csc_matrix((data, (rows, cols)), shape=(n, n))
    del rows, cols, data
    B.sort_indices()
    scale = scale[order]
    Lp, Li, Lx, ok = _incomplete_cholesky(B.indptr.astype(np.int64), B.indices, B.data, n, cap)
    del B
    if not ok:  # rounding only: the compensated factorization cannot break down otherwise
        # (it runs in float64 whatever X's dtype: a float64 X would not help)
        raise FloatingPointError(
            "The incomplete factorization of X^T X + alpha * I broke down in rounding: "
            "alpha is too small against the values of X for it. Raise alpha, or scale "
            "the values down (log1p of counts, BM25Weighting).")
    L = sp.csc_matrix((Lx, Li, Lp), shape=(n, n))
    d = L.diagonal()
    L = (L @ sp.diags(1.0 / d)).tocsc()  # unit lower triangular; A' = L diag(d**2) L^T
    K = _approximate_unit_lower_inverse(L, cap, steps)
    W = sp.diags(1.0 / d) @ K @ sp.diags(scale)
    # back to A's item order: column order[c] of A is column c of W
    return W.tocsc()[:, np.argsort(order)]
