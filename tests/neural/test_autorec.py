"""AutoRec: observed-entry loss, the I-AutoRec ridge fold-in against a dense solve, U-AutoRec
forward pass, held-out ratings recovered."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from sklearn_recsys import AutoRec
from sklearn_recsys.metrics import make_rating_scorer
from sklearn_recsys.model_selection import holdout_split

pytest.importorskip("tensorflow")


def _ratings(n_users=300, n_items=80, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    U, V = rng.normal(0, 1, (n_users, 2)), rng.normal(0, 1, (n_items, 2))
    R = np.clip(np.rint(3 + U @ V.T + rng.normal(0, 0.3, (n_users, 1))), 1, 5)
    return sp.csr_matrix(R * (rng.random(R.shape) < density))


def test_item_autorec_fold_in_is_the_ridge_solution_on_item_codes():
    X = _ratings()
    model = AutoRec(n_components=6, max_iter=3, early_stopping=False, random_state=0).fit(X)
    assert model.fold_in_alpha_ == pytest.approx(model.alpha / 2)
    H = model.item_codes_
    x = X[7]
    Z = np.c_[np.ones(x.nnz), H[x.indices]]
    A = Z.T @ Z + np.diag([1e-8] + [model.fold_in_alpha_] * 6)
    sol = np.linalg.solve(A, Z.T @ x.data)
    expected = np.clip(sol[0] + H @ sol[1:], *model.rating_range_)
    assert_allclose(model.predict_ratings(x)[0], expected, rtol=1e-6, atol=1e-6)


def test_user_autorec_forward_pass():
    X = _ratings()
    model = AutoRec(kind="user", n_components=6, max_iter=3, early_stopping=False,
                    random_state=0).fit(X)
    V, W = model.coefs_
    mu, b = model.intercepts_
    dense = X[:5].toarray()
    raw = (1 / (1 + np.exp(-(dense @ V + mu)))) @ W + b
    assert_allclose(model.decision_function(X[:5]), raw, rtol=1e-5, atol=1e-5)
    assert_allclose(model.predict_ratings(X[:5], items=[1, 4]),
                    np.clip(raw[:, [1, 4]], 1, 5), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["item", "user"])
def test_recovers_held_out_ratings(kind):
    X = _ratings(400, 60, density=0.5)
    X_in, X_out = holdout_split(X, test_size=0.2, random_state=0)
    model = AutoRec(kind=kind, n_components=20, alpha=1.0, max_iter=150, batch_size=32,
                    n_iter_no_change=10, random_state=0).fit(X_in)
    rmse = -make_rating_scorer("rmse")(model, X_in, X_out)
    baseline = np.sqrt(np.mean((X_out.data - X_in.data.mean()) ** 2))
    assert rmse < 0.75 * baseline
    assert model.best_iteration_ == int(np.argmin(model.validation_scores_)) + 1
