"""Sums over more users than float32 counts: Gram matrices and co-occurrence counts.

scipy sums a sparse product in its operands' dtype, and a float32 running sum stops
growing at 2**24 = 16,777,216: a float32 ``X`` with 25M users sharing an item weighed
them as 2**24. These tests build such matrices (a few hundred MB, seconds) and compare
with exact counts.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_recsys import EASE, SparseEASE
from sklearn_recsys.ensemble._cooccurrence import cooccurrence_cosine
from sklearn_recsys.linear._ease import sparse_gram
from sklearn_recsys.linear._sparse_ease import _checked_gram

pytestmark = pytest.mark.slow

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


def test_gram_counts_past_2_to_the_24_in_float32(three_items):
    exact = np.array([[N_USERS, 2**22, 2**21], [2**22, 2**22, 0], [2**21, 0, 2**21]])
    G = sparse_gram(three_items)
    assert G.dtype == np.float32
    np.testing.assert_array_equal(G, exact)  # the float32 sums stopped at 16,777,216
    gram = _checked_gram(three_items)
    assert gram.dtype == np.float32
    np.testing.assert_array_equal(gram.toarray(), exact)


@pytest.mark.parametrize("model", [EASE(alpha=100.0), SparseEASE(alpha=100.0, density=1.0)],
                         ids=["EASE", "SparseEASE"])
def test_float32_fit_matches_float64_past_2_to_the_24_users(three_items, model):
    # the float32 fit weighed item 0's 25M users as 2**24: B[0, 1] 0.2857 for 0.1818
    user = sp.csr_matrix(np.array([[0.0, 1.0, 1.0]]))
    scores32 = model.fit(three_items).decision_function(user.astype(np.float32))
    scores64 = model.fit(three_items.astype(np.float64)).decision_function(user)
    np.testing.assert_allclose(scores32, scores64, rtol=1e-4, atol=1e-6)
    assert scores64[0, 1] == pytest.approx(-0.1818, abs=1e-3)


def test_cooccurrence_counts_past_2_to_the_24_users():
    # every user has items 0 and 1: their cosine is 1 (it read 2**24 / 25M = 2/3)
    users = np.arange(N_USERS)
    block = _rows([np.ones(N_USERS, dtype=bool), users < 1000], np.float64)
    S = cooccurrence_cosine(block).toarray()
    assert S[0, 1] == pytest.approx(1.0, rel=1e-6)
    assert S[0, 2] == pytest.approx(1000 / np.sqrt(N_USERS * 1000), rel=1e-6)
