"""Within-user and across-user splitters."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_recsys import make_interactions
from sklearn_recsys.model_selection import (
    holdout_split,
    leave_k_out_split,
    leave_last_out_split,
    strong_generalization_split,
    user_train_test_split,
)


@pytest.fixture(scope="module")
def X():
    X = make_interactions(n_users=200, n_items=80, density=0.1, random_state=0)
    X.data = np.arange(1, X.nnz + 1, dtype=float)  # distinct values to track entries
    return X


def _assert_partition(X, A, B):
    assert A.shape == B.shape == X.shape
    assert (A + B - X).nnz == 0
    assert A.multiply(B).nnz == 0


def test_holdout_split_sizes_and_partition(X):
    A, B = holdout_split(X, holdout=0.2, random_state=0)
    _assert_partition(X, A, B)
    n = X.getnnz(axis=1)
    expected = np.where(n >= 5, (0.2 * n).astype(int), 0)
    np.testing.assert_array_equal(B.getnnz(axis=1), expected)


@pytest.mark.parametrize("holdout, n, expected", [
    (0.7, 90, 63), (0.29, 100, 29), (0.57, 100, 57), (0.35, 180, 63), (0.2, 7, 1)])
def test_holdout_split_counts_are_exact_shares(holdout, n, expected):
    # holdout * n falls just below the whole number in floating point for the first four
    X = sp.csr_matrix(np.ones((1, n)))
    assert holdout_split(X, holdout=holdout, random_state=0)[1].nnz == expected


def test_holdout_split_is_seeded_and_random(X):
    a = holdout_split(X, random_state=1)[1]
    b = holdout_split(X, random_state=1)[1]
    c = holdout_split(X, random_state=2)[1]
    assert (a != b).nnz == 0
    assert (a != c).nnz > 0
    # each entry of a long row is held out about 20% of the time
    row = np.argmax(X.getnnz(axis=1))
    counts = sum((holdout_split(X, random_state=s)[1][row] > 0).astype(int) for s in range(200))
    freq = counts.toarray().ravel()[X[row].indices] / 200
    share = int(0.2 * X[row].nnz) / X[row].nnz
    assert freq.mean() == pytest.approx(share)
    assert np.all(np.abs(freq - share) < 0.12)


def test_leave_k_out(X):
    A, B = leave_k_out_split(X, k=2, random_state=0)
    _assert_partition(X, A, B)
    n = X.getnnz(axis=1)
    np.testing.assert_array_equal(B.getnnz(axis=1), np.where(n > 2, 2, 0))


def test_leave_last_out_takes_latest():
    X = sp.csr_matrix([[1, 1, 1, 1], [0, 1, 0, 1], [0, 0, 1, 0]])
    T = sp.csr_matrix([[5, 9, 7, 1], [0, 3, 0, 2], [0, 0, 4, 0]])
    A, B = leave_last_out_split(X, T, k=2)
    np.testing.assert_array_equal(B.toarray(), [[0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    A, B = leave_last_out_split(X, T, k=1)
    np.testing.assert_array_equal(B.toarray(), [[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match="same non-zero pattern"):
        leave_last_out_split(X, T[:, :3], k=1)


def test_leave_last_out_leaves_the_callers_times_alone():
    """Integer times with unsorted indices (columns reordered by fancy indexing): the
    float64 copy shared the caller's index array, and sorting it in place reordered the
    caller's columns under its times, so a second call held out other items."""
    rng = np.random.RandomState(0)
    T_full = sp.random(50, 30, density=0.3, format="csr", random_state=rng)
    T_full.data = rng.randint(1_500_000_000, 1_600_000_000, T_full.nnz).astype(np.int64)
    order = rng.permutation(30)
    X = (T_full != 0).astype(np.float64)[:, order]
    T = T_full[:, order]
    assert not T.has_sorted_indices
    before = T.toarray()
    latest = before.argmax(axis=1)
    for _ in range(2):
        _, test = leave_last_out_split(X, T)
        np.testing.assert_array_equal(T.toarray(), before)
        np.testing.assert_array_equal(test.indices, latest[np.diff(test.indptr) > 0])


def test_leave_last_out_keeps_a_repeated_pairs_latest_time_and_refuses_nan():
    # item 0 seen at 10 and 25; items 1 and 2 at 20 and 30: the latest is item 2,
    # though the summed time of item 0 (35) would be later
    X = sp.coo_matrix(([1.0] * 4, ([0] * 4, [0, 0, 1, 2])), shape=(1, 3))
    T = sp.coo_matrix(([10.0, 25.0, 20.0, 30.0], ([0] * 4, [0, 0, 1, 2])), shape=(1, 3))
    assert leave_last_out_split(X, T)[1].indices.tolist() == [2]
    T.data[1] = 45.0  # now item 0's latest time is the latest
    assert leave_last_out_split(X, T)[1].indices.tolist() == [0]
    # the (T, T) idiom: the fold-in keeps item 0's latest time too, not the sum
    T.data[1] = 25.0
    X_train, y = leave_last_out_split(T, T)
    assert X_train.toarray().tolist() == [[25.0, 20.0, 0.0]] and y.indices.tolist() == [2]
    # a copy of the times as X is the times too (SciPy would sum item 0 to 35 in X)
    X_train, y = leave_last_out_split(T.copy(), T)
    assert X_train.toarray().tolist() == [[25.0, 20.0, 0.0]] and y.indices.tolist() == [2]
    # times as X read a 0 as no interaction: refused with the fix, not a pattern mismatch
    zero = sp.csr_matrix((np.array([0.0, 20.0, 30.0]), np.array([0, 1, 2]), np.array([0, 3])),
                         shape=(1, 3))
    with pytest.raises(ValueError, match=r"X is the times and stores 1 time\(s\) of 0"):
        leave_last_out_split(zero, zero)
    ones = zero.copy()
    ones.data[:] = 1.0
    assert leave_last_out_split(ones, zero)[1].indices.tolist() == [2]
    # the parameters are validated (k=0 would hold nothing out)
    with pytest.raises(InvalidParameterError, match="'k' parameter"):
        leave_last_out_split(ones, zero, k=0)
    # a CSR whose column indices are stored out of order is the same matrix
    T = sp.csr_matrix((np.array([30.0, 10.0, 20.0]), np.array([2, 0, 1]), np.array([0, 3])),
                      shape=(1, 3))
    assert not T.has_sorted_indices
    assert leave_last_out_split(sp.csr_matrix([[1.0, 1.0, 1.0]]), T)[1].indices.tolist() == [2]
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        leave_last_out_split(sp.csr_matrix([[1.0, 1.0, 1.0]]),
                             sp.csr_matrix([[10.0, 20.0, np.nan]]))


def test_user_splits(X):
    A, B, tr, te = user_train_test_split(X, test_size=0.25, random_state=0, return_users=True)
    assert A.shape[0] == 150 and B.shape[0] == 50
    assert not set(tr) & set(te)
    assert (B - X[te]).nnz == 0
    # the rows only on request, as strong_generalization_split's (audit59b: always four)
    A2, B2 = user_train_test_split(X, test_size=0.25, random_state=0)
    assert (A2 != A).nnz == 0 and (B2 != B).nnz == 0
    X_train, X_in, X_out = strong_generalization_split(X, random_state=0)
    assert X_train.shape[0] == 160 and X_in.shape == X_out.shape == (40, 80)
    assert X_in.multiply(X_out).nnz == 0
    # the same split with the users' rows of X (to map test users back to raw ids)
    *parts, train_users, test_users = strong_generalization_split(X, random_state=0,
                                                                  return_users=True)
    for got, expected in zip(parts, (X_train, X_in, X_out)):
        assert (got != expected).nnz == 0
    assert (X[train_users] != X_train).nnz == 0
    assert (X[test_users] != X_in + X_out).nnz == 0
    assert len(np.union1d(train_users, test_users)) == 200


def test_split_input_errors(X):
    with pytest.raises(ValueError, match="holdout"):
        holdout_split(X, holdout=1.5)
    with pytest.raises(ValueError, match="Negative values"):
        holdout_split(-X)


def test_the_leaderboard_scores_a_sequential_model_on_each_users_latest():
    """compare_recommenders: with a model of order keys in the table, every model is judged
    on the test users' latest interactions (one protocol), not on a random share."""
    from sklearn_recsys import MostPopular
    from sklearn_recsys.metrics import get_ranking_scorer
    from sklearn_recsys.model_selection import compare_recommenders
    from sklearn_recsys.utils._holdout import split_latest

    class OrderKeyPopular(MostPopular):
        _values_are_order_keys = True

    T = make_interactions(300, 40, density=0.25, random_state=5).tocsr()
    T.data = np.random.default_rng(0).permutation(T.nnz).astype(float) + 1.0  # distinct times
    rows = {r["model"]: r for r in compare_recommenders(
        {"seq": (OrderKeyPopular(), {}), "set": (MostPopular(), {})}, T,
        metrics=("recall@20",), random_state=0)}
    _, X_in, X_out = strong_generalization_split(T, random_state=0)
    latest_in, latest_out = split_latest(sp.csr_matrix(X_in + X_out), 0.2, 5)
    assert (latest_in.multiply(X_out).nnz, latest_out.nnz) != (0, X_out.nnz)  # other split
    recall = get_ranking_scorer("recall@20")
    fitted = MostPopular().fit(strong_generalization_split(T, random_state=0)[0])
    for name in ("seq", "set"):
        assert rows[name]["recall@20"] == pytest.approx(recall(fitted, latest_in, latest_out))
    # without a sequential model: the random share
    alone = compare_recommenders({"set": (MostPopular(), {})}, T, metrics=("recall@20",),
                                 random_state=0)[0]
    assert alone["recall@20"] == pytest.approx(recall(fitted, X_in, X_out))
    assert alone["recall@20"] != rows["set"]["recall@20"]
    # a sequential model wrapped (re-ranked, frozen, in a pipeline) still reads order keys
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import make_pipeline

    from sklearn_recsys.reranking import XQuADReranker
    from sklearn_recsys.utils._sequences import reads_order_keys

    for wrapped in (XQuADReranker(OrderKeyPopular()), FrozenEstimator(OrderKeyPopular()),
                    make_pipeline(XQuADReranker(OrderKeyPopular()))):
        assert reads_order_keys(wrapped)
    assert not reads_order_keys(XQuADReranker(MostPopular()))


def test_the_leaderboard_holds_out_the_latest_of_int64_times_and_repeated_pairs(monkeypatch):
    """With a sequential model in the table, the held-out item is each user's latest even
    where the split's validation would have changed the keys (found by an audit helper): a
    repeated pair's keys were summed (10 + 25 = 35 passed the latest, 30) and int64
    nanoseconds tied in float64 (every user's held-out item was the last column)."""
    from sklearn_recsys import MostPopular
    from sklearn_recsys.model_selection import _leaderboard, compare_recommenders

    class OrderKeyPopular(MostPopular):
        _values_are_order_keys = True

    held_out = []
    real = _leaderboard.get_ranking_scorer

    def spy(name):
        scorer = real(name)

        def score(estimator, X, y=None):
            held_out.append(sp.csr_matrix(y))
            return scorer(estimator, X, y)
        return score

    monkeypatch.setattr(_leaderboard, "get_ranking_scorer", spy)
    n_users, base = 40, 1_700_000_000_000_000_000
    # int64 ns, item 0 the latest of six events 10 ns apart
    times = np.tile(np.array([60, 0, 10, 20, 30, 40], dtype=np.int64) + base, n_users)
    nanoseconds = sp.csr_matrix((times, np.tile(np.arange(6), n_users),
                                 np.arange(0, 6 * n_users + 1, 6)), shape=(n_users, 6))
    # item 0 stored twice (at 10 and 25), item 1 at 30: item 1 is the latest
    rows = np.repeat(np.arange(n_users), 7)
    cols = np.tile([0, 0, 1, 2, 3, 4, 5], n_users)
    repeated = sp.coo_matrix((np.tile([10.0, 25.0, 30.0, 1.0, 2.0, 3.0, 4.0], n_users),
                              (rows, cols)), shape=(n_users, 6))
    for T, latest in ((nanoseconds, 0), (repeated, 1)):
        held_out.clear()
        compare_recommenders({"seq": (OrderKeyPopular(), {})}, T, metrics=("recall@5",),
                             min_interactions=2, random_state=0)
        y = held_out[-1]
        assert y.nnz > 0 and np.all(np.diff(y.indptr)[y.getnnz(axis=1) > 0] == 1)
        assert set(y.indices) == {latest}, (latest, np.unique(y.indices))


def test_the_leaderboard_tunes_on_the_split_it_tests_on(monkeypatch):
    """The validation users are split with the leaderboard's holdout and min_interactions
    (the scorer's defaults were used whatever was asked)."""
    from sklearn_recsys import EASE
    from sklearn_recsys.model_selection import _leaderboard, compare_recommenders

    seen, search = [], _leaderboard.GridSearchCV

    def spy(*args, scoring, **kwargs):
        seen.append((scoring.holdout, scoring.min_interactions))
        return search(*args, scoring=scoring, **kwargs)

    monkeypatch.setattr(_leaderboard, "GridSearchCV", spy)
    X = make_interactions(120, 30, density=0.3, random_state=1)
    compare_recommenders({"ease": (EASE(), {"alpha": [1.0, 10.0]})}, X, holdout=0.5,
                         min_interactions=3, cv=2, random_state=0)
    assert seen == [(0.5, 3)]


def test_the_leaderboard_tunes_every_model_on_the_same_users_and_split(monkeypatch):
    """random_state=None (or a RandomState) drew other folds for each model's search; a
    table with a sequential model tuned the other models on random held-out items."""
    from sklearn_recsys import EASE, MostPopular
    from sklearn_recsys.model_selection import _leaderboard, compare_recommenders

    class OrderKeyPopular(MostPopular):
        _values_are_order_keys = True

    searches, search = [], _leaderboard.GridSearchCV

    def spy(*args, scoring, cv, **kwargs):
        searches.append((scoring.split, [test.tolist() for _, test in
                                         cv.split(np.zeros((96, 1)))]))
        return search(*args, scoring=scoring, cv=cv, **kwargs)

    monkeypatch.setattr(_leaderboard, "GridSearchCV", spy)
    T = make_interactions(120, 30, density=0.3, random_state=1).tocsr()
    T.data = np.random.default_rng(0).permutation(T.nnz).astype(float) + 1.0
    grid = {"alpha": [1.0, 10.0]}
    for random_state in (None, np.random.RandomState(3)):
        searches.clear()
        compare_recommenders({"a": (EASE(), grid), "b": (EASE(), grid)}, T, cv=2,
                             random_state=random_state, verbose=False)
        assert searches[0][1] == searches[1][1]  # the same validation users
        assert searches[0][0] == searches[1][0] == "auto"
    searches.clear()
    compare_recommenders({"seq": (OrderKeyPopular(), {"popularity": ["users", "sum"]}),
                          "ease": (EASE(), grid)}, T, cv=2, verbose=False)
    assert [split for split, _ in searches] == ["latest", "latest"]


def test_the_leaderboard_gives_order_keys_only_to_the_models_that_read_them():
    """In a table with a sequential model the values are order keys (timestamps): the other
    models read them as weights (EASE's Gram matrix of squared timestamps was refused as not
    positive definite; ALS took them as confidences). They get each key's presence."""
    from sklearn_recsys import EASE, MostPopular
    from sklearn_recsys.metrics import get_ranking_scorer
    from sklearn_recsys.model_selection import compare_recommenders, strong_generalization_split
    from sklearn_recsys.utils._holdout import split_latest

    seen = {}

    class OrderKeyPopular(MostPopular):
        _values_are_order_keys = True

        def fit(self, X, y=None):
            seen.setdefault("seq", set()).update(np.unique(sp.csr_matrix(X).data).tolist())
            return super().fit(X, y)

    class RecordingEASE(EASE):
        def fit(self, X, y=None):
            seen.setdefault("ease", set()).update(np.unique(sp.csr_matrix(X).data).tolist())
            return super().fit(X, y)

    T = make_interactions(150, 40, density=0.3, random_state=2).tocsr()
    T.data = 1.6e9 + np.random.default_rng(0).permutation(T.nnz) * 1e3  # unix seconds
    rows = compare_recommenders({"seq": (OrderKeyPopular(), {}),
                                 "ease": (RecordingEASE(), {"alpha": [1.0, 10.0]})},
                                T, cv=2, verbose=False)
    assert seen["ease"] == {1.0}
    assert min(seen["seq"]) >= 1.6e9
    ease = next(row for row in rows if row["model"] == "ease")
    assert set(ease["params"]) == {"alpha"}
    # the same figures as the model given 0/1 values and scored on the same latest items
    B = T.copy()
    B.data[:] = 1.0
    X_train, X_in, X_out = strong_generalization_split(T, test_size=0.2, random_state=0)
    X_in, X_out = split_latest(sp.csr_matrix(X_in + X_out), 0.2, 5)
    model = EASE(alpha=ease["params"]["alpha"]).fit((X_train > 0).astype(float))
    binary_in = (X_in > 0).astype(float)
    assert ease["ndcg@10"] == pytest.approx(
        get_ranking_scorer("ndcg@10")(model, binary_in, X_out), abs=1e-12)
    # a rating model would read the keys as ratings, or refuse their presence (all 1)
    from sklearn_recsys import ExplicitMF

    with pytest.raises(ValueError, match="'mf' \\(ExplicitMF\\) reads the values of X as "
                       "ratings"):
        compare_recommenders({"seq": (OrderKeyPopular(), {}), "mf": (ExplicitMF(), {})}, T,
                             cv=2, verbose=False)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_leave_last_out_keeps_integer_nanoseconds_apart(dtype):
    """int64 nanoseconds near 1.7e18 are 256 apart in float64: three events within 100 ns
    tied there and the larger item index was held out, not the latest event."""
    base = 1_700_000_000_000_000_000
    times = np.array([base + 100, base, base + 50], dtype=dtype)
    T = sp.csr_matrix((times, [0, 1, 2], [0, 3]), shape=(1, 4))
    X = sp.csr_matrix((np.ones(3), [0, 1, 2], [0, 3]), shape=(1, 4))
    X_train, X_test = leave_last_out_split(X, T)
    assert X_test.indices.tolist() == [0]
    assert leave_last_out_split(X, T, k=2)[1].indices.tolist() == [0, 2]


def test_the_leaderboard_times_no_first_use_cost(monkeypatch):
    """A model without a search was timed on the process's first fit of it, which pays
    one-time costs (numba compilation: BPR's 0.14 s fit showed 12.3 s in the demo), while
    a searched model's timed refit came after its search's fits. On a fake clock, a
    first fit costs 10 s and a later one 1 s: every row must show 1 s."""
    from sklearn_recsys import MostPopular
    from sklearn_recsys.model_selection import _leaderboard, compare_recommenders

    clock = {"now": 0.0}
    compiled = set()

    class Compiling(MostPopular):
        def fit(self, X, y=None):
            key = (type(self).__name__, self.popularity)
            clock["now"] += 1.0 if "done" in compiled or key in compiled else 10.0
            compiled.add(key)
            compiled.add("done")
            return super().fit(X, y)

    class Timer:
        @staticmethod
        def perf_counter():
            return clock["now"]

    monkeypatch.setattr(_leaderboard, "time", Timer)
    X = make_interactions(120, 30, density=0.3, random_state=1)
    for grid in ({}, {"popularity": ["users"]}, {"popularity": ["users", "sum"]}):
        compiled.clear()
        rows = compare_recommenders({"m": (Compiling(), grid)}, X, cv=2, verbose=False)
        assert rows[0]["fit_seconds"] == 1.0, grid


def test_the_leaderboard_refuses_a_search_where_every_setting_is_nan():
    """Validation users with too few interactions to hold any out scored NaN for every
    setting; GridSearchCV then took the first, which the table showed as chosen."""
    from sklearn_recsys import EASE
    from sklearn_recsys.model_selection import compare_recommenders

    X = make_interactions(120, 30, density=0.3, random_state=1)
    message = "Every setting of 'ease' scored NaN.*min_interactions=100"
    with pytest.warns(UserWarning), pytest.raises(ValueError, match=message):
        compare_recommenders({"ease": (EASE(), {"alpha": [1.0, 10.0]})}, X, cv=2,
                             min_interactions=100, verbose=False)


def test_equal_times_count_the_larger_item_index_as_later():
    # items 1 and 2 share the latest time: the documented tie-break holds out item 2
    X = sp.csr_matrix([[1, 1, 1]])
    T = sp.csr_matrix([[5, 7, 7]])
    X_train, X_test = leave_last_out_split(X, T, k=1)
    assert X_test.indices.tolist() == [2]
    assert X_train.indices.tolist() == [0, 1]


def test_user_split_returns_sorted_users_with_their_rows():
    X = make_interactions(n_users=40, n_items=60, random_state=0)
    X_train, X_test, train_users, test_users = user_train_test_split(
        X, test_size=0.3, random_state=1, return_users=True)
    assert np.all(np.diff(train_users) > 0) and np.all(np.diff(test_users) > 0)
    assert (X_train != X[train_users]).nnz == 0
    assert (X_test != X[test_users]).nnz == 0
    assert sorted(np.r_[train_users, test_users]) == list(range(40))


def test_strong_generalization_forwards_min_interactions_and_target():
    # two items per user and min_interactions=2: every test user holds one out
    X = sp.csr_matrix(np.tile([1.0, 1.0, 0.0, 0.0], (10, 1)))
    _, X_in, X_out = strong_generalization_split(X, test_size=0.5, holdout=0.5,
                                                 min_interactions=2, random_state=0)
    assert np.diff(X_out.indptr).tolist() == [1] * 5
    assert np.diff(X_in.indptr).tolist() == [1] * 5
    # views (first block) as the target: only views are held out, purchases stay put
    rng = np.random.default_rng(0)
    views = (rng.random((20, 5)) < 0.8).astype(float)
    buys = views * (rng.random((20, 5)) < 0.5)
    X = sp.csr_matrix(np.hstack([views, buys]))
    _, X_in, X_out, _, test_users = strong_generalization_split(
        X, behaviors=("view", "buy"), target="view", min_interactions=2, holdout=0.5,
        random_state=0, return_users=True)
    X_test = X[test_users]
    assert X_out.shape == (len(test_users), 5) and X_out.nnz > 0
    assert (X_in[:, 5:] != X_test[:, 5:]).nnz == 0
    assert ((X_in[:, :5] + X_out) != X_test[:, :5]).nnz == 0


@pytest.mark.parametrize("split, kwargs", [
    (lambda X, **kw: leave_k_out_split(X, random_state=0, **kw), {"k": True}),
    (lambda X, **kw: leave_last_out_split(X, X, **kw), {"k": True}),
    (lambda X, **kw: holdout_split(X, random_state=0, **kw), {"min_interactions": True}),
    (lambda X, **kw: strong_generalization_split(X, random_state=0, **kw),
     {"min_interactions": True}),
])
def test_splitters_refuse_a_bool_count(split, kwargs):
    # docs/trust.rst: a bool k is refused as recommend's and the metrics' are; scikit-learn's
    # Integral constraint alone read True as 1
    X = sp.csr_matrix(np.arange(1.0, 41.0).reshape(4, 10))
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"{name} must be a positive integer, got True"):
        split(X, **kwargs)
    split(X, **{name: 1})  # the int is taken
