"""Ranking metrics against hand-computed cases, a slow reference and scikit-learn."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning
from numpy.testing import assert_array_equal
from sklearn.metrics import ndcg_score

from sklearn_recsys import MostPopular
from sklearn_recsys.metrics import (
    auc,
    catalog_coverage,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    make_ranking_scorer,
    recall_at_k,
)
from sklearn_recsys.preprocessing import RatingBinarizer

# One user, 6 items; held out: items 1, 3, 5. Ranking by score: 0, 1, 2, 3, 4, 5.
Y1 = sp.csr_matrix([[0, 1, 0, 1, 0, 1]])
S1 = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])


def test_hand_computed_single_user():
    # hits at ranks 2, 4, 6
    d = [1 / math.log2(i + 1) for i in range(1, 7)]
    assert ndcg_at_k(Y1, S1, k=4) == pytest.approx((d[1] + d[3]) / (d[0] + d[1] + d[2]))
    assert ndcg_at_k(Y1, S1, k=1) == 0.0
    assert recall_at_k(Y1, S1, k=4) == pytest.approx(2 / 3)
    assert recall_at_k(Y1, S1, k=2) == pytest.approx(1 / 2)  # min(k, 3) = 2
    assert precision_at_k(Y1, S1, k=4) == pytest.approx(2 / 4)
    assert map_at_k(Y1, S1, k=4) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert mrr_at_k(Y1, S1, k=4) == pytest.approx(1 / 2)
    assert mrr_at_k(Y1, S1, k=1) == 0.0
    assert hit_rate_at_k(Y1, S1, k=1) == 0.0
    assert hit_rate_at_k(Y1, S1, k=2) == 1.0
    # pairs (pos, neg): 1>2,1>4 ; 3>4 ; 5 beats none -> 3 of 9
    assert auc(Y1, S1) == pytest.approx(3 / 9)


def test_minus_inf_items_are_never_ranked():
    scores = S1.copy()
    scores[0, [0, 2]] = -np.inf  # drop the two misses ranked above hits
    assert precision_at_k(Y1, scores, k=2) == 1.0
    assert ndcg_at_k(Y1, scores, k=2) == pytest.approx(1.0)
    # k larger than the candidates: empty slots are misses, not hits
    only = np.full((1, 6), -np.inf)
    only[0, 1] = 1.0
    assert precision_at_k(Y1, only, k=3) == pytest.approx(1 / 3)
    assert recall_at_k(Y1, only, k=3) == pytest.approx(1 / 3)
    # auc: -inf negatives are not candidates
    assert auc(Y1, scores) == pytest.approx(2 / 3)
    # a held-out item scored -inf stays a candidate, ranked last
    held_last = S1.copy()
    held_last[0, 1] = -np.inf
    assert auc(Y1, held_last) == pytest.approx(1 / 9)


def test_users_without_held_out_items_are_left_out():
    y = sp.csr_matrix([[0, 1, 0, 1, 0, 1], [0, 0, 0, 0, 0, 0]])
    s = np.vstack([S1, S1])
    assert ndcg_at_k(y, s, k=4) == ndcg_at_k(Y1, S1, k=4)
    with pytest.warns(UndefinedMetricWarning, match="no user has a held-out item"):
        assert math.isnan(recall_at_k(sp.csr_matrix((2, 6)), s, k=3))


def test_ranked_indices_equal_scores():
    rng = np.random.RandomState(0)
    y = sp.random(30, 40, density=0.1, random_state=rng, format="csr")
    s = rng.rand(30, 40)
    order = np.argsort(-s, axis=1)[:, :10]
    for metric in (ndcg_at_k, recall_at_k, precision_at_k, map_at_k, mrr_at_k, hit_rate_at_k):
        assert metric(y, s, k=10) == pytest.approx(metric(y, order, k=10))
    assert catalog_coverage(y, s, k=10) == catalog_coverage(y, order, k=10)


def _reference(y_true, y_score, k):
    """Per-user loops straight from the textbook formulas."""
    y = y_true.toarray()
    out = {m: [] for m in ("ndcg", "recall", "precision", "map", "mrr", "hr", "auc")}
    for u in range(y.shape[0]):
        rel = set(np.flatnonzero(y[u]))
        if not rel:
            continue
        ranking = sorted(range(y.shape[1]), key=lambda i: (-y_score[u, i], i))[:k]
        hits = [1 if i in rel else 0 for i in ranking]
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(rel))))
        out["ndcg"].append(dcg / idcg)
        out["recall"].append(sum(hits) / min(k, len(rel)))
        out["precision"].append(sum(hits) / k)
        ap = sum(sum(hits[: r + 1]) / (r + 1) for r in range(k) if hits[r])
        out["map"].append(ap / min(k, len(rel)))
        out["mrr"].append(next((1 / (r + 1) for r in range(k) if hits[r]), 0.0))
        out["hr"].append(float(any(hits)))
        pos = [y_score[u, i] for i in rel]
        neg = [y_score[u, i] for i in range(y.shape[1]) if i not in rel]
        if neg:
            wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
            out["auc"].append(wins / (len(pos) * len(neg)))
    return {m: float(np.mean(v)) for m, v in out.items()}


@pytest.mark.parametrize("k", [1, 5, 17])
@pytest.mark.parametrize("batch_size", [None, 7])
def test_against_slow_reference(k, batch_size):
    rng = np.random.RandomState(k)
    y = sp.random(50, 30, density=0.15, random_state=rng, format="csr")
    # integer-valued scores create ties, broken by the lower index in both
    s = rng.randint(0, 8, size=(50, 30)).astype(float)
    ref = _reference(y, s, k)
    kw = dict(k=k, batch_size=batch_size)
    assert ndcg_at_k(y, s, **kw) == pytest.approx(ref["ndcg"])
    assert recall_at_k(y, s, **kw) == pytest.approx(ref["recall"])
    assert precision_at_k(y, s, **kw) == pytest.approx(ref["precision"])
    assert map_at_k(y, s, **kw) == pytest.approx(ref["map"])
    assert mrr_at_k(y, s, **kw) == pytest.approx(ref["mrr"])
    assert hit_rate_at_k(y, s, **kw) == pytest.approx(ref["hr"])
    assert auc(y, s, batch_size=batch_size) == pytest.approx(ref["auc"])


def _pairwise_auc(y_true, y_score):
    """Per-user AUC from every (held-out, candidate) pair, with the -inf rules of ``auc``."""
    y = y_true.toarray() != 0
    values = []
    for u in range(y.shape[0]):
        s = y_score[u].astype(np.float64)
        pos = np.flatnonzero(y[u])
        neg = np.flatnonzero(~y[u] & (s > -np.inf))
        if not len(pos) or not len(neg):
            continue
        # a held-out item scored -inf is a candidate below every other candidate
        p = np.where(s[pos] > -np.inf, s[pos], -np.finfo(np.float64).max)
        wins = (p[:, None] > s[neg]).sum() + 0.5 * (p[:, None] == s[neg]).sum()
        values.append(wins / (len(pos) * len(neg)))
    return float(np.mean(values)) if values else None


@settings(max_examples=80, deadline=None)
@given(n_users=st.integers(1, 6), n_items=st.integers(1, 9), seed=st.integers(0, 2 ** 16),
       dtype=st.sampled_from([np.float64, np.float32, np.float16, bool]),
       p_inf=st.sampled_from([0.0, 0.3, 0.9]), batch_size=st.sampled_from([None, 1, 4]))
def test_auc_equals_the_pairwise_definition(n_users, n_items, seed, dtype, p_inf, batch_size):
    rng = np.random.default_rng(seed)
    y = sp.csr_matrix(rng.random((n_users, n_items)) < 0.4)
    s = rng.integers(-2, 3, (n_users, n_items)).astype(dtype)  # ties on purpose
    if dtype is not bool:
        s[rng.random(s.shape) < p_inf] = -np.inf
        s[rng.random(s.shape) < 0.1] = np.inf
    expected = _pairwise_auc(y, s)
    if expected is None:
        with pytest.warns(UndefinedMetricWarning):
            assert math.isnan(auc(y, s, batch_size=batch_size))
    else:
        assert auc(y, s, batch_size=batch_size) == pytest.approx(expected, rel=1e-12)


def test_nan_is_found_in_any_block_and_infinities_are_not_nan():
    y = sp.csr_matrix(np.eye(50, 20))
    s = np.zeros((50, 20))
    s[:, 0], s[:, 1] = np.inf, -np.inf  # their sum is NaN: the exact check must clear it
    assert 0 <= ndcg_at_k(y, s, k=5, batch_size=3) <= 1
    s[47, 5] = np.nan
    for metric in (ndcg_at_k, auc):
        with pytest.raises(ValueError, match="y_score contains NaN"):
            metric(y, s, batch_size=3)


@pytest.mark.parametrize("k", [3, 10])
def test_ndcg_matches_sklearn_when_definitions_coincide(k):
    # sklearn's ndcg_score uses graded gains and the ideal DCG over all of the
    # user's relevant items; with k <= n_relevant and untied scores the two
    # definitions coincide.
    rng = np.random.RandomState(0)
    y = rng.randint(0, 4, size=(20, 25)) * (rng.rand(20, 25) < 0.8)
    y[y.sum(axis=1) == 0, 0] = 1
    y = y[(y > 0).sum(axis=1) >= k]
    s = rng.rand(*y.shape)
    ours = ndcg_at_k(sp.csr_matrix(y), s, k=k, gain="graded")
    assert ours == pytest.approx(ndcg_score(y, s, k=k))
    ours_binary = ndcg_at_k(sp.csr_matrix(y), s, k=k)
    assert ours_binary == pytest.approx(ndcg_score((y > 0).astype(int), s, k=k))


def test_catalog_coverage_counts_every_user():
    y = sp.csr_matrix((3, 5))
    s = np.array([[5, 4, 3, 2, 1], [5, 4, 3, 2, 1], [1, 2, 3, 4, 5]], dtype=float)
    assert catalog_coverage(y, s, k=2) == pytest.approx(4 / 5)


@pytest.mark.parametrize(
    "y_score, match",
    [
        (np.ones((1, 5)), "same number of users|scores for 5 items"),
        (np.ones(6), "2-D"),
        (np.array([[0, 9]]), "ranked item indices"),
        (sp.csr_matrix(np.ones((1, 6))), "dense array"),
        (np.array([[np.nan] * 6]), "NaN"),
        # integer scores (counts) of all 6 items: repeats cannot be a ranked list
        (np.array([[0, 3, 1, 1, 0, 2]]), "repeat an item.*as floats"),
    ],
)
def test_bad_input_errors(y_score, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ndcg_at_k(Y1, y_score, k=2)


def test_bad_k_and_negative_truth():
    with pytest.raises(ValueError, match="k must be a positive integer"):
        recall_at_k(Y1, S1, k=0)
    with pytest.raises(ValueError, match="Negative values"):
        recall_at_k(-Y1, S1, k=2)
    with pytest.raises(ValueError, match="auc needs float scores"):
        auc(Y1, np.array([[0, 1]]))


def test_ranked_indices_may_repeat_only_the_padding():
    y = sp.csr_matrix([[0, 0, 1.0, 0]])
    assert ndcg_at_k(y, np.array([[2, -1, -1]]), k=3) == 1.0
    # a repeat past the cut-off still reveals scores rather than a ranked list
    with pytest.raises(ValueError, match="row 1 lists item 1 more than once"):
        ndcg_at_k(sp.vstack([y, y]), np.array([[2, 0, 1, 3], [2, 1, 0, 1]]), k=2)


def test_no_warning_for_normal_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ndcg_at_k(Y1, S1, k=3)


def test_a_rating_equal_to_the_threshold_is_relevant():
    # "4 on a 1-5 scale counts ratings of 4 and 5": the boundary itself is a hit
    y = sp.csr_matrix([[4.0, 0.0, 2.0, 0.0]])
    s = np.array([[0.9, 0.1, 0.8, 0.0]])
    assert recall_at_k(y, s, k=1, relevance_threshold=4) == 1.0
    assert hit_rate_at_k(y, s, k=1, relevance_threshold=4.0) == 1.0
    # above every held-out value: no relevant item, so the user is undefined (NaN)
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(recall_at_k(y, s, k=1, relevance_threshold=4.5))


@pytest.mark.parametrize("threshold", [0.7, np.float64(0.7), np.float32(0.7)])
def test_a_float32_rating_equal_to_the_threshold_is_relevant_whatever_its_type(threshold):
    """A float32 0.7 (0.69999999) is below np.float64(0.7): NumPy compared the threshold in
    float64 and dropped the rating, and in float32 (a hit) for a Python 0.7 or a
    float32; RatingBinarizer kept it for each. Compared in y's precision, it counts."""
    y = sp.csr_matrix(np.array([[0.7, 0.0, 0.9]], dtype=np.float32))
    s = np.array([[0.9, 0.5, 0.1]])
    assert recall_at_k(y, s, k=1, relevance_threshold=threshold) == 1.0
    assert hit_rate_at_k(y, s, k=1, relevance_threshold=threshold) == 1.0
    # the scorer reads the same rule, and so does the binarizer a pipeline would hold
    counts = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=np.float32)
    popular_first = MostPopular().fit(sp.csr_matrix(counts))
    scorer = make_ranking_scorer("hit_rate", k=1, relevance_threshold=threshold)
    assert scorer(popular_first, sp.csr_matrix((1, 3), dtype=np.float32), y) == 1.0
    assert_array_equal(RatingBinarizer(threshold=threshold).fit_transform(y).toarray(),
                       [[1.0, 0.0, 1.0]])
    # a rating just below it still is not relevant, in either precision
    below = sp.csr_matrix(np.array([[0.69, 0.0, 0.9]], dtype=np.float32))
    assert hit_rate_at_k(below, s, k=1, relevance_threshold=threshold) == 0.0
    assert hit_rate_at_k(below.astype(np.float64), s, k=1,
                         relevance_threshold=threshold) == 0.0


def test_auc_says_why_when_no_user_has_a_pair_to_compare():
    """Every candidate held out: the user has no negative, so no pair; the warning said
    that no user had a held-out item, which was false (found by an audit helper)."""
    with pytest.warns(UndefinedMetricWarning, match="candidate that is not held out"):
        assert math.isnan(auc(sp.csr_matrix([[1, 1, 0]]), np.array([[0.3, 0.2, -np.inf]])))
    with pytest.warns(UndefinedMetricWarning, match="no user has a held-out item"):
        assert math.isnan(ndcg_at_k(sp.csr_matrix((1, 3)), np.array([[0.3, 0.2, 0.1]])))


def test_dataframes_naming_the_items_in_another_order_are_refused():
    """Metrics read columns by position: y_score with y_true's columns reversed scored
    NDCG 0.0 instead of 1.0, silently (found by an audit helper)."""
    pd = pytest.importorskip("pandas")
    from sklearn_recsys.metrics import aplt_at_k

    y_true = pd.DataFrame([[1, 0, 0]], columns=["a", "b", "c"])
    y_score = pd.DataFrame([[0.9, 0.5, 0.1]], columns=["a", "b", "c"])
    assert ndcg_at_k(y_true, y_score, k=1) == 1.0
    for metric in (lambda t, s: ndcg_at_k(t, s, k=1), auc,
                   lambda t, s: catalog_coverage(t, s, k=1),
                   lambda t, s: aplt_at_k(t, s, item_popularity=np.array([9, 1, 1]), k=1)):
        with pytest.raises(ValueError, match=r"another order.*y_score\[y_true.columns\]"):
            metric(y_true, y_score[["c", "b", "a"]])
    # aligned by the user, the same frames give the right figure
    assert ndcg_at_k(y_true, y_score[["c", "b", "a"]][y_true.columns], k=1) == 1.0
    # ranked indices carry their own column labels (positions), which are not items
    ranked = pd.DataFrame([[0, 1, 2]], columns=["c", "b", "a"])
    assert ndcg_at_k(y_true, ranked, k=1) == 1.0


def test_the_documented_default_cutoff_is_ten():
    # one relevant item ranked 7th of 11: inside the default k=10, so 1 / log2(8)
    y = sp.csr_matrix(np.eye(11)[[6]])
    s = np.arange(11, 0, -1.0)[None]
    assert ndcg_at_k(y, s) == pytest.approx(1 / 3)
    assert recall_at_k(y, s) == 1.0


def test_coverage_does_not_count_the_padding_of_short_lists():
    # a list of one item padded to k=2 (-inf scores, or -1 in the index form) covers one
    # item of three: the padding must not count as the catalogue's last item
    empty = sp.csr_matrix((1, 3))
    assert catalog_coverage(empty, np.array([[1.0, -np.inf, -np.inf]]), k=2) == 1 / 3
    assert catalog_coverage(empty, np.array([[0, -1]]), k=2) == 1 / 3


def test_an_item_index_one_past_the_catalogue_is_refused_by_name():
    with pytest.raises(ValueError, match=r"must lie in \[-1, 3\); got values from 3 to 3"):
        ndcg_at_k(sp.csr_matrix([[1, 0, 0]]), np.array([[3]]), k=1)
