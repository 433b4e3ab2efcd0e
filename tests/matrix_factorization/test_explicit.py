"""ExplicitMF: observed-entries objective against a dense reference, fold-in, rating scorer."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from sklearn_recsys import ExplicitMF
from sklearn_recsys.metrics import make_rating_scorer
from sklearn_recsys.model_selection import holdout_split


def _ratings(n_users=80, n_items=40, density=0.4, seed=0):
    rng = np.random.default_rng(seed)
    U, V = rng.normal(0, 1, (n_users, 2)), rng.normal(0, 1, (n_items, 2))
    R = np.clip(np.rint(3 + U @ V.T + rng.normal(0, 0.3, (n_users, 1))), 1, 5)
    return sp.csr_matrix(R * (rng.random(R.shape) < density))


def _dense_reference(R, U, V, bu, bi, mu, lam, lam_b, n_iter):
    """Exact alternating solves on observed entries: factor penalty per rating, bias constant."""
    M = R > 0
    k = U.shape[1]
    for _ in range(n_iter):
        for i in range(R.shape[1]):
            obs = M[:, i]
            Z = np.c_[np.ones(obs.sum()), U[obs]]
            n = obs.sum()
            A = Z.T @ Z + np.diag([lam_b] + [lam * n] * k)
            sol = np.linalg.solve(A, Z.T @ (R[obs, i] - mu - bu[obs])) if n else np.zeros(k + 1)
            bi[i], V[i] = sol[0], sol[1:]
        for u in range(R.shape[0]):
            obs = M[u]
            Z = np.c_[np.ones(obs.sum()), V[obs]]
            n = obs.sum()
            A = Z.T @ Z + np.diag([lam_b] + [lam * n] * k)
            sol = np.linalg.solve(A, Z.T @ (R[u, obs] - mu - bi[obs])) if n else np.zeros(k + 1)
            bu[u], U[u] = sol[0], sol[1:]
    return U, V, bu, bi


def test_matches_dense_reference_on_observed_entries():
    X = _ratings()
    model = ExplicitMF(n_components=3, alpha=0.05, alpha_bias=2.0, max_iter=4,
                       dtype=np.float64, random_state=0)
    init = ExplicitMF(**model.get_params())
    init.alpha_ = init.alpha  # what _fit sets before the engine runs
    init._init_fit(init._make_context(X))  # the engine's context, as fit makes it
    model.fit(X)
    U, V, bu, bi = _dense_reference(X.toarray(), init.user_factors_.copy(),
                                    init.item_factors_.copy(), np.zeros(80), np.zeros(40),
                                    X.data.mean(), 0.05, 2.0, 4)
    assert_allclose(model.user_factors_, U, atol=1e-9)
    assert_allclose(model.item_factors_, V, atol=1e-9)
    assert_allclose(model.user_bias_, bu, atol=1e-9)
    assert_allclose(model.item_bias_, bi, atol=1e-9)


def test_zeros_are_missing_not_ratings():
    # every observed rating is 4 or 5: a model that read the zeros as
    # ratings would predict far below 4 for unobserved cells
    rng = np.random.default_rng(1)
    R = rng.choice([4.0, 5.0], size=(50, 30)) * (rng.random((50, 30)) < 0.3)
    model = ExplicitMF(n_components=2, random_state=0).fit(R)
    pred = model.predict_ratings(R)
    assert pred.min() >= 4.0 - 1e-6
    assert model.rating_range_ == (4.0, 5.0)


def test_fold_in_reproduces_training_users():
    X = _ratings()
    model = ExplicitMF(n_components=3, dtype=np.float64, random_state=0).fit(X)
    assert_allclose(model.transform(X), model.user_factors_, atol=1e-10)
    expected = (model.global_mean_ + model.user_bias_[:, None] + model.item_bias_
                + model.user_factors_ @ model.item_factors_.T)
    assert_allclose(model.predict_ratings(X), np.clip(expected, 1, 5), atol=1e-10)
    assert_allclose(model.predict_ratings(X, items=[3, 1]), np.clip(expected[:, [3, 1]], 1, 5),
                    atol=1e-10)


def test_recovers_held_out_ratings_better_than_the_mean():
    X = _ratings(200, 60, density=0.5)
    X_in, X_out = holdout_split(X, holdout=0.2, random_state=0)
    model = ExplicitMF(n_components=4, random_state=0).fit(X_in)
    rmse = -make_rating_scorer("rmse")(model, X_in, X_out)
    baseline = np.sqrt(np.mean((X_out.data - X_in.data.mean()) ** 2))
    assert rmse < 0.6 * baseline


def test_rating_scorer_hand_computed():
    class Constant:
        def predict_ratings(self, X, items):
            return np.tile(np.asarray(items, dtype=float), (X.shape[0], 1))

    X = sp.csr_matrix(np.array([[5.0, 0, 0], [0, 3.0, 0]]))
    y = sp.csr_matrix(np.array([[0, 2.0, 4.0], [1.0, 0, 0]]))
    # predictions = item index: errors (1-2), (2-4), (0-1) -> -1, -2, -1
    assert make_rating_scorer("rmse")(Constant(), X, y) == pytest.approx(-np.sqrt(6 / 3))
    assert make_rating_scorer("mae")(Constant(), X, y) == pytest.approx(-4 / 3)
    with pytest.raises(TypeError, match="does not predict ratings"):
        make_rating_scorer()(object(), X, y)
    with pytest.raises(ValueError, match="Unknown rating metric"):
        make_rating_scorer("r2")


def test_grid_search_and_cross_validate_with_rating_scorers():
    X = _ratings(150, 40)
    search = GridSearchCV(ExplicitMF(n_components=2, random_state=0),
                          {"alpha": [0.001, 0.1]}, scoring=make_rating_scorer("rmse"),
                          cv=KFold(3, shuffle=True, random_state=0)).fit(X)
    assert np.all(search.cv_results_["mean_test_score"] < 0)
    res = cross_validate(ExplicitMF(n_components=2, random_state=0), X, cv=3,
                         scoring={"rmse": make_rating_scorer("rmse"),
                                  "mae": make_rating_scorer("mae")})
    assert np.all(-res["test_rmse"] >= -res["test_mae"])


def test_auto_alpha_falls_back_to_the_biases_where_factors_do_not_help():
    # ratings = mean + user bias + item bias + noise: nothing for factors to learn
    rng = np.random.default_rng(0)
    bu, bi = rng.normal(0, 0.5, 500), rng.normal(0, 0.5, 150)
    R = np.clip(np.rint(3.5 + bu[:, None] + bi + rng.normal(0, 0.8, (500, 150))), 1, 5)
    X = sp.csr_matrix(R * (rng.random(R.shape) < 0.1))
    model = ExplicitMF(random_state=0).fit(X)
    assert model.alpha_ == np.inf
    assert not model.item_factors_.any() and not model.transform(X[:5]).any()
    # the bias-only model by hand: alternating constant-penalty bias solves
    R, M = X.toarray(), X.toarray() > 0
    mu, b_u, b_i = X.data.mean(), np.zeros(500), np.zeros(150)
    for _ in range(15):
        b_i = ((R - mu - b_u[:, None]) * M).sum(0) / (M.sum(0) + 3.0)
        b_u = ((R - mu - b_i) * M).sum(1) / (M.sum(1) + 3.0)
    assert_allclose(model.item_bias_, b_i, atol=1e-4)
    assert_allclose(model.user_bias_, b_u, atol=1e-4)


def test_auto_alpha_keeps_factors_where_they_help():
    X = _ratings(300, 100, density=0.3)
    model = ExplicitMF(n_components=4, random_state=0).fit(X)
    assert model.alpha_ < 0.5
    X_in, X_out = holdout_split(X, holdout=0.2, random_state=1)
    rmse = make_rating_scorer("rmse")
    auto = -rmse(ExplicitMF(n_components=4, random_state=0).fit(X_in), X_in, X_out)
    biases = -rmse(ExplicitMF(n_components=4, alpha=np.inf, random_state=0).fit(X_in), X_in,
                   X_out)
    assert auto < biases - 0.05


def test_auto_alpha_without_ratings_to_hold_out_uses_the_middle_value(recwarn):
    X = sp.csr_matrix(np.diag([4.0, 3.0, 5.0, 2.0, 4.0]))  # one rating per user
    assert ExplicitMF(n_components=2, random_state=0).fit(X).alpha_ == 0.12
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("alpha", [0.1, np.inf])
def test_explain_is_the_exact_decomposition_of_the_fold_in(alpha):
    rng = np.random.default_rng(0)
    X = sp.random(120, 40, density=0.3, format="csr", random_state=0)
    X.data = rng.integers(1, 6, X.nnz).astype(float)
    model = ExplicitMF(n_components=5, alpha=alpha, max_iter=5, dtype=np.float64,
                       random_state=0).fit(X)
    row, empty = X[4], sp.csr_matrix((1, 40))
    for item in (0, 7, 21):
        items, contrib = model.explain(row, item)
        assert sorted(items) == sorted(row.indices)
        assert np.all(np.diff(contrib) <= 0)
        gap = model.decision_function(row)[0, item] - model.decision_function(empty)[0, item]
        assert contrib.sum() == pytest.approx(gap, rel=1e-8, abs=1e-10)
    assert model.explain(empty, 3)[0].size == 0
