"""InteractionEncoder: logs to CSR, duplicate rules, unknown ids, fold-in rows, inverse mapping."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_recsys import EASE
from sklearn_recsys.model_selection import leave_last_out_split
from sklearn_recsys.preprocessing import InteractionEncoder, RatingBinarizer

LOG = {
    "user": np.array(["u2", "u1", "u2", "u1", "u2", "u3"]),
    "item": np.array([20, 10, 10, 10, 20, 30]),
    "rating": np.array([1.0, 4.0, 5.0, 2.0, 3.0, 0.0]),
    "time": np.array([5, 1, 2, 9, 3, 4]),
}


def _enc(**kw):
    return InteractionEncoder(user_col="user", item_col="item", **kw)


@pytest.mark.parametrize(
    "rule, expected",
    [
        # rows u1,u2,u3; columns 10,20,30
        ("sum", [[6, 0, 0], [5, 4, 0], [0, 0, 0]]),
        ("max", [[4, 0, 0], [5, 3, 0], [0, 0, 0]]),
        # last by time: u1/10 -> t=9 (2.0); u2/20 -> t=5 (1.0)
        ("last", [[2, 0, 0], [5, 1, 0], [0, 0, 0]]),
    ],
)
def test_duplicates_rules(rule, expected):
    enc = _enc(value_col="rating", timestamp_col="time", duplicates=rule)
    X = enc.fit_transform(LOG)
    assert_array_equal(X.toarray(), expected)
    assert_array_equal(enc.user_ids_, ["u1", "u2", "u3"])
    assert_array_equal(enc.item_ids_, [10, 20, 30])
    # rating 0 is "no interaction": stored nowhere
    assert X.nnz == 3


def test_last_without_timestamps_uses_log_order():
    X = _enc(value_col="rating", duplicates="last").fit_transform(LOG)
    # u1/10: 4.0 then 2.0 -> 2.0; u2/20: 1.0 then 3.0 -> 3.0
    assert_array_equal(X.toarray()[:2], [[2, 0, 0], [5, 3, 0]])


def test_implicit_counts_and_timestamps_pattern():
    enc = _enc(timestamp_col="time")
    X = enc.fit_transform(LOG)
    T = enc.transform_timestamps(LOG)
    assert_array_equal(X.toarray(), [[2, 0, 0], [1, 2, 0], [0, 0, 1]])
    assert_array_equal(T.toarray(), [[9, 0, 0], [2, 5, 0], [0, 0, 4]])
    assert_array_equal(X.indptr, T.indptr)
    assert_array_equal(X.indices, T.indices)
    train, test = leave_last_out_split(X, T)
    # only u2 has more than one item; its latest (item 20, t=5) is held out
    assert_array_equal(test.toarray(), [[0, 0, 0], [0, 2, 0], [0, 0, 0]])


def test_tuple_and_dataframe_inputs_agree():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(LOG)
    df["time"] = pd.to_datetime(df["time"], unit="s")
    a = _enc(value_col="rating", timestamp_col="time").fit(df)
    b = InteractionEncoder(value_col="r", timestamp_col="t").fit(
        (LOG["user"], LOG["item"], LOG["rating"], LOG["time"])
    )
    assert_array_equal(a.transform(df).toarray(), b.transform(
        (LOG["user"], LOG["item"], LOG["rating"], LOG["time"])).toarray())
    # datetimes become seconds since the epoch
    assert_array_equal(a.transform_timestamps(df).toarray(),
                       b.transform_timestamps((LOG["user"], LOG["item"], LOG["rating"],
                                               LOG["time"])).toarray())


def test_unknown_users_become_new_rows_after_fitted_users():
    enc = _enc().fit(LOG)
    new = {"user": np.array(["zed", "u3", "amy", "zed"]), "item": np.array([20, 10, 30, 30])}
    X = enc.transform(new)
    assert X.shape == (5, 3)
    assert_array_equal(enc.get_user_ids(new), ["u1", "u2", "u3", "amy", "zed"])
    assert_array_equal(X.toarray(), [[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1]])
    assert_array_equal(enc.get_user_ids(), ["u1", "u2", "u3"])


@pytest.mark.parametrize("handle", ["warn", "error", "ignore"])
def test_unknown_items(handle):
    enc = _enc(handle_unknown=handle).fit(LOG)
    new = {"user": np.array(["u1", "u1", "u2"]), "item": np.array([99, 20, 98])}
    if handle == "error":
        with pytest.raises(ValueError, match=r"2 interaction\(s\) with item ids not seen"):
            enc.transform(new)
        return
    if handle == "warn":
        with pytest.warns(UserWarning, match=r"\[98, 99\]\); .*dropped"):
            X = enc.transform(new)
    else:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            X = enc.transform(new)
    assert_array_equal(X.toarray(), [[0, 1, 0], [0, 0, 0], [0, 0, 0]])


def test_inverse_transform_of_recommendations():
    enc = _enc(value_col="rating").fit(LOG)
    X = RatingBinarizer(threshold=1).fit_transform(enc.transform(LOG))
    model = EASE(alpha=0.1).fit(X)
    idx, _ = model.recommend(X, k=3)
    ids = enc.inverse_transform(idx)
    assert ids.dtype == object
    # every user has seen some items, so every list is padded with None
    for row_ids, row_idx in zip(ids, idx):
        assert [i for i in row_ids if i is not None] == list(enc.item_ids_[row_idx[row_idx >= 0]])
        assert all(i is None for i in row_ids[row_idx < 0])
    assert_array_equal(enc.inverse_transform(np.array([[2, 0]])), [[30, 10]])
    assert enc.inverse_transform(np.array([[2, 0]])).dtype == enc.item_ids_.dtype


@pytest.mark.parametrize(
    "log, kw, err, match",
    [
        ({"user": [1], "item": [1], "rating": [np.nan]}, {"value_col": "rating"}, ValueError,
         "NaN"),
        ({"user": [1], "item": [1], "rating": [-1.0]}, {"value_col": "rating"}, ValueError,
         "Negative values"),
        ({"user": [1], "item": [1]}, {"value_col": "rating"}, KeyError, r"\['rating'\] not found"),
        ({"user": [], "item": []}, {}, ValueError, "The log is empty"),
        ({"user": [1, 2], "item": [1]}, {}, ValueError, "one entry per interaction"),
        ({"user": np.array([1, "a"], dtype=object), "item": [1, 2]}, {}, TypeError,
         "give them one type"),
        (np.ones((3, 3)), {}, TypeError, "expects a log of interactions"),
    ],
)
def test_bad_logs(log, kw, err, match):
    with pytest.raises(err, match=match):
        _enc(**kw).fit_transform(log)


def test_inverse_transform_errors_and_unfitted():
    enc = _enc()
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        enc.transform(LOG)
    enc.fit(LOG)
    with pytest.raises(ValueError, match=r"in \[0, 3\) or -1"):
        enc.inverse_transform([3])
    with pytest.raises(TypeError, match="integer item indices"):
        enc.inverse_transform([0.5])
    with pytest.raises(ValueError, match="set timestamp_col"):
        enc.transform_timestamps(LOG)  # a mapping without timestamp_col


def test_dtype_and_real_size_log():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 5000, size=200_000)
    items = rng.integers(0, 800, size=200_000)
    enc = InteractionEncoder(dtype=np.float32)
    X = enc.fit_transform((users, items))
    assert X.dtype == np.float32
    # counts equal a direct tally of the pairs
    pairs, counts = np.unique(users * 1000 + items, return_counts=True)
    assert X.nnz == len(pairs)
    assert X.sum() == 200_000
    r = np.searchsorted(enc.user_ids_, pairs // 1000)
    c = np.searchsorted(enc.item_ids_, pairs % 1000)
    assert_array_equal(np.asarray(X[r, c]).ravel(), counts)


def test_rating_binarizer_is_inclusive_and_keeps_dtype():
    import scipy.sparse as sp

    X = sp.csr_matrix(np.array([[5, 3, 4], [0, 1, 4.5]], dtype=np.float32))
    Xt = RatingBinarizer(threshold=4).fit_transform(X)
    assert Xt.dtype == np.float32
    assert Xt.nnz == 3
    assert_array_equal(Xt.toarray(), [[1, 0, 1], [0, 0, 1]])


def test_tuple_positions_give_the_meaning():
    users, items = np.array([1, 1, 2]), np.array([5, 5, 6])
    values, times = np.array([2.0, 3.0, 4.0]), np.array([1, 2, 3])
    # values in a 3-tuple are used without value_col: never silently dropped
    X = InteractionEncoder().fit_transform((users, items, values))
    assert_array_equal(X.toarray(), [[5, 0], [0, 4]])
    enc = InteractionEncoder(duplicates="last")
    T = enc.fit((users, items, values, times)).transform_timestamps((users, items, values, times))
    assert_array_equal(T.toarray(), [[2, 0], [0, 3]])
    with pytest.raises(ValueError, match="needs timestamps"):
        enc.transform_timestamps((users, items, values))
