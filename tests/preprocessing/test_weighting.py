"""BM25 and TF-IDF weighting against hand-computed formulas and scikit-learn's TfidfTransformer."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from sklearn_recsys import EASE, make_interactions
from sklearn_recsys.metrics import get_ranking_scorer
from sklearn_recsys.preprocessing import BM25Weighting, RatingBinarizer, TfidfWeighting

X = sp.csr_matrix(np.array([[3, 1, 0], [1, 0, 0], [2, 0, 5], [0, 0, 1]], dtype=float))


def test_bm25_hand_computed():
    # item 0 has 3 of the 4 users: idf log(4 / 4) = 0, so it vanishes from every row
    with pytest.warns(UserWarning, match=r"1 item\(s\) \(e.g. \[0\]\).*floored at 0"):
        w = BM25Weighting(k1=1.2, b=0.75).fit(X)
    n_i = np.array([3, 1, 2])
    idf = np.maximum(np.log(4) - np.log1p(n_i), 0)
    np.testing.assert_allclose(w.idf_, idf)
    lengths = np.array([4, 1, 7, 1.0])
    avg = lengths.mean()
    out = w.transform(X).toarray()
    u, i = 2, 2
    norm = 0.25 + 0.75 * lengths[u] / avg
    assert out[u, i] == pytest.approx(5 * 2.2 / (5 + 1.2 * norm) * idf[i])
    assert (out[X.toarray() == 0] == 0).all()
    # absent, not stored zeros (the next step dropped them, some steps would not)
    assert w.transform(X).getcol(0).nnz == 0 and w.transform(X).nnz == X.nnz - 3


@pytest.mark.filterwarnings("ignore:BM25Weighting")
def test_new_users_use_training_statistics():
    w = BM25Weighting().fit(X)
    new = sp.csr_matrix([[0, 4.0, 0]])
    length_norm = 0.2 + 0.8 * 4 / w.mean_user_length_
    assert w.transform(new)[0, 1] == pytest.approx(4 * 101 / (100 * length_norm + 4) * w.idf_[1])


@pytest.mark.parametrize("norm", [None, "l2", "l1"])
def test_tfidf_raw_matches_sklearn(norm):
    ours = TfidfWeighting(tf="raw", norm=norm).fit(X).transform(X).toarray()
    ref = TfidfTransformer(norm=norm, smooth_idf=True).fit(X).transform(X).toarray()
    np.testing.assert_allclose(ours, ref)
    log = TfidfWeighting(tf="log").fit(X)
    assert log.transform(X)[2, 2] == pytest.approx((1 + np.log(5)) * log.idf_[2])


def test_dtype_and_sparsity_kept():
    out = TfidfWeighting().fit(X.astype(np.float32)).transform(X.astype(np.float32))
    assert sp.issparse(out) and out.dtype == np.float32 and out.nnz == X.nnz


def test_pipeline_grid_search_with_bm25():
    data = make_interactions(n_users=300, n_items=50, density=0.15, random_state=0)
    search = GridSearchCV(make_pipeline(BM25Weighting(), EASE()),
                          {"bm25weighting__b": [0.0, 0.8], "ease__alpha": [5.0, 50.0]},
                          scoring=get_ranking_scorer("ndcg@10"), cv=KFold(3))
    search.fit(data)
    assert np.all(search.cv_results_["mean_test_score"] > 0.1)


@pytest.mark.parametrize("Step", [BM25Weighting, TfidfWeighting, "RatingBinarizer"])
def test_transform_before_fit_raises_not_fitted(Step):
    """RatingBinarizer transformed before fit (the contract: NotFittedError), unlike the
    weightings."""
    from sklearn.exceptions import NotFittedError

    if Step == "RatingBinarizer":
        from sklearn_recsys.preprocessing import RatingBinarizer as Step
    with pytest.raises(NotFittedError):
        Step().transform(X)


def test_binarizer_threshold_is_read_in_the_precision_of_the_ratings():
    """A float32 rating of 0.7 was dropped by a NumPy float64 threshold of 0.7 (a grid from
    np.linspace) and kept by a Python float 0.7."""
    X = sp.csr_matrix(np.array([[0.7, 0.3, 0.9], [0.2, 0.7, 0.0]], dtype=np.float32))
    for threshold in (0.7, np.float64(0.7), np.linspace(0.1, 0.7, 7)[-1]):
        out = RatingBinarizer(threshold=threshold).fit_transform(X)
        np.testing.assert_array_equal(out.toarray(), [[1, 0, 1], [0, 1, 0]])
        assert out.dtype == np.float32
    # float64 ratings: exact as before
    out = RatingBinarizer(threshold=np.float64(0.7)).fit_transform(X.astype(np.float64) * 0.999)
    np.testing.assert_array_equal(out.toarray(), [[0, 0, 1], [0, 0, 0]])
