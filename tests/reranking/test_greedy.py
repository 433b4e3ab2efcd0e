"""XQuADReranker and CalibratedReranker: hand-computed steps, identity, trade-off, search."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_recsys import EASE, ItemKNN, RatingBinarizer, make_interactions
from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.metrics import (
    make_beyond_accuracy_scorer,
    make_ranking_scorer,
    popularity_buckets,
)
from sklearn_recsys.metrics._beyond_accuracy import _check_categories
from sklearn_recsys.model_selection import strong_generalization_split
from sklearn_recsys.pipeline import make_pipeline
from sklearn_recsys.reranking import CalibratedReranker, XQuADReranker
from sklearn_recsys.reranking._greedy import _relevance
from sklearn_recsys.utils.estimator_checks import recommender_checks


class FixedScores(RecommenderMixin, BaseEstimator):
    """Scores every user with the same vector: the inner model of the hand-computed cases."""

    _parameter_constraints = {"scores": ["array-like"]}

    def __init__(self, scores=(1.0,)):
        self.scores = scores

    def _fit(self, X):
        pass

    def _score_batch(self, X):
        return np.tile(np.asarray(self.scores, dtype=np.float64), (X.shape[0], 1))


def _training_matrix(counts):
    """A matrix whose column ``j`` holds ``counts[j]`` interactions (users 0..counts[j]-1)."""
    counts = np.asarray(counts)
    return sp.csr_matrix((np.arange(counts.max())[:, None] < counts[None, :]).astype(float))


# ----------------------------------------------------------------- hand-computed


# training popularity 10, 9, 8, 7, then 1 each: the short head (80% of the 40
# interactions) is items 0-3, the long tail items 4-9
HEAD_TAIL_COUNTS = [10, 9, 8, 7, 1, 1, 1, 1, 1, 1]
# the user's history: item 0 (head), items 4 and 7 (tail), so P(head|u) = 1/3 and
# P(tail|u) = 2/3; the seen items score highest and must not be candidates
HISTORY = [[1, 0, 0, 0, 1, 0, 0, 1, 0, 0]]
SCORES = [5.0, 1.0, 0.9, 0.1, 5.0, 0.8, 0.7, 5.0, 0.0, 0.0]


def _xquad(kind, tradeoff=0.9, n_candidates=4):
    X = _training_matrix(HEAD_TAIL_COUNTS)
    return XQuADReranker(FixedScores(SCORES), tradeoff=tradeoff, n_candidates=n_candidates,
                         kind=kind).fit(X)


def test_xquad_head_and_tail_come_from_the_training_popularity():
    model = _xquad("smooth")
    np.testing.assert_array_equal(model.long_tail_, np.arange(10) >= 4)
    np.testing.assert_array_equal(model.long_tail_, popularity_buckets(HEAD_TAIL_COUNTS) == 1)


def test_xquad_smooth_hand_computed_steps():
    # candidates: the 4 best unseen items 1, 2 (head), 5, 6 (tail), scaled
    # relevance 1, 2/3, 1/3, 0; lambda = 0.9, P(head|u) = 1/3, P(tail|u) = 2/3
    # step 1, S = {}:  1: .1 + .9/3 = .4    2: .0667 + .3 = .3667
    #                  5: .0333 + .6 = .6333  6: 0 + .6 = .6            -> 5
    # step 2, S = {5}: the tail is covered (1 - 1/1 = 0), the head not (1)
    #                  1: .1 + .3 = .4   2: .3667   6: 0              -> 1
    # step 3, S = {5, 1}: each category half uncovered
    #                  2: .0667 + .9 * 1/3 * .5 = .2167
    #                  6: 0 + .9 * 2/3 * .5 = .3                       -> 6, then 2
    model = _xquad("smooth")
    idx, scores = model.recommend(HISTORY, k=5)
    np.testing.assert_array_equal(idx, [[5, 1, 6, 2, 3]])
    assert model.estimator_.recommend(HISTORY, k=5)[0].tolist() == [[1, 2, 5, 6, 3]]
    # decision_function: the 4 re-ranked items above every other item (the
    # highest other score is 5.0, a seen item's: gap 5), the others unchanged
    expected = np.array(SCORES)
    expected[[5, 1, 6, 2]] = [25.0, 20.0, 15.0, 10.0]
    np.testing.assert_array_equal(model.decision_function(HISTORY), [expected])
    np.testing.assert_array_equal(scores, [[25.0, 20.0, 15.0, 10.0, 0.1]])


def test_xquad_exact_ties_go_to_the_more_relevant_candidate():
    """tradeoff=1: relevance only breaks ties. With P(tail|u) = 1/3, the list (head,
    tail, head) leaves both categories worth 2/3 * 1/3 = 1/3 * 2/3 = 2/9, a tie the
    rounding of 1 - (1 - 1/3) gave to the tail item below the head one."""
    counts = [10] * 6 + [1] * 6  # the short head: items 0-5
    X = _training_matrix(counts)
    np.testing.assert_array_equal(popularity_buckets(counts) == 1, np.arange(12) >= 6)
    history = [[1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]]  # two head items, one tail item
    scores = [5.0, 5.0, 0.9, 0.7, 0.6, 0.4, 5.0, 0.8, 0.5, 0.3, 0.2, 0.1]
    model = XQuADReranker(FixedScores(scores), tradeoff=1.0, n_candidates=5).fit(X)
    # candidates 2, 7, 3, 4, 8; step 1: head 2/3 > tail 1/3 -> 2; step 2: the head
    # covered -> 7; step 3: head 2/3 * 1/2 > tail 1/3 * 1/2 -> 3; step 4: the tie -> 4
    np.testing.assert_array_equal(model.recommend(history, k=5)[0], [[2, 7, 3, 4, 8]])


def test_xquad_binary_hand_computed_steps():
    # steps 1 and 2 as smooth (5, then 1); at step 3 both categories are
    # covered, so only relevance counts: 2 (.0667) before 6 (0)
    model = _xquad("binary")
    np.testing.assert_array_equal(model.recommend(HISTORY, k=4)[0], [[5, 1, 2, 6]])


def test_xquad_small_tradeoff_keeps_the_inner_order():
    # lambda = 0.2: step 1: 1 (.8 + .2/3 = .8667) over 5 (.2667 + .1333);
    # step 2, S = {1}: 2 (.5333, the head covered) over 5 (.2667 + .1333 = .4);
    # the tail bonus (at most .1333) never beats the relevance gaps
    for kind in ("smooth", "binary"):
        model = _xquad(kind, tradeoff=0.2)
        np.testing.assert_array_equal(model.recommend(HISTORY, k=4)[0], [[1, 2, 5, 6]])


def test_xquad_target_tail_share_hand_computed_steps():
    # the candidates and relevances of the smooth case, P(head|u) = P(tail|u) = 1/2
    # step 1, S = {}:  1: .1 + .45 = .55   2: .0667 + .45 = .5167
    #                  5: .0333 + .45 = .4833   6: 0 + .45 = .45          -> 1
    # step 2, S = {1}: the head is covered: 2: .0667   5: .4833   6: .45  -> 5
    # step 3, S = {1, 5}: each category half uncovered
    #                  2: .0667 + .9 * .5 * .5 = .2917   6: 0 + .225       -> 2, then 6
    # (the user's own shares, 1/3 and 2/3, put the tail item 5 first: the smooth case)
    model = _xquad("smooth")
    np.testing.assert_array_equal(model.recommend(HISTORY, k=5)[0], [[5, 1, 6, 2, 3]])
    model.set_params(target_tail_share=0.5)  # read only when re-ranking: no refit
    np.testing.assert_array_equal(model.recommend(HISTORY, k=5)[0], [[1, 5, 2, 6, 3]])


def test_xquad_target_tail_share_applies_to_users_without_history():
    # items 0-3 the head, 4-9 the tail; an empty row: candidates 0..5, relevance
    # 1, .8, .6, .4, .2, 0; lambda = .9, P(head|u) = P(tail|u) = 1/2
    # step 1: 0 (.1 + .45); step 2, the head covered: 4 (.02 + .45) over 5 (.45);
    # step 3, halves: 1 (.08 + .225) over 5 (.225); step 4, S = {0, 4, 1}: head
    # uncovered 1/3, tail 2/3: 5 (.9 * .5 * 2/3 = .3) over 2 (.06 + .15), then 2, 3
    X = _training_matrix(HEAD_TAIL_COUNTS)
    scores = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.0, 0.0, 0.0, 0.0]
    empty = sp.csr_matrix((1, 10))
    model = XQuADReranker(FixedScores(scores), tradeoff=0.9, n_candidates=6).fit(X)
    np.testing.assert_array_equal(model.recommend(empty, k=6)[0], [[0, 1, 2, 3, 4, 5]])
    model.set_params(target_tail_share=0.5)
    np.testing.assert_array_equal(model.recommend(empty, k=6)[0], [[0, 4, 1, 5, 2, 3]])


def test_relevance_log_scale_is_linear_in_the_probability():
    values = np.log([[0.5, 0.25, 0.05, 1.0]])
    valid = np.array([[True, True, True, False]])  # the last one: padding
    np.testing.assert_allclose(_relevance(values, valid, "log"), [[1.0, 0.2 / 0.45, 0.0, 0.0]])
    # linear in the logarithm: log 2 / log 10 for the middle one
    np.testing.assert_allclose(_relevance(values, valid, "linear"),
                               [[1.0, 1 - np.log(2) / np.log(10), 0.0, 0.0]])
    # relative to the best candidate: logits far from 0 neither overflow nor underflow, and
    # an infinite best one leaves the others at 0 (not inf - inf = NaN)
    middle = (np.exp(-1) - np.exp(-5)) / (1 - np.exp(-5))
    far = np.array([[-800.0, -801.0, -805.0], [800.0, 799.0, 795.0], [np.inf, 800.0, 1.0]])
    np.testing.assert_allclose(_relevance(far, np.ones((3, 3), bool), "log"),
                               [[1.0, middle, 0.0], [1.0, middle, 0.0], [1.0, 0.0, 0.0]])


def test_xquad_log_scale_hand_computed_steps():
    """Probabilities .4, .2 (head), .1, .001 (tail) as log-probabilities; lambda = .5,
    P(head|u) = 1/3, P(tail|u) = 2/3. Read linearly, the logs give relevances 1, .8843,
    .7686, 0 and the tail item 5 comes first (.3843 + .3333 against 1's .5 + .1667);
    read as probabilities, 1, .4987, .2481, 0: 1 stays first (.6667 against .4574), then
    5 (.4574, the head covered), then 2 (.2494 + .0833 against 6's .1667)."""
    X = _training_matrix(HEAD_TAIL_COUNTS)
    scores = np.log([1.0, 0.4, 0.2, 0.0005, 1.0, 0.1, 0.001, 1.0, 0.0001, 0.0001])
    model = XQuADReranker(FixedScores(scores), tradeoff=0.5, n_candidates=4).fit(X)
    np.testing.assert_array_equal(model.recommend(HISTORY, k=5)[0], [[5, 1, 2, 6, 3]])
    model.set_params(score_scale="log")
    np.testing.assert_array_equal(model.recommend(HISTORY, k=5)[0], [[1, 5, 2, 6, 3]])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1e-4, 1.0), min_size=10, max_size=10, unique=True),
       st.floats(0.05, 0.95), st.sampled_from(["xquad", "calibrated"]))
def test_log_scale_of_log_probabilities_is_linear_scale_of_probabilities(p, tradeoff, which):
    """score_scale="log" over log p re-ranks as the default over p, for every p."""
    p = np.array(p)
    if len(set(np.log(p))) < len(p):  # two p merged by the logarithm: another order
        return
    X = _training_matrix(HEAD_TAIL_COUNTS)

    def make(scores, scale):
        inner = FixedScores(scores)
        if which == "xquad":
            return XQuADReranker(inner, tradeoff=tradeoff, n_candidates=7, score_scale=scale)
        return CalibratedReranker(inner, np.arange(10) % 3, tradeoff=tradeoff, n_candidates=7,
                                  score_scale=scale)

    users = [[0] * 10, HISTORY[0], [0, 1, 0, 0, 0, 0, 1, 0, 0, 0]]
    np.testing.assert_array_equal(make(np.log(p), "log").fit(X).recommend(users, k=7)[0],
                                  make(p, "linear").fit(X).recommend(users, k=7)[0])


def _kl(p, q_mass, alpha=0.01):
    if p.sum() == 0:  # no categorized history: nothing to calibrate to
        return 0.0
    q = q_mass / q_mass.sum()
    q = (1 - alpha) * q + alpha * p
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 log 0 = 0
        return float(np.sum(np.where(p > 0, p * np.log(p / q), 0.0)))


def test_calibrated_hand_computed_steps():
    # genres A (0) and B (1); history: items 0, 1 (A) and 2 (B), p = (2/3, 1/3)
    genres = ["A", "A", "B", "A", "A", "B", "A"]
    scores = [9.0, 9.0, 9.0, 1.0, 0.9, 0.6, 0.5]
    X = _training_matrix([3, 3, 3, 1, 1, 1, 1])
    model = CalibratedReranker(FixedScores(scores), genres, tradeoff=0.5,
                               n_candidates=4).fit(X)
    history = [[1, 1, 1, 0, 0, 0, 0]]
    p = np.array([2, 1]) / 3
    kl_a, kl_b = _kl(p, np.array([1.0, 0.0])), _kl(p, np.array([0.0, 1.0]))
    assert kl_a == pytest.approx(1.26697, abs=1e-5)
    assert kl_b == pytest.approx(2.70614, abs=1e-5)
    # candidates 3, 4 (A), 5 (B), 6 (A), scaled relevance 1, .8, .2, 0
    # step 1, S = {}: 3: .5 - .5 * 1.26697 = -.1335 (best), 5: .1 - 1.3531
    # step 2, S = {3}: adding A keeps q = (1, 0): 4: .4 - .6335 = -.2335;
    #                  adding B gives q = (.5, .5), KL .05553: 5: .1 - .0278 -> 5
    assert _kl(p, np.array([1.0, 1.0])) == pytest.approx(0.05553, abs=1e-5)
    # step 3, S = {3, 5}: adding A gives q = (2/3, 1/3) = p, KL 0: 4 (.4) over 6 (0)
    assert _kl(p, np.array([2.0, 1.0])) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(model.recommend(history, k=4)[0], [[3, 5, 4, 6]])
    assert model.estimator_.recommend(history, k=4)[0].tolist() == [[3, 4, 5, 6]]
    # the miscalibration of the top 2 falls from KL(p, (1, 0)) to KL(p, (.5, .5))
    scorer_free = np.array([[3, 5]])
    from sklearn_recsys.metrics import miscalibration_at_k

    assert miscalibration_at_k(history, scorer_free, categories=genres, k=2) == (
        pytest.approx(_kl(p, np.array([1.0, 1.0]))))


def _reference_order(relevance, objective):
    """Plain greedy: one user, one candidate at a time."""
    order, left = [], list(range(len(relevance)))
    while left:
        gains = [objective(order, j, relevance[j]) for j in left]
        best = left[int(np.argmax(gains))]
        order.append(best)
        left.remove(best)
    return order


def _scaled(values):
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.ones_like(values)


@pytest.fixture(scope="module")
def data():
    X, truth = make_interactions(n_users=300, n_items=80, density=0.1, return_truth=True,
                                 random_state=0)
    return X, truth.item_topic


@pytest.mark.parametrize("kind", ["smooth", "binary"])
def test_xquad_matches_a_plain_greedy_implementation(data, kind):
    X, _ = data
    tradeoff, n_cand = 0.7, 15
    model = XQuADReranker(EASE(alpha=10.0), tradeoff=tradeoff, n_candidates=n_cand,
                          kind=kind).fit(X)
    tail = model.long_tail_
    inner = model.estimator_.decision_function(X[:40])
    idx, _ = model.recommend(X[:40], k=n_cand)
    for u in range(40):
        history = X[u].indices
        p_tail = tail[history].mean()
        p = {True: p_tail, False: 1 - p_tail}
        cand, _ = model.estimator_.recommend(X[u], k=n_cand)
        cand = cand[0]
        rel = _scaled(inner[u, cand])

        def objective(chosen, j, r):
            c = bool(tail[cand[j]])
            in_c = sum(bool(tail[cand[i]]) == c for i in chosen)
            if kind == "binary":
                uncovered = float(in_c == 0)
            else:
                uncovered = 1 - in_c / len(chosen) if chosen else 1.0
            return (1 - tradeoff) * r + tradeoff * p[c] * uncovered

        expected = cand[_reference_order(rel, objective)]
        np.testing.assert_array_equal(idx[u], expected, err_msg=f"user {u}")


def test_calibrated_matches_a_plain_greedy_implementation(data):
    X, topics = data
    tradeoff, n_cand = 0.3, 12
    # items of two topics each (one list of labels per item), and a few without any
    labels = [[] if i % 9 == 0 else [int(t), int((t + 1) % 10)] for i, t in enumerate(topics)]
    labels = np.array(labels, dtype=object)
    model = CalibratedReranker(ItemKNN(n_neighbors=20), labels, tradeoff=tradeoff,
                               n_candidates=n_cand).fit(X)
    C = _check_categories(labels, X.shape[1]).toarray()
    inner = model.estimator_.decision_function(X[:30])
    idx, _ = model.recommend(X[:30], k=n_cand)
    for u in range(30):
        history = X[u].indices
        p_mass = C[history].sum(axis=0)
        p = p_mass / max(p_mass.sum(), 1e-300)
        cand = model.estimator_.recommend(X[u], k=n_cand)[0][0]
        rel = _scaled(inner[u, cand])

        def objective(chosen, j, r):
            mass = C[cand[chosen + [j]]].sum(axis=0)
            # a list of uncategorized items only: q = 0, the largest KL
            kl = _kl(p, mass) if mass.sum() > 0 or p.sum() == 0 else -np.log(0.01)
            return (1 - tradeoff) * r - tradeoff * kl

        expected = cand[_reference_order(rel, objective)]
        np.testing.assert_array_equal(idx[u], expected, err_msg=f"user {u}")


# ----------------------------------------------------------------- identity


def _rerankers(data, tradeoff):
    X, topics = data
    return [XQuADReranker(EASE(alpha=10.0), tradeoff=tradeoff, n_candidates=20),
            XQuADReranker(ItemKNN(n_neighbors=10), tradeoff=tradeoff, kind="binary"),
            CalibratedReranker(EASE(alpha=10.0), topics, tradeoff=tradeoff, n_candidates=20)]


def test_tradeoff_zero_is_the_inner_model_exactly(data):
    X = data[0]
    X_train, X_test = X[:200], X[200:]
    exclude = sp.random(100, X.shape[1], density=0.05, random_state=0, format="csr")
    items = np.arange(0, X.shape[1], 3)
    for model in _rerankers(data, 0.0):
        model.fit(X_train)
        inner = model.estimator_
        np.testing.assert_array_equal(model.decision_function(X_test),
                                      inner.decision_function(X_test))
        for options in ({}, {"exclude": exclude}, {"candidates": items},
                        {"exclude_seen": False}):
            for a, b in zip(model.recommend(X_test, k=30, **options),
                            inner.recommend(X_test, k=30, **options)):
                np.testing.assert_array_equal(a, b)
        # the greedy itself keeps the inner order when the relevance dominates
        # (a tiny trade-off): only the scores differ
        tiny = clone(model).set_params(tradeoff=1e-12).fit(X_train)
        np.testing.assert_array_equal(tiny.recommend(X_test, k=30)[0],
                                      inner.recommend(X_test, k=30)[0])


# ----------------------------------------------------------------- exclusion


def test_history_and_exclusions_are_removed_before_reranking(data):
    X = data[0]
    model = XQuADReranker(EASE(alpha=10.0), tradeoff=1.0, n_candidates=10).fit(X)
    inner = model.estimator_
    for options in ({}, {"exclude": X[::-1]}, {"candidates": np.arange(40)}):
        idx, _ = model.recommend(X, k=10, **options)
        inner_idx, _ = inner.recommend(X, k=10, **options)
        # the same 10 best allowed items, in another order: every slot went to
        # an item that can be recommended
        np.testing.assert_array_equal(np.sort(idx, axis=1), np.sort(inner_idx, axis=1))
    assert (model.recommend(X, k=10)[0] != inner.recommend(X, k=10)[0]).any()
    # the scorers mask the history of the scored rows, as recommend does
    scores = model.decision_function(X)
    scores[X.nonzero()] = -np.inf
    idx = model.recommend(X, k=10)[0]
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(np.where(idx >= 0, ranked, -1), idx)  # -1: all seen


def test_pipeline_inner_model_excludes_the_raw_history():
    X = np.array([[5, 3, 0, 4, 0, 1], [4, 0, 5, 1, 0, 4], [0, 4, 5, 5, 2, 0],
                  [5, 5, 0, 0, 4, 4], [1, 0, 4, 5, 5, 0]], dtype=float)
    pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=1.0))
    model = XQuADReranker(pipe, tradeoff=0.9, n_candidates=3).fit(X)
    # popularity of every rating the pipeline was given, as a scorer reads it from the pipeline
    counts = (X != 0).sum(axis=0)
    np.testing.assert_allclose(model._item_popularity, counts / counts.sum())
    assert not np.allclose(model._item_popularity, model.estimator_[-1]._item_popularity)
    idx, _ = model.recommend(X, k=6)
    for u in range(X.shape[0]):
        valid = idx[u][idx[u] >= 0]
        assert not X[u, valid].any()  # a movie rated 1 or 3 is never recommended back


def test_frozen_estimator_reranks_a_model_fitted_elsewhere(data):
    X = data[0]
    fitted = EASE(alpha=10.0).fit(X[:200])
    frozen = XQuADReranker(FrozenEstimator(fitted), tradeoff=0.8).fit(X[:200])
    fresh = XQuADReranker(EASE(alpha=10.0), tradeoff=0.8).fit(X[:200])
    np.testing.assert_array_equal(frozen.recommend(X[200:])[0], fresh.recommend(X[200:])[0])
    assert frozen.estimator_.estimator is fitted
    # fitted on other users than the re-ranker's X: head and tail (and the scorers'
    # APLT) come from that X, not from the data the frozen model saw
    other = XQuADReranker(FrozenEstimator(fitted), tradeoff=0.8).fit(X[200:])
    counts = np.asarray((X[200:] != 0).sum(axis=0), dtype=float).ravel()
    np.testing.assert_allclose(other._item_popularity, counts / counts.sum())
    np.testing.assert_array_equal(
        other.long_tail_, XQuADReranker(EASE(alpha=10.0), tradeoff=0.8).fit(X[200:]).long_tail_)
    assert (other.long_tail_ != frozen.long_tail_).any()


# ----------------------------------------------------------------- the trade-off


def _curve(model_for, X_train, X_in, X_out, metric, tradeoffs, **options):
    accuracy = make_ranking_scorer("ndcg", k=10)
    exposure = make_beyond_accuracy_scorer(metric, k=10, **options)
    out = []
    for t in tradeoffs:
        model = model_for(t).fit(X_train)
        out.append((accuracy(model, X_in, X_out), exposure(model, X_in, X_out)))
    return np.array(out)


TRADEOFFS = [0.0, 0.25, 0.5, 0.75, 0.9, 1.0]


@pytest.mark.parametrize("kind", ["smooth", "binary"])
def test_aplt_grows_with_the_tradeoff(kind):
    X = make_interactions(n_users=600, n_items=200, density=0.05, popularity_skew=1.2,
                          random_state=1)
    split = strong_generalization_split(X, random_state=0)
    curve = _curve(lambda t: XQuADReranker(EASE(alpha=30.0), tradeoff=t, kind=kind),
                   *split, "aplt", TRADEOFFS)
    aplt = curve[:, 1]
    assert np.all(np.diff(aplt) >= 0), aplt
    # binary xQuAD promotes one long-tail item per list at most, smooth more
    assert aplt[-1] > (2 if kind == "smooth" else 1.2) * aplt[0], aplt


@pytest.mark.parametrize("share", [0.2, 0.5, 0.8])
def test_target_tail_share_is_the_lists_share_at_tradeoff_one(share):
    """At tradeoff=1 smooth xQuAD adds a tail item whenever the list's tail share is below
    P(tail|u): with a fixed target, every top 10 holds round(10 * share) tail items (give
    or take the one a tie at the boundary decides), whatever the user's own share."""
    X = make_interactions(n_users=600, n_items=200, density=0.05, popularity_skew=1.2,
                          random_state=1)
    X_train, X_in, _ = strong_generalization_split(X, random_state=0)
    model = XQuADReranker(EASE(alpha=30.0), tradeoff=1.0, n_candidates=100,
                          target_tail_share=share).fit(X_train)
    tail = model.long_tail_
    cand = model.estimator_.recommend(X_in, k=100)[0]
    # users whose candidates hold ten items of each category (the others run out of one)
    both = ((tail[cand] & (cand >= 0)).sum(axis=1) >= 10) & ((~tail[cand]).sum(axis=1) >= 10)
    assert both.sum() > 50
    n_tail = tail[model.recommend(X_in, k=10)[0]].sum(axis=1)[both]
    assert np.all(np.abs(n_tail - 10 * share) <= 1), n_tail
    own = np.array([tail[X_in[u].indices].mean() for u in np.flatnonzero(both)])
    assert np.ptp(own) > 0.3  # the users' own shares differ, the lists' do not


def test_miscalibration_falls_with_the_tradeoff():
    X, truth = make_interactions(n_users=600, n_items=200, density=0.05, random_state=1,
                                 return_truth=True)
    split = strong_generalization_split(X, random_state=0)
    topics = truth.item_topic
    curve = _curve(lambda t: CalibratedReranker(EASE(alpha=30.0), topics, tradeoff=t),
                   *split, "miscalibration", TRADEOFFS, categories=topics)
    neg_miscalibration = curve[:, 1]
    assert np.all(np.diff(neg_miscalibration) >= 0), neg_miscalibration
    assert -neg_miscalibration[-1] < 0.5 * -neg_miscalibration[0], neg_miscalibration


# ----------------------------------------------------------------- model selection


def test_grid_search_tunes_tradeoff_and_inner_parameters_with_multi_metric_scoring(data):
    X, topics = data
    model = XQuADReranker(EASE(), n_candidates=30)
    assert {"tradeoff", "n_candidates", "estimator__alpha"} <= set(model.get_params(deep=True))
    scoring = {"ndcg": make_ranking_scorer("ndcg", k=10),
               "aplt": make_beyond_accuracy_scorer("aplt", k=10)}
    grid = {"tradeoff": [0.0, 0.95], "estimator__alpha": [10.0, 100.0]}
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(model, grid, scoring=scoring, refit="aplt", cv=cv).fit(X)
    results = search.cv_results_
    params = list(zip(results["param_tradeoff"], results["param_estimator__alpha"]))
    for alpha in grid["estimator__alpha"]:
        at = {t: i for i, (t, a) in enumerate(params) if a == alpha}
        assert results["mean_test_aplt"][at[0.95]] > results["mean_test_aplt"][at[0.0]]
        assert results["mean_test_ndcg"][at[0.95]] < results["mean_test_ndcg"][at[0.0]]
    assert search.best_params_["tradeoff"] == 0.95
    assert search.best_estimator_.estimator_.alpha == search.best_params_["estimator__alpha"]
    # the fold's re-ranked model scores as the scorer does, outside the search too
    train, test = next(cv.split(X))
    fold = clone(model).set_params(tradeoff=0.95, estimator__alpha=10.0).fit(X[train])
    i = params.index((0.95, 10.0))
    assert results["split0_test_aplt"][i] == pytest.approx(scoring["aplt"](fold, X[test]))


def test_grid_search_calibrated_with_miscalibration_scorer(data):
    X, topics = data
    scoring = {"ndcg": make_ranking_scorer("ndcg", k=10),
               "miscalibration": make_beyond_accuracy_scorer("miscalibration", k=10,
                                                             categories=topics)}
    search = GridSearchCV(CalibratedReranker(EASE(alpha=10.0), topics),
                          {"tradeoff": [0.0, 0.5, 0.9]}, scoring=scoring,
                          refit="miscalibration", cv=3).fit(X)
    neg = search.cv_results_["mean_test_miscalibration"]
    assert neg[0] < neg[1] < neg[2]
    assert search.best_params_ == {"tradeoff": 0.9}
    # categories describe the items: the search gave every fold all of them
    assert len(search.best_estimator_.categories) == X.shape[1]


# ----------------------------------------------------------------- contract


def test_pickle_round_trip_keeps_the_lists(data):
    X = data[0]
    for model in _rerankers(data, 0.8):
        model.fit(X[:200])
        restored = pickle.loads(pickle.dumps(model))
        for a, b in zip(model.recommend(X[200:], k=10), restored.recommend(X[200:], k=10)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(model.decision_function(X[200:]),
                                      restored.decision_function(X[200:]))


def test_rows_do_not_depend_on_the_batch(data):
    from sklearn import config_context

    X = data[0]
    for model in _rerankers(data, 0.8):
        model.fit(X)
        full = model.decision_function(X)
        with config_context(working_memory=3 * X.shape[1] * 8 / 2**20):  # 3 users a batch
            np.testing.assert_array_equal(model.decision_function(X), full)
        rows = np.random.RandomState(0).permutation(X.shape[0])[:17]
        np.testing.assert_array_equal(model.decision_function(X[rows]), full[rows])


def test_users_without_history_keep_the_inner_list(data):
    X = data[0]
    empty = sp.csr_matrix((2, X.shape[1]))
    for model in _rerankers(data, 0.9):
        model.fit(X)
        np.testing.assert_array_equal(model.recommend(empty)[0],
                                      model.estimator_.recommend(empty)[0])


def test_explain_is_the_inner_models(data):
    X = data[0]
    for model in _rerankers(data, 0.8):
        model.fit(X)
        item = int(model.recommend(X[3], k=1)[0][0, 0])
        for a, b in zip(model.explain(X[3], item), model.estimator_.explain(X[3], item)):
            np.testing.assert_array_equal(a, b)
        # the contrast too, with the runners-up of the inner model's list
        inner = model.estimator_.recommend(X[3], k=4)[0][0]
        for a, b in zip(model.explain_contrast(X[3], inner[0], against=3),
                        model.estimator_.explain_contrast(X[3], inner[0], against=inner[1:])):
            np.testing.assert_array_equal(a, b)
    # an inner model without explain (scikit-learn's pipeline): the re-ranker has none
    from sklearn.pipeline import make_pipeline as sk_make_pipeline

    bare = XQuADReranker(sk_make_pipeline(RatingBinarizer(threshold=0.5), EASE()))
    assert not hasattr(bare, "explain") and not hasattr(bare, "explain_contrast")
    # the library's Pipeline explains through its steps, and so does a re-ranker of it
    model = XQuADReranker(make_pipeline(RatingBinarizer(threshold=0.5), EASE())).fit(X)
    item = int(model.recommend(X[3], k=1)[0][0, 0])
    for a, b in zip(model.explain(X[3], item), model.estimator_.explain(X[3], item)):
        np.testing.assert_array_equal(a, b)


def test_explain_of_a_dataframe_row_does_not_warn(data):
    """The re-ranker passed the raw row to its inner model, fitted on the validated
    matrix: a DataFrame's names warned 'X has feature names, but EASE was fitted without
    feature names' (found by an audit helper); decision_function never did."""
    pd = pytest.importorskip("pandas")
    X = data[0]
    frame = pd.DataFrame(X.toarray(), columns=[f"i{j}" for j in range(X.shape[1])])
    for model in _rerankers(data, 0.8):
        model.fit(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = model.explain(frame.iloc[[3]], 1)
            contrast = model.explain_contrast(frame.iloc[[3]], 1, against=[2, 4])
        for a, b in zip(got, model.estimator_.explain(X[3], 1)):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(contrast, model.estimator_.explain_contrast(X[3], 1, [2, 4])):
            np.testing.assert_array_equal(a, b)


def test_errors(data):
    X, topics = data
    with pytest.raises(InvalidParameterError, match="estimator"):
        XQuADReranker(RatingBinarizer()).fit(X)
    with pytest.raises(InvalidParameterError, match="tradeoff"):
        XQuADReranker(EASE(), tradeoff=1.5).fit(X)
    with pytest.raises(InvalidParameterError, match="n_candidates"):
        XQuADReranker(EASE(), n_candidates=0).fit(X)
    with pytest.raises(InvalidParameterError, match="kind"):
        XQuADReranker(EASE(), kind="soft").fit(X)
    with pytest.raises(InvalidParameterError, match="target_tail_share"):
        XQuADReranker(EASE(), target_tail_share=1.5).fit(X)
    with pytest.raises(InvalidParameterError, match="score_scale"):
        CalibratedReranker(EASE(), topics, score_scale="exp").fit(X)
    with pytest.raises(ValueError, match="categories describes 79 items but X has 80"):
        CalibratedReranker(EASE(), topics[:-1]).fit(X)
    with pytest.raises(ValueError, match="Negative values"):
        XQuADReranker(EASE()).fit(-X)


class _AnyCatalogue(CalibratedReranker):
    """CalibratedReranker with labels ``i % 3`` for whatever catalogue a check draws.

    ``categories`` describes a fixed catalogue, while scikit-learn's checks fit
    on data of several widths; this subclass (whose ``categories`` is ignored)
    runs them on everything else.
    """

    def _fit_reranker(self, X):
        self.item_categories_ = _check_categories(np.arange(X.shape[1]) % 3, X.shape[1])


_INSTANCES = [XQuADReranker(EASE(alpha=1.0), tradeoff=0.7, n_candidates=5),
              XQuADReranker(ItemKNN(n_neighbors=5), tradeoff=0.7, kind="binary"),
              XQuADReranker(EASE(alpha=1.0), tradeoff=0.7, n_candidates=5, score_scale="log",
                            target_tail_share=0.5),
              _AnyCatalogue(EASE(alpha=1.0), [0], tradeoff=0.7, n_candidates=5)]


@parametrize_with_checks(_INSTANCES)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_param_validation():
    """scikit-learn's check_param_validation (not yielded by parametrize_with_checks): every
    parameter of the meta-estimator has a constraint and a wrong one is refused by name."""
    from sklearn.utils.estimator_checks import check_param_validation

    for estimator in _INSTANCES:
        check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator",
    _INSTANCES[:3] + [CalibratedReranker(EASE(alpha=1.0), np.arange(25) % 4, tradeoff=0.7,
                                         n_candidates=5)],
    ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", recommender_checks(), ids=lambda c: c.__name__)
def test_recommender_contract(estimator, check):
    # the package's checks draw a 25-item catalogue
    check(type(estimator).__name__, estimator)


def test_tradeoff_results_back_the_docs():
    """docs/evaluation.rst: with three seeds' means, xQuAD doubles APLT@100 within 2% of
    NDCG@100 for EASE and ImplicitALS on both datasets and for MultVAE on latest-small (every
    seed), and so do EASE's popularity_penalty and ImplicitALS's propensity_power (Last.fm 0.25
    gaining NDCG, every seed; latest-small 0.15, one seed of three); MultVAE's corrections do
    nowhere with Saito's propensity, and on latest-small with the short-head reference (the
    offset at 1: every seed, since items without training interactions have propensity 1);
    xQuAD does not on Last.fm, where a doubling exceeds the users' own tail share."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "tradeoff.json"
    tables = {t["id"]: t for t in json.loads(path.read_text())["tables"]}
    table = tables["summary"]
    col = {name: i for i, name in enumerate(table["columns"])}
    summary = {(r[col["data"]], r[col["model"]], r[col["mechanism"]]): r for r in table["rows"]}
    assert len(summary) == len(table["rows"]) == 20

    def met(row):
        return row[col["APLT ratio"]] >= 2.0 and row[col["NDCG change %"]] >= -2.0

    small, lastfm = "MovieLens latest-small", "Last.fm 2K"
    doubled = {key for key, row in summary.items() if row[col["setting"]] is not None
               and met(row)}
    assert doubled == {(data, model, mech) for data in (small, lastfm) for model, mech in [
        ("EASE", "xQuAD re-ranking"), ("EASE", "popularity_penalty"),
        ("ImplicitALS", "xQuAD re-ranking"), ("ImplicitALS", "propensity_power")]} | {
        (small, "MultVAE", "xQuAD re-ranking"), (small, "MultVAE", "propensity_power, short head"),
        (small, "MultVAE", "propensity offset, short head"),
        (lastfm, "ImplicitALS", "propensity_power, short head")}
    seeds = {key: row[col["seeds at x2 within 2%"]] for key, row in summary.items()}
    assert seeds[small, "MultVAE", "xQuAD re-ranking"] == "3/3"
    assert all(seeds[data, "ImplicitALS", "xQuAD re-ranking"] == "3/3" for data in (small, lastfm))
    als = summary[lastfm, "ImplicitALS", "propensity_power"]
    assert als[col["setting"]] == 0.25 and seeds[lastfm, "ImplicitALS", "propensity_power"] == "3/3"
    assert round(als[col["APLT ratio"]], 2) == 2.13 and round(als[col["NDCG change %"]], 1) == 1.9
    als = summary[small, "ImplicitALS", "propensity_power"]
    assert als[col["setting"]] == 0.15 and seeds[small, "ImplicitALS", "propensity_power"] == "1/3"
    assert round(als[col["APLT ratio"]], 2) == 2.49 and round(als[col["NDCG change %"]], 1) == -1.8
    # MultVAE: within the budget the weights reach x1.10 / x1.21, the offset x1.48 / x1.20
    ratios = {(data, mech): round(summary[data, "MultVAE", mech][col["APLT ratio"]], 2)
              for data in (small, lastfm) for mech in ("propensity_power", "propensity offset")}
    assert ratios == {(small, "propensity_power"): 1.1, (small, "propensity offset"): 1.48,
                      (lastfm, "propensity_power"): 1.21, (lastfm, "propensity offset"): 1.2}
    assert round(summary[lastfm, "MultVAE", "xQuAD re-ranking"][col["APLT ratio"]], 1) == 1.3
    # the curves: seed-to-seed spread of MultVAE's baseline, and what 0.25 costs
    curve = tables["curves"]
    c = {name: i for i, name in enumerate(curve["columns"])}
    vae = {(r[c["data"]], r[c["mechanism"]], r[c["setting"]]): r for r in curve["rows"]
           if r[c["model"]] == "MultVAE"}
    assert vae[small, "none", 0.0][c["NDCG@100 by seed"]] == "0.3232 0.3310 0.3388"

    def change(data, mech, setting):
        row, base = vae[data, mech, setting], vae[data, "none", 0.0]
        return (row[c["APLT@100"]] / base[c["APLT@100"]],
                100 * (row[c["NDCG@100"]] / base[c["NDCG@100"]] - 1))

    ratio, loss = change(small, "propensity offset", 0.25)
    assert round(ratio, 1) == 2.7 and round(loss, 1) == -3.1
    assert [round(v, 1) for v in change(lastfm, "propensity offset", 0.25)] == [1.5, -2.2]
    assert [round(v, 2) for v in change(small, "propensity offset", 0.1)] == [1.48, -1.51]
    assert round(change(small, "propensity_power", 0.25)[0], 1) == 2.3
    assert round(change(lastfm, "propensity_power", 0.25)[0], 1) == 1.7
    # EASE's penalty gains NDCG@100 on Last.fm
    assert summary[lastfm, "EASE", "popularity_penalty"][col["NDCG change %"]] > 2.0
    # MultVAE's baseline holds the largest long-tail share on Last.fm, and the users' own
    # share, where xQuAD's lists tend, is below a doubling: no xQuAD setting reaches it
    lastfm_vae = summary[lastfm, "MultVAE", "xQuAD re-ranking"]
    base_aplt = {m: summary[lastfm, m, "xQuAD re-ranking"][col["APLT@100"]]
                 for m in ("EASE", "ImplicitALS", "MultVAE")}
    assert max(base_aplt, key=base_aplt.get) == "MultVAE"
    assert round(lastfm_vae[col["APLT@100"]], 2) == 0.15
    note = next(n for n in table["notes"] if n.startswith("Mean long-tail share"))
    share = float(note.split("Last.fm 2K ")[1].rstrip("."))
    assert 0.25 <= share < 0.26 < 2 * lastfm_vae[col["APLT@100"]]
    assert max(r[c["APLT@100"]] for key, r in vae.items()
               if key[:2] == (lastfm, "xQuAD re-ranking")) < 2 * lastfm_vae[col["APLT@100"]]
    # ImplicitALS's Rel-MF weights, seed by seed against each seed's own baseline: on
    # latest-small at 0.15 seed 2 gains, seeds 0 and 1 lose more than the budget; on Last.fm
    # 0.1 to 0.2 gain 2.2% to 2.9% of the mean NDCG@100
    als_curve = {(r[c["data"]], r[c["mechanism"]], r[c["setting"]]): r for r in curve["rows"]
                 if r[c["model"]] == "ImplicitALS"}

    def seed_changes(data, setting):
        (row, base) = (als_curve[data, "propensity_power", setting],
                       als_curve[data, "none", 0.0])
        ndcg, ndcg0 = ([float(v) for v in r[c["NDCG@100 by seed"]].split()] for r in (row, base))
        return [round(100 * (a / b - 1), 1) for a, b in zip(ndcg, ndcg0)]

    assert seed_changes(small, 0.15) == [-3.2, -3.0, 0.8]
    gains = [100 * (als_curve[lastfm, "propensity_power", p][c["NDCG@100"]]
                    / als_curve[lastfm, "none", 0.0][c["NDCG@100"]] - 1) for p in (0.1, 0.15, 0.2)]
    assert [round(g, 1) for g in gains] == [2.2, 2.6, 2.9]
    # the sd column is the sample sd of the seeds' figures (ddof 1), EASE's one fit 0
    for row in curve["rows"]:
        by_seed = [float(v) for v in row[c["NDCG@100 by seed"]].split()]
        expected = np.std(by_seed, ddof=1) if len(by_seed) > 1 else 0.0
        assert row[c["NDCG@100 sd"]] == pytest.approx(expected, abs=1e-4)
    # the short-head reference: MultVAE on latest-small (the weights in the mean, one seed;
    # the offset at 1 every seed), not on Last.fm; ImplicitALS on Last.fm, not on latest-small
    head = {(data, model, mech): (row[col["setting"]], round(row[col["APLT ratio"]], 2),
                                  round(row[col["NDCG change %"]], 2),
                                  row[col["seeds at x2 within 2%"]])
            for (data, model, mech), row in summary.items() if "short head" in mech}
    assert head == {
        (small, "ImplicitALS", "propensity_power, short head"): (0.5, 1.92, -1.96, "0/3"),
        (small, "MultVAE", "propensity_power, short head"): (1.5, 5.78, -1.98, "1/3"),
        (small, "MultVAE", "propensity offset, short head"): (1.0, 4.17, 0.06, "3/3"),
        (lastfm, "ImplicitALS", "propensity_power, short head"): (1.0, 2.4, 1.01, "3/3"),
        (lastfm, "MultVAE", "propensity_power, short head"): (0.5, 1.37, -0.73, "0/3"),
        (lastfm, "MultVAE", "propensity offset, short head"): (1.0, 1.67, -0.69, "0/3")}
    offset = "propensity offset, short head"
    assert [round(v, 1) for v in change(small, offset, 1.5)] == [8.2, -6.8]
    assert [round(v, 1) for v in change(small, offset, 2.0)] == [9.4, -4.6]
    assert [round(v, 1) for v in change(lastfm, offset, 1.5)] == [2.1, -3.8]
    seed_ndcg = [[float(v) for v in vae[small, m, s][c["NDCG@100 by seed"]].split()]
                 for m, s in ((offset, 1.0), ("none", 0.0))]
    assert [round(100 * (a / b - 1), 1) for a, b in zip(*seed_ndcg)] == [1.1, 0.1, -0.9]
    # the offset's propensities applied after training: no setting doubles within 2%
    after = "offset after training (reference)"
    ratio, loss = change(small, after, 0.1)
    assert round(ratio, 2) == 1.56 and round(loss, 1) == -1.6
    # above the in-training weights' best within the budget there (x1.10)
    assert ratio > summary[small, "MultVAE", "propensity_power"][col["APLT ratio"]]
    assert [round(v, 1) for v in change(small, after, 0.25)] == [2.9, -6.0]
    assert [round(v, 1) for v in change(lastfm, after, 0.1)] == [1.2, -0.8]
    assert [round(v, 1) for v in change(lastfm, after, 0.25)] == [1.5, -4.6]
    assert not any(ratio >= 2 and loss >= -2.0
                   for ratio, loss in (change(data, after, s) for data, mech, s in vae
                                       if mech == after))


def test_tradeoff_autoencoders_results_back_the_docs():
    """docs/evaluation.rst ("The other autoencoders"): Rel-MF's weights meet the target for
    MultDAE on latest-small (0.3: x4.2 for 1.2%, two seeds of three; 0.25: x3.5 with the mean
    NDCG@100 up 0.3%, seed 0 down 1.4%), not on Last.fm for MultDAE (x1.8 for 1.5%) nor CDAE
    (x1.66 for 0.9%; 0.3: x1.8 for 2.4%), nor for CDAE on latest-small (0.1: x1.56 for 1.2%;
    0.2: x2.5 for 2.2%); xQuAD doubles both on latest-small, neither on Last.fm within
    2%: MultDAE's doubling (0.26) is above the users' own share (0.254) and never reached
    (0.9: x1.89 for 4.3%), CDAE's (0.24) is below it and reached only at 0.9, for 4.5%.
    With the short-head reference, MultDAE's weights meet it on both datasets, CDAE's on
    neither; CDAE's offset meets it on both (short head: latest-small 1: x10.2 for 0.2%, every
    seed, 1.5: x54 for 1.7%, two seeds; Last.fm 1.5: x2.81 for 1.75%, every seed; Saito's:
    latest-small 0.3 x7.0 with NDCG@100 up 1.0%, Last.fm 0.3 x1.88 for 0.4%). MultDAE's
    offset (rerun with propensity 1 for items without training interactions) meets it on
    latest-small (short head 2: x34.9 for 0.28%, 1: x6.7 up 0.5%, every seed; Saito's 0.25:
    x2.56 for 1.91%, one seed; 0.3: x3.4 for 3.1%) and not on Last.fm (short head 1: x1.96,
    NDCG@100 up 0.1%, one seed at x2; 1.5: x2.9 for 3.0%)."""
    import json
    from pathlib import Path

    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
    small, lastfm = "MovieLens latest-small", "Last.fm 2K"
    summary, curves, by_seed, aplt_by_seed = {}, {}, {}, {}
    for model in ("multdae", "cdae"):
        tables = {t["id"]: t for t in
                  json.loads((results / f"tradeoff_{model}.json").read_text())["tables"]}
        col = {name: i for i, name in enumerate(tables["summary"]["columns"])}
        c = {name: i for i, name in enumerate(tables["curves"]["columns"])}
        for r in tables["summary"]["rows"]:
            summary[r[col["data"]], r[col["model"]], r[col["mechanism"]]] = r
        for r in tables["curves"]["rows"]:
            key = r[c["data"]], r[c["model"]], r[c["mechanism"]], r[c["setting"]]
            curves[key] = r[c["NDCG@100"]], r[c["APLT@100"]]
            by_seed[key] = [float(v) for v in r[c["NDCG@100 by seed"]].split()]
            aplt_by_seed[key] = [float(v) for v in r[c["APLT@100 by seed"]].split()]
    assert len(summary) == 20

    def change(data, model, mech, setting, ratio_digits=1):  # APLT ratio, NDCG change %
        (ndcg, aplt), (ndcg0, aplt0) = (curves[data, model, mech, setting],
                                        curves[data, model, "none", 0.0])
        return round(aplt / aplt0, ratio_digits), round(100 * (ndcg / ndcg0 - 1), 1)

    def met(key):
        row = summary[key]
        return row[col["setting"]] is not None and row[col["APLT ratio"]] >= 2.0 \
            and row[col["NDCG change %"]] >= -2.0

    head = "propensity_power, short head"
    offset, offset_head = "propensity offset", "propensity offset, short head"
    assert {key for key in summary if met(key)} == {
        (small, "MultDAE", "propensity_power"), (small, "MultDAE", "xQuAD re-ranking"),
        (small, "CDAE", "xQuAD re-ranking"), (small, "MultDAE", head), (lastfm, "MultDAE", head),
        (small, "CDAE", offset), (small, "CDAE", offset_head), (lastfm, "CDAE", offset_head),
        (small, "MultDAE", offset), (small, "MultDAE", offset_head)}

    def offsets(model):  # the summary's offset rows: setting, APLT ratio, NDCG %, seeds
        return {(data, mech): (summary[data, model, mech][col["setting"]],
                               round(summary[data, model, mech][col["APLT ratio"]], 2),
                               round(summary[data, model, mech][col["NDCG change %"]], 2),
                               summary[data, model, mech][col["seeds at x2 within 2%"]])
                for data in (small, lastfm) for mech in (offset, offset_head)}

    # MultDAE's table rerun after items without training interactions got propensity 1
    assert offsets("MultDAE") == {(small, offset_head): (2.0, 34.89, -0.28, "3/3"),
                                  (lastfm, offset_head): (1.0, 1.96, 0.1, "1/3"),
                                  (small, offset): (0.25, 2.56, -1.91, "1/3"),
                                  (lastfm, offset): (0.25, 1.78, -1.95, "0/3")}
    assert change(lastfm, "MultDAE", offset_head, 1.5) == (2.9, -3.0)
    assert change(small, "MultDAE", offset_head, 1.0) == (6.7, 0.5)
    assert change(small, "MultDAE", offset_head, 1.5) == (25.4, -1.1)
    assert change(small, "MultDAE", offset, 0.3) == (3.4, -3.1)
    assert all(ndcg >= 0.98 * ndcg0 and aplt >= 2 * aplt0 for ndcg, ndcg0, aplt, aplt0 in zip(
        by_seed[small, "MultDAE", offset_head, 1.0], by_seed[small, "MultDAE", "none", 0.0],
        aplt_by_seed[small, "MultDAE", offset_head, 1.0],
        aplt_by_seed[small, "MultDAE", "none", 0.0]))
    assert offsets("CDAE") == {(small, offset_head): (1.5, 53.86, -1.67, "2/3"),
                               (lastfm, offset_head): (1.5, 2.81, -1.75, "3/3"),
                               (small, offset): (0.5, 22.76, -1.49, "2/3"),
                               (lastfm, offset): (0.3, 1.88, -0.36, "0/3")}
    assert change(small, "CDAE", offset_head, 1.0) == (10.2, -0.2)
    # every seed meets the target at 1 against its own baseline; at 1.5 seed 2 loses 2.1%
    assert all(ndcg >= 0.98 * ndcg0 and aplt >= 2 * aplt0 for ndcg, ndcg0, aplt, aplt0 in zip(
        by_seed[small, "CDAE", offset_head, 1.0], by_seed[small, "CDAE", "none", 0.0],
        aplt_by_seed[small, "CDAE", offset_head, 1.0], aplt_by_seed[small, "CDAE", "none", 0.0]))
    seed2 = (by_seed[small, "CDAE", offset_head, 1.5][2] / by_seed[small, "CDAE", "none", 0.0][2])
    assert round(100 * (seed2 - 1), 1) == -2.1
    assert change(lastfm, "CDAE", offset_head, 1.0, ratio_digits=2) == (1.99, 0.0)
    assert change(lastfm, "CDAE", offset_head, 2.0) == (3.7, -5.1)
    assert change(small, "CDAE", offset, 0.3) == (7.0, 1.0)
    assert change(small, "CDAE", offset, 0.2) == (3.4, 1.4)
    assert change(lastfm, "CDAE", offset, 0.5) == (2.6, -3.3)
    # two seeds of three gain NDCG@100 at Saito's 0.3 on latest-small
    assert sum(ndcg > base for ndcg, base in zip(
        by_seed[small, "CDAE", offset, 0.3], by_seed[small, "CDAE", "none", 0.0])) == 2
    short = {(data, model): (summary[data, model, head][col["setting"]],
                             round(summary[data, model, head][col["APLT ratio"]], 2),
                             round(summary[data, model, head][col["NDCG change %"]], 1),
                             summary[data, model, head][col["seeds at x2 within 2%"]])
             for data in (small, lastfm) for model in ("MultDAE", "CDAE")}
    assert short == {(small, "MultDAE"): (2.0, 28.13, -0.5, "3/3"),
                     (lastfm, "MultDAE"): (1.0, 2.01, -0.4, "2/3"),
                     (small, "CDAE"): (0.5, 1.62, -1.9, "0/3"),
                     (lastfm, "CDAE"): (0.5, 1.44, -0.6, "0/3")}
    assert change(small, "MultDAE", head, 1.5) == (20.0, -0.8)
    assert change(lastfm, "MultDAE", head, 1.5) == (2.4, -2.3)
    assert change(small, "CDAE", head, 1.0) == (5.0, -4.6)
    assert change(lastfm, "CDAE", head, 1.0) == (2.1, -4.1)
    dae = summary[small, "MultDAE", "propensity_power"]
    assert dae[col["setting"]] == 0.3 and dae[col["seeds at x2 within 2%"]] == "2/3"
    assert round(dae[col["APLT@100"]], 4) == 0.0028
    assert change(small, "MultDAE", "propensity_power", 0.3) == (4.2, -1.2)
    assert change(small, "MultDAE", "propensity_power", 0.25) == (3.5, 0.3)
    assert change(lastfm, "MultDAE", "propensity_power", 0.25) == (1.8, -1.5)
    assert summary[lastfm, "CDAE", "propensity_power"][col["setting"]] == 0.25
    small_cdae = summary[small, "CDAE", "propensity_power"]
    assert small_cdae[col["setting"]] == 0.1 and round(small_cdae[col["APLT ratio"]], 2) == 1.56
    assert change(small, "CDAE", "propensity_power", 0.1)[1] == -1.2
    assert change(small, "CDAE", "propensity_power", 0.2) == (2.5, -2.2)
    # the mean's gain at 0.25 is not every seed's: seed 0 loses 1.4%
    seed0 = (by_seed[small, "MultDAE", "propensity_power", 0.25][0]
             / by_seed[small, "MultDAE", "none", 0.0][0])
    assert round(100 * (seed0 - 1), 1) == -1.4
    assert change(lastfm, "CDAE", "propensity_power", 0.25) == (1.7, -0.9)
    assert change(lastfm, "CDAE", "propensity_power", 0.3) == (1.8, -2.4)
    cdae = summary[lastfm, "CDAE", "propensity_power"]
    assert (round(cdae[col["APLT ratio"]], 2), round(cdae[col["NDCG change %"]], 2)) == (
        1.66, -0.93)
    # Last.fm: the users' own long-tail share (the summary's note), where xQuAD's lists
    # tend, against a doubling of each plain list's share
    note = next(n for n in tables["summary"]["notes"] if n.startswith("Mean long-tail share"))
    share = float(note.split("Last.fm 2K ")[1].rstrip("."))
    assert round(share, 3) == 0.254
    base = {m: curves[lastfm, m, "none", 0.0][1] for m in ("MultDAE", "CDAE")}
    assert (round(base["MultDAE"], 2), round(base["CDAE"], 2)) == (0.13, 0.12)
    assert (round(2 * base["MultDAE"], 2), round(2 * base["CDAE"], 2)) == (0.26, 0.24)
    assert 2 * base["CDAE"] < share < 2 * base["MultDAE"]
    xquad = {(m, s): curves[lastfm, m, "xQuAD re-ranking", s] for m in ("MultDAE", "CDAE")
             for s in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)}
    assert all(aplt < 2 * base["MultDAE"] for (m, _), (_, aplt) in xquad.items()
               if m == "MultDAE")
    assert change(lastfm, "MultDAE", "xQuAD re-ranking", 0.9) == (1.9, -4.3)
    assert xquad["CDAE", 0.9][1] >= 2 * base["CDAE"] > xquad["CDAE", 0.8][1]
    assert change(lastfm, "CDAE", "xQuAD re-ranking", 0.9)[1] == -4.5


def test_tradeoff_xquad_results_back_the_docs():
    """docs/evaluation.rst ("xQuAD towards a fixed share, on probabilities") and the README:
    the default rows repeat the other summaries' xQuAD rows; with target_tail_share=0.5 (and
    score_scale="log" for the autoencoders) xQuAD doubles APLT@100 within 2% for all five
    models on both datasets in the mean, on Last.fm for every seed (MultVAE 0.2: x2.11 for
    1.29%; MultDAE 0.3: x2.75 for 1.57%; CDAE 0.1: x2.52 for 1.23%; EASE x7.13 for 1.81%,
    ImplicitALS x2.94 for 0.41%), where the default doubles it for no autoencoder; alone, the
    fixed share reaches x1.61 (MultVAE, for 2.00%), x1.78, x1.98, the log scale x1.59 (for
    1.38%), x1.86 and x2.01 (CDAE, for 1.57%, two seeds); on latest-small, where the default
    meets it for every model and seed, the combination does for MultVAE on one seed (0.2:
    x10.8 for 1.90%) and MultDAE on two (0.3: x49.9 for 1.97%), the log scale alone for
    MultVAE on every seed (0.6: x8.0 for 1.65%)."""
    import json
    from pathlib import Path

    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results"

    def summary_of(name):
        table = {t["id"]: t for t in
                 json.loads((results / f"{name}.json").read_text())["tables"]}["summary"]
        col = {c: i for i, c in enumerate(table["columns"])}
        return {(r[col["data"]], r[col["model"]], r[col["mechanism"]]):
                {c: r[i] for c, i in col.items()} for r in table["rows"]}

    xquad = summary_of("tradeoff_xquad")
    assert len(xquad) == 32
    # the default rows are the other runs' to the digit (same seeds, same fits)
    others = {**summary_of("tradeoff"), **summary_of("tradeoff_multdae"),
              **summary_of("tradeoff_cdae")}
    default = {key: row for key, row in xquad.items() if key[2] == "xQuAD re-ranking"}
    assert len(default) == 10
    for key, row in default.items():
        assert row == others[key], key

    def met(row):
        return row["APLT ratio"] >= 2.0 and row["NDCG change %"] >= -2.0

    small, lastfm = "MovieLens latest-small", "Last.fm 2K"
    autoencoders = ("MultVAE", "MultDAE", "CDAE")
    for data in (small, lastfm):
        for model in ("EASE", "ImplicitALS"):
            assert met(xquad[data, model, "xQuAD, tail share 0.5"])
        for model in autoencoders:
            assert met(xquad[data, model, "xQuAD, tail share 0.5, log scale"])
    for model in autoencoders:
        assert not met(default[lastfm, model, "xQuAD re-ranking"])
        assert xquad[lastfm, model, "xQuAD, tail share 0.5, log scale"][
            "seeds at x2 within 2%"] == "3/3"

    def figures(data, model, mechanism):
        row = xquad[data, model, mechanism]
        return row["setting"], round(row["APLT ratio"], 2), round(row["NDCG change %"], 2)

    both = "xQuAD, tail share 0.5, log scale"
    assert figures(lastfm, "MultVAE", both) == (0.2, 2.11, -1.29)
    assert figures(lastfm, "MultDAE", both) == (0.3, 2.75, -1.57)
    assert figures(lastfm, "CDAE", both) == (0.1, 2.52, -1.23)
    assert figures(lastfm, "EASE", "xQuAD, tail share 0.5")[1:] == (7.13, -1.81)
    assert figures(lastfm, "ImplicitALS", "xQuAD, tail share 0.5")[1:] == (2.94, -0.41)
    assert figures(lastfm, "MultVAE", "xQuAD, tail share 0.5")[1:] == (1.61, -2.0)
    assert figures(lastfm, "MultVAE", "xQuAD, log scale")[1:] == (1.59, -1.38)
    assert [round(xquad[lastfm, model, mechanism]["APLT ratio"], 2)
            for mechanism in ("xQuAD, tail share 0.5", "xQuAD, log scale")
            for model in ("MultDAE", "CDAE")] == [1.78, 1.98, 1.86, 2.01]
    assert not any(met(xquad[lastfm, model, mechanism])
                   for mechanism in ("xQuAD, tail share 0.5", "xQuAD, log scale")
                   for model in ("MultVAE", "MultDAE"))
    cdae = xquad[lastfm, "CDAE", "xQuAD, log scale"]
    assert met(cdae) and round(cdae["NDCG change %"], 2) == -1.57
    assert cdae["seeds at x2 within 2%"] == "2/3"
    # its lists approach the users' own share (0.254) without passing it
    assert all(xquad[lastfm, model, "xQuAD, log scale"]["its APLT@100"] < 0.254
               for model in autoencoders)
    # latest-small: the default meets it on every seed, the combination not
    assert all(default[small, model, "xQuAD re-ranking"]["seeds at x2 within 2%"]
               in ("3/3", "1/1") and met(default[small, model, "xQuAD re-ranking"])
               for model in ("EASE", "ImplicitALS", *autoencoders))
    row = xquad[small, "MultDAE", both]
    assert (row["setting"], round(row["APLT ratio"], 1), round(row["NDCG change %"], 2),
            row["seeds at x2 within 2%"]) == (0.3, 49.9, -1.97, "2/3")
    row = xquad[small, "MultVAE", both]
    assert (row["setting"], round(row["APLT ratio"], 1), round(row["NDCG change %"], 2),
            row["seeds at x2 within 2%"]) == (0.2, 10.8, -1.9, "1/3")
    row = xquad[small, "MultVAE", "xQuAD, log scale"]
    assert (row["setting"], round(row["APLT ratio"], 1), round(row["NDCG change %"], 2),
            row["seeds at x2 within 2%"]) == (0.6, 8.0, -1.65, "3/3")


def test_tradeoff_long_tail_results_back_the_docs():
    """docs/evaluation.rst ("A long-tail term in the autoencoders' loss") and the README: the
    baselines are the other runs' to the digit; long_tail_weight doubles APLT@100 within 2% of
    NDCG@100 for MultVAE on Last.fm in the mean (10: x2.16 for 1.78%, two seeds of three, seed
    2 losing 2.6%; 7.5: x1.91 for 1.10%; 9 and 11 lose 2.07% and 2.34%), on latest-small on
    every seed (2: x2.22 for 0.20%; the summary's 7.5: x5.6 for 0.96%, two seeds), for MultDAE
    on every seed on Last.fm (7.5: x2.11 for 0.35%; 9: x2.32 for 0.64%) and on latest-small
    (every weight up to 10; 10: x14.4 for 0.80%; 11 and 12.5: two seeds); the propensity's
    best for MultVAE on Last.fm was x1.67."""
    import json
    from pathlib import Path

    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results"

    def tables_of(name):
        return {t["id"]: t for t in json.loads((results / f"{name}.json").read_text())["tables"]}

    def rows_of(table):
        col = {c: i for i, c in enumerate(table["columns"])}
        return [{c: r[i] for c, i in col.items()} for r in table["rows"]]

    tables = tables_of("tradeoff_long_tail")
    curves = {(r["data"], r["model"], r["mechanism"], r["setting"]): r
              for r in rows_of(tables["curves"])}
    summary = {(r["data"], r["model"]): r for r in rows_of(tables["summary"])}
    assert len(summary) == 4 and {r["mechanism"] for r in summary.values()} == {
        "long_tail_weight"}
    # the baselines are the other runs' (same seeds, same fits)
    others = {(r["data"], r["model"], r["mechanism"], r["setting"]): r
              for name in ("tradeoff", "tradeoff_multdae")
              for r in rows_of(tables_of(name)["curves"])}
    bases = [key for key in curves if key[2] == "none"]
    assert len(bases) == 4
    for key in bases:
        assert curves[key] == others[key], key

    def per_seed(row):
        return [float(v) for v in row.split()]

    def at(data, model, weight):
        """(APLT ratio, NDCG change %, seeds that meet the target against their own base)."""
        row = curves[data, model, "long_tail_weight", weight]
        base = curves[data, model, "none", 0.0]
        seeds = sum(a >= 2 * ba and n >= 0.98 * nb for a, ba, n, nb in zip(
            per_seed(row["APLT@100 by seed"]), per_seed(base["APLT@100 by seed"]),
            per_seed(row["NDCG@100 by seed"]), per_seed(base["NDCG@100 by seed"])))
        return (row["APLT@100"] / base["APLT@100"],
                100 * (row["NDCG@100"] / base["NDCG@100"] - 1), seeds)

    def rounded(figures, digits=2):
        return round(figures[0], digits), round(figures[1], 2), figures[2]

    small, lastfm = "MovieLens latest-small", "Last.fm 2K"
    vae = summary[lastfm, "MultVAE"]
    assert (vae["setting"], round(vae["APLT ratio"], 2), round(vae["NDCG change %"], 2),
            vae["seeds at x2 within 2%"]) == (10.0, 2.16, -1.78, "2/3")
    row, base = curves[lastfm, "MultVAE", "long_tail_weight", 10.0], curves[
        lastfm, "MultVAE", "none", 0.0]
    seed2 = per_seed(row["NDCG@100 by seed"])[2] / per_seed(base["NDCG@100 by seed"])[2]
    assert round(100 * (seed2 - 1), 1) == -2.6
    assert rounded(at(lastfm, "MultVAE", 7.5)) == (1.91, -1.1, 0)
    # at the edge: the neighbours lose more than 2% in the mean; the seeds' own losses at 10
    assert [round(at(lastfm, "MultVAE", w)[1], 2) for w in (9.0, 11.0)] == [-2.07, -2.34]
    assert [round(100 * (n / b - 1), 1) for n, b in zip(
        per_seed(row["NDCG@100 by seed"]), per_seed(base["NDCG@100 by seed"]))] == [
        -1.6, -1.1, -2.6]
    assert rounded(at(small, "MultVAE", 2.0)) == (2.22, -0.2, 3)
    small_vae = summary[small, "MultVAE"]
    assert (small_vae["setting"], round(small_vae["APLT ratio"], 1),
            round(small_vae["NDCG change %"], 2), small_vae["seeds at x2 within 2%"]) == (
        7.5, 5.6, -0.96, "2/3")
    assert rounded(at(lastfm, "MultDAE", 7.5)) == (2.11, -0.35, 3)
    assert rounded(at(lastfm, "MultDAE", 9.0)) == (2.32, -0.64, 3)
    assert all(at(small, "MultDAE", w)[2] == 3 for w in (2.0, 5.0, 7.5, 9.0, 10.0))
    assert [at(small, "MultDAE", w)[2] for w in (11.0, 12.5)] == [2, 2]
    assert rounded(at(small, "MultDAE", 10.0), 1) == (14.4, -0.8, 3)
    # against the propensity's best for MultVAE on Last.fm within the budget
    propensity = {(r["data"], r["model"], r["mechanism"]): r
                  for r in rows_of(tables_of("tradeoff")["summary"])}
    best = max(r["APLT ratio"] for (d, m, mech), r in propensity.items()
               if (d, m) == (lastfm, "MultVAE") and mech.startswith("propensity")
               and r["APLT ratio"] is not None)
    assert round(best, 2) == 1.67


class _FixedScores(BaseEstimator):
    """A third-party recommender whose scores are one fixed row for every user."""

    def __init__(self, row=None):
        self.row = row

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X):
        return np.tile(np.asarray(self.row, dtype=float), (X.shape[0], 1))


@pytest.mark.parametrize("Reranker", [XQuADReranker, CalibratedReranker])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_positive_inf_inner_scores_are_refused(Reranker, bad):
    """NaN or +inf scores from an inner model outside the library (whose own models refuse
    them) would put the re-ranked candidates below other items or stop a list after one
    pick; they are refused by name, while -inf (never recommend) stays allowed."""
    X = sp.csr_matrix(np.array([[0, 0, 0, 1, 0, 0], [1, 0, 1, 0, 0, 1]], dtype=float))
    params = {} if Reranker is XQuADReranker else {"categories": np.arange(6) % 2}
    row = [5.0, 4.0, 3.0, 2.0, 1.0, bad]
    model = Reranker(_FixedScores(row), tradeoff=0.5, n_candidates=3, **params).fit(X)
    with pytest.raises(ValueError, match=r"NaN or \+inf scores for 2 user\(s\)"):
        model.recommend(X, k=3)
    row[-1] = -np.inf
    model = Reranker(_FixedScores(row), tradeoff=0.5, n_candidates=3, **params).fit(X)
    idx, _ = model.recommend(X, k=3, exclude_seen=False)
    assert 5 not in idx


class _Masked(RecommenderMixin, BaseEstimator):
    """An inner model's scores, far below all others outside ``allowed`` (finite: scores
    must be), a reference for ``candidates``."""

    _parameter_constraints = {"estimator": [object], "allowed": ["array-like"]}

    def __init__(self, estimator, allowed):
        self.estimator = estimator
        self.allowed = allowed

    def _fit(self, X):
        self.estimator_ = clone(self.estimator).fit(X)

    def _score_batch(self, X):
        scores = np.asarray(self.estimator_.decision_function(X), dtype=np.float64)
        scores[:, ~np.asarray(self.allowed)] = scores.min() - 1e6
        return scores


@pytest.mark.parametrize("make", [
    lambda inner: XQuADReranker(inner, tradeoff=0.9, n_candidates=5),
    lambda inner: CalibratedReranker(inner, np.arange(30) % 3, tradeoff=0.9, n_candidates=5),
])
def test_candidates_are_chosen_before_the_pool_to_rerank(make):
    # items outside `candidates` leave before the n_candidates best are taken: the same
    # lists as re-ranking a model that scores them below every other item
    rng = np.random.default_rng(1)
    X = sp.csr_matrix((rng.random((200, 30)) < 0.2).astype(float))
    C = np.arange(10, 30)
    allowed = np.isin(np.arange(30), C)
    got = make(EASE(alpha=1.0)).fit(X).recommend(X[:50], k=5, candidates=C)[0]
    expected = make(_Masked(EASE(alpha=1.0), allowed)).fit(X).recommend(X[:50], k=5)[0]
    np.testing.assert_array_equal(got, expected)
    inner = EASE(alpha=1.0).fit(X).recommend(X[:50], k=5, candidates=C)[0]
    assert (got != inner).any()  # the re-ranking acted


def test_exclude_seen_false_reranks_the_history_too(data):
    # with every item a candidate and relevance nearly alone (tradeoff 0 would return the
    # inner scores untouched), the re-ranked list is the inner model's whole order, seen
    # items in their places: they were candidates, not moved behind the others
    X, _ = data
    n_items = X.shape[1]
    model = XQuADReranker(EASE(alpha=10.0), tradeoff=1e-9, n_candidates=n_items).fit(X)
    got = model.recommend(X[:10], k=n_items, exclude_seen=False)[0]
    inner = model.estimator_.recommend(X[:10], k=n_items, exclude_seen=False)[0]
    np.testing.assert_array_equal(got, inner)


def test_calibration_weighs_each_history_item_once_whatever_its_rating(data):
    # Steck's p(g|u) counts every history item once: ratings instead of 0/1 must not
    # change the lists (the inner scores do not read X, so only the history could)
    X, topics = data
    ratings = X.copy()
    ratings.data = np.random.default_rng(0).integers(1, 6, X.nnz).astype(float)
    scores = np.random.default_rng(1).random(X.shape[1])
    model = CalibratedReranker(FixedScores(scores), topics, tradeoff=0.9,
                               n_candidates=20).fit(X)
    np.testing.assert_array_equal(model.recommend(ratings[:40], k=10)[0],
                                  model.recommend(X[:40], k=10)[0])


def test_an_equal_looking_replacement_is_named_as_another_object():
    # the refusal read "estimator EASE(alpha=2.0) -> EASE(alpha=2.0)", and setting "it
    # back" as told (another equal EASE) was refused the same way (audit helper 140)
    X = sp.csr_matrix(np.random.RandomState(0).rand(30, 12) < 0.3, dtype=np.float64)
    model = XQuADReranker(EASE(alpha=2.0), tradeoff=0.5, n_candidates=5).fit(X)
    fitted_template = model.estimator
    model.set_params(estimator=EASE(alpha=2.0))
    with pytest.raises(ValueError, match=r"estimator replaced by another EASE object, "
                                         r"EASE\(alpha=2.0\).*the fit's own, not an equal"):
        model.recommend(X)
    model.set_params(estimator=fitted_template)  # the fit's own object: accepted
    assert model.recommend(X, k=3)[0].shape == (30, 3)
    model.set_params(estimator__alpha=3.0)  # a value still reads old -> new
    with pytest.raises(ValueError, match=r"estimator__alpha 2.0 -> 3.0"):
        model.recommend(X)
    # an array compared by value is not "another object" (the review's find)
    from sklearn_recsys import MultiBehaviorEASE

    stacked = sp.hstack([X, X], format="csr")
    weighted = MultiBehaviorEASE(behaviors=("view", "buy"), behavior_weights=np.array(
        [0.5, 1.0])).fit(stacked)
    weighted.set_params(behavior_weights=np.array([0.9, 1.0]))
    with pytest.raises(ValueError, match=r"behavior_weights <ndarray of shape \(2,\)> -> "
                                         r"other values"):
        weighted.recommend(stacked)
    weighted.set_params(behavior_weights=np.array([0.5, 1.0]))  # an equal copy: accepted
    assert weighted.recommend(stacked, k=2)[0].shape == (30, 2)
