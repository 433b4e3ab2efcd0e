"""Least-squares row solvers shared across families (numba): ALS, explicit MF, AutoRec, ConvMF.

Each kernel updates the factors of one side (rows of a CSR matrix) given the
fixed factors of the other side. Rows are independent, so the kernels run in
parallel over rows with ``prange``; each row's result depends only on its own
data, never on the thread that computed it, so results do not depend on the
number of threads.

Notation for implicit feedback (Hu, Koren & Volinsky 2008): for row ``u``
with entries ``r_ui`` the confidence is ``c_ui = 1 + scale * r_ui`` on the
row's non-zeros and 1 elsewhere, the preference is 1 on the non-zeros, and
the normal equations are

    (Y^T Y + lambda I + sum_i (c_ui - 1) y_i y_i^T) x_u = sum_i c_ui y_i

where ``Y^T Y`` (plus ``lambda I``) is precomputed once per sweep, so a row
costs O(nnz_u * k) per conjugate-gradient step (Takacs et al. 2011) or
O(nnz_u * k^2 + k^3) for the exact Cholesky solve.

With inverse propensities ``rho_ui = 1 / theta_i`` (Rel-MF, Saito et al. 2020)
an observed cell's loss is ``c_ui rho_ui (1 - s)^2 + (1 - rho_ui) s^2``, the
unbiased estimate of the loss on relevance with the confidence on its
positive term (in expectation over exposure a relevant item's optimum is 1
whatever its propensity): both ``c_ui - 1`` and ``c_ui`` above are multiplied
by ``rho_ui``. Scaling the target alone (``c_ui`` weight, ``rho_ui`` target)
is unbiased only at ``c_ui = 1``; with confidence it ranks a rare relevant
item up to ``c`` times above a popular one.
"""

import numpy as np
from numba import njit, prange

from ._parallel import parallel_kernel

# rows per task of the CG sweeps: each allocates its work vectors once
_CG_CHUNK = 256

# A row's entries are summed in the factors' dtype by blocks of this many, and the blocks'
# totals in float64: a float32 running sum over an item's users drifted (1M equal terms
# 1.4% off, 4M 3.7%: ImplicitALS's item factors 7% off at 3M users) and stopped growing
# at 2**24. Rows of up to _BLOCK entries (a user's, most items') are summed as before.
_BLOCK = 256

# A loop that both stores and sums is vectorized by LLVM behind a run-time check of where
# its arrays lie (it takes the scalar loop when they are close), so with fast-math (which
# lets the vector loop sum in another order) its result depended on memory addresses: one
# seed gave different models from run to run (seen on AMD Zen 5). Sums are therefore only
# taken by _dot, a loop without stores, with fast-math; the loops around it may fuse
# multiply-adds but not reorder sums.
_FAST = {"nsz", "arcp", "contract"}

__all__ = [
    "als_cg_sweep",
    "als_cholesky_sweep",
    "explicit_als_sweep",
    "fold_in_contributions",
    "gaussian_posterior_sweep",
    "implicit_gaussian_sweep",
    "implicit_loss",
    "joint_user_sweep",
    "prior_cg_sweep",
    "prior_ls_sweep",
    "UNWEIGHTED_PRIOR",
    "ridge_rows_path",
    "ridge_rows_sweep",
]

_EPS = 1e-20
# the prior kernels' prior_weights for "every row's prior alike"
UNWEIGHTED_PRIOR = np.empty(0)


@njit(cache=True, nogil=True, error_model="numpy")
def _cholesky_solve_inplace(A, b):
    """Solve ``A x = b`` for SPD ``A`` (overwritten by its factor); ``b`` becomes ``x``.

    A pivot not above the rounding of its diagonal (``eps * A[j, j]``) makes ``x``
    NaN, as LAPACK's ``potrf`` fails on a pivot that is not positive.
    """
    k = A.shape[0]
    eps = np.finfo(A.dtype).eps
    for j in range(k):
        s = A[j, j]
        for m in range(j):
            s -= A[j, m] * A[j, m]
        if not s > eps * A[j, j]:
            # a pivot below the rounding of its own diagonal is noise (a confidence of 1e8
            # in float32 cancels it to 0 or a random sign): NaN, which the models report
            # or refit in float64, where a floor of 1e-12 made the solution up to 1e12
            # times too large, silently
            s = np.nan
        d = np.sqrt(s)
        A[j, j] = d
        for i in range(j + 1, k):
            s = A[i, j]
            for m in range(j):
                s -= A[i, m] * A[j, m]
            A[i, j] = s / d
    for i in range(k):
        s = b[i]
        for m in range(i):
            s -= A[i, m] * b[m]
        b[i] = s / A[i, i]
    for i in range(k - 1, -1, -1):
        s = b[i]
        for m in range(i + 1, k):
            s -= A[m, i] * b[m]
        b[i] = s / A[i, i]


@njit(cache=True, nogil=True, error_model="numpy")
def _weighted_ls_row(start, end, indices, data, x, Y, G, b, scale, explicit, pref):
    """Solve ``(G + sum_i w_i y_i y_i^T) x = b + sum_i t_i y_i`` over one row's entries.

    Implicit (Hu et al.): ``w_i = scale * r_i``, ``t_i = (1 + w_i) p_i`` with
    the preference ``p_i = pref[entry]`` (1 when ``pref`` is empty; the
    inverse propensity of Rel-MF otherwise); explicit: ``w_i = 1``,
    ``t_i = r_i``. ``b`` is overwritten; ``x`` receives the solution.
    """
    k = x.shape[0]
    A = G.copy()
    if end - start <= _BLOCK or np.finfo(A.dtype).eps < 1e-10:
        _add_weighted_entries(start, end, indices, data, Y, A, b, scale, explicit, pref)
    else:
        A64, b64 = A.astype(np.float64), b.astype(np.float64)
        for block in range(start, end, _BLOCK):
            A[:, :] = 0.0
            b[:] = 0.0
            _add_weighted_entries(block, min(block + _BLOCK, end), indices, data, Y, A, b,
                                  scale, explicit, pref)
            _add_lower(A64, b64, A, b)
        _copy_system(A, b, A64, b64)
    for f in range(k):
        for g in range(f):
            A[g, f] = A[f, g]
    _cholesky_solve_inplace(A, b)
    for f in range(k):
        x[f] = b[f]


@njit(cache=True, nogil=True, error_model="numpy")
def _add_lower(A64, b64, A, b):
    """One block's system into the float64 totals: ``b64 += b``, the lower triangles too."""
    for f in range(b.shape[0]):
        b64[f] += b[f]
        for g in range(f + 1):
            A64[f, g] += A[f, g]


@njit(cache=True, nogil=True, error_model="numpy")
def _copy_system(A, b, A64, b64):
    """The float64 totals back into the row's system ``A``, ``b`` (its dtype)."""
    for f in range(b.shape[0]):
        b[f] = b64[f]
        for g in range(b.shape[0]):
            A[f, g] = A64[f, g]


@njit(cache=True, nogil=True, error_model="numpy")
def _add_weighted_entries(start, end, indices, data, Y, A, b, scale, explicit, pref):
    """``A += sum_i w_i y_i y_i^T`` (lower triangle) and ``b += sum_i t_i y_i`` over the
    entries ``start`` to ``end``, weights as in :func:`_weighted_ls_row`."""
    k = b.shape[0]
    for idx in range(start, end):
        i = indices[idx]
        if explicit:
            w = 1.0
            t = data[idx]
        else:
            w = scale * data[idx]
            t = 1.0 + w
            if pref.shape[0]:
                # Rel-MF with confidence: both terms of the observed cell scale by
                # 1/theta (see the module docstring), not the target alone
                t *= pref[idx]
                w *= pref[idx]
        for f in range(k):
            yf = Y[i, f]
            b[f] += t * yf
            wy = w * yf
            for g in range(f + 1):
                A[f, g] += wy * Y[i, g]


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _dot(a, b, zero):
    """``a . b``: vectorized, in an order fixed by the length alone (the loop stores nothing)."""
    s = zero
    for f in range(a.shape[0]):
        s += a[f] * b[f]
    return s


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _symv(A, x, out):
    """``out = A @ x`` for a small dense ``A``, without allocating."""
    zero = x[0] - x[0]  # accumulate in the dtype of x
    for f in range(A.shape[0]):
        out[f] = _dot(A[f], x, zero)


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _cg_row(start, end, indices, data, x, Y, YtY, consts, cg_steps, r, p, Ap, b0, explicit,
            pref):
    """``cg_steps`` conjugate-gradient steps on one row's normal equations, from ``x``.

    The system is ``(YtY + sum_i w_i y_i y_i^T) x = b0 + sum_i t_i y_i`` with
    the weights of :func:`_weighted_ls_row` (implicit: ``w = scale * r``,
    ``t = (1 + w) p`` with ``p`` from ``pref``, 1 when it is empty;
    explicit: ``w = 1``, ``t = r``).
    """
    # scalars typed like the factors (consts = [0, 1, scale] in their dtype),
    # so that float32 loops vectorize without conversions to float64
    k = x.shape[0]
    zero = consts[0]
    # residual r = b - A x
    _symv(YtY, x, r)
    for f in range(k):
        r[f] = b0[f] - r[f]
    # a long row's entries are summed by blocks, their totals in float64 (see _BLOCK)
    long_row = end - start > _BLOCK and np.finfo(x.dtype).eps > 1e-10
    if long_row:
        _add_cg_entries_by_blocks(start, end, indices, data, x, Y, consts, explicit, pref,
                                  True, r)
    else:
        _add_cg_entries(start, end, indices, data, x, Y, consts, explicit, pref, True, r)
    for f in range(k):
        p[f] = r[f]
    rs_old = _dot(r, r, zero)
    if rs_old < _EPS:
        return
    for _ in range(cg_steps):
        _symv(YtY, p, Ap)
        if long_row:
            _add_cg_entries_by_blocks(start, end, indices, data, p, Y, consts, explicit, pref,
                                      False, Ap)
        else:
            _add_cg_entries(start, end, indices, data, p, Y, consts, explicit, pref, False, Ap)
        pAp = _dot(p, Ap, zero)
        if pAp <= 0.0:
            return
        a = rs_old / pAp
        for f in range(k):
            x[f] += a * p[f]
            r[f] -= a * Ap[f]
        rs_new = _dot(r, r, zero)
        if rs_new < _EPS:
            return
        beta = rs_new / rs_old
        for f in range(k):
            p[f] = r[f] + beta * p[f]
        rs_old = rs_new


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _add_cg_entries(start, end, indices, data, v, Y, consts, explicit, pref, residual, out):
    """The entries' part of :func:`_cg_row`'s residual (``residual``: ``out += sum_i (t_i -
    w_i y_i . v) y_i``) or of its ``A p`` (``out += sum_i w_i (y_i . v) y_i``), over the
    entries ``start`` to ``end``."""
    k = v.shape[0]
    zero, one, scale = consts[0], consts[1], consts[2]
    for idx in range(start, end):
        i = indices[idx]
        yv = _dot(Y[i], v, zero)
        if explicit:
            w = data[idx] - yv if residual else yv
        else:
            rho = pref[idx] if pref.shape[0] else one
            cm1 = scale * data[idx]
            w = ((one + cm1) - cm1 * yv) * rho if residual else cm1 * yv * rho
        for f in range(k):
            out[f] += w * Y[i, f]


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _add_cg_entries_by_blocks(start, end, indices, data, v, Y, consts, explicit, pref,
                              residual, out):
    """:func:`_add_cg_entries` by blocks of ``_BLOCK`` entries summed in ``out``'s dtype,
    the blocks' totals in float64."""
    k = v.shape[0]
    part = np.empty(k, dtype=out.dtype)
    total = np.empty(k, dtype=np.float64)
    for f in range(k):
        total[f] = out[f]
    for block in range(start, end, _BLOCK):
        part[:] = consts[0]
        _add_cg_entries(block, min(block + _BLOCK, end), indices, data, v, Y, consts, explicit,
                        pref, residual, part)
        for f in range(k):
            total[f] += part[f]
    for f in range(k):
        out[f] = total[f]


def _cg_chunks(args):
    """The chunks of ``_CG_CHUNK`` rows a CG sweep shares out (one thread's work each)."""
    return -(-(args[0].shape[0] - 1) // _CG_CHUNK)


@parallel_kernel(rows=_cg_chunks)
def als_cg_sweep(indptr, indices, data, X, Y, YtY, scale, cg_steps, pref):
    """Conjugate-gradient update of every row of ``X`` in place, warm-started.

    ``YtY`` must already include ``lambda I``. ``data`` holds the raw
    values ``r_ui``; the confidence is ``1 + scale * r_ui``; ``pref`` the
    preference of each stored entry (empty: 1). Rows are processed in
    chunks so each task allocates its work vectors once.
    """
    n_rows, k = X.shape
    consts = np.zeros(3, dtype=X.dtype)
    consts[1] = 1.0
    consts[2] = scale
    chunk = _CG_CHUNK
    n_chunks = (n_rows + chunk - 1) // chunk
    for c in prange(n_chunks):
        r = np.empty(k, dtype=X.dtype)
        p = np.empty(k, dtype=X.dtype)
        Ap = np.empty(k, dtype=X.dtype)
        b0 = np.zeros(k, dtype=X.dtype)
        for u in range(c * chunk, min(n_rows, (c + 1) * chunk)):
            start, end = indptr[u], indptr[u + 1]
            if start == end:
                X[u, :] = 0.0
                continue
            _cg_row(start, end, indices, data, X[u], Y, YtY, consts, cg_steps, r, p, Ap, b0,
                    False, pref)


@parallel_kernel
def als_cholesky_sweep(indptr, indices, data, X, Y, YtY, scale, pref):
    """Exact least-squares update of every row of ``X`` in place (Cholesky).

    Also the fold-in of new users: one exact step on fixed item factors.
    ``pref``: the preference of each stored entry (empty: 1).
    """
    n_rows, k = X.shape
    for u in prange(n_rows):
        start, end = indptr[u], indptr[u + 1]
        if start == end:
            for f in range(k):
                X[u, f] = 0.0
            continue
        b = np.zeros(k, dtype=YtY.dtype)
        _weighted_ls_row(start, end, indices, data, X[u], Y, YtY, b, scale, False, pref)


@parallel_kernel
def implicit_loss(indptr, indices, data, X, Y, YtY, scale, pref):
    """Weighted squared error of the Hu et al. objective, without the penalty.

    ``YtY`` here is the plain ``Y^T Y``: the loss over all cells is
    ``sum_u x_u^T Y^T Y x_u`` (every cell with confidence 1 and preference
    0) corrected on the non-zeros.
    """
    n_rows, k = X.shape
    # each row's term kept, then summed in row order: a sum across the threads' rows would
    # follow the thread count, and MultiTaskMF's sampler draws from this loss
    rows = np.empty(n_rows, dtype=np.float64)
    for u in prange(n_rows):
        x = X[u]
        s = x @ (YtY @ x)
        for idx in range(indptr[u], indptr[u + 1]):
            i = indices[idx]
            rho = pref[idx] if pref.shape[0] else 1.0
            # c rho (1 - pred)^2 + (1 - rho) pred^2: Rel-MF's estimate of the cell's
            # loss on relevance, with Hu et al.'s confidence on its positive term
            c = 1.0 + scale * data[idx]
            pred = 0.0
            for f in range(k):
                pred += Y[i, f] * x[f]
            s += c * rho * (1.0 - pred) ** 2 + (1.0 - rho) * pred * pred - pred * pred
        rows[u] = s
    total = 0.0
    for u in range(n_rows):
        total += rows[u]
    return total


@parallel_kernel
def explicit_als_sweep(indptr, indices, data, X, Y, bias_x, bias_y, mu, reg, reg_bias,
                       weighted, weighted_bias):
    """Biased explicit-rating ALS: update ``X`` and ``bias_x`` in place from observed entries.

    Row ``u`` solves, over its observed ratings only,
    ``min sum_i (r_ui - mu - b_i - b_u - x_u . y_i)^2 + reg_u ||x_u||^2 + reg_b_u b_u^2``
    jointly for ``(b_u, x_u)``; with ``weighted`` (``weighted_bias``) the
    penalty on the factors (the bias) is multiplied by the row's number of
    ratings (ALS-WR, Zhou et al. 2008), else it is a constant.
    """
    n_rows, k = X.shape
    for u in prange(n_rows):
        start, end = indptr[u], indptr[u + 1]
        n = end - start
        if n == 0:
            for f in range(k):
                X[u, f] = 0.0
            bias_x[u] = 0.0
            continue
        lam = reg * n if weighted else reg
        lam_b = reg_bias * n if weighted_bias else reg_bias
        A = np.zeros((k + 1, k + 1), dtype=X.dtype)
        b = np.zeros(k + 1, dtype=X.dtype)
        z = np.empty(k + 1, dtype=X.dtype)
        if n <= _BLOCK or np.finfo(X.dtype).eps < 1e-10:
            _add_biased_entries(start, end, indices, data, Y, bias_y, mu, z, A, b)
        else:  # by blocks, their totals in float64 (see _BLOCK)
            A64, b64 = A.astype(np.float64), b.astype(np.float64)
            for block in range(start, end, _BLOCK):
                A[:, :] = 0.0
                b[:] = 0.0
                _add_biased_entries(block, min(block + _BLOCK, end), indices, data, Y, bias_y,
                                    mu, z, A, b)
                _add_lower(A64, b64, A, b)
            _copy_system(A, b, A64, b64)
        A[0, 0] += lam_b
        for f in range(1, k + 1):
            A[f, f] += lam
        for f in range(k + 1):
            for g in range(f):
                A[g, f] = A[f, g]
        _cholesky_solve_inplace(A, b)
        bias_x[u] = b[0]
        for f in range(k):
            X[u, f] = b[f + 1]


@njit(cache=True, nogil=True, error_model="numpy")
def _add_biased_entries(start, end, indices, data, Y, bias_y, mu, z, A, b):
    """:func:`explicit_als_sweep`'s ``A += sum_i z_i z_i^T`` (lower triangle) and
    ``b += sum_i t_i z_i`` over the entries ``start`` to ``end``, ``z_i = (1, y_i)``."""
    k = Y.shape[1]
    z[0] = 1.0
    for idx in range(start, end):
        i = indices[idx]
        for f in range(k):
            z[f + 1] = Y[i, f]
        t = data[idx] - mu - bias_y[i]
        for f in range(k + 1):
            b[f] += t * z[f]
            for g in range(f + 1):
                A[f, g] += z[f] * z[g]


@njit(cache=True, nogil=True, error_model="numpy")
def _ridge_system(start, end, indices, data, Y, offsets, free_bias):
    """Codes ``Yc`` and targets ``rc`` of one row, their means, and the Gram matrix.

    With ``free_bias`` the codes and targets are centred (which eliminates an
    unpenalised bias) and the means returned; otherwise the means are zero.
    The Gram matrix is the ``n x n`` dual ``Yc Yc^T`` for a row with
    ``n <= k`` ratings, the ``k x k`` primal ``Yc^T Yc`` otherwise.
    """
    n, k = end - start, Y.shape[1]
    Yc = np.empty((n, k), dtype=Y.dtype)
    rc = np.empty(n, dtype=Y.dtype)
    mean_y = np.zeros(k, dtype=Y.dtype)
    mean_r = 0.0
    for j in range(n):
        i = indices[start + j]
        rc[j] = data[start + j] - offsets[i]
        for f in range(k):
            Yc[j, f] = Y[i, f]
    if free_bias:
        for j in range(n):
            mean_r += rc[j]
            for f in range(k):
                mean_y[f] += Yc[j, f]
        mean_r /= n
        for f in range(k):
            mean_y[f] /= n
        for j in range(n):
            rc[j] -= mean_r
            for f in range(k):
                Yc[j, f] -= mean_y[f]
    # BLAS (numba's np.dot) forms the Gram matrix: most of a fold-in's cost
    G = np.dot(Yc, Yc.T) if n <= k else np.dot(Yc.T, Yc)
    return Yc, rc, mean_y, mean_r, G


@njit(cache=True, nogil=True, error_model="numpy")
def _ridge_solve(Yc, rc, G, reg, x):
    """Ridge coefficients ``x`` for penalty ``reg`` from :func:`_ridge_system` (``G`` kept)."""
    n, k = Yc.shape
    A = G.copy()
    for a in range(A.shape[0]):
        A[a, a] += reg
    for f in range(k):
        x[f] = 0.0
    if n <= k:
        dual = rc.copy()
        _cholesky_solve_inplace(A, dual)  # x = Yc^T (Yc Yc^T + reg I)^-1 rc
        for j in range(n):
            for f in range(k):
                x[f] += Yc[j, f] * dual[j]
    else:
        for j in range(n):
            for f in range(k):
                x[f] += Yc[j, f] * rc[j]
        _cholesky_solve_inplace(A, x)


@parallel_kernel
def ridge_rows_sweep(indptr, indices, data, X, Y, bias_x, offsets, reg, free_bias):
    """Ridge rows on fixed codes: update ``X`` (and ``bias_x``) in place.

    Row ``u`` solves ``min sum_i (r_ui - o_i - b_u - x_u . y_i)^2 + reg ||x_u||^2``
    over its observed ratings, with ``b_u`` unpenalised if ``free_bias`` and
    ``b_u = 0`` otherwise. Eliminating ``b_u`` centres the row's targets and
    codes; a row with ``n <= k`` ratings then solves the ``n x n`` dual
    ``x = Yc^T (Yc Yc^T + reg I)^-1 rc`` (cost ``O(n^2 k + n^3)`` instead of
    ``O(n k^2 + k^3)``), a longer row the ``k x k`` primal. ``reg`` must be
    positive.
    """
    n_rows, k = X.shape
    for u in prange(n_rows):
        start, end = indptr[u], indptr[u + 1]
        x = np.zeros(k, dtype=X.dtype)
        b = 0.0
        if end > start:
            Yc, rc, mean_y, mean_r, G = _ridge_system(start, end, indices, data, Y, offsets,
                                                      free_bias)
            _ridge_solve(Yc, rc, G, reg, x)
            b = mean_r
            for f in range(k):
                b -= mean_y[f] * x[f]
        for f in range(k):
            X[u, f] = x[f]
        bias_x[u] = b


@parallel_kernel
def ridge_rows_path(indptr, indices, data, Y, offsets, regs, free_bias, q_indptr, q_indices,
                    out):
    """Predictions of :func:`ridge_rows_sweep` rows at query entries, for several penalties.

    ``out[r, q]`` is ``o_j + b_u + x_u . y_j`` for the query entry ``q`` (row
    ``u`` of the CSR structure ``q_indptr``/``q_indices``, column ``j``) with
    the row solved under ``regs[r]``. Each row's Gram matrix is formed and
    diagonalised once, ``G = Q diag(w) Q^T``, so each penalty costs one
    ``Q diag(1 / (w + reg)) Q^T`` product instead of a factorisation.
    """
    n_rows, k = indptr.shape[0] - 1, Y.shape[1]
    for u in prange(n_rows):
        qs, qe = q_indptr[u], q_indptr[u + 1]
        if qe == qs:
            continue
        start, end = indptr[u], indptr[u + 1]
        if end == start:
            for r in range(regs.shape[0]):
                for q in range(qs, qe):
                    out[r, q] = offsets[q_indices[q]]
            continue
        Yc, rc, mean_y, mean_r, G = _ridge_system(start, end, indices, data, Y, offsets,
                                                  free_bias)
        dual = end - start <= k
        w, Q = np.linalg.eigh(G)
        # ridge target in the eigenbasis: rc (dual) or Yc^T rc (primal)
        s = np.dot(Q.T, rc) if dual else np.dot(Q.T, np.dot(Yc.T, rc))
        Yq = np.empty((qe - qs, k), dtype=Y.dtype)
        for q in range(qs, qe):
            Yq[q - qs] = Y[q_indices[q]]
        for r in range(regs.shape[0]):
            z = np.dot(Q, s / (np.maximum(w, 0.0) + regs[r]))
            x = np.dot(Yc.T, z) if dual else z
            b = mean_r - np.dot(mean_y, x)
            pred = np.dot(Yq, x)
            for q in range(qs, qe):
                out[r, q] = offsets[q_indices[q]] + b + pred[q - qs]


@parallel_kernel
def prior_ls_sweep(indptr, indices, data, X, Y, G, prior, reg_prior, scale, explicit,
                   prior_weights):
    """Least squares with a Gaussian prior mean: update every row of ``X`` in place.

    Row ``u`` solves ``(G + (w_u - 1) reg_prior I + sum_i c_i y_i y_i^T) x_u =
    sum_i t_i y_i + w_u reg_prior prior[u]`` over its entries ``i``: the
    minimiser of its squared errors plus ``w_u reg_prior ||x_u - prior[u]||^2``
    when ``G`` holds ``reg_prior I``. ``w_u = prior_weights[u]``, or 1 for
    every row when ``prior_weights`` is empty (Kim et al.'s code weights an
    item's prior by the square root of its rating count). Explicit ratings
    (``explicit``): ``c_i = 1``, ``t_i = r_ui`` and ``G = lambda I`` (a ridge
    on the observed entries only). Implicit feedback: ``c_i = scale * r_ui``,
    ``t_i = 1 + scale * r_ui`` and ``G = Y^T Y + lambda I`` (Hu et al.). The
    prior term is ConvMF's pull of an item's factors towards the CNN output
    of its document (Kim et al. 2016); a row without entries gets
    ``G^{-1} reg_prior prior[u]``, which is ``prior[u]`` itself for explicit
    ratings with ``reg_prior = lambda``.
    """
    n_rows, k = X.shape
    weighted = prior_weights.shape[0] > 0
    for u in prange(n_rows):
        w = prior_weights[u] if weighted else 1.0
        b = np.empty(k, dtype=G.dtype)
        for f in range(k):
            b[f] = reg_prior * w * prior[u, f]
        if weighted:
            Gu = G.copy()
            for f in range(k):
                Gu[f, f] += reg_prior * (w - 1.0)
            _weighted_ls_row(indptr[u], indptr[u + 1], indices, data, X[u], Y, Gu, b, scale,
                             explicit, b[:0])
        else:
            _weighted_ls_row(indptr[u], indptr[u + 1], indices, data, X[u], Y, G, b, scale,
                             explicit, b[:0])


@parallel_kernel(rows=_cg_chunks)
def prior_cg_sweep(indptr, indices, data, X, Y, G, prior, reg_prior, scale, explicit,
                   cg_steps, prior_weights):
    """:func:`prior_ls_sweep` solved inexactly by warm-started conjugate gradient.

    ``cg_steps`` steps per row from the current ``X`` (Takacs et al. 2011);
    the cost is linear in the row's entries, where the exact solve is cubic
    in the number of factors. ``G`` must have the dtype of ``X``.
    """
    n_rows, k = X.shape
    consts = np.zeros(3, dtype=X.dtype)
    consts[1] = 1.0
    consts[2] = scale
    chunk = _CG_CHUNK
    n_chunks = (n_rows + chunk - 1) // chunk
    weighted = prior_weights.shape[0] > 0
    for c in prange(n_chunks):
        r = np.empty(k, dtype=X.dtype)
        p = np.empty(k, dtype=X.dtype)
        Ap = np.empty(k, dtype=X.dtype)
        b0 = np.empty(k, dtype=X.dtype)
        Gu = np.empty_like(G)
        for u in range(c * chunk, min(n_rows, (c + 1) * chunk)):
            w = prior_weights[u] if weighted else 1.0
            for f in range(k):
                b0[f] = reg_prior * w * prior[u, f]
            if weighted:
                Gu[:] = G
                for f in range(k):
                    Gu[f, f] += reg_prior * (w - 1.0)
                _cg_row(indptr[u], indptr[u + 1], indices, data, X[u], Y, Gu, consts,
                        cg_steps, r, p, Ap, b0, explicit, b0[:0])
            else:
                _cg_row(indptr[u], indptr[u + 1], indices, data, X[u], Y, G, consts,
                        cg_steps, r, p, Ap, b0, explicit, b0[:0])


def fold_in_contributions(V, x, v_item, alpha, confidence_scale, *, explicit=False,
                          offset=0.0, preference=None, gram_items=None):
    """Exact decomposition of a least-squares fold-in score over the user's items.

    The fold-in of one user row ``x`` (validated CSR) against item factors
    ``V`` solves ``A u = sum_j t_j v_j``, so the score ``v_item . u`` of an
    item with factors ``v_item`` is ``sum_j t_j v_item^T A^-1 v_j``: item
    ``j`` contributes its term (Hu et al. 2008, section 5). Implicit feedback:
    see :func:`fold_in_system`. Explicit ratings (``explicit``): ``A = sum_j
    v_j v_j^T + alpha I`` and ``t_j = x_j - offset`` (the ratings centred on
    ``offset``, a number or one value per item).

    Returns
    -------
    items : ndarray of int64
        The user's items, largest contribution first.
    contributions : ndarray of float64
    """
    if explicit:
        Yu = np.asarray(V[x.indices], dtype=np.float64)  # the rows read, not all of V
        A = Yu.T @ Yu
        A[np.diag_indices_from(A)] += alpha
        weights = (x.data.astype(np.float64)
                   - (offset[x.indices] if np.ndim(offset) else offset))
    else:
        A, Yu, weights = fold_in_system(V, x, alpha, confidence_scale, preference=preference,
                                        gram_items=gram_items)
    try:
        w = np.linalg.solve(A, np.asarray(v_item, dtype=np.float64))
        contrib = (Yu @ w) * weights
    except np.linalg.LinAlgError:
        # confidences of ~1e39 swamp the rest of A: singular in floating point
        contrib = np.full(x.nnz, np.nan)
    if not np.isfinite(contrib).all():
        raise FloatingPointError(
            "explain: the fold-in of this row cannot be solved in floating point (its "
            f"largest value is {np.abs(x.data).max():.3g}): scale the values of X down "
            "(e.g. np.log1p or RatingBinarizer), before fit too.")
    order = np.argsort(-contrib, kind="stable")
    return x.indices[order].astype(np.int64), contrib[order]


def fold_in_system(V, x, alpha, confidence_scale, *, preference=None, gram_items=None,
                   gram=None):
    """The implicit-feedback fold-in of one user row ``x``: ``A u = Yu^T t``.

    ``A = V_g^T V_g + sum_j ((c_j - 1) p_j + [j not in g]) v_j v_j^T + alpha I``
    and ``t_j = c_j p_j``, with ``c_j = 1 + confidence_scale * x_j``,
    preference ``p_j`` (1, or ``preference``) and ``g`` the items of the
    shared Gram (``gram_items``, a mask; None: all). An item outside the
    Gram (one nobody had in fit: unknown, not a negative of every user)
    enters only the rows that hold it, with its whole term ``c_j v_j v_j^T``.
    ``gram``: ``V_g^T V_g`` (float64) where the caller folds in many rows, so
    that it is formed once rather than per row.

    Returns
    -------
    A : ndarray of shape (k, k)
    Yu : ndarray of shape (n_user_items, k)
        The factors of the row's items.
    t : ndarray of shape (n_user_items,)
    """
    Yu = np.asarray(V[x.indices], dtype=np.float64)  # the rows read, not all of V
    c = 1.0 + confidence_scale * x.data.astype(np.float64)
    rho = 1.0 if preference is None else preference
    extra = (c - 1.0) * rho
    if gram is not None:
        A = np.array(gram, dtype=np.float64)
    elif gram_items is None:
        V = np.asarray(V, dtype=np.float64)
        A = V.T @ V
    else:
        V = np.asarray(V[gram_items], dtype=np.float64)
        A = V.T @ V
    if gram_items is not None:
        extra = extra + ~gram_items[x.indices]
    A += (Yu.T * extra) @ Yu
    A[np.diag_indices_from(A)] += alpha
    return A, Yu, c * rho


@njit(cache=True, nogil=True, error_model="numpy")
def _add_draw(A, b, noise):
    """``b += L^-T noise`` after :func:`_cholesky_solve_inplace` (``A``: ``L``, ``b``: the mean).

    With ``noise`` standard normal the result is a draw of ``N(mean, A^-1)``.
    """
    k = b.shape[0]
    d = noise.copy()
    for f in range(k - 1, -1, -1):
        s = d[f]
        for g in range(f + 1, k):
            s -= A[g, f] * d[g]
        d[f] = s / A[f, f]
    for f in range(k):
        b[f] += d[f]


@parallel_kernel
def joint_user_sweep(indptr, indices, data, P, bias_p, Q, bias_q, Y, YtY, mu, pen_n, weight,
                     scale, prior_mean, prior_precision, tau, noise, sample):
    """Rating and ranking least squares sharing the user factors: update ``P``, ``bias_p``.

    Row ``u``'s ``z = (b_u, p_u)`` gets the minimiser (or, with ``sample``,
    a draw of the Gaussian whose negative log-density it is, up to a
    constant) of half of
    ``tau * sum_{i rated} (r_ui - mu - b_i - b_u - p_u . q_i)^2
    + weight * sum_i c_ui (s_ui - p_u . y_i)^2
    + sum_f pen_n[f] * n_u * p_uf^2
    + (z - prior_mean)^T prior_precision (z - prior_mean)``
    with ``s_ui = 1`` and ``c_ui = 1 + scale * r_ui`` on the rated items,
    ``s = 0`` and ``c = 1`` elsewhere (Hu et al.'s implicit objective on
    "rated or not", more confident for higher ratings). ``YtY`` is the plain
    ``Y^T Y``. A factor ``f`` that is zero in every ``q_i`` (``y_i``) belongs
    to the ranking (rating) task alone. The penalised fit (ALS) is
    ``prior_mean = 0``, a diagonal ``prior_precision`` (the bias penalty,
    then the constant factor penalties) and ``tau = 1``; its rows without
    ratings get 0. The Gibbs sampler's user step is ``pen_n = 0``, the
    Normal-Wishart draw as prior and ``sample`` (``noise`` standard normal,
    shape ``(n_rows, k + 1)``; ignored without ``sample``).
    """
    n_rows, k = P.shape
    K = k + 1
    pb = prior_precision @ prior_mean
    prior_is_zero = True
    for f in range(K):
        if prior_mean[f] != 0.0:
            prior_is_zero = False
    for u in prange(n_rows):
        start, end = indptr[u], indptr[u + 1]
        n = end - start
        if n == 0 and prior_is_zero and not sample:
            for f in range(k):
                P[u, f] = 0.0
            bias_p[u] = 0.0
            continue
        A = prior_precision.copy()
        b = pb.copy()
        z = np.empty(K, dtype=P.dtype)
        z[0] = 1.0
        for f in range(k):
            for g in range(f + 1):
                A[f + 1, g + 1] += weight * YtY[f, g]
        for idx in range(start, end):
            i = indices[idx]
            for f in range(k):
                z[f + 1] = Q[i, f]
            t = tau * (data[idx] - mu - bias_q[i])
            for f in range(K):
                b[f] += t * z[f]
                tz = tau * z[f]
                for g in range(f + 1):
                    A[f, g] += tz * z[g]
            c = scale * data[idx]
            for f in range(k):
                yf = Y[i, f]
                b[f + 1] += weight * (1.0 + c) * yf
                wy = weight * c * yf
                for g in range(f + 1):
                    A[f + 1, g + 1] += wy * Y[i, g]
        for f in range(k):
            A[f + 1, f + 1] += pen_n[f] * n
        for f in range(K):
            for g in range(f):
                A[g, f] = A[f, g]
        _cholesky_solve_inplace(A, b)
        if sample:
            _add_draw(A, b, noise[u])
        bias_p[u] = b[0]
        for f in range(k):
            P[u, f] = b[f + 1]


@parallel_kernel
def implicit_gaussian_sweep(indptr, indices, data, X, Y, YtY, scale, weight, prior_mean,
                            prior_precision, noise):
    """Draw each row of ``X`` from its Gaussian posterior under Hu et al.'s objective.

    The likelihood is ``weight * sum_i c_ui (s_ui - x_u . y_i)^2 / 2`` (the
    implicit objective of the module docstring as a Gaussian with precision
    ``weight * c_ui`` per cell) and the prior ``N(prior_mean,
    prior_precision^-1)``: the posterior has precision ``prior_precision +
    weight * (Y^T Y + sum_i (c_ui - 1) y_i y_i^T)`` and mean its inverse
    times ``prior_precision prior_mean + weight * sum_i c_ui y_i``; row
    ``u`` becomes the mean plus ``L^-T noise[u]``. ``YtY`` is the plain
    ``Y^T Y``. The ranking item step of :class:`MultiTaskMF`'s sampler.
    """
    n_rows, k = X.shape
    pb = prior_precision @ prior_mean
    for u in prange(n_rows):
        A = prior_precision + weight * YtY
        b = pb.copy()
        for idx in range(indptr[u], indptr[u + 1]):
            i = indices[idx]
            c = scale * data[idx]
            for f in range(k):
                yf = Y[i, f]
                b[f] += weight * (1.0 + c) * yf
                wy = weight * c * yf
                for g in range(k):
                    A[f, g] += wy * Y[i, g]
        _cholesky_solve_inplace(A, b)
        _add_draw(A, b, noise[u])
        for f in range(k):
            X[u, f] = b[f]


@parallel_kernel
def gaussian_posterior_sweep(indptr, indices, data, X, bias_x, Y, bias_y, mu, prior_mean,
                             prior_precision, tau, noise, sample):
    """Gaussian posterior of each row's ``(b_u, x_u)`` in biased MF: its mean or a draw.

    With ratings ``r_ui = mu + b_u + b_i + x_u . y_i + e`` (noise precision
    ``tau``) on the row's observed entries and the prior
    ``(b_u, x_u) ~ N(prior_mean, prior_precision^-1)``, the posterior given
    ``Y`` and ``bias_y`` is Gaussian with precision
    ``A = prior_precision + tau sum_i w_i w_i^T`` (``w_i = (1, y_i)``) and
    mean ``A^-1 (prior_precision prior_mean + tau sum_i w_i t_i)``,
    ``t_i = r_ui - mu - b_i``. ``sample``: write ``mean + L^-T noise[u]``
    (``A = L L^T``, ``noise`` standard normal, shape ``(n_rows, k + 1)``),
    a draw of the Gibbs sampler of Bayesian MF (Salakhutdinov & Mnih 2008);
    otherwise the mean (fold-in). Rows without entries get the prior.
    """
    n_rows, k = X.shape
    K = k + 1
    pb = prior_precision @ prior_mean
    for u in prange(n_rows):
        A = prior_precision.copy()
        b = pb.copy()
        z = np.empty(K, dtype=X.dtype)
        z[0] = 1.0
        for idx in range(indptr[u], indptr[u + 1]):
            i = indices[idx]
            for f in range(k):
                z[f + 1] = Y[i, f]
            t = tau * (data[idx] - mu - bias_y[i])
            for f in range(K):
                b[f] += t * z[f]
                tz = tau * z[f]
                for g in range(f + 1):
                    A[f, g] += tz * z[g]
        for f in range(K):
            for g in range(f):
                A[g, f] = A[f, g]
        _cholesky_solve_inplace(A, b)  # A holds L below its diagonal, b the mean
        if sample:
            _add_draw(A, b, noise[u])
        bias_x[u] = b[0]
        for f in range(k):
            X[u, f] = b[f + 1]
