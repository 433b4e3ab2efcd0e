"""EASE against the dense closed form of Steck (2019) and known answers."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_recsys import EASE, SparseEASE, make_interactions


def _dense_ease(X, alpha):
    G = X.T @ X + alpha * np.eye(X.shape[1])
    P = np.linalg.inv(G)
    B = P / -np.diag(P)
    np.fill_diagonal(B, 0.0)
    return B


@pytest.mark.parametrize("alpha", [0.5, 10.0, 300.0])
def test_matches_dense_reference(alpha):
    X = make_interactions(n_users=400, n_items=120, density=0.08, random_state=0)
    model = EASE(alpha=alpha).fit(X)
    B = _dense_ease(X.toarray(), alpha)
    np.testing.assert_allclose(model.coef_, B, atol=1e-10)
    assert model.coef_.flags.c_contiguous
    np.testing.assert_allclose(model.decision_function(X[:50]), X[:50].toarray() @ B, atol=1e-10)


def test_float32_in_float32_out_and_close_to_float64():
    X = make_interactions(n_users=300, n_items=100, density=0.1, random_state=1)
    m64 = EASE(alpha=20.0).fit(X)
    m32 = EASE(alpha=20.0).fit(X.astype(np.float32))
    assert m32.coef_.dtype == np.float32 and m64.coef_.dtype == np.float64
    assert m32.decision_function(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(m32.coef_, m64.coef_, atol=2e-5)


def test_block_diagonal_known_top1():
    # items 0-2 always together, items 3-5 always together: a user who has
    # item 0 and 1 must get item 2 first, and vice versa for the other block.
    block = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]] * 20, dtype=float)
    model = EASE(alpha=1.0).fit(block)
    idx, _ = model.recommend([[1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1]], k=1)
    np.testing.assert_array_equal(idx, [[2], [3]])


def test_explain_sums_to_score_and_similar_items():
    X = make_interactions(n_users=200, n_items=50, density=0.1, random_state=2)
    model = EASE(alpha=5.0).fit(X)
    row = X[3]
    for item in (0, 7, 49):
        items, contrib = model.explain(row, item)
        assert set(items) == set(row.indices)
        assert np.all(np.diff(contrib) <= 0)
        assert contrib.sum() == pytest.approx(model.decision_function(row)[0, item])
    idx, w = model.similar_items([4, 9], k=3)
    assert idx.shape == (2, 3) and 4 not in idx[0] and 9 not in idx[1]
    np.testing.assert_allclose(w[0], np.sort(np.delete(model.coef_[4], 4))[::-1][:3])
    with pytest.raises(ValueError, match="one user"):
        model.explain(X[:2], 0)
    # float64 contributions from a float32 model too, as every other explain
    X32 = X.astype(np.float32)
    items32, contrib32 = EASE(alpha=5.0).fit(X32).explain(X32[3], 7)
    assert contrib32.dtype == np.float64
    np.testing.assert_allclose(contrib32, model.explain(row, 7)[1], rtol=1e-4)


def test_alpha_zero_singular_gram_has_clear_error():
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0]], dtype=float))  # item 2 unused
    with pytest.raises(ValueError, match="not positive definite.*alpha > 0"):
        EASE(alpha=0.0).fit(X)
    with pytest.raises(ValueError, match="alpha"):
        EASE(alpha=-1.0).fit(X)


def test_alpha_zero_with_a_copied_column_is_refused_however_rounding_falls():
    """On 8 of 40 such draws the Cholesky factorization succeeded through rounding and
    split the copies' weights arbitrarily (0.16 and -0.11 where the limit is 0.028 each)."""
    for seed in range(40):
        X = sp.random(30, 10, density=0.4, random_state=seed, format="csr")
        X.data[:] = 1.0
        X = sp.hstack([X, X[:, [0]]], format="csr")
        with pytest.raises(ValueError, match="not positive definite"):
            EASE(alpha=0.0).fit(X)
    # a full-rank Gram matrix still fits at alpha=0: the closed form by NumPy
    X = sp.random(60, 8, density=0.5, random_state=0, format="csr")
    X.data[:] = 1.0
    P = np.linalg.inv((X.T @ X).toarray())
    B = -P / np.diag(P)
    np.fill_diagonal(B, 0.0)
    np.testing.assert_allclose(EASE(alpha=0.0).fit(X).coef_, B, atol=1e-10)


def test_popularity_penalty_trades_accuracy_for_long_tail_exposure():
    from sklearn_recsys.datasets import make_interactions
    from sklearn_recsys.metrics import aplt_at_k, ndcg_at_k
    from sklearn_recsys.model_selection import holdout_split

    X = make_interactions(600, 150, density=0.05, popularity_skew=1.5, random_state=0)
    X_in, X_out = holdout_split(X, holdout=0.2, random_state=0)
    plain = EASE(alpha=50.0).fit(X_in)
    # beta=0 is plain EASE, exactly
    np.testing.assert_array_equal(EASE(alpha=50.0, popularity_penalty=0.0).fit(X_in).coef_,
                                  plain.coef_)
    counts = np.bincount(X_in.indices, minlength=150)
    shares = counts / counts.sum()
    aplt, ndcg = [], []
    for beta in (0.0, 0.5, 1.0):
        model = EASE(alpha=50.0, popularity_penalty=beta).fit(X_in)
        idx, _ = model.recommend(X_in, k=10)
        aplt.append(aplt_at_k(X_out, idx, k=10, item_popularity=shares))
        ndcg.append(ndcg_at_k(X_out, idx, k=10))
    assert aplt[0] < aplt[1] < aplt[2]  # more long-tail items in the lists
    assert ndcg[2] < ndcg[0]  # at some accuracy cost
    # column i of B divided by (n_i + 1) ** beta; explain stays exact
    model = EASE(alpha=50.0, popularity_penalty=0.5).fit(X_in)
    np.testing.assert_allclose(model.coef_, plain.coef_ / np.sqrt(counts + 1.0)[None, :],
                               rtol=1e-10)
    items, contrib = model.explain(X_in[:1], 3)
    assert contrib.sum() == pytest.approx(model.decision_function(X_in[:1])[0, 3])


@pytest.mark.parametrize("threshold", [0, 10**9])
def test_large_gram_cholesky_runs_on_one_blas_thread(monkeypatch, threshold):
    """OpenBLAS's threaded potrf segfaults on float64 Gram matrices of ~16k items: from
    the row threshold on the Cholesky runs on one BLAS thread, below it the caller's
    threads are kept, and the model is the same either way."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from sklearn_recsys.linear import _ease

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    seen = []
    real = _ease.get_lapack_funcs

    def recording(names, arrays):
        potrf, potri = real(names, arrays)

        def potrf_recorded(*args, **kwargs):
            seen.append(blas_threads())
            return potrf(*args, **kwargs)

        return potrf_recorded, potri

    monkeypatch.setattr(_ease, "get_lapack_funcs", recording)
    monkeypatch.setattr(_ease, "_SERIAL_CHOLESKY_ROWS", threshold)
    monkeypatch.setattr(_ease, "_openblas_loaded", lambda: True)
    X = make_interactions(60, 40, density=0.2, random_state=0)
    with threadpool_limits(2, user_api="blas"):  # whatever the environment set
        outside = blas_threads()
        assert outside and set(outside) == {2}
        model = EASE(alpha=5.0).fit(X)
        assert blas_threads() == outside  # restored after fit
    assert seen == [[1] * len(outside) if threshold == 0 else outside]
    np.testing.assert_allclose(model.coef_, _dense_ease(X.toarray(), 5.0), atol=1e-10)


@pytest.mark.parametrize("Model", ["EASE", "SparseEASE"])
@pytest.mark.parametrize("dtype, scale, problem", [
    (np.float32, 1e20, "overflow float32 in X\\^T X"), (np.float64, 1e160, "overflow float64"),
    (np.float32, 1e-16, "scores are 0 in float32"), (np.float32, 1e-23, "scores are 0 in float32"),
    (np.float64, 1e-110, "scores are 0 in float64")])
def test_values_beyond_the_dtype_are_named_at_fit(Model, dtype, scale, problem):
    """Tiny values: every score underflowed to 0 and every user got catalogue order; huge
    ones: EASE fitted an all-NaN coef_ (similar_items answered padding, explain NaN), and
    SparseEASE said 'raise alpha', which cannot help."""
    import sklearn_recsys

    cls = getattr(sklearn_recsys, Model)
    params = {"alpha": 1.0} if Model == "EASE" else {"alpha": 1.0, "density": 0.3}
    X = make_interactions(200, 60, density=0.08, random_state=0).astype(np.float64)
    with warnings.catch_warnings():
        # the error alone: float64 sums rounded to float32 warned "overflow in cast" first
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError, match=problem):
            cls(**params).fit((X * scale).astype(dtype))
    # the same data at a scale the dtype holds, alpha scaled alike: the 0/1 data's lists
    safe = 1e3 if scale > 1 else 1e-3
    fitted = cls(**{**params, "alpha": safe ** 2}).fit((X * safe).astype(dtype))
    np.testing.assert_array_equal(fitted.recommend(X[:20], k=5)[0],
                                  cls(**params).fit(X.astype(dtype)).recommend(X[:20], k=5)[0])


@pytest.mark.parametrize("make", [lambda: EASE(alpha=1.0),
                                  lambda: SparseEASE(alpha=1.0, density=1.0)])
def test_an_item_without_co_occurrence_is_no_history(make):
    """Item 4 is held only by one-item users: its row of B is 0, and a user with only it
    scored 0 everywhere (catalogue order, led by the least popular item) where a user
    without history gets the popularity fallback, as ItemKNN already did."""
    X = sp.csr_matrix(np.array([[0, 1, 1, 1, 0], [0, 1, 1, 0, 0], [0, 0, 1, 1, 0],
                                [0, 1, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1],
                                [1, 0, 0, 0, 0]], dtype=float))
    model = make().fit(X)
    only_isolated = sp.csr_matrix(np.array([[0, 0, 0, 0, 1.0]]))
    np.testing.assert_array_equal(model.recommend(only_isolated, k=4)[0], [[1, 2, 3, 0]])
    np.testing.assert_array_equal(model.decision_function(only_isolated),
                                  model.decision_function(sp.csr_matrix((1, 5))))
    items, contributions = model.explain(only_isolated, 1)
    assert items.tolist() == [4] and contributions.tolist() == [0.0]
    # with a linked item beside it, the row is scored as before (item 4 adds 0)
    both = sp.csr_matrix(np.array([[0, 1, 0, 0, 1.0]]))
    np.testing.assert_allclose(model.decision_function(both),
                               model.decision_function(sp.csr_matrix(np.array([[0, 1, 0, 0, 0.]]))))


def test_a_gram_too_ill_conditioned_for_float32_is_warned_of():
    """Play counts of two near-copies of an item: the float32 inverse lost its digits
    silently (audit 58c: Last.fm's counts at alpha=500 gave a B 3.3% off, a user's scores
    30%). The warning reads the Cholesky pivots against the diagonal, which tracks the
    error; a column of large values alone (scaling) does not set it off."""
    import warnings

    X = make_interactions(300, 30, density=0.2, random_state=0).astype(np.float64)
    X.data = np.random.default_rng(0).integers(100, 1000, X.nnz).astype(float)
    X = X.tolil()
    X[:, 1] = X[:, 0]
    X[5, 1] = X[5, 1] + 3.0
    X = sp.csr_matrix(X)
    exact = EASE(alpha=10.0).fit(X).coef_  # float64: nothing to say
    with pytest.warns(UserWarning, match=r"too ill-conditioned for float32: .* may be off "
                                         r"by a relative error of the order of \d+%.*Pass X "
                                         r"as float64, raise alpha"):
        rough = EASE(alpha=10.0).fit(X.astype(np.float32)).coef_
    assert np.linalg.norm(rough - exact) / np.linalg.norm(exact) > 0.05  # it is off
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EASE(alpha=10.0).fit(X)
        # enough penalty: float32 is close again (relative errors 0.3e-3 to 2.3e-3 over
        # twelve draws of this X, by the rounding of the Gram matrix; 5% and more at 10)
        high = EASE(alpha=1000.0)
        assert np.linalg.norm(high.fit(X.astype(np.float32)).coef_ - high.fit(X).coef_) \
            < 1e-2 * np.linalg.norm(high.coef_)
        scaled = X.astype(np.float32)
        scaled[:, 2] *= 1e4  # one column of huge values: a scaling, harmless
        EASE(alpha=10.0).fit(scaled[:, 2:])


def test_a_failed_factorization_with_a_penalty_blames_the_dtype_not_alpha(monkeypatch):
    # with alpha > 0 the matrix is positive definite in exact arithmetic: a failed float32
    # Cholesky is the type's rounding, and "Use alpha > 0" was wrong advice (review 58)
    from sklearn_recsys.linear import _ease

    monkeypatch.setattr(_ease, "_spd_inverse_inplace", lambda G, **kw: (None, 3))
    X = make_interactions(50, 10, density=0.3, random_state=0).astype(np.float32)
    with pytest.raises(ValueError, match="could not be factorized in float32 \\(alpha=10000.0\\)"
                                         ".*Pass X as float64, raise alpha"):
        EASE(alpha=1e4).fit(X)
    with pytest.raises(ValueError, match="not positive definite.*Use alpha > 0"):
        EASE(alpha=0.0).fit(X)


@pytest.mark.parametrize("working_memory", [1, 1024])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_gram_by_row_blocks_is_the_whole_product_and_holds_one_copy(dtype, working_memory):
    """The Gram was the whole sparse product made dense: both at once (1.45 GB at the
    peak on latest-small). Blocks (an eighth of working_memory's dense entries each) go
    straight into the result: no dense temporary (a block as large as the Gram made the
    peak 1.75 GB there) and each row summed in the same order."""
    import gc
    import tracemalloc

    import sklearn

    from sklearn_recsys.linear._ease import sparse_gram

    rng = np.random.default_rng(0)
    X = sp.random(2000, 1500, density=0.05, format="csr", random_state=0, dtype=dtype)
    X.data = rng.integers(1, 6, X.nnz).astype(dtype)
    whole = (X.T @ X).toarray()
    with sklearn.config_context(working_memory=working_memory):
        blocked = sparse_gram(X)
        gc.collect()
        tracemalloc.start()
        sparse_gram(X)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert blocked.dtype == dtype and blocked.flags.c_contiguous
    np.testing.assert_array_equal(blocked, whole)
    dense = whole.nbytes
    # float32 X is summed in float64: a float64 copy of its values and of its transpose
    # (values and indices, 20 bytes an entry), and each block's product in float64
    copies = 0 if dtype == np.float64 else 20 * X.nnz
    if working_memory == 1:  # blocks of 10 rows (99% dense): about 1% of the Gram each
        # held 2.5 (float64), 3.0 (float32)
        assert peak < 1.25 * dense + copies, peak / dense
    else:  # one block: the whole sparse product (1.5 times the Gram in float64) beside it,
        # for float32 in float64 (3 times the float32 Gram) and its float32 values (1 time)
        bound = 3.4 if dtype == np.float64 else 5.4
        assert peak < bound * dense + copies, peak / dense  # a dense temporary: 3.6 and 4.1


def test_explain_a_long_weighted_row_sorted_and_exact(counts):
    model = EASE(alpha=5.0).fit(counts)
    row = counts[np.flatnonzero(np.diff(counts.indptr) >= 5)[0]]
    for item in (0, 7, 49):
        items, contributions = model.explain(row, item)
        assert len(items) == row.nnz
        assert np.all(np.diff(contributions) <= 0)
        np.testing.assert_allclose(contributions,
                                   row.toarray()[0, items] * model.coef_[items, item])
        assert contributions.sum() == pytest.approx(model.decision_function(row)[0, item])


def test_similar_items_never_lists_the_item_itself(counts):
    model = EASE(alpha=5.0).fit(counts)
    idx, _ = model.similar_items(np.arange(50), k=49)
    assert not any(i in idx[i] for i in range(50))


@pytest.mark.parametrize("model", [EASE(alpha=1.0), SparseEASE(alpha=1.0, density=1.0)],
                         ids=["EASE", "SparseEASE"])
def test_similar_items_pads_where_the_weight_is_exactly_zero(model):
    """An item held only by single-item users has a zero row of B: similar_items listed k
    arbitrary items in catalogue order at -0.0, where ItemKNN pads (audit helper's repro).
    Items outside a query's co-occurrence component are no neighbours either."""
    X = np.array([[1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [1, 0, 1, 0, 0], [0, 0, 0, 1, 0],
                  [0, 0, 0, 1, 0], [1, 1, 1, 0, 0], [0, 0, 0, 0, 1]], float)
    idx, weights = model.fit(X).similar_items([3, 4, 0], k=3)
    np.testing.assert_array_equal(idx[:2], -1)
    assert np.all(weights[:2] == -np.inf)
    # item 0's component is {0, 1, 2}: two neighbours with their weights, then padding
    np.testing.assert_array_equal(np.sort(idx[2, :2]), [1, 2])
    np.testing.assert_allclose(weights[2, :2], [model._item_item_entries([0], j)[0]
                                                for j in idx[2, :2]])
    assert np.all(weights[2, :2] != 0)
    assert idx[2, 2] == -1 and weights[2, 2] == -np.inf


def test_popularity_penalty_counts_users_not_values(counts):
    # the penalty divides column i by (number of users of i + 1) ** penalty: counts of
    # plays (values 1..5) must not enter it
    from sklearn_recsys.linear._ease import ease_item_item

    X = counts.astype(np.float64)
    model = EASE(alpha=2.0, popularity_penalty=1.0).fit(X)
    users = np.bincount(X.indices, minlength=X.shape[1])
    np.testing.assert_allclose(model.coef_, ease_item_item(X, 2.0) / (users + 1.0)[None, :])
