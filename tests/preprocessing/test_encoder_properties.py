"""InteractionEncoder properties (hypothesis): raw ids -> CSR -> raw ids round trips are exact.

Random logs with string or integer ids, in every container the encoder takes,
are encoded with a log fitted on other random data: new users (some with only
unknown items), fitted users absent from the log, repeated pairs, zero values
and times of 0. Each matrix is decoded back to (user id, item id) pairs with
``get_user_ids`` and ``inverse_transform`` and compared with a plain-Python
reference, exactly.
"""

import warnings
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_recsys.model_selection import leave_last_out_split
from sklearn_recsys.preprocessing import InteractionEncoder

# each example encodes a few tiny logs: 40 examples run in about a second
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

STR_IDS = st.text(alphabet="abcxyz", min_size=1, max_size=3)
INT_IDS = st.integers(-3, 40)


@st.composite
def logs(draw):
    """A fitting log and a log to encode, with ids of one type per column."""
    user_ids = draw(st.sampled_from([STR_IDS, INT_IDS]))
    item_ids = draw(st.sampled_from([STR_IDS, INT_IDS]))

    def log(min_size):
        n = draw(st.integers(min_size, 25))
        return {
            "users": draw(st.lists(user_ids, min_size=n, max_size=n)),
            "items": draw(st.lists(item_ids, min_size=n, max_size=n)),
            "values": draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
            "times": draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)),
        }

    fit_log, new_log = log(1), log(0)
    if draw(st.booleans()):
        # a user never seen, whose only items are never seen either
        user = draw(user_ids.filter(lambda u: u not in fit_log["users"]))
        item = draw(item_ids.filter(lambda i: i not in fit_log["items"]))
        for key, entry in zip(new_log, [user, item, 1, 0]):
            new_log[key] = new_log[key] + [entry]
    container = draw(st.sampled_from(["tuple of lists", "tuple of arrays", "dict",
                                      "DataFrame"]))
    return fit_log, new_log, container


def _as_container(log, container):
    """The log's columns (all, or users and items only) in one of the encoder's inputs."""
    cols = list(log.values())
    if container == "tuple of lists":
        return tuple(cols)
    if container == "tuple of arrays":
        return tuple(np.asarray(c) for c in cols)
    named = dict(zip(["user_id", "item_id", "value", "time"], cols))
    if container == "dict":
        return named
    pd = pytest.importorskip("pandas")
    # an empty object column would be float64: give the ids their Python types
    return pd.DataFrame({k: pd.Series(v, dtype=object if k.endswith("_id") else None)
                         for k, v in named.items()})


def _reference(fit_log, log, duplicates):
    """Plain-Python encoding: {(user, item): (value, time)} over known items."""
    known_items = set(fit_log["items"])
    groups = defaultdict(list)
    for pos, (u, i, v, t) in enumerate(zip(*log.values())):
        if i in known_items:
            groups[u, i].append((t, pos, v))
    pairs = {}
    for pair, entries in groups.items():
        values = [v for _, _, v in entries]
        value = {"sum": sum(values), "max": max(values),
                 "last": max(entries)[2]}[duplicates]  # latest time, then log order
        if value != 0:
            pairs[pair] = (value, max(t for t, _, _ in entries))
    return pairs


def _decode(enc, X, T, log):
    user_ids = enc.get_user_ids(log)
    assert X.shape == T.shape == (len(user_ids), len(enc.item_ids_))
    X, T = X.tocoo(), T.tocoo()
    items = enc.inverse_transform(X.col)
    return user_ids, {(_py(user_ids[r]), _py(i)): (v, t)
                      for r, i, v, t in zip(X.row, items, X.data, T.data)}


def _py(x):
    """A numpy scalar as the Python value it stands for (object arrays hold those already)."""
    return x.item() if isinstance(x, np.generic) else x


@SETTINGS
@given(logs(), st.sampled_from(["sum", "max", "last"]))
def test_round_trip_is_exact(data, duplicates):
    fit_log, new_log, container = data
    enc = InteractionEncoder(value_col="value", timestamp_col="time", duplicates=duplicates,
                             handle_unknown="ignore")
    enc.fit(_as_container(fit_log, container))
    assert enc.user_ids_.tolist() == sorted(set(fit_log["users"]))
    assert enc.item_ids_.tolist() == sorted(set(fit_log["items"]))
    for log in (fit_log, new_log):
        X_log = _as_container(log, container)
        X, T = enc.transform(X_log), enc.transform_timestamps(X_log)
        user_ids, pairs = _decode(enc, X, T, X_log)
        # one label per row: the fitted users, then every new user of the log
        # (those with only unknown items included), sorted
        new_users = sorted(set(log["users"]) - set(fit_log["users"]))
        assert user_ids.tolist() == enc.user_ids_.tolist() + new_users
        assert pairs == _reference(fit_log, log, duplicates)
        # the times, 0 included, are what leave_last_out_split takes
        train, test = leave_last_out_split(X, T)
        assert train.nnz + test.nnz == X.nnz


@SETTINGS
@given(logs())
def test_rows_and_labels_agree_under_every_unknown_item_rule(data):
    fit_log, new_log, container = data
    new_log = {"users": new_log["users"], "items": new_log["items"]}  # every pair counts 1
    X_log = _as_container(new_log, container)
    for rule in ["ignore", "warn"]:
        enc = InteractionEncoder(handle_unknown=rule).fit(_as_container(fit_log, container))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X = enc.transform(X_log)
        labels = enc.get_user_ids(X_log)
        assert X.shape[0] == len(labels) == len(set(labels.tolist()))
        # each user's row holds exactly their known items
        for row, user in enumerate(labels.tolist()):
            expected = {i for u, i in zip(new_log["users"], new_log["items"])
                        if u == user and i in set(fit_log["items"])}
            assert set(enc.inverse_transform(X[row].indices).tolist()) == expected
