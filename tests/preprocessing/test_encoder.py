"""InteractionEncoder: logs to CSR, duplicate rules, unknown ids, fold-in rows, inverse mapping."""

import warnings

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


@pytest.mark.parametrize("timestamp_col", [None, "time"])
def test_summing_values_by_default_warns_and_an_explicit_rule_does_not(timestamp_col):
    # a ratings log with re-rated items became 6 and 10 stars without a word (audit 58b:
    # 3,952 ratings above 5 on latest-small, ExplicitMF predicting 7.9)
    enc = _enc(value_col="rating", timestamp_col=timestamp_col)
    with pytest.warns(UserWarning, match="2 repeated \\(user, item\\) pair\\(s\\) of the log: "
                      "their 'rating' values were summed.*duplicates='last'"):
        X = enc.fit_transform(LOG)
    assert_array_equal(X.toarray(), [[6, 0, 0], [5, 4, 0], [0, 0, 0]])  # as "sum"
    with pytest.warns(UserWarning, match="repeated"):
        enc.transform(LOG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for rule in ("sum", "last", "max"):
            _enc(value_col="rating", timestamp_col=timestamp_col, duplicates=rule).fit(LOG)
            _enc(value_col="rating", duplicates=rule).fit_transform(LOG)
        # counted events (no values) and values without repeats: nothing to say
        _enc(timestamp_col=timestamp_col).fit_transform(LOG)
        once = {key: value[[0, 1, 2, 5]] for key, value in LOG.items()}
        _enc(value_col="rating", timestamp_col=timestamp_col).fit_transform(once)
        if timestamp_col is not None:  # the times' matrix sums no values
            enc.transform_timestamps(LOG)


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


def test_every_method_says_not_fitted_before_fit():
    """recommend, similar_items, explain and get_*_indices raised AttributeError on a
    fitted attribute (audit59b); the rest of the encoder said NotFittedError."""
    from sklearn.exceptions import NotFittedError

    model = EASE(alpha=1.0).fit(_enc().fit_transform(LOG))
    enc = _enc()
    for call in (lambda: enc.recommend(model, LOG), lambda: enc.similar_items(model, [10]),
                 lambda: enc.explain(model, LOG, 10), lambda: enc.get_user_indices(["u1"]),
                 lambda: enc.get_item_indices([10]), lambda: enc.get_user_ids(LOG),
                 lambda: enc.inverse_transform([0]), lambda: enc.transform(LOG)):
        with pytest.raises(NotFittedError, match="InteractionEncoder instance is not fitted"):
            call()


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
    # an empty list is float to NumPy, and maps to nothing
    assert enc.inverse_transform([]).shape == (0,)
    assert enc.inverse_transform(np.zeros((2, 0), dtype=int)).shape == (2, 0)
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


# -- rows and labels always agree; bad ids and times are errors --------------


def test_new_users_with_only_unknown_items_keep_an_empty_row():
    # the reproducer: cy's only item is unknown; before, cy had no row
    # but a label, so dee's row was labelled cy
    enc = InteractionEncoder().fit((["ann", "bob"], ["tea", "jam"]))
    new = (["cy", "dee"], ["coffee", "tea"])
    with pytest.warns(UserWarning, match=r"1 new user\(s\) with only unknown items keep an empty"):
        X = enc.transform(new)
    assert_array_equal(enc.get_user_ids(new), ["ann", "bob", "cy", "dee"])
    assert_array_equal(X.toarray(), [[0, 0], [0, 0], [0, 0], [0, 1]])
    # interleaved new users, some without a known item: every label stays on its row
    log = (["zed", "amy", "bob", "kim", "amy"], ["x", "jam", "y", "tea", "z"])
    X = InteractionEncoder(handle_unknown="ignore").fit((["ann", "bob"], ["tea", "jam"]))
    ids = X.get_user_ids(log)
    M = X.transform(log)
    assert M.shape[0] == len(ids)
    rows = {u: M[i].indices.tolist() for i, u in enumerate(ids)}
    assert rows == {"ann": [], "bob": [], "amy": [0], "kim": [1], "zed": []}


@pytest.mark.parametrize("column", ["user", "item"])
@pytest.mark.parametrize(
    "bad",
    [
        ["a", None],
        ["a", np.nan],  # numpy would turn this list into ["a", "nan"]: a user named "nan"
        np.array([1.0, np.nan]),
        np.array(["2020-01-01", "NaT"], dtype="datetime64[s]"),
        np.array([1, None], dtype=object),
    ],
)
def test_missing_ids_are_errors_in_fit_transform_and_labels(column, bad):
    good = {"user": ["a", "b"], "item": ["x", "y"]}
    log = {**good, column: bad}
    with pytest.raises(ValueError, match=f"missing {column} id .*log rows \\[1\\].*dropna"):
        _enc().fit(log)
    fitted = _enc(handle_unknown="ignore").fit(good)
    for method in (fitted.transform, fitted.get_user_ids):
        with pytest.raises(ValueError, match=f"missing {column} id"):
            method(log)


def test_pandas_missing_ids():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": pd.array([1, None, 3], dtype="Int64"), "item": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"1 interaction\(s\) .* missing user id .*\['user'\]"):
        _enc().fit(df)
    df = pd.DataFrame({"user": [1, 2], "item": pd.array(["a", pd.NA], dtype="string")})
    with pytest.raises(ValueError, match="missing item id"):
        _enc().fit(df)


@pytest.mark.parametrize(
    "users",
    [[1, "1", 2], np.array([1, "1", 2], dtype=object), [b"a", "a"], [1.5, "x"],
     np.array([True, 1], dtype=object),  # True is 1 to NumPy: one user or two?
     # a list of them: np.asarray made [True, 1, 0] int64 [1, 1, 0], one user of two
     [True, 1, 0], (1.5, True), [np.True_, 2]],
)
def test_mixed_id_types_are_refused(users):
    with pytest.raises(TypeError, match="user ids mix types .*give them one type"):
        InteractionEncoder().fit((users, ["i", "j", "k"][: len(users)]))


def test_ids_of_another_type_than_fit_are_refused():
    enc = InteractionEncoder().fit(([1, 2], [10, 20]))
    # a list mixing bools with the fitted numbers is refused too, not read as [1, 0]
    with pytest.raises(TypeError, match="user ids mix types"):
        enc.get_user_indices([True, 1])
    with pytest.raises(TypeError, match="user ids are string ids but .*fitted on number"):
        enc.transform((["1"], [10]))
    with pytest.raises(TypeError, match="item ids are string ids but .*fitted on number"):
        enc.get_user_ids(([1], ["10"]))
    # numbers of another dtype are the same numbers, labelled in the fitted dtype
    X = enc.transform((np.array([2.0, 3.0]), np.array([10.0, 20.0])))
    assert_array_equal(X.toarray(), [[0, 0], [1, 0], [0, 1]])
    labels = enc.get_user_ids((np.array([2.0, 3.0]), np.array([10.0, 20.0])))
    assert labels.dtype == np.int64 and labels.tolist() == [1, 2, 3]
    # NumPy joined int64 with uint64 or float64 ids into float64 labels: two new users
    # above 2**53 got one label, and a float id was taken for another integer user
    # (found by an audit helper); each id keeps its value, or is refused
    big = np.array([2**60 + 1, 2**60 + 3], dtype=np.uint64)
    assert enc.get_user_ids((big, np.array([10, 10]))).tolist() == [1, 2, 2**60 + 1, 2**60 + 3]
    near = InteractionEncoder().fit(([2**53 + 1], [10]))
    with pytest.raises(ValueError, match="were not seen in fit, e.g. \\[9007199254740992\\]"):
        near.get_user_indices(np.array([2.0**53]))
    for ids, dtype in ((np.array([1.0, 2.5]), "float64"),
                       (np.array([2**63 + 5], dtype=np.uint64), "uint64")):
        with pytest.raises(TypeError, match=f"user ids are {dtype} .* cannot hold each of "
                                            "them exactly"):
            enc.transform((ids, np.array([10] * len(ids))))
    # string ids from a pandas (object) column match numpy strings
    pd = pytest.importorskip("pandas")
    enc = InteractionEncoder().fit((np.array(["a", "b"]), np.array(["x", "y"])))
    df = pd.DataFrame({"user_id": ["b", "c"], "item_id": ["y", "x"]})
    assert_array_equal(enc.transform(df).toarray(), [[0, 0], [0, 1], [1, 0]])
    assert_array_equal(enc.get_user_ids(df), ["a", "b", "c"])


@pytest.mark.parametrize(
    "log, match",
    [
        ([("ann", "tea"), ("bob", "jam")],
         r"got a list, which is ambiguous.*tuple\(zip\(\*records\)\)"),
        ([["ann", "bob"], ["tea", "jam"]], "got a list"),
        (tuple(("u", "i") for _ in range(5)), "tuple of 5 entries.*records"),
        (np.array([["ann", "tea"], ["bob", "jam"]]), r"2-D array .*tuple\(X.T\)"),
    ],
)
def test_records_and_lists_are_refused_with_the_fix(log, match):
    with pytest.raises(TypeError, match=match):
        InteractionEncoder().fit(log)


def test_records_through_the_suggested_fixes():
    records = [("ann", "tea"), ("bob", "jam"), ("ann", "jam")]
    X = InteractionEncoder().fit_transform(tuple(zip(*records)))
    assert_array_equal(X.toarray(), [[1, 1], [1, 0]])  # ann: jam, tea; bob: jam
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(records, columns=["user_id", "item_id"])
    assert_array_equal(InteractionEncoder().fit_transform(df).toarray(), X.toarray())


def test_nat_timestamps_are_errors():
    log = {"user": ["a", "b"], "item": ["x", "y"],
           "time": np.array(["2020-01-01", "NaT"], dtype="datetime64[s]")}
    with pytest.raises(ValueError, match=r"1 timestamp\(s\) of the log are NaT .*log rows \[1\]"):
        _enc(timestamp_col="time").fit_transform(log)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"],
                       "time": pd.to_datetime(["2020-01-01", None])})
    with pytest.raises(ValueError, match="NaT"):
        _enc(timestamp_col="time").fit(df)
    enc = _enc(timestamp_col="time").fit(df.iloc[:1])
    with pytest.raises(ValueError, match="NaT"):
        enc.transform_timestamps(df)


def test_time_zone_aware_timestamps_are_utc_seconds():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": ["a", "a"], "item": ["x", "y"],
                       "time": pd.to_datetime([0, 3600], unit="s").tz_localize("UTC")
                       .tz_convert("Europe/Paris")})
    enc = _enc(timestamp_col="time").fit(df)
    assert_array_equal(enc.transform_timestamps(df).toarray(), [[0, 3600]])
    # the same column in a tuple log or a mapping (a Series, a DatetimeIndex) reads the
    # same UTC seconds; it was refused as "not 'Timestamp'" (audit helper 138)
    for times in (df["time"], pd.DatetimeIndex(df["time"])):
        log = (df["user"], df["item"], np.ones(2), times)
        assert_array_equal(enc.transform_timestamps(log).toarray(), [[0, 3600]])
        mapping = {"user": df["user"], "item": df["item"], "time": times}
        assert_array_equal(enc.transform_timestamps(mapping).toarray(), [[0, 3600]])


def test_datetimes_within_one_second_keep_their_order():
    """Datetimes were cut to whole seconds: three clicks in one second tied, and a
    sequential model read them in item-index order."""
    times = np.array(["2024-05-01T13:45:00.900", "2024-05-01T13:45:00.100",
                      "2024-05-01T13:45:00.500", "1969-12-31T23:59:59.250"],
                     dtype="datetime64[ms]")
    log = (np.array(["u"] * 4), np.array(["a", "b", "c", "d"]), np.ones(4), times)
    enc = InteractionEncoder(timestamp_col="t").fit(log)
    T = enc.transform_timestamps(log).toarray()[0]
    np.testing.assert_allclose(T, [1714571100.9, 1714571100.1, 1714571100.5, -0.75])
    X = enc.transform(log)
    assert_array_equal(leave_last_out_split(X, enc.transform_timestamps(log))[1].indices, [0])
    from sklearn_recsys.utils._sequences import row_sequences

    # oldest to latest: d, b, c, a (1-based item codes)
    assert row_sequences(enc.transform_timestamps(log), 4).tolist() == [[4, 2, 3, 1]]


@pytest.mark.parametrize("times", [np.array([0, 5, 3]), np.array([-10, 0, -20]),
                                   np.array([0, 0, 0]),
                                   np.array(["1970-01-01T00:00:00", "1970-01-01T00:00:05",
                                             "1970-01-01T00:00:03"], dtype="datetime64[s]")])
def test_a_time_of_zero_is_a_time(times):
    # times 0 (the epoch, or a first event of an order index) are stored and
    # leave_last_out_split takes them as times
    log = (np.array(["u", "u", "u"]), np.array(["a", "b", "c"]), np.ones(3), times)
    enc = InteractionEncoder(timestamp_col="t").fit(log)
    X, T = enc.transform(log), enc.transform_timestamps(log)
    assert T.nnz == X.nnz == 3
    train, test = leave_last_out_split(X, T)
    # the latest time is held out; equal times: the larger item index counts as later
    latest = np.flatnonzero(times == times.max())[-1]
    assert_array_equal(test.indices, [latest])
    assert train.nnz == 2


def test_far_future_microseconds_that_float64_seconds_would_merge_are_refused():
    """From 2**33 s on (the year 2242) float64 seconds are 2 microseconds apart: times 1
    microsecond apart tied silently and the tie rule (item index) chose the held-out
    item (audit helper 138: 2300-01-01 00:00:00.000001 read as ...00.000000)."""
    from sklearn_recsys.model_selection import leave_last_out_split

    times = np.array(["2299-12-31T23:59:55", "2300-01-01T00:00:00.000001",
                      "2300-01-01T00:00:00"], dtype="datetime64[us]")
    log = (np.array(["u"] * 3), np.array(["a", "b", "c"]), np.ones(3), times)
    enc = InteractionEncoder(value_col="v", timestamp_col="t")
    with pytest.raises(ValueError, match="beyond the years 1698 to 2242.*Floor them to the "
                                         "millisecond"):
        enc.fit(log)
    # milliseconds apart they keep their order: b is the latest
    ms = log[:3] + (times.astype("datetime64[ms]") + np.array([0, 1, 0], "timedelta64[ms]"),)
    T = enc.fit(ms).transform_timestamps(ms)
    held_out = leave_last_out_split(T, T)[1]
    assert enc.item_ids_[held_out.indices].tolist() == ["b"]
    # and the present keeps microseconds
    now = log[:3] + (times - np.timedelta64(300 * 365, "D"),)
    T = enc.fit(now).transform_timestamps(now)
    assert enc.item_ids_[leave_last_out_split(T, T)[1].indices].tolist() == ["b"]


def test_integer_times_that_float64_would_merge_are_refused():
    """int64 nanoseconds were cast to float64: times 100 ns apart tied, and "last"
    kept the row last in the log instead of the latest in time."""
    t0 = 1_714_567_890_000_000_000  # 2024-05-01 in nanoseconds
    log = (np.array(["u", "u", "u"]), np.array(["a", "a", "b"]), np.array([2.0, 5.0, 3.0]),
           np.array([t0 + 100, t0, t0 + 50], dtype=np.int64))
    enc = InteractionEncoder(value_col="v", timestamp_col="t", duplicates="last")
    with pytest.raises(ValueError, match="too large for float64.*tie.*df\\[col\\] // 1000"):
        enc.fit(log)
    # as datetimes they are cut to microseconds, which ties them too
    as_dates = log[:3] + (log[3].astype("datetime64[ns]"),)
    with pytest.raises(ValueError, match="finer than a microsecond.*floor"):
        enc.fit(as_dates)
    # microseconds apart, they keep their order: the latest rating of (u, a), 2
    micro = log[:3] + (np.array([t0 + 2000, t0, t0 + 1000]).astype("datetime64[ns]"),)
    assert enc.fit_transform(micro)[0, 0] == 2.0
    # large integers that float64 keeps apart are accepted as they are
    spaced = log[:3] + (np.array([t0 + 1024, t0, t0 + 512], dtype=np.int64),)
    assert enc.fit_transform(spaced)[0, 0] == 2.0


def test_integer_times_in_an_object_column_are_checked_as_integers():
    """Python ints in an object column (df[col].astype(object)) skipped the 2**53 check
    and were rounded to 256 ns: two events 100 ns apart tied, and "last" kept the
    earlier rating (1) as if it were the latest (found by an audit helper)."""
    t0 = 1_700_000_000_000_000_000
    times = np.array([t0 + 100, t0], dtype=np.int64)  # the first row is the later event
    log = (np.array(["u", "u"]), np.array(["a", "a"]), np.array([5.0, 1.0]))
    enc = InteractionEncoder(value_col="v", timestamp_col="t", duplicates="last")
    for column in (times, times.astype(object)):
        with pytest.raises(ValueError, match="too large for float64.*tie"):
            enc.fit(log + (column,))
    # object ints that float64 holds exactly, and object floats, pass as numbers
    seconds = np.array([t0 // 10**9 + 1, t0 // 10**9], dtype=object)
    assert enc.fit_transform(log + (seconds,))[0, 0] == 5.0
    assert enc.fit_transform(log + (np.array([2.5, 1.5], dtype=object),))[0, 0] == 5.0
