"""Sums over more users than float32 sums well: Gram matrices, co-occurrence counts and
the ALS item steps' normal equations.

scipy sums a sparse product in its operands' dtype, and a float32 running sum drifts (a
million equal non-integer terms 1.4% off) and stops growing at 2**24 = 16,777,216: a
float32 ``X`` with 25M users sharing an item weighed them as 2**24. These tests build such
matrices (a few hundred MB, seconds; the 25M-user ones are marked slow) and compare with
exact sums or float64.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_recsys import EASE, SparseEASE
from sklearn_recsys.ensemble._cooccurrence import cooccurrence_cosine
from sklearn_recsys.linear._ease import sparse_gram
from sklearn_recsys.linear._multi_behavior import target_input_product
from sklearn_recsys.linear._sparse_ease import _checked_gram
from sklearn_recsys.utils._solvers import (als_cg_sweep, als_cholesky_sweep,
                                           explicit_als_sweep, prior_ls_sweep)

N_USERS = 2**24 + 2**23  # 25,165,824: past float32's last exact increment of 1


def _rows(extra_columns, dtype):
    """CSR of N_USERS rows, each with item 0, plus ``extra_columns[c]`` (a boolean mask of
    the users) for item c + 1."""
    masks = [np.asarray(m) for m in extra_columns]
    per_row = 1 + sum(m.astype(np.int64) for m in masks)
    indptr = np.zeros(N_USERS + 1, dtype=np.int64)
    np.cumsum(per_row, out=indptr[1:])
    indices = np.zeros(indptr[-1], dtype=np.int32)
    filled = np.ones(N_USERS, dtype=np.int64)
    for column, mask in enumerate(masks, start=1):
        indices[indptr[:-1][mask] + filled[mask]] = column
        filled += mask
    return sp.csr_matrix((np.ones(len(indices), dtype=dtype), indices, indptr),
                         shape=(N_USERS, len(masks) + 1))


@pytest.fixture(scope="module")
def three_items():
    """Item 0 for every user, item 1 for the first 2**22, item 2 for the next 2**21."""
    users = np.arange(N_USERS)
    return _rows([users < 2**22, (users >= 2**22) & (users < 2**22 + 2**21)], np.float32)


@pytest.mark.slow
def test_gram_counts_past_2_to_the_24_in_float32(three_items):
    exact = np.array([[N_USERS, 2**22, 2**21], [2**22, 2**22, 0], [2**21, 0, 2**21]])
    G = sparse_gram(three_items)
    assert G.dtype == np.float32
    np.testing.assert_array_equal(G, exact)  # the float32 sums stopped at 16,777,216
    gram = _checked_gram(three_items)
    assert gram.dtype == np.float64  # SparseEASE factorizes it in float64
    np.testing.assert_array_equal(gram.toarray(), exact)


@pytest.mark.slow
@pytest.mark.parametrize("model", [EASE(alpha=100.0), SparseEASE(alpha=100.0, density=1.0)],
                         ids=["EASE", "SparseEASE"])
def test_float32_fit_matches_float64_past_2_to_the_24_users(three_items, model):
    # the float32 fit weighed item 0's 25M users as 2**24: B[0, 1] 0.2857 for 0.1818
    user = sp.csr_matrix(np.array([[0.0, 1.0, 1.0]]))
    scores32 = model.fit(three_items).decision_function(user.astype(np.float32))
    scores64 = model.fit(three_items.astype(np.float64)).decision_function(user)
    np.testing.assert_allclose(scores32, scores64, rtol=1e-4, atol=1e-6)
    assert scores64[0, 1] == pytest.approx(-0.1818, abs=1e-3)


@pytest.mark.slow
def test_cooccurrence_counts_past_2_to_the_24_users():
    # every user has items 0 and 1: their cosine is 1 (it read 2**24 / 25M = 2/3)
    users = np.arange(N_USERS)
    block = _rows([np.ones(N_USERS, dtype=bool), users < 1000], np.float64)
    S = cooccurrence_cosine(block).toarray()
    assert S[0, 1] == pytest.approx(1.0, rel=1e-6)
    assert S[0, 2] == pytest.approx(1000 / np.sqrt(N_USERS * 1000), rel=1e-6)


def _one_item_of(n_users, dtype):
    """One item's row held by ``n_users`` users whose factors alternate between (0.37, 0)
    and (0, 0.21): equal non-integer terms, the float32 running sum's worst case."""
    indptr = np.array([0, n_users], dtype=np.int64)
    indices = np.arange(n_users, dtype=np.int32)
    Y = np.zeros((n_users, 2), dtype=dtype)
    Y[0::2, 0], Y[1::2, 1] = 0.37, 0.21
    return indptr, indices, Y


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_als_item_step_over_a_million_users_in_float32(solver):
    # the float32 item step was 0.4% (Cholesky) and 0.85% (CG) off at 1M users, 1.3% and
    # 2.5% at 4M (ImplicitALS's item factors 7% off at 3M users, and NaN at 4M)
    n = 1_000_000
    out = {}
    for dtype in (np.float32, np.float64):
        indptr, indices, Y = _one_item_of(n, dtype)
        Y64 = Y.astype(np.float64)
        G = (Y64.T @ Y64 + np.eye(2)).astype(dtype)
        X = np.zeros((1, 2), dtype=dtype)
        data, pref = np.ones(n, dtype=dtype), np.empty(0, dtype=dtype)
        if solver == "cholesky":
            als_cholesky_sweep(indptr, indices, data, X, Y, G, 10.0, pref)
        else:
            als_cg_sweep(indptr, indices, data, X, Y, G, 10.0, 3, pref)
        out[dtype] = X[0].astype(np.float64)
    exact = np.linalg.solve(11 * (Y64.T @ Y64) + np.eye(2), 11 * Y64.sum(axis=0))
    np.testing.assert_allclose(out[np.float64], exact, rtol=1e-9)
    np.testing.assert_allclose(out[np.float32], exact, rtol=2e-5)


def test_explicit_and_prior_item_steps_over_a_million_users_in_float32():
    # ExplicitMF's (and MultiTaskMF's) biased step and ConvMF's / HybridMF's prior step:
    # the float32 bias read 3.83 for 3.70 at 1M users (6.9% off at 4M)
    n = 1_000_000
    out = {}
    for dtype in (np.float32, np.float64):
        indptr, indices, Y = _one_item_of(n, dtype)
        Y[2::3] = 0.0  # a third of the users with zero factors: the bias is their mean
        data = np.full(n, 3.7, dtype=dtype)
        X, bias = np.zeros((1, 2), dtype=dtype), np.zeros(1, dtype=dtype)
        explicit_als_sweep(indptr, indices, data, X, Y, bias, np.zeros(n, dtype=dtype), 0.0,
                           0.1, 0.1, False, False)
        prior = np.zeros((1, 2), dtype=dtype)
        prior_ls_sweep(indptr, indices, data, prior, Y, (0.1 * np.eye(2)).astype(dtype),
                       np.zeros((1, 2), dtype=dtype), 0.1, 0.0, True, np.empty(0, dtype=dtype))
        out[dtype] = (float(bias[0]), X[0].astype(np.float64), prior[0].astype(np.float64))
    assert out[np.float32][0] == pytest.approx(out[np.float64][0], rel=2e-5)
    np.testing.assert_allclose(out[np.float32][1], out[np.float64][1], atol=1e-4)
    np.testing.assert_allclose(out[np.float32][2], out[np.float64][2], rtol=2e-5)


def test_target_input_product_over_three_million_users_in_float32():
    # MultiBehaviorEASE's Y^T Z P summed the users' rows of Z P in float32: 1,122,784 for
    # 1,110,000 at 3M users of one item (1.15%); its coef_ 0.5% off
    n = 3_000_000
    Y = sp.csr_matrix((np.ones(n, dtype=np.float32), np.zeros(n, dtype=np.int32),
                       np.arange(n + 1)), shape=(n, 1))
    out = target_input_product(Y, Y, np.array([[0.37]], dtype=np.float32))
    assert out.dtype == np.float64
    assert out[0, 0] == pytest.approx(n * float(np.float32(0.37)), rel=1e-12)
