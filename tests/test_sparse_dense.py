"""The parallel products into dense results: scipy's values, bit for bit, for any rows."""

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_recsys import EASE, ItemKNN
from sklearn_recsys.utils._sparse_dense import csr_csr_dense_product, csr_dense_product


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


def _random_csr(rng, n_rows, n, dtype, unsorted):
    S = sp.random(n_rows, n, density=0.5, format="csr", random_state=rng,
                  data_rvs=lambda k: rng.integers(-3, 4, k) * rng.random(k) * 1e3)
    S = S.astype(dtype)
    if unsorted and S.nnz:  # every entry in row 0, reversed, and a duplicate entry
        S = sp.csr_matrix((np.r_[S.data[::-1], S.data[:1]],
                           np.r_[S.indices[::-1], S.indices[:1]],
                           np.r_[0, np.full(n_rows, S.nnz + 1)]), shape=S.shape)
    return S


@settings(max_examples=80, deadline=None)
@given(n_rows=st.integers(1, 8), n=st.integers(1, 7), n_cols=st.integers(1, 6),
       left_dtype=st.sampled_from([np.float32, np.float64, np.int64]),
       right_dtype=st.sampled_from([np.float32, np.float64]),
       unsorted=st.tuples(st.booleans(), st.booleans()), seed=st.integers(0, 2 ** 16))
def test_sparse_product_equals_scipys_dense_result_bit_for_bit(
        n_rows, n, n_cols, left_dtype, right_dtype, unsorted, seed):
    rng = np.random.default_rng(seed)
    S = _random_csr(rng, n_rows, n, left_dtype, unsorted[0])
    T = _random_csr(rng, n, n_cols, right_dtype, unsorted[1])
    got = csr_csr_dense_product(S, T)
    expected = (S @ T).toarray()
    assert isinstance(got, np.ndarray)
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


def test_item_knn_scores_rows_as_scipy_does_in_any_batch():
    rng = np.random.default_rng(2)
    X = sp.random(300, 80, density=0.1, format="csr", random_state=rng)
    model = ItemKNN(n_neighbors=10).fit(X)
    scores = model.decision_function(X)
    assert isinstance(scores, np.ndarray)
    np.testing.assert_array_equal(scores, (X @ model.similarity_).toarray())
    np.testing.assert_array_equal(model.decision_function(X[7:8]), scores[7:8])
    # a dense left factor goes to scipy, same values
    np.testing.assert_array_equal(model.decision_function(X.toarray()), scores)
