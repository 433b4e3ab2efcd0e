"""minimize_rows: per-row L-BFGS reaches each row's minimum, whatever the other rows."""

import numpy as np
from scipy.optimize import minimize

from sklearn_recsys.utils._row_minimize import minimize_rows


def _rosenbrock(a, b):
    """Row-wise Rosenbrock functions (a_r - x)^2 + b_r (y - x^2)^2: minimum (a_r, a_r^2)."""
    def fun(x, rows):
        u, w = x[:, 0], x[:, 1]
        f = (a[rows] - u) ** 2 + b[rows] * (w - u ** 2) ** 2
        g = np.column_stack([-2 * (a[rows] - u) - 4 * b[rows] * u * (w - u ** 2),
                             2 * b[rows] * (w - u ** 2)])
        return f, g
    return fun


def test_each_row_reaches_its_own_minimum_of_a_non_convex_function():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-2, 2, 40), rng.uniform(1, 100, 40)
    x0 = rng.normal(size=(40, 2))
    x, converged = minimize_rows(_rosenbrock(a, b), x0, max_iter=500, initial_step=1e-3,
                                 gtol=1e-11)
    assert converged.all()
    np.testing.assert_allclose(x, np.column_stack([a, a ** 2]), atol=1e-5)
    # the same rows alone and in another batch: the same answers
    alone = np.vstack([minimize_rows(_rosenbrock(a[[r]], b[[r]]), x0[[r]], max_iter=500,
                                     initial_step=1e-3, gtol=1e-11)[0] for r in range(5)])
    np.testing.assert_array_equal(alone, x[:5])


def test_agrees_with_scipy_and_stops_at_max_iter():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(3, 6, 6))
    H = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(6)  # three convex quadratics
    c = rng.normal(size=(3, 6))

    def fun(x, rows):
        Hx = np.einsum("rij,rj->ri", H[rows], x)
        return 0.5 * np.einsum("ri,ri->r", x, Hx) - np.einsum("ri,ri->r", c[rows], x), \
            Hx - c[rows]

    x, converged = minimize_rows(fun, np.zeros((3, 6)), max_iter=200, initial_step=0.01)
    assert converged.all()
    for r in range(3):
        ref = minimize(lambda v: fun(v[None], np.array([r]))[0][0], np.zeros(6),
                       jac=lambda v: fun(v[None], np.array([r]))[1][0], method="BFGS",
                       options={"gtol": 1e-10})
        np.testing.assert_allclose(x[r], ref.x, rtol=1e-5, atol=1e-6)
    _, converged = minimize_rows(fun, np.zeros((3, 6)), max_iter=1, initial_step=0.01)
    assert not converged.any()
