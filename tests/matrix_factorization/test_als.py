"""ImplicitALS against a dense reference solver, known answers, fold-in, explain, threads."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from sklearn_recsys import ImplicitALS, make_interactions
from sklearn_recsys.metrics import get_ranking_scorer
from sklearn_recsys.preprocessing import BM25Weighting


def _dense_als(R, U, V, alpha, scale, n_iter):
    """Hu et al.'s alternating exact solves on dense matrices (items first, then users)."""
    P = (R > 0).astype(float)
    C = 1.0 + scale * R
    U, V = U.copy(), V.copy()
    k = U.shape[1]
    for _ in range(n_iter):
        for i in range(V.shape[0]):
            A = (U.T * C[:, i]) @ U + alpha * np.eye(k)
            V[i] = np.linalg.solve(A, (U.T * C[:, i]) @ P[:, i])
        for u in range(U.shape[0]):
            A = (V.T * C[u]) @ V + alpha * np.eye(k)
            U[u] = np.linalg.solve(A, (V.T * C[u]) @ P[u])
    return U, V


@pytest.fixture
def small():
    X = make_interactions(60, 40, density=0.12, random_state=0)
    X.data = np.random.default_rng(0).integers(1, 4, size=X.nnz).astype(float)
    return X


def _initial_factors(model, X):
    init = ImplicitALS(**{**model.get_params(), "max_iter": 1})
    init._init_fit(init._make_context(X))  # the engine's context, as fit makes it
    return init.user_factors_.astype(float), init.item_factors_.astype(float)


@pytest.mark.parametrize("solver, cg_steps, tol", [("cholesky", 3, 1e-9), ("cg", 12, 1e-6)])
def test_matches_dense_reference(small, solver, cg_steps, tol):
    model = ImplicitALS(n_components=6, alpha=0.5, confidence_scale=2.0, max_iter=4,
                        solver=solver, cg_steps=cg_steps, dtype=np.float64, random_state=0)
    U0, V0 = _initial_factors(model, small)
    model.fit(small)
    U_ref, V_ref = _dense_als(small.toarray(), U0, V0, 0.5, 2.0, 4)
    assert_allclose(model.item_factors_, V_ref, atol=tol, rtol=0)
    assert_allclose(model.user_factors_, U_ref, atol=tol, rtol=0)


def test_few_cg_steps_approach_the_exact_solution(small):
    params = dict(n_components=6, alpha=0.5, confidence_scale=2.0, max_iter=15,
                  dtype=np.float64, random_state=0)
    exact = ImplicitALS(solver="cholesky", **params).fit(small)
    cg = ImplicitALS(solver="cg", cg_steps=3, **params).fit(small)
    s_exact = exact.decision_function(small)
    s_cg = cg.decision_function(small)
    assert np.corrcoef(s_exact.ravel(), s_cg.ravel())[0, 1] > 0.999


def test_fold_in_equals_training_user_factors(small):
    model = ImplicitALS(n_components=5, solver="cholesky", dtype=np.float64,
                        random_state=0).fit(small)
    assert_allclose(model.transform(small), model.user_factors_, atol=1e-12)
    cg = ImplicitALS(n_components=5, max_iter=30, random_state=0).fit(small)
    # warm-started CG is an approximate solve: close, not equal
    assert_allclose(cg.transform(small), cg.user_factors_, atol=1e-2)


def test_block_diagonal_known_top1():
    # two communities of 10 users x 8 items; each user misses one item of their block
    X = np.zeros((20, 16))
    X[:10, :8] = 1
    X[10:, 8:] = 1
    for u in range(20):
        X[u, (u % 8) + (8 if u >= 10 else 0)] = 0
    model = ImplicitALS(n_components=2, alpha=0.1, random_state=0).fit(sp.csr_matrix(X))
    idx, _ = model.recommend(X, k=1)
    expected = [(u % 8) + (8 if u >= 10 else 0) for u in range(20)]
    assert_array_equal(idx[:, 0], expected)


def test_same_factors_for_any_thread_count(small):
    # rows are independent and each row's sums run in a fixed order
    a = ImplicitALS(n_components=8, random_state=3, n_jobs=1, dtype=np.float64).fit(small)
    b = ImplicitALS(n_components=8, random_state=3, n_jobs=2, dtype=np.float64).fit(small)
    assert_array_equal(a.item_factors_, b.item_factors_)
    assert_array_equal(a.user_factors_, b.user_factors_)


def _at_offset(a, offset):
    """A copy of ``a`` whose data starts ``offset`` bytes past a 64-byte boundary."""
    buf = np.empty(a.nbytes + 128, dtype=np.uint8)
    start = (-buf.ctypes.data) % 64 + offset
    view = buf[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    view[...] = a
    return view


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [4, 7, 64])
def test_cg_sweep_does_not_depend_on_where_the_arrays_lie(dtype, k):
    # fast-math sums inside loops that also store were vectorized behind a check of the
    # arrays' addresses, so the same inputs at other addresses rounded differently (and an
    # ill-conditioned fit amplified it to a different model for the same seed)
    from sklearn_recsys.utils._solvers import als_cg_sweep

    rng = np.random.default_rng(0)
    A = sp.random(60, 30, density=0.3, random_state=0, format="csr", dtype=dtype)
    A.data = np.round(A.data * 1e3).astype(dtype)  # large confidences: ill-conditioned
    Y0 = rng.standard_normal((30, k)).astype(dtype)
    X0 = (rng.standard_normal((60, k)) * 0.01).astype(dtype)
    G0 = (Y0.T @ Y0 + np.eye(k)).astype(dtype)
    results = []
    for offset in range(0, 64, 8 if dtype == np.float64 else 4):
        X, Y, G = _at_offset(X0, offset), _at_offset(Y0, offset), _at_offset(G0, offset)
        als_cg_sweep(A.indptr, A.indices, A.data, X, Y, G, 1.0, 3, np.empty(0, dtype))
        results.append(X.copy())
    assert not np.allclose(results[0], X0)  # it did solve
    for other in results[1:]:
        assert_array_equal(other, results[0])


def test_cholesky_pivots_lost_to_rounding_give_nan_not_finite_garbage():
    """The row solve floored a non-positive pivot at 1e-12: in float32 one confidence of
    about 1e8 cancels a later pivot, and the solution came out finite and up to 1e34 off
    (8 of 200 rows here 1e3 off or worse; an audit helper's repro). A pivot below its
    diagonal's rounding is now NaN, which the models report or refit in float64."""
    from sklearn_recsys.utils._solvers import als_cholesky_sweep

    rng = np.random.default_rng(13)
    k, n_items = 8, 30
    solved = 0
    for _ in range(200):
        Y = rng.normal(size=(n_items, k)) * 0.1
        scale = 10.0 ** rng.uniform(3, 9)
        item = int(rng.integers(n_items))
        x = sp.csr_matrix((np.array([3.0], np.float32), np.array([item]), [0, 1]),
                          shape=(1, n_items))
        Y32 = Y.astype(np.float32)
        U = np.zeros((1, k), np.float32)
        als_cholesky_sweep(x.indptr, x.indices, x.data, U, Y32,
                           Y32.T @ Y32 + np.float32(0.1) * np.eye(k, dtype=np.float32), scale,
                           np.empty(0, np.float32))
        c = scale * 3.0
        reference = np.linalg.solve(Y.T @ Y + 0.1 * np.eye(k) + c * np.outer(Y[item], Y[item]),
                                    (1 + c) * Y[item])
        if np.isfinite(U).all():
            solved += 1
            assert np.abs(Y @ (U[0].astype(np.float64) - reference)).max() < 10.0, scale
    assert solved > 150  # most rows are solved, not refused


def test_explain_sums_to_score(small):
    model = ImplicitALS(n_components=5, random_state=0, dtype=np.float64).fit(small)
    row = small[3]
    items, contrib = model.explain(row, 7)
    assert_array_equal(np.sort(items), row.indices)
    assert contrib.sum() == pytest.approx(model.decision_function(row)[0, 7], rel=1e-8)
    assert np.all(np.diff(contrib) <= 0)


def test_early_stopping_keeps_the_best_sweep(small):
    model = ImplicitALS(n_components=20, alpha=1e-4, confidence_scale=50, max_iter=40,
                        early_stopping=True, n_iter_no_change=2, random_state=0).fit(small)
    scores = model.validation_scores_
    assert len(scores) == model.n_iter_
    assert model.best_iteration_ == int(np.argmax(scores)) + 1
    if model.n_iter_ < 40:
        assert model.n_iter_ - model.best_iteration_ == 2


def test_verbose_prints_progress(small, capsys):
    ImplicitALS(n_components=4, max_iter=2, verbose=1, random_state=0).fit(small)
    err = capsys.readouterr().err
    assert "ImplicitALS: " in err and "2/2" in err and "loss=" in err


def test_loss_decreases_with_exact_solves(small):
    model = ImplicitALS(n_components=6, solver="cholesky", max_iter=6, verbose=1,
                        dtype=np.float64, random_state=0).fit(small)
    assert np.all(np.diff(model.loss_curve_) <= 1e-9)


def test_grid_search_over_bm25_pipeline():
    X = make_interactions(400, 120, density=0.05, random_state=1)
    search = GridSearchCV(
        make_pipeline(BM25Weighting(), ImplicitALS(n_components=8, max_iter=5, random_state=0)),
        {"implicitals__alpha": [0.1, 10.0], "implicitals__confidence_scale": [1.0, 20.0]},
        scoring=get_ranking_scorer("ndcg@10"),
        cv=KFold(2, shuffle=True, random_state=0),
    ).fit(X)
    assert set(search.cv_results_["params"][0]) == {"implicitals__alpha",
                                                    "implicitals__confidence_scale"}
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    # the model learns something: beats ranking by popularity on held-out entries
    from sklearn_recsys import MostPopular
    scorer = get_ranking_scorer("ndcg@10")
    assert scorer(search.best_estimator_, X) > scorer(MostPopular().fit(X), X)


def test_validation_matrix_is_monitored(small):
    from sklearn_recsys.metrics import ndcg_at_k
    from sklearn_recsys.model_selection import holdout_split
    from sklearn_recsys.utils import mask_seen

    X_tr, X_val = holdout_split(small, holdout=0.3, random_state=0)
    model = ImplicitALS(n_components=5, max_iter=4, random_state=0).fit(X_tr, X_val=X_val)
    assert len(model.validation_scores_) == 4 and model.n_iter_ == 4
    scores = model.user_factors_ @ model.item_factors_.T
    mask_seen(scores, X_tr)
    rows = np.flatnonzero(np.diff(X_val.indptr))
    assert model.validation_scores_[-1] == pytest.approx(
        ndcg_at_k(X_val[rows], scores[rows], k=20), rel=1e-6)
    with pytest.raises(ValueError, match="X_val has shape"):
        ImplicitALS().fit(X_tr, X_val=X_val[:5])


def test_alpha_from_the_implicit_library_warns_and_names_confidence_scale(small):
    with pytest.warns(UserWarning, match="confidence_scale=40"):
        ImplicitALS(n_components=2, alpha=40, max_iter=1).fit(small)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ImplicitALS(n_components=2, alpha=1.0, confidence_scale=40, max_iter=1).fit(small)


def test_propensity_weighting_solves_the_rel_mf_equations_and_lifts_the_tail():
    from sklearn_recsys.metrics import aplt_at_k

    X = make_interactions(500, 120, density=0.06, popularity_skew=1.5, random_state=1)
    model = ImplicitALS(n_components=8, propensity_power=0.5, solver="cholesky", max_iter=5,
                        dtype=np.float64, random_state=0).fit(X)
    counts = np.bincount(X.indices, minlength=120)
    theta = np.maximum((counts / counts.max()) ** 0.5, 0.1)
    assert_allclose(model.propensity_, theta)
    # a user's fold-in is the exact solution of Rel-MF's loss with the confidence on its
    # positive term: c / theta (1 - s)^2 + (1 - 1 / theta) s^2 on the observed items
    V, row = model.item_factors_, X[7]
    c = 1.0 + model.confidence_scale * row.data
    Vu = V[row.indices]
    rho = 1.0 / theta[row.indices]
    A = V.T @ V + (Vu.T * ((c - 1.0) * rho)) @ Vu + model.alpha * np.eye(8)
    expected = np.linalg.solve(A, Vu.T @ (c * rho))
    assert_allclose(model.transform(row)[0], expected, rtol=1e-8)
    items, contrib = model.explain(row, 3)
    assert contrib.sum() == pytest.approx(model.decision_function(row)[0, 3], rel=1e-8)
    # more long-tail items in the lists than without the weighting
    plain = ImplicitALS(n_components=8, solver="cholesky", max_iter=5, dtype=np.float64,
                        random_state=0).fit(X)
    shares = counts / counts.sum()
    aplt = [aplt_at_k(X, m.recommend(X, k=10)[0], k=10, item_popularity=shares)
            for m in (plain, model)]
    assert aplt[1] > aplt[0]
    assert plain.propensity_ is None


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
@pytest.mark.parametrize("confidence_scale", [0.0, 10.0])
def test_propensity_weighting_is_unbiased_for_relevance(solver, confidence_scale):
    """Every user finds every item relevant; items are seen with probability 1, .5, .25, .1.
    The corrected scores are about 1 for every group: scaling only the target by 1 / theta
    (as before) gave about 1, 1.8, 3.1 and 5.3 at confidence_scale=10, inverting the bias."""
    rng = np.random.default_rng(0)
    exposure = np.repeat([1.0, 0.5, 0.25, 0.1], 10)
    X = sp.csr_matrix((rng.random((2000, 40)) < exposure).astype(float))
    model = ImplicitALS(n_components=1, alpha=1e-3, confidence_scale=confidence_scale,
                        propensity_power=1.0, solver=solver, cg_steps=5, max_iter=30,
                        dtype=np.float64, random_state=0).fit(X)
    scores = model.user_factors_ @ model.item_factors_.T
    by_group = scores.reshape(2000, 4, 10).mean(axis=(0, 2))
    # the propensities are estimated from the counts (n_i / max n), hence the tolerance
    assert_allclose(by_group, 1.0, atol=0.15)
    plain = ImplicitALS(n_components=1, alpha=1e-3, confidence_scale=confidence_scale,
                        solver=solver, cg_steps=5, max_iter=30, dtype=np.float64,
                        random_state=0).fit(X)
    # without the correction the rarely seen items score far below 1
    assert (plain.user_factors_ @ plain.item_factors_.T)[:, 30:].mean() < 0.75


def test_similar_items_are_the_top_cosines_of_the_item_factors():
    X = make_interactions(n_users=150, n_items=40, density=0.15, random_state=1)
    model = ImplicitALS(n_components=6, max_iter=5, early_stopping=False, random_state=0).fit(X)
    V = model.item_factors_.astype(np.float64)
    norms = np.linalg.norm(V, axis=1)
    cos = (V @ V.T) / np.outer(norms, norms)
    idx, sims = model.similar_items([0, 5], k=5)
    np.fill_diagonal(cos, -np.inf)
    for r, q in enumerate([0, 5]):
        assert_allclose(sims[r], cos[q, idx[r]], rtol=1e-5)
        assert set(idx[r]) == set(np.argsort(-cos[q])[:5])
