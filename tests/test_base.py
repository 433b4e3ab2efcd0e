"""The recommender contract: validation messages, recommend, decision_function."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from sklearn_recsys import EASE, ItemKNN, MostPopular
from sklearn_recsys.utils import top_k

MODELS = [EASE(alpha=1.0), ItemKNN(n_neighbors=3), MostPopular()]
X = sp.csr_matrix(np.array(
    [[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [0, 1, 1, 1, 0]], float))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_input_errors_name_problem_and_fix(model):
    with pytest.raises(NotFittedError, match="Call 'fit'"):
        model.__class__().recommend(X)
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        model.fit(-X)
    bad = X.toarray()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.fit(bad)
    with pytest.raises(ValueError, match="Expected 2D"):
        model.fit(np.ones(5))
    with pytest.raises(ValueError, match="0 sample"):
        model.fit(sp.csr_matrix((0, 5)))
    model.fit(X)
    with pytest.raises(ValueError, match="X has 4 features.*expecting 5.*same items"):
        model.decision_function(X[:, :4])
    with pytest.raises(ValueError, match="Negative values"):
        model.recommend(-X)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.recommend(X, k=0)
    with pytest.raises(ValueError, match=r"column indices in \[0, 5\)"):
        model.recommend(X, candidates=[7])
    with pytest.raises(TypeError, match="integer item"):
        model.recommend(X, candidates=[0.5])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_any_sparse_format_and_dense_give_same_scores(model):
    model.fit(X)
    ref = model.decision_function(X)
    for fmt in ("csc", "coo", "lil", "dok"):
        np.testing.assert_allclose(model.decision_function(X.asformat(fmt)), ref)
    np.testing.assert_allclose(model.decision_function(X.toarray()), ref)


def test_values_are_kept_not_binarized():
    counts = X.multiply(np.arange(1, 6)).tocsr()
    a = EASE(alpha=1.0).fit(X).coef_
    b = EASE(alpha=1.0).fit(counts).coef_
    assert not np.allclose(a, b)


def test_user_with_no_interactions_and_seen_exclusion():
    model = MostPopular().fit(X)
    idx, scores = model.recommend(sp.csr_matrix((1, 5)), k=5)
    np.testing.assert_array_equal(idx, [[1, 2, 0, 3, 4]])
    idx, scores = model.recommend(X[1], k=5)
    np.testing.assert_array_equal(idx, [[3, 4, -1, -1, -1]])
    assert np.isneginf(scores[0, 2:]).all()
    idx, _ = model.recommend(X[1], k=2, exclude_seen=False)
    np.testing.assert_array_equal(idx, [[1, 2]])


def test_top_k_ties_broken_by_lower_index():
    s = np.array([[1.0, 3.0, 3.0, 3.0, -np.inf, 2.0]])
    idx, val = top_k(s, 2)
    np.testing.assert_array_equal(idx, [[1, 2]])
    idx, val = top_k(s, 7)  # one column per item at most
    np.testing.assert_array_equal(idx, [[1, 2, 3, 5, 0, -1]])
    assert np.isneginf(val[0, 5:]).all()
