"""Beyond-accuracy metrics (popularity bias, exposure, novelty, calibration) and their scorers.

Most expected values are computed by hand in the comments, on one small
training matrix:

    X_TRAIN (5 users x 6 items)   item:  0  1  2  3  4  5
    users who interacted (count):        4  3  1  1  1  0   (10 interactions)
    training share phi:                 .4 .3 .1 .1 .1  0

Short head (80% rule): sorted by popularity 0, 1, 2, 3, 4, 5; the share of
the items before each is 0, .4, .7, .8, .9, 1.0, so items 0, 1, 2 (item 2
crosses 80%) are the head and items 3, 4, 5 the long tail (3 and 4 tie with
2 and are ordered after it by index; 5 was never seen).
"""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError, UndefinedMetricWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from sklearn_recsys import EASE, ItemKNN, MostPopular, make_interactions
from sklearn_recsys.metrics import (
    aplt_at_k,
    arp_at_k,
    gini_index,
    ips_ndcg_at_k,
    ips_recall_at_k,
    long_tail_coverage,
    make_beyond_accuracy_scorer,
    make_ranking_scorer,
    miscalibration_at_k,
    ndcg_at_k,
    ndcg_at_k_by_popularity,
    novelty_at_k,
    popularity_buckets,
    recall_at_k,
    recall_at_k_by_popularity,
)
from sklearn_recsys.model_selection import holdout_split, strong_generalization_split
from sklearn_recsys.pipeline import make_pipeline
from sklearn_recsys.preprocessing import BM25Weighting, RatingBinarizer
from sklearn_recsys.reranking import XQuADReranker

X_TRAIN = sp.csr_matrix(np.array([
    [1, 1, 1, 0, 0, 0],
    [1, 1, 0, 1, 0, 0],
    [1, 1, 0, 0, 1, 0],
    [1, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
], dtype=float))
SHARE = np.array([.4, .3, .1, .1, .1, 0.0])
# three users' top-3 lists: a full one, a short one with the unseen item 5,
# and an empty one (every candidate excluded), as recommend pads them
LISTS = np.array([[0, 1, 3], [5, 4, -1], [-1, -1, -1]])
NO_HELDOUT = sp.csr_matrix((3, 6))
# categories A, B: item 2 is both, item 5 has none
GENRES = np.array([[1, 0], [0, 1], [1, 1], [1, 0], [0, 1], [0, 0]])


def _kl(p, q, alpha=0.01):
    q = [(1 - alpha) * qg + alpha * pg for pg, qg in zip(p, q)]
    return sum(pg * math.log(pg / qg) for pg, qg in zip(p, q) if pg > 0)


# ------------------------------------------------------------ popularity buckets


def test_popularity_buckets_by_hand():
    assert popularity_buckets(X_TRAIN).tolist() == [0, 0, 0, 1, 1, 1]
    # counts, shares and the matrix agree
    assert popularity_buckets([4, 3, 1, 1, 1, 0]).tolist() == [0, 0, 0, 1, 1, 1]
    assert popularity_buckets(SHARE).tolist() == [0, 0, 0, 1, 1, 1]
    # three buckets of equal mass, boundaries 1/3 and 2/3: the share before
    # item 1 is .4 >= 1/3, before item 2 .7 >= 2/3
    assert popularity_buckets(X_TRAIN, buckets=3).tolist() == [0, 1, 2, 2, 2, 2]
    # 50% boundary: item 1 starts after .4 < .5 (head); item 2 after .7
    assert popularity_buckets(X_TRAIN, buckets=(0.5,)).tolist() == [0, 0, 1, 1, 1, 1]
    # 0.1 + 0.7 is 0.7999999999999999 in floating point: still the 80% boundary
    assert popularity_buckets([0.7, 0.1, 0.2]).tolist() == [0, 1, 0]
    # but a share 1e-10 short of it is short (an absolute 1e-9 tolerance read it as
    # reached on more than 1e9 interactions): the crossing item stays in the head
    assert popularity_buckets([8e9 - 1, 2e9, 1]).tolist() == [0, 0, 1]


@pytest.mark.parametrize("buckets", [1, 0, (0.8, 0.5), (0.0,), (1.0,), (), "head", 2.5])
def test_popularity_buckets_rejects_bad_buckets(buckets):
    with pytest.raises(ValueError, match="buckets must be"):
        popularity_buckets(X_TRAIN, buckets=buckets)


# ------------------------------------------------------- list metrics, by hand


def test_arp_by_hand():
    # list 0: (.4 + .3 + .1) / 3; list 1: (0 + .1) / 2; list 2 empty: left out
    expected = ((.4 + .3 + .1) / 3 + (0 + .1) / 2) / 2
    assert arp_at_k(NO_HELDOUT, LISTS, item_popularity=X_TRAIN, k=3) == pytest.approx(expected)
    # k cuts the lists: list 0 is [0], list 1 is [5]
    assert arp_at_k(NO_HELDOUT, LISTS, item_popularity=X_TRAIN, k=1) == pytest.approx(.2)
    # the same popularity as counts or as shares
    assert arp_at_k(NO_HELDOUT, LISTS, item_popularity=[8, 6, 2, 2, 2, 0], k=3) == (
        pytest.approx(expected))


def test_a_dense_row_of_popularity_is_one_value_per_item():
    """np.asarray(X_train.sum(axis=0)) is (1, n_items): per-item counts, not one user
    (whose non-zeros would make every item equally popular)."""
    counts = np.asarray(X_TRAIN.sum(axis=0))
    assert counts.shape == (1, X_TRAIN.shape[1])
    for metric in (arp_at_k, aplt_at_k, novelty_at_k):
        assert metric(NO_HELDOUT, LISTS, item_popularity=counts, k=3) == pytest.approx(
            metric(NO_HELDOUT, LISTS, item_popularity=counts.ravel(), k=3))
        assert metric(NO_HELDOUT, LISTS, item_popularity=X_TRAIN.sum(axis=0), k=3) == \
            pytest.approx(metric(NO_HELDOUT, LISTS, item_popularity=counts.ravel(), k=3))
    assert aplt_at_k(NO_HELDOUT, LISTS, item_popularity=counts, k=3) != pytest.approx(
        aplt_at_k(NO_HELDOUT, LISTS, item_popularity=(counts > 0).ravel(), k=3))


def test_aplt_and_long_tail_coverage_by_hand():
    # list 0 holds one tail item (3) of 3; list 1 two of 2 (5 and 4)
    assert aplt_at_k(NO_HELDOUT, LISTS, item_popularity=X_TRAIN, k=3) == pytest.approx(
        (1 / 3 + 1) / 2)
    # every tail item (3, 4, 5) is in some list; with list 0 only, 1 of 3
    assert long_tail_coverage(NO_HELDOUT, LISTS, item_popularity=X_TRAIN, k=3) == 1.0
    assert long_tail_coverage(NO_HELDOUT[:1], LISTS[:1], item_popularity=X_TRAIN,
                              k=3) == pytest.approx(1 / 3)
    # a head of 50% is items 0 and 1: list 0 then holds one tail item (3) of 3
    assert aplt_at_k(NO_HELDOUT[:1], LISTS[:1], item_popularity=X_TRAIN, k=3,
                     short_head_share=0.5) == pytest.approx(1 / 3)
    assert long_tail_coverage(NO_HELDOUT[:1], LISTS[:1], item_popularity=X_TRAIN, k=3,
                              short_head_share=0.5) == pytest.approx(1 / 4)


def test_gini_by_hand():
    # slots: items 0, 1, 3, 5, 4 once each, item 2 never: sorted counts
    # 0, 1, 1, 1, 1, 1 over 5 slots; n = 6, coefficients 2j - n - 1 =
    # -5, -3, -1, 1, 3, 5: (-3 - 1 + 1 + 3 + 5) / 5 / (n - 1) = 0.2
    assert gini_index(NO_HELDOUT, LISTS, k=3) == pytest.approx(0.2)
    # one item in every slot: 1; every item equally often: 0
    assert gini_index(sp.csr_matrix((2, 4)), np.array([[2], [2]]), k=1) == pytest.approx(1.0)
    assert gini_index(sp.csr_matrix((2, 4)), np.array([[0, 1], [2, 3]]), k=2) == 0.0


def test_novelty_by_hand():
    # -log2 of the share; item 5 (never seen) counts as the rarest seen item (.1)
    first = (-math.log2(.4) - math.log2(.3) - math.log2(.1)) / 3
    second = (-math.log2(.1) - math.log2(.1)) / 2
    assert novelty_at_k(NO_HELDOUT, LISTS, item_popularity=X_TRAIN, k=3) == pytest.approx(
        (first + second) / 2)


def test_list_metrics_read_float_scores_like_ranked_indices():
    rng = np.random.default_rng(0)
    scores = rng.random((4, 6))
    scores[0, [1, 2]] = -np.inf  # excluded items are never listed
    scores[3] = -np.inf  # an empty list
    lists = np.full((4, 3), -1)
    for u, row in enumerate(scores):
        ranked = [i for i in np.argsort(-row, kind="stable") if np.isfinite(row[i])]
        lists[u, :len(ranked[:3])] = ranked[:3]
    y = sp.csr_matrix((4, 6))
    for metric in (arp_at_k, aplt_at_k, novelty_at_k, long_tail_coverage):
        assert metric(y, scores, item_popularity=X_TRAIN, k=3) == pytest.approx(
            metric(y, lists, item_popularity=X_TRAIN, k=3))
    assert gini_index(y, scores, k=3) == pytest.approx(gini_index(y, lists, k=3))


def test_batches_do_not_change_the_result():
    X = make_interactions(n_users=50, n_items=30, density=0.2, random_state=0)
    scores = np.random.default_rng(1).random(X.shape)
    for metric in (arp_at_k, aplt_at_k, novelty_at_k, long_tail_coverage):
        assert metric(X, scores, item_popularity=X, k=5, batch_size=7) == pytest.approx(
            metric(X, scores, item_popularity=X, k=5))
    assert gini_index(X, scores, k=5, batch_size=3) == pytest.approx(gini_index(X, scores, k=5))
    assert np.allclose(
        ndcg_at_k_by_popularity(X, scores, item_popularity=X, k=5, batch_size=4),
        ndcg_at_k_by_popularity(X, scores, item_popularity=X, k=5))


def test_empty_lists_are_undefined():
    empty = np.full((2, 3), -1)
    for metric in (arp_at_k, aplt_at_k, novelty_at_k):
        with pytest.warns(UndefinedMetricWarning, match="every list is empty"):
            assert np.isnan(metric(NO_HELDOUT[:2], empty, item_popularity=X_TRAIN, k=3))
    with pytest.warns(UndefinedMetricWarning, match="no list holds an item"):
        assert np.isnan(gini_index(NO_HELDOUT[:2], empty, k=3))
    # nothing covered is a coverage of 0, not an undefined one
    assert long_tail_coverage(NO_HELDOUT[:2], empty, item_popularity=X_TRAIN, k=3) == 0.0


# -------------------------------------------------------------- miscalibration


def test_miscalibration_by_hand():
    history = sp.csr_matrix(np.array([
        [1, 0, 1, 0, 0, 0],  # A, A+B: p = (.75, .25)
        [0, 0, 0, 0, 0, 1],  # only an uncategorized item: left out
        [0, 1, 0, 0, 0, 0],  # B: p = (0, 1)
        [1, 0, 0, 0, 0, 0],  # A, but an empty list: left out
    ], dtype=float))
    lists = np.array([[1, 3], [0, 1], [5, -1], [-1, -1]])
    # user 0: list B, A -> q = (.5, .5); user 2: an uncategorized item only,
    # q = 0, so q~ = alpha p and KL = -log(alpha)
    expected = (_kl([.75, .25], [.5, .5]) + -math.log(0.01)) / 2
    assert miscalibration_at_k(history, lists, categories=GENRES, k=2) == pytest.approx(expected)
    # alpha = 1 compares p with itself
    assert miscalibration_at_k(history, lists, categories=GENRES, k=2, alpha=1.0) == 0.0
    # the history's values do not weigh: every history item counts once
    assert miscalibration_at_k(history * 5, lists, categories=GENRES, k=2) == pytest.approx(
        expected)


def test_miscalibration_category_formats_agree():
    history = sp.csr_matrix(np.array([[1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0]], dtype=float))
    lists = np.array([[2, 3], [0, 4]])
    labels = np.array(["a", "b", "a", "c", "b", "c"])
    one_hot = (labels[:, None] == np.array(["a", "b", "c"])).astype(int)
    by_labels = miscalibration_at_k(history, lists, categories=labels, k=2)
    assert by_labels == pytest.approx(miscalibration_at_k(history, lists, categories=one_hot, k=2))
    assert by_labels == pytest.approx(
        miscalibration_at_k(history, lists, categories=sp.csr_matrix(one_hot), k=2))
    # lists of labels (as fetch_movielens(...).item_genres), ragged or not
    sets = [["A"], ["B"], ["A", "B"], ["A"], ["B"], []]
    assert miscalibration_at_k(history, lists, categories=sets, k=2) == pytest.approx(
        miscalibration_at_k(history, lists, categories=GENRES, k=2))
    # hand value for the first user: history A, B, B -> p = (1/3, 2/3);
    # list A+B, A -> q = (.75, .25); second user: history A+B, A -> (.75, .25),
    # list A, B -> (.5, .5)
    expected = (_kl([1 / 3, 2 / 3], [.75, .25]) + _kl([.75, .25], [.5, .5])) / 2
    assert miscalibration_at_k(history, lists, categories=GENRES, k=2) == pytest.approx(expected)
    # a missing label of the one-label form is an item without a category (NaN was a
    # category of its own); None as in a list of labels
    gaps = np.array([0.0, 1.0, np.nan, 2.0, 1.0, np.nan])
    as_sets = [[0], [1], [], [2], [1], []]
    for missing in (gaps, [0, 1, None, 2, 1, None]):
        assert miscalibration_at_k(history, lists, categories=missing, k=2) == pytest.approx(
            miscalibration_at_k(history, lists, categories=as_sets, k=2))
    # a membership matrix of object dtype (pandas' nullable columns) is one, not label sets
    # of the values 0 and 1 or of the DataFrame's column names; a label alone among lists
    # is one label, not its characters (both found by an audit helper: 0.0 and 1.53)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(one_hot, columns=["a", "b", "c"])
    for categories in (one_hot.astype(object), frame.astype("Int64"), frame.astype("boolean")):
        assert miscalibration_at_k(history, lists, categories=categories,
                                   k=2) == pytest.approx(by_labels)
    # a label alone among lists is one label: "bc" was split into "b" and "c"
    from sklearn_recsys.metrics._beyond_accuracy import _category_matrix

    mixed = ["bc", ["b"], "bc", ["c"], ("b",), ["c"]]
    np.testing.assert_array_equal(_category_matrix(mixed).toarray(),
                                  _category_matrix(["bc", "b", "bc", "c", "b", "c"]).toarray())
    # pandas' NA in the one-label form is an item without a category, as None
    nullable = pd.Series([0, 1, pd.NA, 2, 1, pd.NA], dtype="Int64").astype(object)
    assert miscalibration_at_k(history, lists, categories=nullable, k=2) == pytest.approx(
        miscalibration_at_k(history, lists, categories=as_sets, k=2))
    with pytest.raises(ValueError, match="NaN"):
        miscalibration_at_k(history, lists, k=2,
                            categories=frame.astype("Int64").mask(frame == 0, pd.NA))


def test_miscalibration_undefined_without_categorized_history():
    with pytest.warns(UndefinedMetricWarning, match="history item with a category"):
        value = miscalibration_at_k(sp.csr_matrix(np.eye(1, 6, 5)), np.array([[0, 1]]),
                                    categories=GENRES, k=2)
    assert np.isnan(value)


@pytest.mark.parametrize("categories, match", [
    (GENRES[:5], "categories describes 5 items but y_true has 6"),
    (["a"] * 7, "categories describes 7 items"),
    (-GENRES, "negative memberships"),
    (np.zeros((6, 2, 2)), "membership matrix"),
    (None, "needs categories"),
    # one genre id per item, as lists: as a membership matrix, one column of weights
    ([[3], [1], [3], [0], [1], [2]], "integers that are not all 0 or 1.*as a set"),
])
def test_miscalibration_rejects_bad_categories(categories, match):
    with pytest.raises(ValueError, match=match):
        miscalibration_at_k(X_TRAIN[:1], np.array([[0, 1]]), categories=categories, k=2)


@pytest.mark.parametrize("alpha", [0, -0.1, 1.5, "0.01", True])
def test_miscalibration_rejects_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be in"):
        miscalibration_at_k(X_TRAIN[:1], np.array([[0, 1]]), categories=GENRES, alpha=alpha)


# ------------------------------------------ accuracy by popularity, IPS accuracy

# held-out items: user 0 a head (0) and a tail item (3); user 1 a tail item
# (4) and the never-seen item 5; user 2 nothing
Y_HELDOUT = sp.csr_matrix(np.array([
    [1, 0, 0, 1, 0, 0],
    [0, 0, 0, 0, 1, 1],
    [0, 0, 0, 0, 0, 0],
], dtype=float))
TOP2 = np.array([[0, 4], [1, 4], [0, 1]])


def test_accuracy_by_popularity_by_hand():
    # head: user 0 only (item 0 ranked 1st): NDCG 1, recall 1
    # tail: user 0 misses item 3 (0); user 1 has 4 ranked 2nd of held-out
    # tail items {4, 5}: DCG 1/log2(3), ideal 1 + 1/log2(3); recall 1/2
    ndcg = ndcg_at_k_by_popularity(Y_HELDOUT, TOP2, item_popularity=X_TRAIN, k=2)
    d = 1 / math.log2(3)
    assert ndcg == pytest.approx([1.0, (0 + d / (1 + d)) / 2])
    recall = recall_at_k_by_popularity(Y_HELDOUT, TOP2, item_popularity=X_TRAIN, k=2)
    assert recall == pytest.approx([1.0, (0 + 0.5) / 2])
    # a bucket of every seen item (user 0 held out no unseen one): the plain
    # metric; the other bucket (item 5) is undefined
    with pytest.warns(UndefinedMetricWarning, match="bucket 1"):
        ndcg = ndcg_at_k_by_popularity(Y_HELDOUT[:1], TOP2[:1], item_popularity=X_TRAIN, k=2,
                                       buckets=(0.999,))
    assert ndcg[0] == pytest.approx(ndcg_at_k(Y_HELDOUT[:1], TOP2[:1], k=2))


def test_accuracy_by_popularity_empty_bucket_is_undefined():
    y = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0]], dtype=float))
    with pytest.warns(UndefinedMetricWarning, match="bucket 1"):
        recall = recall_at_k_by_popularity(y, np.array([[0, 1]]), item_popularity=X_TRAIN, k=2)
    assert recall[0] == 1.0 and np.isnan(recall[1])


def test_accuracy_by_popularity_relevance_threshold():
    y = sp.csr_matrix(np.array([[5, 0, 0, 2, 0, 0]], dtype=float))
    # the tail item is rated 2: not a hit, so the tail has no relevant item
    with pytest.warns(UndefinedMetricWarning):
        recall = recall_at_k_by_popularity(y, np.array([[3, 0]]), item_popularity=X_TRAIN,
                                           k=2, relevance_threshold=4)
    assert recall[0] == 1.0 and np.isnan(recall[1])


def test_ips_metrics_by_hand():
    # gamma = 1: propensity ~ n_i, weight ~ 1 / share, scaled by the largest:
    # item 0: 1/4, item 1: 1/3, items 3 and 4: 1, item 5 (never seen): dropped
    # user 0: held-out {0, 3}, list [0, 4]: hit weight 1/4 of the best 1 + 1/4;
    #   DCG 1/4, ideal 1 + (1/4) / log2(3)
    # user 1: held-out {4} (5 dropped), 4 ranked 2nd: recall 1, NDCG 1/log2(3)
    # user 2: nothing held out: left out
    d = 1 / math.log2(3)
    recall = ips_recall_at_k(Y_HELDOUT, TOP2, item_popularity=X_TRAIN, k=2, gamma=1.0)
    assert recall == pytest.approx(((1 / 4) / (5 / 4) + 1) / 2)
    ndcg = ips_ndcg_at_k(Y_HELDOUT, TOP2, item_popularity=X_TRAIN, k=2, gamma=1.0)
    assert ndcg == pytest.approx(((1 / 4) / (1 + d / 4) + d) / 2)
    # gamma = 0: weight ~ share ** -1/2; user 0: 1/sqrt(.4) of 1/sqrt(.4) + 1/sqrt(.1)
    w0, w3 = 1 / math.sqrt(.4), 1 / math.sqrt(.1)
    assert ips_recall_at_k(Y_HELDOUT, TOP2, item_popularity=[4, 3, 1, 1, 1, 0], k=2,
                           gamma=0.0) == pytest.approx((w0 / (w0 + w3) + 1) / 2)


def test_ips_with_equal_weights_is_the_plain_metric():
    X = make_interactions(n_users=80, n_items=40, density=0.2, random_state=0)
    X_in, X_out = holdout_split(X, holdout=0.3, random_state=0)
    scores = np.random.default_rng(0).random(X.shape)
    scores[X_in.nonzero()] = -np.inf
    # every held-out item has training interactions (X itself)
    for k in (1, 5, 40):
        assert ips_ndcg_at_k(X_out, scores, item_popularity=X, k=k, gamma=-1) == (
            pytest.approx(ndcg_at_k(X_out, scores, k=k)))
        assert ips_recall_at_k(X_out, scores, item_popularity=X, k=k, gamma=-1) == (
            pytest.approx(recall_at_k(X_out, scores, k=k)))
    # the default gamma favours lists that find rare held-out items
    popular_first = np.tile(np.bincount(X.indices, minlength=40).astype(float), (80, 1))
    popular_first[X_in.nonzero()] = -np.inf
    assert ips_ndcg_at_k(X_out, popular_first, item_popularity=X, k=10) < ndcg_at_k(
        X_out, popular_first, k=10)


def test_ips_without_seen_heldout_items_is_undefined():
    y = sp.csr_matrix(np.eye(1, 6, 5))  # held out: the never-seen item only
    with pytest.warns(UndefinedMetricWarning, match="training interactions"):
        assert np.isnan(ips_recall_at_k(y, np.array([[5, 0]]), item_popularity=X_TRAIN, k=2))


def test_ips_weights_of_a_large_gamma_do_not_underflow():
    # at gamma = 300 the popular item's weight is 1000 ** -150.5 of the rare one's, below
    # the smallest float: it must stay a held-out item, not vanish as if never trained on
    y = sp.csr_matrix([[1.0, 0.0], [1.0, 1.0]])
    top1 = np.array([[0, 1], [1, 0]])
    for metric in (ips_recall_at_k, ips_ndcg_at_k):
        assert metric(y, top1, item_popularity=[1000, 1], k=1, gamma=300.0) == 1.0
    # user 0 alone, the rare item ranked first: a miss of the only held-out item
    assert ips_recall_at_k(y[:1], top1[1:], item_popularity=[1000, 1], k=1,
                           gamma=300.0) == 0.0


@pytest.mark.parametrize("gamma", [np.nan, np.inf, "1", None])
def test_ips_rejects_bad_gamma(gamma):
    with pytest.raises(ValueError, match="gamma must be"):
        ips_ndcg_at_k(Y_HELDOUT, TOP2, item_popularity=X_TRAIN, gamma=gamma)


# ----------------------------------------------------------------- validation


@pytest.mark.parametrize("popularity, match", [
    (np.ones(5), "describes 5 items but y_true has 6 items"),
    (X_TRAIN[:, :5], "describes 5 items"),
    ([1, 2, -1, 0, 0, 0], "negative values"),
    (-X_TRAIN, "Negative values"),
    (np.zeros(6), "no positive value"),
    (sp.csr_matrix((3, 6)), "no positive value"),
    ([1, 2, np.nan, 0, 0, 0], "NaN"),
    (np.ones((2, 3, 6)), "shape"),
    (3.0, "shape"),
])
def test_bad_item_popularity_is_refused(popularity, match):
    with pytest.raises(ValueError, match=match):
        arp_at_k(NO_HELDOUT, LISTS, item_popularity=popularity, k=3)


def test_item_popularity_is_required():
    with pytest.raises(TypeError, match="item_popularity"):
        aplt_at_k(NO_HELDOUT, LISTS, k=3)


@pytest.mark.parametrize("share", [0, 1, 1.2, "0.8", True])
def test_bad_short_head_share_is_refused(share):
    with pytest.raises(ValueError, match="short_head_share must be a share"):
        aplt_at_k(NO_HELDOUT, LISTS, item_popularity=X_TRAIN, short_head_share=share)


def test_list_shapes_are_checked():
    with pytest.raises(ValueError, match="same number of users"):
        arp_at_k(NO_HELDOUT[:2], LISTS, item_popularity=X_TRAIN)
    with pytest.raises(ValueError, match=r"must lie in \[-1, 6\)"):
        arp_at_k(NO_HELDOUT, LISTS + 6, item_popularity=X_TRAIN)
    with pytest.raises(ValueError, match="repeat an item"):
        gini_index(NO_HELDOUT[:1], np.array([[1, 1]]))


# -------------------------------------------------------------------- scorers


@pytest.fixture(scope="module")
def data():
    return make_interactions(n_users=300, n_items=60, density=0.1, random_state=0)


FUNCTIONS = {
    "arp": arp_at_k, "aplt": aplt_at_k, "long_tail_coverage": long_tail_coverage,
    "novelty": novelty_at_k, "ips_ndcg": ips_ndcg_at_k, "ips_recall": ips_recall_at_k,
}


@pytest.mark.parametrize("metric", sorted(FUNCTIONS))
def test_scorer_with_y_uses_the_training_popularity(data, metric):
    X_train, X_in, X_out = strong_generalization_split(data, random_state=0)
    model = ItemKNN(n_neighbors=10).fit(X_train)
    scores = model.decision_function(X_in)
    scores[X_in.nonzero()] = -np.inf
    # the popularity of the model's training data, never of X_in or X_out
    expected = FUNCTIONS[metric](X_out, scores, item_popularity=X_train, k=10)
    sign = -1 if metric == "arp" else 1
    scorer = make_beyond_accuracy_scorer(metric, k=10)
    assert scorer(model, X_in, X_out) == pytest.approx(sign * expected)
    # the same popularity fixed at construction
    fixed = make_beyond_accuracy_scorer(metric, k=10, item_popularity=X_train)
    assert fixed(model, X_in, X_out) == pytest.approx(sign * expected)
    # a different training popularity gives a different value (the tail is
    # covered whatever it is)
    if metric != "long_tail_coverage":
        other = make_beyond_accuracy_scorer(metric, k=10, item_popularity=X_in + X_out)
        assert other(model, X_in, X_out) != pytest.approx(sign * expected)


def test_scorer_reads_the_popularity_of_a_fitted_search(data):
    """A fitted GridSearchCV (the estimator of nested cross-validation) scores through
    its best_estimator_, whose training popularity is the outer training fold's."""
    X_train, X_in, X_out = strong_generalization_split(data, random_state=0)
    search = GridSearchCV(make_pipeline(RatingBinarizer(threshold=0.5), EASE()),
                          {"ease__alpha": [1.0, 10.0]}, cv=2,
                          scoring=make_ranking_scorer("ndcg", k=10)).fit(X_train)
    scorer = make_beyond_accuracy_scorer("aplt", k=10)
    assert scorer(search, X_in, X_out) == pytest.approx(
        scorer(search.best_estimator_, X_in, X_out))
    nested = cross_validate(search, data, cv=KFold(2), error_score="raise",
                            scoring={"aplt": scorer})
    assert np.isfinite(nested["test_aplt"]).all()


def test_gini_and_miscalibration_scorers_are_negated(data):
    X_train, X_in, X_out = strong_generalization_split(data, random_state=0)
    model = EASE(alpha=10.0).fit(X_train)
    scores = model.decision_function(X_in)
    scores[X_in.nonzero()] = -np.inf
    scorer = make_beyond_accuracy_scorer("gini_index", k=5)
    assert scorer(model, X_in, X_out) == pytest.approx(-gini_index(X_out, scores, k=5))
    labels = np.arange(60) % 4
    scorer = make_beyond_accuracy_scorer("miscalibration", k=5, categories=labels, alpha=0.1)
    # the user's category mix is the fold-in history X_in
    expected = miscalibration_at_k(X_in, scores, categories=labels, k=5, alpha=0.1)
    assert scorer(model, X_in, X_out) == pytest.approx(-expected)
    assert "miscalibration" in repr(scorer) and "categories" not in repr(scorer)


def test_scorer_by_popularity_returns_the_bucket_asked_for(data):
    X_train, X_in, X_out = strong_generalization_split(data, random_state=0)
    model = EASE(alpha=10.0).fit(X_train)
    scores = model.decision_function(X_in)
    scores[X_in.nonzero()] = -np.inf
    by_bucket = ndcg_at_k_by_popularity(X_out, scores, item_popularity=X_train, k=10,
                                        buckets=3)
    for bucket, expected in [("head", by_bucket[0]), (1, by_bucket[1]), ("tail", by_bucket[2]),
                             (-1, by_bucket[2])]:
        scorer = make_beyond_accuracy_scorer("ndcg_by_popularity", k=10, buckets=3,
                                             bucket=bucket)
        assert scorer(model, X_in, X_out) == pytest.approx(expected)
    recall = recall_at_k_by_popularity(X_out, scores, item_popularity=X_train, k=10)
    assert make_beyond_accuracy_scorer("recall_by_popularity", k=10)(
        model, X_in, X_out) == pytest.approx(recall[1])  # the tail by default


def test_scorer_without_y_scores_its_fixed_split(data):
    # no y: each row is split with the scorer's seed, as make_ranking_scorer
    # does; miscalibration then reads the kept 80% as the history
    model = ItemKNN(n_neighbors=10).fit(data)
    X_in, X_out = holdout_split(data, holdout=0.2, random_state=3)
    for metric, options in [("ips_recall", {}), ("novelty", {}),
                            ("miscalibration", {"categories": np.arange(60) % 3})]:
        scorer = make_beyond_accuracy_scorer(metric, k=10, random_state=3, **options)
        assert scorer(model, data) == pytest.approx(scorer(model, X_in, X_out)), metric


def test_scorer_reads_the_popularity_a_pipeline_was_given():
    """In a Pipeline the popularity is that of the interactions the pipeline was given (every
    rating counts), not of what its preprocessing left: candidates of a search over the
    binarizer's threshold are measured against one short head."""
    X = make_interactions(n_users=200, n_items=40, density=0.15, random_state=1)
    ratings = X.multiply(np.random.default_rng(0).integers(1, 6, X.shape)).tocsr()
    X_in, X_out = holdout_split(ratings, holdout=0.2, random_state=0)
    liked = ratings.copy()
    liked.data[liked.data < 3] = 0
    liked.eliminate_zeros()
    scorer = make_beyond_accuracy_scorer("aplt", k=5)
    given = make_beyond_accuracy_scorer("aplt", k=5, item_popularity=ratings)
    left = make_beyond_accuracy_scorer("aplt", k=5, item_popularity=liked)
    for threshold in (3, 4):
        pipe = make_pipeline(RatingBinarizer(threshold=threshold), EASE(alpha=10.0)).fit(ratings)
        assert scorer(pipe, X_in, X_out) == pytest.approx(given(pipe, X_in, X_out))
    # the threshold-3 model's own training popularity would give another figure
    assert given(pipe, X_in, X_out) != pytest.approx(left(pipe, X_in, X_out))


def test_scorer_keeps_an_item_that_bm25_removes_in_the_head():
    """An item held by every training user gets idf 0, so BM25Weighting removes it from every
    row and the recommender records it with no interaction; the scorer still counts it as
    the most popular item (short head), from the interactions the pipeline was given."""
    X = make_interactions(n_users=120, n_items=30, density=0.2, random_state=0).toarray()
    X[:, 0] = 1
    X = sp.csr_matrix(X)
    X_train, X_test = X[:80], X[80:]
    X_in, X_out = holdout_split(X_test, random_state=0)
    with pytest.warns(UserWarning):
        pipe = make_pipeline(BM25Weighting(), ItemKNN()).fit(X_train)
    assert pipe[-1]._item_popularity[0] == 0.0
    assert popularity_buckets(X_train)[0] == 0
    for metric in ("aplt", "novelty", "ips_recall", "ndcg_by_popularity"):
        scorer = make_beyond_accuracy_scorer(metric, k=5)
        given = make_beyond_accuracy_scorer(metric, k=5, item_popularity=X_train)
        assert scorer(pipe, X_in, X_out) == pytest.approx(given(pipe, X_in, X_out)), metric
    with pytest.warns(UserWarning):
        reranked = XQuADReranker(pipe, tradeoff=0.5).fit(X_train)
    assert not reranked.long_tail_[0]


class _NoPopularity:
    """A third-party recommender: scores, but records no training popularity."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X):
        return np.tile(np.arange(self.n_features_in_, dtype=float), (X.shape[0], 1))


def test_scorer_needs_a_training_popularity(data):
    scorer = make_beyond_accuracy_scorer("novelty", k=5)
    with pytest.raises(TypeError, match="item_popularity=<training matrix>"):
        scorer(_NoPopularity().fit(data), data)
    fixed = make_beyond_accuracy_scorer("novelty", k=5, item_popularity=data)
    assert np.isfinite(fixed(_NoPopularity().fit(data), data))
    # the exposure Gini needs no popularity
    gini = make_beyond_accuracy_scorer("gini_index", k=5)(_NoPopularity().fit(data), data)
    assert -1 <= gini < 0
    with pytest.raises(NotFittedError):
        scorer(EASE(), data)


def test_scorer_rejects_bad_options():
    with pytest.raises(ValueError, match="Unknown beyond-accuracy metric"):
        make_beyond_accuracy_scorer("popularity")
    with pytest.raises(TypeError, match="unexpected option 'gamma'"):
        make_beyond_accuracy_scorer("aplt", gamma=1.0)
    with pytest.raises(ValueError, match="needs categories"):
        make_beyond_accuracy_scorer("miscalibration")
    with pytest.raises(ValueError, match="bucket must be"):
        make_beyond_accuracy_scorer("ndcg_by_popularity", bucket=2)
    with pytest.raises(ValueError, match="buckets must be"):
        make_beyond_accuracy_scorer("ndcg_by_popularity", buckets=(0.9, 0.1))
    with pytest.raises(ValueError, match="short_head_share"):
        make_beyond_accuracy_scorer("long_tail_coverage", short_head_share=80)
    with pytest.raises(ValueError, match="negative values"):
        make_beyond_accuracy_scorer("arp", item_popularity=[1, -1])
    with pytest.raises(ValueError, match="holdout"):
        make_beyond_accuracy_scorer("arp", holdout=1.5)
    with pytest.raises(TypeError, match="relevance_threshold"):
        make_beyond_accuracy_scorer("ips_ndcg", relevance_threshold="4")


def test_scorer_checks_the_catalogue_at_scoring(data):
    model = ItemKNN(n_neighbors=10).fit(data)
    scorer = make_beyond_accuracy_scorer("miscalibration", categories=np.arange(59) % 3)
    with pytest.raises(ValueError, match="categories describes 59 items but X has 60"):
        scorer(model, data)
    scorer = make_beyond_accuracy_scorer("arp", item_popularity=np.ones(59))
    with pytest.raises(ValueError, match="describes 59 items but X has 60"):
        scorer(model, data)


def test_grid_search_ndcg_and_aplt_refit_on_ndcg(data):
    cv = KFold(3, shuffle=True, random_state=0)
    scoring = {"ndcg": make_ranking_scorer("ndcg", k=10),
               "aplt": make_beyond_accuracy_scorer("aplt", k=10)}
    search = GridSearchCV(EASE(), {"alpha": [1.0, 30.0, 1000.0]}, scoring=scoring,
                          refit="ndcg", cv=cv)
    search.fit(data)
    results = search.cv_results_
    assert search.best_index_ == int(np.argmax(results["mean_test_ndcg"]))
    assert np.all((results["mean_test_aplt"] >= 0) & (results["mean_test_aplt"] <= 1))
    # each fold's APLT uses the popularity of that fold's training users only
    train, test = list(cv.split(data))[1]
    model = EASE(alpha=30.0).fit(data[train])
    X_in, X_out = holdout_split(data[test], holdout=0.2, random_state=0)
    scores = model.decision_function(X_in)
    scores[X_in.nonzero()] = -np.inf
    expected = aplt_at_k(X_out, scores, item_popularity=data[train], k=10)
    assert results["split1_test_aplt"][1] == pytest.approx(expected)
    assert expected != pytest.approx(aplt_at_k(X_out, scores, item_popularity=data, k=10))


def test_cross_validate_with_every_beyond_accuracy_scorer(data):
    labels = np.arange(data.shape[1]) % 5
    scoring = {name: make_beyond_accuracy_scorer(name, k=10) for name in
               ("arp", "aplt", "long_tail_coverage", "gini_index", "novelty", "ips_ndcg",
                "ips_recall", "ndcg_by_popularity", "recall_by_popularity")}
    scoring["head_ndcg"] = make_beyond_accuracy_scorer("ndcg_by_popularity", k=10,
                                                       bucket="head")
    scoring["miscalibration"] = make_beyond_accuracy_scorer("miscalibration", k=10,
                                                            categories=labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        result = cross_validate(MostPopular(), data, scoring=scoring, cv=3)
    for name in scoring:
        assert np.all(np.isfinite(result[f"test_{name}"])), name
    # greater is better for every scorer
    assert np.all(result["test_arp"] < 0) and np.all(result["test_gini_index"] <= 0)
    assert np.all(result["test_miscalibration"] <= 0)
    # the same top 10 for everyone minus their seen items: its accuracy is the head's
    assert np.all(result["test_ndcg_by_popularity"] < result["test_head_ndcg"])


# ------------------------------------------------------------------ real data


@pytest.mark.slow
def test_most_popular_is_the_most_popularity_biased_on_movielens(shared_data):
    from sklearn_recsys.datasets import fetch_movielens

    movies = fetch_movielens("100k", data_home=shared_data, download_if_missing=False)
    X = movies.X.copy()
    X.data[:] = 1.0
    X_train, X_in, X_out = strong_generalization_split(X, random_state=0)
    models = {"pop": MostPopular().fit(X_train), "knn": ItemKNN(n_neighbors=50).fit(X_train),
              "ease": EASE(alpha=300.0).fit(X_train)}

    def score(metric, model, **options):
        return make_beyond_accuracy_scorer(metric, k=10, **options)(model, X_in, X_out)

    for name in ("knn", "ease"):
        model = models[name]
        # -ARP: lower ARP scores higher
        assert score("arp", models["pop"]) < score("arp", model), name
        assert score("aplt", models["pop"]) < score("aplt", model), name
        assert score("novelty", models["pop"]) < score("novelty", model), name
        assert score("long_tail_coverage", models["pop"]) < score("long_tail_coverage", model)
        assert score("gini_index", models["pop"]) < score("gini_index", model), name
        assert score("miscalibration", models["pop"], categories=movies.item_genres) < (
            score("miscalibration", model, categories=movies.item_genres)), name
    # most-popular lists hold head items only: no tail hit, and IPS punishes it
    assert score("ndcg_by_popularity", models["pop"]) == 0.0
    ndcg = make_ranking_scorer("ndcg", k=10)(models["pop"], X_in, X_out)
    assert score("ips_ndcg", models["pop"]) < ndcg
    assert score("ndcg_by_popularity", models["ease"]) > 0.0


def test_miscalibration_leaves_uncategorized_list_items_out_of_the_mix():
    """As documented: q(g|u) is the mean over the list's categorized items, so a drama and an
    uncategorized item make a list as drama as a drama history (0); counting the
    uncategorized item would halve q and give log(1 / 0.505)."""
    labels = np.array(["drama", "drama", None], dtype=object)
    history = sp.csr_matrix([[1, 0, 0]])
    assert miscalibration_at_k(history, np.array([[1, 2]]), categories=labels, k=2) == 0.0
    # a list of the uncategorized item only: q = 0, the largest value -log(alpha)
    assert miscalibration_at_k(history, np.array([[2]]), categories=labels, k=1) == (
        pytest.approx(-np.log(0.01)))


def test_a_frozen_preprocessing_step_does_not_supply_the_training_popularity():
    """A FrozenEstimator(RatingBinarizer) fitted on every user supplied the popularity of a
    cross_validate fold's scorer and re-ranker: the validation users' items counted (APLT
    0.192 where the training fold's popularity gives 0.126). The step is passed over: the
    last step's own record of its training fold is read instead."""
    from sklearn.frozen import FrozenEstimator

    from sklearn_recsys.metrics._scorer import _training_popularity
    from sklearn_recsys.utils._holdout import split_interactions

    rng = np.random.RandomState(0)
    X = sp.random(200, 40, density=0.25, random_state=0, format="lil")
    X[X.nonzero()] = rng.randint(1, 6, X.nnz)
    X[100:, 30:] = 5  # the validation users hold items 30 to 39
    X = X.tocsr()
    frozen = FrozenEstimator(RatingBinarizer(threshold=3).fit(X))
    result = cross_validate(make_pipeline(frozen, EASE(alpha=10.0)), X, cv=[
        (np.arange(100), np.arange(100, 200))], return_estimator=True,
        scoring={"aplt": make_beyond_accuracy_scorer("aplt", k=5)})
    fold = np.asarray((X[:100] >= 3).sum(0)).ravel()
    np.testing.assert_allclose(_training_popularity(result["estimator"][0]), fold / fold.sum())
    X_in, X_out = split_interactions(X[100:], 0.2, 5, np.random.RandomState(0))
    S = result["estimator"][0].decision_function(X_in)
    S[X_in.nonzero()] = -np.inf
    assert result["test_aplt"][0] == pytest.approx(
        aplt_at_k(X_out, S, item_popularity=fold / fold.sum(), k=5))
    everyone = np.asarray((X != 0).sum(0)).ravel()
    assert result["test_aplt"][0] != pytest.approx(
        aplt_at_k(X_out, S, item_popularity=everyone / everyone.sum(), k=5))
    reranker = XQuADReranker(make_pipeline(frozen, EASE(alpha=10.0))).fit(X[:100])
    np.testing.assert_allclose(reranker._item_popularity, fold / fold.sum())


def test_a_multi_behaviour_pipeline_reads_the_raw_target_popularity():
    """The binarizer records one share per stacked column and the model one per item, so a
    multi-behaviour pipeline's scorers read the binarized target's popularity: a search over
    the threshold measured each candidate against its own short head."""
    from sklearn_recsys import MultiBehaviorEASE
    from sklearn_recsys.metrics._scorer import _training_popularity

    rng = np.random.RandomState(0)
    blocks = []
    for seed in (1, 2, 3):
        block = sp.random(150, 30, density=0.25, random_state=seed, format="csr")
        block.data[:] = rng.randint(1, 6, block.nnz)
        blocks.append(block)
    X = sp.hstack(blocks, format="csr")
    raw = np.asarray((blocks[2] != 0).sum(0)).ravel()
    for threshold in (2, 4):
        pipe = make_pipeline(RatingBinarizer(threshold=threshold), MultiBehaviorEASE(
            behaviors=("view", "cart", "buy"), alpha=5.0)).fit(X)
        np.testing.assert_allclose(_training_popularity(pipe), raw / raw.sum())
        assert not np.allclose(pipe[-1]._item_popularity, raw / raw.sum())


def test_per_item_data_indexed_by_item_id_is_refused_not_read_by_position():
    # a pandas Series of genres or counts indexed by raw item id, in file order, passed
    # the length check and was read by position: other items' genres (audit 58b: on
    # latest-small miscalibration 0.830 against 0.603 aligned), silently
    pd = pytest.importorskip("pandas")
    from sklearn_recsys.reranking import CalibratedReranker

    history = X_TRAIN[:1]
    lists = np.array([[0, 1]])
    labels = pd.Series(["a", "b", "a", "c", "b", "c"], index=[f"m{i}" for i in range(6)])
    with pytest.raises(ValueError, match="categories is a pandas Series whose index is not"):
        miscalibration_at_k(history, lists, categories=labels, k=2)
    with pytest.raises(ValueError, match="categories.reindex\\(encoder.item_ids_\\)"):
        make_beyond_accuracy_scorer("miscalibration", k=2, categories=labels)(
            MostPopular().fit(X_TRAIN), X_TRAIN, X_TRAIN)
    with pytest.raises(ValueError, match="categories is a pandas Series"):
        CalibratedReranker(MostPopular(), labels).fit(X_TRAIN)
    counts = pd.Series(np.asarray(X_TRAIN.sum(axis=0)).ravel(), index=labels.index)
    with pytest.raises(ValueError, match="item_popularity is a pandas Series"):
        arp_at_k(history, lists, item_popularity=counts, k=2)
    # in column order with its positions as index: read as the array
    aligned = labels.reset_index(drop=True)
    assert miscalibration_at_k(history, lists, categories=aligned, k=2) == pytest.approx(
        miscalibration_at_k(history, lists, categories=aligned.to_numpy(), k=2))
    assert arp_at_k(history, lists, item_popularity=counts.reset_index(drop=True), k=2) == \
        pytest.approx(arp_at_k(history, lists, item_popularity=counts.to_numpy(), k=2))


def test_miscalibration_counts_each_history_item_once_whatever_its_rating():
    # Steck's p(g|u) weighs history items uniformly: ratings 5 (drama) and 1 (comedy)
    # give a half/half mix, which a list of one drama and one comedy matches exactly
    history = sp.csr_matrix([[5.0, 0.0, 1.0, 0.0]])
    genres = ["drama", "drama", "comedy", "comedy"]
    assert miscalibration_at_k(history, np.array([[0, 2]]), categories=genres, k=2) == 0.0
    binary = history.copy()
    binary.data[:] = 1.0
    lists = np.array([[0, 1]])
    assert (miscalibration_at_k(history, lists, categories=genres, k=2)
            == miscalibration_at_k(binary, lists, categories=genres, k=2) > 0)


def test_ips_default_exponent_is_yang_et_al_mean():
    # popularity 16 and 1, the rare item ranked first: weights 16 ** -(1.69 + 1) / 2
    # and 1, so NDCG = 1 / (1 + 16 ** -1.345 / log2(3))
    y_true = sp.csr_matrix([[1, 0, 0, 1]])
    popularity = [16, 8, 4, 1]
    expected = 1 / (1 + 16 ** -1.345 / math.log2(3))
    assert ips_ndcg_at_k(y_true, np.array([[3, 1]]), item_popularity=popularity,
                         k=2) == pytest.approx(expected, rel=1e-12)


def test_gini_of_a_one_item_catalogue_is_zero():
    # one item takes every slot, and it is every item: perfectly even, not 0/0
    assert gini_index(sp.csr_matrix((2, 1)), np.array([[0], [0]]), k=1) == 0.0
