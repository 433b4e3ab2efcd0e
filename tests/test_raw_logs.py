"""Interaction logs given where a user-item matrix is due, and relevance thresholds (issue 14)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sklearn_recsys import EASE, ImplicitALS
from sklearn_recsys.metrics import (
    auc,
    make_ranking_scorer,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from sklearn_recsys.preprocessing import BM25Weighting


def _log(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"userId": rng.integers(1, 600, n), "movieId": rng.integers(1, 9000, n),
                         "rating": rng.integers(1, 6, n) / 1.0,
                         "timestamp": rng.integers(9e8, 1.6e9, n)})


@pytest.mark.parametrize("estimator", [EASE(), ImplicitALS(max_iter=1), BM25Weighting()],
                         ids=lambda e: type(e).__name__)
def test_a_log_is_refused_with_the_encoder_named(estimator):
    log = _log()
    with pytest.raises(ValueError, match=r"columns \['userId', 'movieId'.*InteractionEncoder"):
        estimator.fit(log)
    with pytest.warns(UserWarning, match="whole numbers up to .*looks like an interaction log"):
        estimator.fit(log.to_numpy())
    strings = pd.DataFrame({"u": ["u1", "u2", "u3"], "i": ["a", "b", "a"]})
    with pytest.raises(ValueError, match="non-numeric values.*InteractionEncoder"):
        estimator.fit(strings)
    with pytest.raises(ValueError, match="non-numeric values"):
        estimator.fit(strings.to_numpy())


def test_a_narrow_matrix_of_counts_is_still_a_matrix():
    # 4 items and few users, small values: a plausible catalogue, accepted
    X = np.random.default_rng(0).integers(0, 3, (50, 4)).astype(float)
    X[0, 0] = 1
    assert EASE(alpha=1.0).fit(X).n_features_in_ == 4
    df = pd.DataFrame(X, columns=["a", "b", "c", "time"])  # one log-like name: an item
    assert EASE(alpha=1.0).fit(df).n_features_in_ == 4


def test_relevance_threshold_by_hand():
    # held-out ratings: item 0 rated 5, item 2 rated 2; the ranking puts 2 first, then 0
    y = sp.csr_matrix(np.array([[5.0, 0.0, 2.0, 0.0]]))
    scores = np.array([[0.8, 0.1, 0.9, 0.0]])
    assert ndcg_at_k(y, scores, k=2) == pytest.approx(1.0)
    # only the 5 is relevant, found at rank 2: DCG 1/log2(3), ideal 1
    assert ndcg_at_k(y, scores, k=2, relevance_threshold=4) == pytest.approx(1 / np.log2(3))
    assert recall_at_k(y, scores, k=1, relevance_threshold=4) == 0.0
    assert recall_at_k(y, scores, k=1) == 1.0
    assert precision_at_k(y, scores, k=2, relevance_threshold=4) == 0.5
    # item 2 becomes a negative ranked above the positive: AUC 2/3 (beats items 1, 3)
    assert auc(y, scores, relevance_threshold=4) == pytest.approx(2 / 3)
    # a user with no rating above the threshold is left out of the mean
    y2 = sp.csr_matrix(np.array([[5.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 0.0]]))
    s2 = np.vstack([scores, scores])
    assert ndcg_at_k(y2, s2, k=2, relevance_threshold=4) == pytest.approx(1 / np.log2(3))
    with pytest.raises(TypeError, match="relevance_threshold must be a number"):
        ndcg_at_k(y, scores, relevance_threshold="4")


def test_scorer_threshold_equals_the_metric_on_the_same_split():
    rng = np.random.default_rng(0)
    X = sp.random(200, 30, density=0.4, format="csr", random_state=0)
    X.data = rng.integers(1, 6, X.nnz).astype(float)
    y = sp.random(200, 30, density=0.05, format="csr", random_state=1)
    y.data = rng.integers(1, 6, y.nnz).astype(float)
    y = y - y.multiply(X != 0)  # held-out entries are not in the history
    y = sp.csr_matrix(y)
    y.eliminate_zeros()
    model = EASE(alpha=10.0).fit(X)
    scorer = make_ranking_scorer("ndcg", k=5, relevance_threshold=4)
    expected = ndcg_at_k(y, model.recommend(X, k=5)[0], k=5, relevance_threshold=4)
    assert scorer(model, X, y) == pytest.approx(expected)
    assert scorer(model, X, y) != pytest.approx(make_ranking_scorer("ndcg", k=5)(model, X, y))
    assert "relevance_threshold=4" in repr(scorer)
