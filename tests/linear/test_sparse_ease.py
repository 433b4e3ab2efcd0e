"""SparseEASE against dense EASE, and its incomplete factorization's guarantees."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_recsys import EASE, SparseEASE, make_interactions
from sklearn_recsys.linear._sparse_inverse import _incomplete_cholesky
from sklearn_recsys.metrics import ndcg_at_k
from sklearn_recsys.model_selection import strong_generalization_split


def _cholesky_of(A, cap):
    A = sp.csc_matrix(A)
    A.sort_indices()
    Lp, Li, Lx, ok = _incomplete_cholesky(A.indptr.astype(np.int64), A.indices.astype(np.int64),
                                          A.data.astype(np.float64), A.shape[0], cap)
    assert ok
    return sp.csc_matrix((Lx, Li, Lp), shape=A.shape).toarray()


def _gram(seed, n_items=40, alpha=2.0):
    X = make_interactions(200, n_items, density=0.15, random_state=seed)
    return (X.T @ X).toarray() + alpha * np.eye(n_items)


@pytest.mark.parametrize("seed", [0, 1])
def test_incomplete_cholesky_without_dropping_is_exact(seed):
    A = _gram(seed)
    L = _cholesky_of(A, cap=A.shape[0])
    np.testing.assert_allclose(L, np.linalg.cholesky(A), atol=1e-10)


@pytest.mark.parametrize("cap", [1, 3, 8])
def test_dropping_is_compensated_on_the_diagonal(cap):
    """Each dropped entry adds its magnitude to both diagonals (Ajiz & Jennings): the
    factored matrix L L^T - A is positive semi-definite, so no pivot can break down,
    and every column keeps at most cap entries below the diagonal."""
    A = _gram(3)
    L = _cholesky_of(A, cap)
    assert (np.count_nonzero(np.tril(L, -1), axis=0) <= cap).all()
    assert np.count_nonzero(np.tril(L, -1)) > 0
    gap = L @ L.T - A
    assert np.linalg.eigvalsh(gap).min() > -1e-9
    off = gap - np.diag(np.diag(gap))
    assert np.abs(off).max() > 1e-3  # something was dropped
    # the compensation, exactly: each diagonal gained the magnitudes dropped in its row
    np.testing.assert_allclose(np.diag(gap), np.abs(off).sum(axis=1), atol=1e-9)
    # and L L^T differs from A off the diagonal only where L kept no entry
    below = np.tril(np.ones_like(L, dtype=bool), -1)
    assert np.abs(off[below & (L != 0)]).max() < 1e-9


def test_full_density_equals_ease():
    """With every entry kept, the factorization is exact and the inverse factor converges to
    L^-1: scores, explanations and neighbours of dense EASE."""
    X = make_interactions(300, 60, density=0.1, random_state=0)
    sparse = SparseEASE(alpha=10.0, density=1.0, inverse_steps=25).fit(X)
    dense = EASE(alpha=10.0).fit(X)
    np.testing.assert_allclose(sparse.decision_function(X), dense.decision_function(X),
                               atol=1e-9)
    items, contributions = sparse.explain(X[4], 7)
    d_items, d_contributions = dense.explain(X[4], 7)
    np.testing.assert_allclose(contributions, d_contributions, atol=1e-9)
    np.testing.assert_array_equal(items, d_items)
    np.testing.assert_array_equal(sparse.similar_items([0, 5, 9], k=4)[0],
                                  dense.similar_items([0, 5, 9], k=4)[0])
    # the approximate inverse's diagonal, and diag(B) = 0 exactly
    P = np.linalg.inv((X.T @ X).toarray() + 10.0 * np.eye(60))
    np.testing.assert_allclose(sparse.inverse_diagonal_, np.diag(P), rtol=1e-9)


@pytest.mark.parametrize("density", [0.05, 0.2])
def test_memory_bound_and_exact_explanations(density):
    X = make_interactions(400, 200, density=0.05, random_state=1)
    model = SparseEASE(alpha=20.0, density=density).fit(X)
    cap = max(2, round(density * 200))
    per_column = np.diff(model.components_.tocsc().indptr)
    assert per_column.max() <= cap + 1
    assert model.components_.nnz <= 200 * (cap + 1)
    scores = model.decision_function(X[:3])
    for item in (0, 17, 150):
        items, contributions = model.explain(X[2], item)
        assert contributions.sum() == pytest.approx(scores[2, item], abs=1e-9)
        assert set(items) == set(X[2].indices)


def test_close_to_dense_ease_on_held_out_users():
    X = make_interactions(3000, 500, density=0.03, random_state=0)
    X_train, X_in, X_out = strong_generalization_split(X, random_state=0)
    dense = EASE(alpha=50.0).fit(X_train)
    sparse = SparseEASE(alpha=50.0, density=0.1).fit(X_train)
    lists = {name: m.recommend(X_in, k=20)[0] for name, m in
             [("dense", dense), ("sparse", sparse)]}
    ndcg = {name: ndcg_at_k(X_out, idx, k=20) for name, idx in lists.items()}
    assert ndcg["sparse"] > ndcg["dense"] - 0.01, ndcg


def test_items_without_interactions_float32_and_tiny_catalogues():
    X = make_interactions(200, 30, density=0.1, random_state=4).tolil()
    X[:, 7] = 0
    X = X.tocsr().astype(np.float32)
    model = SparseEASE(alpha=5.0, density=0.2).fit(X)
    assert model.components_.dtype == np.float32
    scores = model.decision_function(X[:20])
    assert scores.dtype == np.float32 and np.isfinite(scores).all()
    items, _ = model.similar_items([7, 3], k=5)
    assert (items[0] == -1).all() and 7 not in items[1]
    assert 7 not in model.explain(X[1], 3)[0]
    for n_items in (1, 2, 3):
        tiny = make_interactions(20, n_items, density=1.0, random_state=0)
        fitted = SparseEASE(alpha=1.0).fit(tiny)
        np.testing.assert_allclose(fitted.decision_function(tiny),
                                   EASE(alpha=1.0).fit(tiny).decision_function(tiny),
                                   atol=1e-6)


@pytest.mark.parametrize("params, message", [
    ({"alpha": 0.0}, "alpha"), ({"density": 0.0}, "density"), ({"density": 1.5}, "density"),
    ({"inverse_steps": -1}, "inverse_steps")])
def test_bad_parameters_are_named(params, message):
    X = make_interactions(50, 20, density=0.2, random_state=0)
    with pytest.raises(ValueError, match=message):
        SparseEASE(**params).fit(X)


def test_sparse_ease_results_back_the_docs():
    """docs/benchmarks.rst, "EASE beyond 30,000 items", from benchmarks/results/sparse_ease.json."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "sparse_ease.json"
    tables = {t["id"]: t for t in json.loads(path.read_text())["tables"]}
    lastfm = tables["lastfm"]
    col = {name: i for i, name in enumerate(lastfm["columns"])}
    rows = {row[col["density"]]: row for row in lastfm["rows"]}
    dense = rows["-"]
    assert dense[col["model"]] == "EASE"

    def ratio(density):
        return dense[col["fit peak MB"]] / rows[density][col["fit peak MB"]]

    assert -0.003 < rows[0.01][col["change"]] < 0 and ratio(0.01) > 18
    assert abs(rows[0.02][col["change"]]) < 0.002 and ratio(0.02) > 10
    assert rows[0.005][col["change"]] < -0.01
    for density in (0.01, 0.02):
        assert rows[density][col["fit seconds"]] < dense[col["fit seconds"]] / 2
    large = tables["large"]
    row = dict(zip(large["columns"], large["rows"][0]))
    assert row["items"] == 200_000
    assert row["fit seconds"] < 600 and row["fit peak MB"] < 8 * 1024


def test_scores_scatter_rows_of_w_in_the_dtype_of_x_and_w_together():
    # X - (X W^T) W / d, with W's rows added into the dense block one nonzero of X W^T
    # at a time; the result has the dtype SciPy's product of X and W would have
    X = make_interactions(60, 30, density=0.2, random_state=0)
    model = SparseEASE(alpha=5.0, density=0.3).fit(X.astype(np.float32))
    W, d = model.components_, model.inverse_diagonal_
    for Xs in (X.astype(np.float32), X.astype(np.float64)):
        Xs = sp.csr_matrix(Xs)
        reference = Xs.toarray() - ((Xs @ W.T) @ W).toarray() / d
        scores = model._score_batch(Xs)
        assert scores.dtype == np.result_type(Xs.dtype, W.dtype)
        np.testing.assert_allclose(scores, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype, alpha", [(np.float64, 5.0), (np.float64, 50.0),
                                          (np.float32, 3.0), (np.float32, 50.0)])
def test_a_user_of_untrained_items_only_gets_the_popularity_fallback(dtype, alpha):
    """The own-item term x_j - x_j W_jj^2 / d_j left 1.1e-16 of rounding: the row's scores
    were not exactly flat, the fallback was skipped, and the user got catalogue order."""
    X = make_interactions(120, 30, density=0.15, random_state=0).tolil()
    X[:, [5, 9]] = 0
    X = X.tocsr().astype(dtype)
    X.eliminate_zeros()
    model = SparseEASE(alpha=alpha).fit(X)
    row = sp.csr_matrix((np.ones(2, dtype=dtype), ([0, 0], [5, 9])), shape=(1, 30))
    popular = np.argsort(-np.bincount(X.indices, minlength=30), kind="stable")[:5]
    np.testing.assert_array_equal(model.recommend(row, k=5)[0][0], popular)
    np.testing.assert_array_equal(model.recommend(sp.csr_matrix((1, 30)), k=5)[0][0], popular)


@pytest.mark.parametrize("values", ["binary", "weighted"])
def test_relabelling_the_items_relabels_the_model(values):
    """The fill-reducing order put items of equal degree in column-index order, and the
    incomplete factorization depends on that order: fitted on X[:, perm], 299 of 300 users
    got another top 10 (overlap 0.72), so the catalogue's order acted as a hidden seed. Ties
    now go by the items' own statistics."""
    X = make_interactions(300, 120, density=0.08, random_state=4).astype(np.float64)
    if values == "weighted":
        X.data *= np.random.RandomState(5).uniform(0.3, 3.0, size=X.nnz)
    perm = np.random.RandomState(2).permutation(X.shape[1])
    model = SparseEASE(alpha=10.0, density=0.2).fit(X)
    relabelled = SparseEASE(alpha=10.0, density=0.2).fit(X[:, perm])
    scores = model.decision_function(X)
    moved = relabelled.decision_function(X[:, perm])[:, np.argsort(perm)]
    np.testing.assert_allclose(moved, scores, rtol=0, atol=1e-13 * np.abs(scores).max())
    # the same lists but for the order of tied items (by index, which the relabelling moves)
    lists, top = model.recommend(X, k=10)
    other, other_top = relabelled.recommend(X[:, perm], k=10)
    np.testing.assert_allclose(other_top, top, rtol=0, atol=1e-13 * np.abs(scores).max())
    assert np.mean([len(set(a) & set(perm[b])) for a, b in zip(lists, other)]) > 9.9


def test_float32_counts_that_a_float32_gram_broke_down_on_fit_as_float64_does():
    """The Gram of float32 X was rounded to float32 before the float64 factorization,
    which then broke down on counts of 1e6 against alpha=1 (said "raise alpha"; a
    property test's find) where float64 X fits. The Gram stays float64 now, and a
    breakdown names every fix."""
    M = np.array([[34e6, 48e6, 0, 37e6, 0], [15e6, 4e6, 0, 0, 0], [29e6, 0, 20e6, 0, 0]])
    scores = {dtype: SparseEASE(alpha=1.0, density=0.5).fit(sp.csr_matrix(M.astype(dtype)))
              .decision_function(sp.csr_matrix(M)) for dtype in (np.float32, np.float64)}
    np.testing.assert_allclose(scores[np.float32], scores[np.float64], rtol=1e-6,
                               atol=1e-6 * np.abs(scores[np.float64]).max())
