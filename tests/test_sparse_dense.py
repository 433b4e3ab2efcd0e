"""The parallel products: scipy's CSR values bit for bit, factor scores the same in any batch."""

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest

from sklearn_recsys import BPR, EASE, ExplicitMF, HybridMF, ImplicitALS
from sklearn_recsys.utils._sparse_dense import csr_dense_product, factor_scores


@settings(max_examples=60, deadline=None)
@given(n_rows=st.integers(0, 8), n=st.integers(1, 7), n_cols=st.integers(1, 6),
       sparse_dtype=st.sampled_from([np.float32, np.float64, np.int64]),
       dense_dtype=st.sampled_from([np.float32, np.float64]),
       unsorted=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_equals_scipy_bit_for_bit(n_rows, n, n_cols, sparse_dtype, dense_dtype, unsorted,
                                  seed):
    rng = np.random.default_rng(seed)
    S = sp.random(n_rows, n, density=0.5, format="csr", random_state=rng,
                  data_rvs=lambda k: rng.integers(-3, 4, k) * rng.random(k))
    S = S.astype(sparse_dtype)
    if unsorted and S.nnz:  # stored order other than the columns' (and a duplicate entry)
        S = sp.csr_matrix((np.r_[S.data[::-1], S.data[:1]],
                           np.r_[S.indices[::-1], S.indices[:1]],
                           np.r_[0, np.full(max(n_rows - 1, 0), 0), S.nnz + 1][:n_rows + 1]
                           if n_rows else [0]), shape=S.shape)
    dense = (rng.standard_normal((n, n_cols)) * 1e3).astype(dense_dtype)
    got = csr_dense_product(S, dense)
    expected = np.asarray(S @ dense)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_a_dense_left_factor_goes_to_blas_and_an_integer_right_factor_to_scipy():
    rng = np.random.default_rng(0)
    A, B = rng.random((3, 4)), rng.random((4, 2))
    np.testing.assert_array_equal(csr_dense_product(A, B), A @ B)
    S = sp.random(3, 4, density=0.5, format="csr", random_state=0)
    counts = rng.integers(0, 5, (4, 2))
    np.testing.assert_array_equal(csr_dense_product(S, counts), S @ counts)


def test_ease_scores_rows_as_scipy_does_in_any_batch():
    rng = np.random.default_rng(1)
    X = sp.random(300, 80, density=0.1, format="csr", random_state=rng, dtype=np.float32)
    X.data[:] = 1.0
    model = EASE(alpha=5.0).fit(X)
    np.testing.assert_array_equal(model.decision_function(X), np.asarray(X @ model.coef_))
    np.testing.assert_array_equal(model.decision_function(X[7:8]),
                                  model.decision_function(X)[7:8])


@settings(max_examples=60, deadline=None)
@given(n_rows=st.integers(0, 9), n_items=st.integers(1, 40), n_components=st.integers(1, 70),
       dtypes=st.sampled_from([(np.float32, np.float32), (np.float64, np.float64),
                               (np.float64, np.float32)]), seed=st.integers(0, 2 ** 16))
def test_factor_scores_of_a_row_do_not_depend_on_the_batch(n_rows, n_items, n_components,
                                                           dtypes, seed):
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((n_rows, n_components)).astype(dtypes[0])
    V = rng.standard_normal((n_items, n_components)).astype(dtypes[1])
    got = factor_scores(U, V)
    assert got.dtype == np.result_type(*dtypes) and got.shape == (n_rows, n_items)
    np.testing.assert_allclose(got, U @ V.T, rtol=1e-4, atol=1e-4 * n_components)
    for r in range(n_rows):  # alone, and in a batch of other rows
        np.testing.assert_array_equal(factor_scores(U[r:r + 1], V)[0], got[r])
        batch = np.vstack([U[::-1], U[r:r + 1]])
        np.testing.assert_array_equal(factor_scores(batch, V)[-1], got[r])
    # the sum over the factors in their order, as written
    expected = np.zeros((n_rows, n_items), got.dtype)
    for k in range(n_components):
        expected += U[:, [k]].astype(got.dtype) * V[:, k].astype(got.dtype)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("Model", [ImplicitALS, BPR, ExplicitMF, HybridMF])
def test_factor_models_list_a_user_alike_alone_and_in_any_batch(Model):
    """BLAS's U @ V.T rounds a one-row product differently from a block: with items whose
    columns repeat others' (long-tail items held by the same users: equal factors, tied
    scores), a user's top 5 changed with the users scored beside it (ImplicitALS on six
    seeds of six; found by an audit helper)."""
    from sklearn import config_context

    rng = np.random.default_rng(0)
    X = sp.random(60, 20, density=0.25, random_state=0, format="csr")
    X.data[:] = rng.integers(1, 6, X.nnz) if Model is ExplicitMF else 1.0
    X = sp.hstack([X, X[:, :6]], format="csr")  # items 20 to 25 repeat items 0 to 5
    model = Model(n_components=4, random_state=0).fit(X)
    scores = model.decision_function(X)
    indices = model.recommend(X, k=5)[0]
    for u in range(X.shape[0]):
        np.testing.assert_array_equal(model.decision_function(X[u]), scores[u:u + 1])
        np.testing.assert_array_equal(model.recommend(X[u], k=5)[0], indices[u:u + 1])
    with config_context(working_memory=3 * X.shape[1] * 8 / 2 ** 20):  # batches of 3 rows
        np.testing.assert_array_equal(model.decision_function(X), scores)
