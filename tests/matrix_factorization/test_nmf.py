"""NMF: multiplicative updates against dense NumPy references, both losses, known answers."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_recsys import NMF
from sklearn_recsys.utils.estimator_checks import recommender_checks


def _reference(R, W, H, lam, observed_only, n_iter):
    """Dense multiplicative updates, items then users, one step each per sweep.

    Rows without any entry have no numerator: their factors are set to 0.
    """
    M = (R > 0).astype(float) if observed_only else np.ones_like(R)
    for _ in range(n_iter):
        n_i = M.sum(0) if observed_only else np.ones(R.shape[1])
        with np.errstate(invalid="ignore"):
            H = H * (R.T @ W) / ((M * (W @ H.T)).T @ W + lam * n_i[:, None] * H)
        H[(R > 0).sum(0) == 0] = 0
        n_u = M.sum(1) if observed_only else np.ones(R.shape[0])
        with np.errstate(invalid="ignore"):
            W = W * (R @ H) / ((M * (W @ H.T)) @ H + lam * n_u[:, None] * W)
        W[(R > 0).sum(1) == 0] = 0
    return W, H


@pytest.mark.parametrize("feedback", ["explicit", "implicit"])
def test_matches_dense_reference(feedback):
    rng = np.random.default_rng(0)
    R = rng.integers(1, 6, (30, 20)) * (rng.random((30, 20)) < 0.4)
    R[:, 0] = 0  # an item nobody rated, and below a user with no ratings
    R[3] = 0
    X = sp.csr_matrix(R.astype(float))
    model = NMF(n_components=3, alpha=0.1, feedback=feedback, max_iter=5, dtype=np.float64,
                random_state=0)
    init = NMF(**model.get_params())
    init._init_fit(init._make_context(X))  # the engine's context, as fit makes it
    model.fit(X)
    W, H = _reference(R.astype(float), init.user_factors_, init.item_factors_, 0.1,
                      feedback == "explicit", 5)
    if feedback == "explicit":  # after fit, an unrated item takes the mean item factors
        H[0] = H[1:].mean(axis=0)
    assert_allclose(model.user_factors_, W, rtol=1e-9, atol=1e-12)
    assert_allclose(model.item_factors_, H, rtol=1e-9, atol=1e-12)
    assert (model.item_factors_ >= 0).all() and (model.user_factors_ >= 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("feedback", ["explicit", "implicit"])
def test_the_recorded_loss_is_the_objective_of_each_sweep(feedback, dtype):
    rng = np.random.default_rng(1)
    R = rng.integers(1, 6, (30, 20)) * (rng.random((30, 20)) < 0.4)
    X = sp.csr_matrix(R.astype(float))
    model = NMF(n_components=3, alpha=0.1, feedback=feedback, max_iter=4, dtype=dtype,
                random_state=0, early_stopping=False)
    init = NMF(**model.get_params())
    init._init_fit(init._make_context(X))
    model.fit(X)
    W, H = init.user_factors_.astype(float), init.item_factors_.astype(float)
    observed = feedback == "explicit"
    M = (R > 0) if observed else np.ones(R.shape, dtype=bool)
    expected = []
    for _ in range(4):
        # the sweeps in model's dtype; the loss of its factors in float64
        W, H = (f.astype(dtype).astype(float) for f in
                _reference(R.astype(float), W, H, 0.1, observed, 1))
        error = ((R - W @ H.T) ** 2)[M].sum()
        if observed:
            penalty = M.sum(1) @ (W * W).sum(1) + M.sum(0) @ (H * H).sum(1)
        else:
            penalty = (W * W).sum() + (H * H).sum()
        expected.append(0.5 * error + 0.05 * penalty)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    assert_allclose(model.loss_curve_, expected, rtol=rtol)


def test_block_diagonal_known_top1_implicit():
    X = np.zeros((20, 16))
    X[:10, :8] = 1
    X[10:, 8:] = 1
    for u in range(20):
        X[u, (u % 8) + (8 if u >= 10 else 0)] = 0
    model = NMF(n_components=2, feedback="implicit", alpha=0.0, random_state=0).fit(X)
    idx, _ = model.recommend(X, k=1)
    assert_array_equal(idx[:, 0], [(u % 8) + (8 if u >= 10 else 0) for u in range(20)])


def test_predicts_ratings_of_a_rank_one_table():
    # ratings = outer product of positive vectors: NMF recovers hidden cells
    rng = np.random.default_rng(3)
    R = np.outer(rng.uniform(1, 2, 40), rng.uniform(1, 2.5, 25))
    mask = rng.random(R.shape) < 0.6
    model = NMF(n_components=1, alpha=0.0, max_iter=300, dtype=np.float64,
                random_state=0).fit(R * mask)
    pred = model.predict_ratings(R * mask)
    assert np.abs(pred - R)[~mask].max() < 0.05 * R.max()


def test_predict_ratings_needs_missing_ignore():
    X = np.eye(4) + 1
    model = NMF(n_components=2, feedback="implicit", random_state=0).fit(X)
    with pytest.raises(ValueError, match="needs feedback='explicit'"):
        model.predict_ratings(X)


def test_items_and_users_without_ratings_get_typical_factors_not_zero():
    rng = np.random.default_rng(0)
    W, H = rng.uniform(0.5, 1.5, (60, 3)), rng.uniform(0.5, 1.5, (25, 3))
    R = np.clip(np.rint(W @ H.T), 1, 5) * (rng.random((60, 25)) < 0.5)
    R[:, 24] = 0  # an item nobody rated
    X = sp.csr_matrix(R)
    model = NMF(n_components=3, random_state=0).fit(X)
    warm = model.item_factors_[:24]
    assert_allclose(model.item_factors_[24], warm.mean(axis=0), rtol=1e-5)
    pred = model.predict_ratings(X[:10], items=[24]).ravel()
    own_mean = np.array([X[u].data.mean() for u in range(10)])
    assert np.abs(pred - own_mean).max() < 1.0 and pred.min() > 1.5  # not the floor
    empty = sp.csr_matrix((1, 25))
    assert_allclose(model.transform(empty)[0], model.user_factors_.mean(axis=0), rtol=1e-5)
    # zeros as data: an item nobody chose keeps its zero factors
    implicit = NMF(n_components=3, feedback="implicit", random_state=0).fit((X > 0) * 1.0)
    assert not implicit.item_factors_[24].any()


@pytest.mark.parametrize("feedback", ["explicit", "implicit"])
def test_fold_in_runs_fold_in_iter_updates_of_the_row_from_the_fixed_start(feedback):
    """A scored user's factors are ``fold_in_iter`` multiplicative updates of their row
    alone, from ``fold_in_start_`` with ``H`` fixed: the dense user half-step of
    ``_reference`` repeated that many times. The budget is settable after fit and each
    step counts, so 1, 7 and 40 updates give three different answers."""
    rng = np.random.default_rng(4)
    R = rng.integers(1, 6, (30, 20)) * (rng.random((30, 20)) < 0.4)
    X = sp.csr_matrix(R.astype(float))
    model = NMF(n_components=3, alpha=0.1, feedback=feedback, max_iter=20, dtype=np.float64,
                random_state=0).fit(X)
    H = model.item_factors_
    rows = R[:6].astype(float)  # every one has ratings (no typical factors)
    assert (rows > 0).any(axis=1).all()
    M = (rows > 0).astype(float) if feedback == "explicit" else np.ones_like(rows)
    lam = 0.1 * (M.sum(1) if feedback == "explicit" else np.ones(len(rows)))
    W = np.full((len(rows), 3), model.fold_in_start_)
    answers = {}
    for n in range(1, 41):
        W = W * (rows @ H) / ((M * (W @ H.T)) @ H + lam[:, None] * W)
        answers[n] = W
    for n in (1, 7, 40):
        folded = model.set_params(fold_in_iter=n).transform(X[:6])
        assert_allclose(folded, answers[n], rtol=1e-9, atol=1e-12)
    assert np.abs(answers[7] - answers[1]).max() > 1e-2 * np.abs(answers[7]).max()
    assert np.abs(answers[40] - answers[7]).max() > 1e-3 * np.abs(answers[40]).max()


def test_an_update_below_the_smallest_normal_float_is_stored_as_zero():
    """One factor, one rating ``r = 1`` of one item: the update on the stored entries is
    ``y r / (y^2 + reg)``. A result in float32's subnormal range (1e-20 / 1e20) is stored
    as 0; one just above the smallest normal number (1e-20 / 1e17) is kept, and a float64
    factor keeps the first as well."""
    from sklearn_recsys.matrix_factorization._nmf_kernels import nmf_observed_sweep

    indptr, indices, data = np.array([0, 1]), np.array([0]), np.array([1.0])
    for reg, dtype, expected in ((1e20, np.float32, 0.0), (1e17, np.float32, 1e-37),
                                 (1e20, np.float64, 1e-40)):
        x = np.full((1, 1), 1e-3, dtype=dtype)
        y = np.full((1, 1), 1e-20, dtype=dtype)
        nmf_observed_sweep(indptr, indices, data.astype(dtype), x, y, reg, 1,
                           float(np.finfo(dtype).tiny))
        assert_allclose(x[0, 0], expected, rtol=1e-5, atol=0)
        assert x[0, 0] == 0 or x[0, 0] >= np.finfo(dtype).tiny


def test_no_factor_is_left_subnormal():
    """Multiplicative updates drive many factors towards 0; those that pass below float32's
    smallest normal number become 0 instead of subnormal floats, which take the processor's
    slow path in every later product (before the flush, this fit left 155 subnormal factors).
    The fold-in's factors too."""
    from sklearn_recsys.datasets import make_interactions

    X = make_interactions(200, 100, random_state=0)
    model = NMF(n_components=16, alpha=1.0, feedback="implicit", max_iter=100,
                random_state=0).fit(X)
    tiny = np.finfo(np.float32).tiny
    alone = np.vstack([model.transform(X[[u]]) for u in range(X.shape[0])])  # FEW_ROWS' kernel
    for factors in (model.user_factors_, model.item_factors_, model.transform(X), alone):
        assert factors.dtype == np.float32
        assert not ((factors > 0) & (factors < tiny)).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_implicit_fold_in_is_the_same_for_a_few_rows_and_for_many(dtype):
    """Implicit updates of fewer than ``FEW_ROWS`` rows run in a numba kernel, of
    ``FEW_ROWS`` or more in NumPy's dense products: a user's folded-in factors are the same
    either way (to float rounding), and so are their lists."""
    from sklearn_recsys.matrix_factorization._nmf import FEW_ROWS

    X = _nonnegative_matrix(seed=5, shape=(60, 30))
    model = NMF(n_components=4, alpha=0.5, feedback="implicit", max_iter=30, dtype=dtype,
                random_state=0).fit(X[:40])
    rows = X[40:]
    assert rows.shape[0] >= FEW_ROWS > 1
    together = model.transform(rows)
    alone = np.vstack([model.transform(rows[[u]]) for u in range(rows.shape[0])])
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert_allclose(alone, together, rtol=rtol, atol=1e-7 * np.abs(together).max())
    assert np.abs(together).max() > 0
    assert_array_equal(np.vstack([model.recommend(rows[[u]], k=5)[0]
                                  for u in range(rows.shape[0])]),
                       model.recommend(rows, k=5)[0])


def test_implicit_fit_in_blocks_of_rows_is_the_same_fit():
    """The implicit updates go through the rows in blocks that scikit-learn's
    ``working_memory`` sizes (four float64 numbers per factor and row): blocks of two rows
    (the numba kernel) and of one whole side give the same factors and recorded loss."""
    import sklearn

    X = _nonnegative_matrix(seed=6, shape=(50, 30))
    params = dict(n_components=4, alpha=0.5, feedback="implicit", max_iter=10,
                  dtype=np.float64, random_state=0)
    whole = NMF(**params).fit(X)
    with sklearn.config_context(working_memory=2 * 4 * 4 * 8 / 2**20):  # two rows a block
        blocks = NMF(**params).fit(X)
    assert_allclose(blocks.user_factors_, whole.user_factors_, rtol=1e-10, atol=1e-14)
    assert_allclose(blocks.item_factors_, whole.item_factors_, rtol=1e-10, atol=1e-14)
    assert_allclose(blocks.loss_curve_, whole.loss_curve_, rtol=1e-12)


def _nonnegative_matrix(seed=0, shape=(40, 25), density=0.3):
    rng = np.random.default_rng(seed)
    return sp.csr_matrix(rng.integers(1, 4, shape) * (rng.random(shape) < density), dtype=float)


def test_nndsvda_start_matches_scikit_learns():
    """The same NNDSVDa as scikit-learn's NMF init (same randomized SVD, same seed)."""
    nmf = pytest.importorskip("sklearn.decomposition._nmf")
    from sklearn_recsys.matrix_factorization._nmf import _nndsvd

    X = _nonnegative_matrix()
    W, H = _nndsvd(X, 5, X.mean(), 0)
    W_ref, H_ref = nmf._initialize_nmf(X, 5, init="nndsvda", random_state=0)
    assert_allclose(W, W_ref, rtol=1e-9, atol=1e-12)
    assert_allclose(H, H_ref.T, rtol=1e-9, atol=1e-12)
    assert (W > 0).all() and (H > 0).all()  # zeros filled: every entry can move


def test_nndsvd_of_a_rank_one_matrix_is_exact():
    """A rank-one non-negative matrix is its first singular triplet: W H^T = X."""
    from sklearn_recsys.matrix_factorization._nmf import _nndsvd

    a, b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 1.0, 4.0])
    X = sp.csr_matrix(np.outer(a, b))
    W, H = _nndsvd(X, 1, 1.0, 0)
    assert_allclose(W @ H.T, np.outer(a, b), rtol=1e-10)


def test_init_auto_is_nndsvda_for_implicit_and_random_for_explicit():
    X = _nonnegative_matrix(1)

    def factors(**params):
        model = NMF(n_components=4, max_iter=3, dtype=np.float64, random_state=0, **params)
        model.fit(X)
        return model.user_factors_, model.item_factors_

    for got, want in [(factors(feedback="implicit"), factors(feedback="implicit", init="nndsvda")),
                      (factors(), factors(init="random"))]:
        assert_array_equal(got[0], want[0])
        assert_array_equal(got[1], want[1])
    # the two starts differ (else the checks above could not fail)
    assert not np.allclose(factors(feedback="implicit")[0],
                           factors(feedback="implicit", init="random")[0])


def test_nndsvda_needs_as_many_singular_vectors_and_auto_falls_back():
    X = _nonnegative_matrix(2, shape=(10, 3), density=0.7)
    with pytest.raises(ValueError, match=r"n_components=4 singular vectors.*only 3.*"
                                         r"n_components <= 3 or init='random'"):
        NMF(n_components=4, feedback="implicit", init="nndsvda", max_iter=2).fit(X)
    kwargs = dict(n_components=4, feedback="implicit", alpha=1e-3, max_iter=2,
                  dtype=np.float64, random_state=0)
    auto = NMF(**kwargs).fit(X)
    random = NMF(init="random", **kwargs).fit(X)
    assert_array_equal(auto.user_factors_, random.user_factors_)


@parametrize_with_checks([NMF(n_components=2, feedback="implicit", max_iter=5, fold_in_iter=5,
                              random_state=0)])
def test_implicit_nmf_with_its_svd_start_passes_sklearns_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check", recommender_checks(), ids=lambda c: c.__name__)
def test_implicit_nmf_with_its_svd_start_passes_the_recommender_checks(check):
    check("NMF", NMF(n_components=2, feedback="implicit", max_iter=5, fold_in_iter=5,
                     random_state=0))
