"""make_interactions: the density asked is the density made; draws without replacement."""

import hashlib
import itertools
import warnings

import numpy as np
import pytest

import sklearn_recsys.datasets._synthetic as synthetic
from sklearn_recsys import make_interactions


def _digest(X):
    h = hashlib.sha256()
    h.update(X.indptr.astype(np.int64).tobytes())
    h.update(X.indices.astype(np.int64).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize(
    "n_users, n_items, density, kw",
    [
        # the case at 1/50 of the users and 1/5 of the items, same 50
        # draws per user: repeats used to merge, leaving a quarter fewer
        (20_000, 20_000, 2.5e-3, {}),
        (1000, 500, 0.02, {}),  # the defaults: 28% short before
        (20_000, 100, 0.5, {}),  # clipping to n_items used to take 19% off
        (5000, 40, 0.9, {}),
        (20_000, 300, 0.05, {"n_components": 5, "noise": 0.0}),
        (5000, 2000, 0.2, {"popularity_skew": 2.0}),  # heavy repeats
    ],
)
def test_density_is_the_density_asked(n_users, n_items, density, kw):
    X = make_interactions(n_users, n_items, density=density, random_state=0, **kw)
    # the tolerance is the sampling noise of the users' activity (about 3
    # standard errors at these sizes)
    assert X.nnz / (n_users * n_items) == pytest.approx(density, rel=0.04)
    assert X.has_canonical_format and set(np.unique(X.data)) == {1.0}


def test_every_user_gets_the_number_of_distinct_items_drawn(monkeypatch):
    n_u = np.array([1, 5, 30, 60, 60, 2, 59])
    monkeypatch.setattr(synthetic, "_activity", lambda rng, n_users, n_items, density: n_u)
    X = make_interactions(len(n_u), 60, popularity_skew=1.5, random_state=0)
    np.testing.assert_array_equal(X.getnnz(axis=1), n_u)
    assert X.has_canonical_format


@pytest.mark.parametrize("max_rounds", [64, 0])  # by rounds of draws / by the Gumbel pass
def test_items_are_draws_without_replacement(monkeypatch, max_rounds):
    # one topic and no noise: every user draws from the same popularity p.
    # A user with 3 items holds item i with the probability that successive
    # sampling without replacement picks it among the first 3.
    monkeypatch.setattr(synthetic, "_MAX_ROUNDS", max_rounds)
    n_items, k = 8, 3
    X, truth = make_interactions(60_000, n_items, density=0.4, n_components=1, noise=0.0,
                                 popularity_skew=1.5, return_truth=True, random_state=0)
    p = truth.item_popularity
    inclusion = np.zeros(n_items)
    for first in itertools.permutations(range(n_items), k):
        left, prob = 1.0, 1.0
        for i in first:
            prob *= p[i] / left
            left -= p[i]
        inclusion[list(first)] += prob
    rows = X[X.getnnz(axis=1) == k]
    freq = np.asarray(rows.sum(axis=0)).ravel() / rows.shape[0]
    se = np.sqrt(inclusion * (1 - inclusion) / rows.shape[0])
    assert rows.shape[0] > 5000
    assert np.all(np.abs(freq - inclusion) < 4 * se)


def test_output_of_earlier_versions_is_kept_where_no_pair_repeated():
    # digests of the matrices the previous version made for these seeds (no
    # repeated draw happened, so nothing had merged)
    for seed, digest in [(0, "dbbca029f00fc931"), (1, "a43aaf50e52aa49d")]:
        X = make_interactions(200, 100_000, density=1e-4, popularity_skew=0.0,
                              random_state=seed)
        assert _digest(X) == digest


def test_deterministic_for_a_seed_on_every_path(monkeypatch):
    kw = dict(density=0.3, popularity_skew=2.0, random_state=5)
    a = make_interactions(300, 200, **kw)
    assert (a != make_interactions(300, 200, **kw)).nnz == 0
    monkeypatch.setattr(synthetic, "_MAX_ROUNDS", 1)  # most users by the Gumbel pass
    b = make_interactions(300, 200, **kw)
    assert (b != make_interactions(300, 200, **kw)).nnz == 0
    assert b.nnz == a.nnz


def test_density_below_one_item_per_user_warns():
    with pytest.warns(UserWarning, match=r"density=0.001 is below 1 / n_items = 0.01"):
        X = make_interactions(500, 100, density=0.001, random_state=0)
    np.testing.assert_array_equal(X.getnnz(axis=1), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X = make_interactions(500, 100, density=0.01, random_state=0)  # exactly 1 / n_items
    np.testing.assert_array_equal(X.getnnz(axis=1), 1)


def test_full_density_and_dtype():
    X = make_interactions(50, 30, density=1.0, dtype=np.float32, random_state=0)
    assert X.nnz == 50 * 30 and X.dtype == np.float32


def test_users_confined_to_fewer_items_than_drawn_warn():
    # noise=0 and near-pure topic mixtures: a user cannot leave their topic
    with pytest.warns(UserWarning, match=r"user\(s\) drew more items than have a non-zero"):
        X = make_interactions(500, 300, density=0.3, noise=0.0, concentration=0.01,
                              n_components=30, random_state=0)
    assert 0.2 < X.nnz / (500 * 300) < 0.3
    assert set(np.unique(X.data)) == {1.0}


def test_truth_probabilities_are_a_distribution():
    X, truth = make_interactions(40, 25, density=0.1, return_truth=True, random_state=0)
    P = truth.probabilities(np.arange(40))
    assert P.shape == (40, 25)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_more_topics_than_items_draw_as_the_truth_says():
    """A topic without items sent all its draws to one item (77% of draws where the
    truth's probabilities said 14%, with 3 items and 10 topics, which summed to less
    than 1): such topics now draw, and are said to draw, by global popularity."""
    X, truth = make_interactions(20_000, 3, density=0.34, random_state=0, return_truth=True)
    P = truth.probabilities(np.arange(20_000))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    # users of one item (most, at density 1/3 of 3 items) made one draw from their P
    one = np.flatnonzero(np.diff(X.indptr) == 1)
    assert len(one) > 15_000
    shares = np.bincount(X[one].indices, minlength=3) / len(one)
    np.testing.assert_allclose(shares, P[one].mean(axis=0), atol=0.01)


def test_planted_structure_and_long_tail():
    X, truth = make_interactions(n_users=2000, n_items=300, density=0.05, n_components=5,
                                 noise=0.0, return_truth=True, random_state=0)
    # with no noise, a user's items come from their topics: from topics of
    # weight > 0.01 but for the heaviest users, who exhaust a 60-item topic
    rows = np.repeat(np.arange(2000), X.getnnz(axis=1))
    weight = truth.user_topics[rows, truth.item_topic[X.indices]]
    assert np.mean(weight > 0.01) > 0.97
    assert np.mean(weight[X.getnnz(axis=1)[rows] <= 30] > 0.01) > 0.99
    # long tail: the top 10% of items hold about a third of the interactions
    # (each user's items are distinct, so the head saturates: 0.32 here; it
    # was 0.41 when repeated draws merged and the density fell to 0.032)
    pop = np.sort(X.getnnz(axis=0))[::-1]
    assert pop[:30].sum() > 0.28 * pop.sum()


@pytest.mark.parametrize("param", [{"density": 0.0}, {"density": 1.5}, {"noise": 1.5},
                                   {"concentration": 0.0}, {"n_items": 0}])
def test_parameters_out_of_their_range_are_refused(param):
    # density 0 cannot be made (every user has an item): refused, not served as one
    # interaction per user with a warning
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=f"'{next(iter(param))}' parameter"):
        make_interactions(**{"n_users": 10, "n_items": 5, **param}, random_state=0)
