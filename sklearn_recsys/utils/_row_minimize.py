"""Minimise one smooth function per row, all rows at once: L-BFGS with a per-row line search.

A fold-in that has no closed form (CDAE's user node) solves a small problem
per user. Fixed-step or Barzilai-Borwein gradient steps need not converge on
a non-convex loss, and a row that has not converged gets scores that depend on
rounding, hence on which rows share its batch. Here every row takes L-BFGS
directions (Nocedal & Wright 2006, algorithm 7.4) and its own backtracking
(Armijo) step, so its loss never increases, and stops at its own tolerance:
its iterations depend on its own data only, whatever the batch (up to the
BLAS rounding of the products ``fun`` computes, about 1e-16 in float64).
"""

import numpy as np

__all__ = ["minimize_rows"]

_ARMIJO = 1e-4
_MAX_HALVINGS = 40


def minimize_rows(fun, x0, *, max_iter, initial_step, gtol=1e-7, memory=10):
    """Minimise ``fun`` independently for each row of ``x0``.

    Parameters
    ----------
    fun : callable
        ``fun(x, rows) -> (f, g)``: the loss of each row of ``x`` (shape
        ``(len(rows),)``) and its gradient (``x``'s shape), ``x`` holding
        the points of rows ``rows`` of the problem.
    x0 : ndarray of shape (n_rows, n_dims)
        Starting points, float64.
    max_iter : int
        Iterations at most per row.
    initial_step : float
        Step along the negative gradient of the first iteration (before any
        curvature is known), e.g. the inverse of a curvature bound.
    gtol : float, default=1e-7
        A row stops when its gradient norm is at most ``gtol`` times
        ``1 + `` its norm at ``x0``, or when its loss stops decreasing.
    memory : int, default=10
        Correction pairs kept per row.

    Returns
    -------
    x : ndarray of shape (n_rows, n_dims)
    converged : ndarray of bool of shape (n_rows,)
        Rows that met the gradient tolerance (or could decrease no further).
    """
    x = np.array(x0, dtype=np.float64)
    n, d = x.shape
    every = np.arange(n)
    f, g = fun(x, every)
    tol = gtol * (1.0 + np.linalg.norm(g, axis=1))
    converged = np.linalg.norm(g, axis=1) <= tol
    # one ring of correction pairs shared by the rows: a row whose pair fails the
    # curvature condition stores zeros with rho = 0, which the recursion ignores
    S = np.zeros((memory, n, d))
    Yd = np.zeros((memory, n, d))
    rho = np.zeros((memory, n))
    gamma = np.full(n, float(initial_step))
    slot = 0
    for it in range(max_iter):
        act = np.flatnonzero(~converged)
        if act.size == 0:
            break
        stored = min(it, memory)  # slots written so far: the others hold nothing yet
        p = -_two_loop(g[act], S[:, act], Yd[:, act], rho[:, act], gamma[act], slot, memory,
                       stored)
        slope = np.einsum("ij,ij->i", g[act], p)
        uphill = slope >= 0  # cannot happen with rho > 0; guard against rounding
        if uphill.any():
            p[uphill] = -gamma[act][uphill, None] * g[act][uphill]
            slope[uphill] = np.einsum("ij,ij->i", g[act][uphill], p[uphill])
        t = np.ones(act.size)
        x_new, f_new, g_new = x[act].copy(), f[act].copy(), g[act].copy()
        accepted = np.zeros(act.size, dtype=bool)
        pending = np.arange(act.size)
        for _ in range(_MAX_HALVINGS):
            trial = x[act[pending]] + t[pending, None] * p[pending]
            f_t, g_t = fun(trial, act[pending])
            ok = f_t <= f[act[pending]] + _ARMIJO * t[pending] * slope[pending]
            done = pending[ok]
            x_new[done], f_new[done], g_new[done] = trial[ok], f_t[ok], g_t[ok]
            accepted[done] = True
            pending = pending[~ok]
            if pending.size == 0:
                break
            t[pending] *= 0.5
        s, y = x_new - x[act], g_new - g[act]
        sy = np.einsum("ij,ij->i", s, y)
        curved = accepted & (sy > 1e-12 * np.einsum("ij,ij->i", s, s).clip(1e-300))
        S[slot, act] = np.where(curved[:, None], s, 0.0)
        Yd[slot, act] = np.where(curved[:, None], y, 0.0)
        rho[slot, act] = np.where(curved, 1.0 / np.where(curved, sy, 1.0), 0.0)
        # without positive curvature along the step (a non-convex region) the
        # scale grows, so a row leaves a plateau or a saddle in a few steps
        # instead of crawling at the first step's size; the line search halves
        # what is too long
        gamma[act] = np.where(curved, sy / np.maximum(np.einsum("ij,ij->i", y, y), 1e-300),
                              np.where(accepted, 4.0 * gamma[act], gamma[act]))
        slot = (slot + 1) % memory
        stalled = ~accepted | (f[act] - f_new <= 1e-15 * (1.0 + np.abs(f_new)))
        x[act], f[act], g[act] = x_new, f_new, g_new
        converged[act] = stalled | (np.linalg.norm(g_new, axis=1) <= tol[act])
    met = np.linalg.norm(g, axis=1) <= tol
    return x, met | converged


def _two_loop(g, S, Yd, rho, gamma, slot, memory, stored):
    """L-BFGS's two-loop recursion: the inverse-Hessian estimate times ``g``, per row."""
    q = g.copy()
    newest_first = [(slot - 1 - j) % memory for j in range(stored)]
    alphas = []
    for j in newest_first:
        a = rho[j] * np.einsum("ij,ij->i", S[j], q)
        q -= a[:, None] * Yd[j]
        alphas.append(a)
    r = gamma[:, None] * q
    for j, a in zip(reversed(newest_first), reversed(alphas)):
        beta = rho[j] * np.einsum("ij,ij->i", Yd[j], r)
        r += S[j] * (a - beta)[:, None]
    return r
