"""Checks that every recommender must pass, beyond scikit-learn's own.

Use :func:`check_recommender` on an estimator instance, or iterate over
:func:`recommender_checks` to parametrize a test suite.
"""

import pickle

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

__all__ = [
    "check_recommender",
    "recommender_checks",
    "check_never_recommends_seen",
    "check_batch_equals_rows",
    "check_row_independence",
    "check_fit_reproducible",
    "check_pickle_roundtrip",
    "check_unseen_users",
    "check_recommend_padding",
    "check_recommend_matches_decision_function",
    "check_empty_user_is_not_catalogue_order",
    "check_parameters_changed_after_fit_are_refused",
    "check_explain_contrast",
]


def _data(seed=0, n_users=60, n_items=25):
    """Block-structured interactions: two groups of users, two item blocks.

    Values are ratings 1..5, so that rating models (which refuse data with a
    single value) and implicit ones (which read them as strengths) both fit.
    """
    rng = np.random.RandomState(seed)
    X = (rng.rand(n_users, n_items) < 0.15).astype(np.float64)
    half_u, half_i = n_users // 2, n_items // 2
    X[:half_u, :half_i] += rng.rand(half_u, half_i) < 0.5
    X[half_u:, half_i:] += rng.rand(n_users - half_u, n_items - half_i) < 0.5
    X = np.minimum(X, 1) * rng.randint(1, 6, size=X.shape)
    X[0] = 0  # a user with no interaction
    return sp.csr_matrix(X)


def _exclusions(X, seed=1):
    """Further items to exclude, other than the users' own (rows of another user)."""
    return sp.csr_matrix(X[np.random.RandomState(seed).permutation(X.shape[0])])


def _in_blocks_of(n_rows, n_items):
    """scikit-learn's ``working_memory`` (MiB) under which rows are scored ``n_rows`` at a time."""
    from sklearn import config_context

    return config_context(working_memory=n_rows * n_items * 8 / 2**20)


def check_never_recommends_seen(name, estimator):
    """No recommended item is a non-zero of the user's row or of ``exclude``'s; padding
    is -1/-inf; ``candidates`` bound the lists; the same in row blocks of 7 users."""
    X = _data()
    est = clone(estimator).fit(X)
    k = 10
    E = _exclusions(X)
    dense, forbidden = X.toarray(), (X + E).toarray()
    items = np.array([1, 3, 5, 8, 13, 20, 21])
    full = est.recommend(X, k=k, exclude=E)
    with _in_blocks_of(7, X.shape[1]):
        blocks = est.recommend(X, k=k, exclude=E)
    for (idx, scores), banned in (
            (est.recommend(X, k=k), dense), (full, forbidden), (blocks, forbidden),
            (est.recommend(X, k=k, candidates=items), dense)):
        assert idx.shape == (X.shape[0], k) and scores.shape == (X.shape[0], k)
        for u in range(X.shape[0]):
            valid = idx[u] >= 0
            assert not banned[u, idx[u, valid]].any(), \
                f"{name} recommended a seen or excluded item"
            assert np.all(np.diff(scores[u, valid]) <= 0), f"{name}: scores not sorted"
            assert np.all(np.isneginf(scores[u, ~valid]))
    idx = est.recommend(X, k=k, candidates=items)[0]
    assert np.all(np.isin(idx[idx >= 0], items)), f"{name} returned an item not in candidates"
    np.testing.assert_array_equal(blocks[0], full[0], err_msg=name)
    np.testing.assert_allclose(blocks[1], full[1], rtol=1e-5, atol=1e-7, err_msg=name)


def check_batch_equals_rows(name, estimator):
    """Scoring all users at once equals scoring each user alone."""
    X = _data()
    est = clone(estimator).fit(X)
    batch = est.decision_function(X)
    rows = np.vstack([est.decision_function(X[u]) for u in range(X.shape[0])])
    np.testing.assert_allclose(batch, rows, rtol=1e-5, atol=1e-7, err_msg=name)
    idx_batch, _ = est.recommend(X, k=5)
    idx_rows = np.vstack([est.recommend(X[u], k=5)[0] for u in range(X.shape[0])])
    np.testing.assert_array_equal(idx_batch, idx_rows, err_msg=name)


def check_row_independence(name, estimator):
    """A user's scores, representation and list do not depend on the rest of the batch.

    For two seeds, rows scored in batches of 1, 3 and 7 users (scikit-learn's
    ``working_memory`` sets the scoring batch) and shuffled subsets of users
    match the full batch (rtol 1e-5).
    """
    from sklearn import config_context

    X = _data()
    n_items = X.shape[1]
    rng = np.random.RandomState(0)
    for seed in (0, 7):
        est = clone(estimator)
        if "random_state" in est.get_params():
            est.set_params(random_state=seed)
        est.fit(X)
        full = est.decision_function(X)
        rep = est.transform(X) if hasattr(est, "transform") else None
        idx_full, val_full = est.recommend(X, k=5)
        tol = dict(rtol=1e-5, atol=1e-6 * max(1.0, np.abs(full).max()))
        for rows_per_batch in (1, 3, 7):
            # working_memory in MiB: rows_per_batch float64 rows of n_items
            with config_context(working_memory=rows_per_batch * n_items * 8 / 2**20):
                np.testing.assert_allclose(est.decision_function(X), full, err_msg=name, **tol)
            subset = rng.permutation(X.shape[0])[:rows_per_batch * 3]
            np.testing.assert_allclose(est.decision_function(X[subset]), full[subset],
                                       err_msg=name, **tol)
            if rep is not None:
                np.testing.assert_allclose(est.transform(X[subset]), rep[subset], rtol=1e-5,
                                           atol=1e-6 * max(1.0, np.abs(rep).max()),
                                           err_msg=name)
            idx, val = est.recommend(X[subset], k=5)
            # the same lists up to ties: the scores slot by slot, and the
            # indices wherever the neighbouring scores are not tied
            np.testing.assert_allclose(val, val_full[subset], err_msg=name, **tol)
            tie = np.zeros(idx.shape, dtype=bool)
            close = np.isclose(val[:, 1:], val[:, :-1], **tol)
            tie[:, 1:] |= close
            tie[:, :-1] |= close
            tie[:, -1] = True  # the k-th slot may tie with the first item left out
            assert np.all((idx == idx_full[subset]) | tie), name


def check_fit_reproducible(name, estimator):
    """Two fits with the same ``random_state`` give the same scores."""
    X = _data()
    params = estimator.get_params()
    est = clone(estimator)
    if "random_state" in params:
        est.set_params(random_state=42)
    a = clone(est).fit(X).decision_function(X)
    b = clone(est).fit(X).decision_function(X)
    np.testing.assert_array_equal(a, b, err_msg=name)


def check_pickle_roundtrip(name, estimator):
    """A pickled and restored model gives the same recommendations."""
    X = _data()
    est = clone(estimator).fit(X)
    restored = pickle.loads(pickle.dumps(est))
    for a, b in zip(est.recommend(X, k=5), restored.recommend(X, k=5)):
        np.testing.assert_array_equal(a, b, err_msg=name)


def check_unseen_users(name, estimator):
    """Users absent from ``fit`` are scored from their rows (fold-in): finite scores, and
    users of different histories do not all get the same ones (``MostPopular`` excepted)."""
    X = _data()
    # every third user is new: both groups of users among them
    new_rows = np.arange(X.shape[0]) % 3 == 1
    train, new = X[~new_rows], X[new_rows]
    est = clone(estimator).fit(train)
    scores = np.asarray(est.decision_function(new))
    assert scores.shape == new.shape
    assert np.all(np.isfinite(scores)), f"{name} gave non-finite scores to new users"
    idx, _ = est.recommend(new, k=3)
    assert np.all(idx[:, 0] >= 0)
    if getattr(est, "_ignores_history", False):
        return
    with_history = scores[new.getnnz(axis=1) > 0].astype(np.float64)
    assert not np.allclose(with_history, with_history[0], rtol=1e-6, atol=0), \
        f"{name} gave every new user the same scores, whatever their interactions"


def check_recommend_padding(name, estimator):
    """``k`` beyond the catalogue gives one column per item, padded past the unseen ones.

    ``candidates`` restricts the candidates; a huge ``k`` costs no memory.
    """
    X = _data()
    est = clone(estimator).fit(X)
    n_items = X.shape[1]
    idx, scores = est.recommend(X[:5], k=n_items + 3)
    assert idx.shape == scores.shape == (5, n_items), f"{name}: {idx.shape}"
    idx_huge, _ = est.recommend(X[:5], k=10**12)
    np.testing.assert_array_equal(idx_huge, idx, err_msg=name)
    n_seen = X[:5].getnnz(axis=1)
    for u in range(5):
        assert (idx[u] >= 0).sum() == n_items - n_seen[u]
        assert np.all(idx[u, n_items - n_seen[u]:] == -1)
    items = np.array([1, 3, 20])
    idx, _ = est.recommend(X[:5], k=4, candidates=items, exclude_seen=False)
    assert np.all(np.isin(idx[:, :3], items)) and np.all(idx[:, 3] == -1)


def check_recommend_matches_decision_function(name, estimator):
    """``recommend`` lists the top ``k`` of ``decision_function`` with the history masked,
    with those scores; equal scores in item order (an approximate search is exempt)."""
    X = _data()
    est = clone(estimator).fit(X)
    if getattr(est, "_ranks_without_scores", False):
        return  # an index: its lists may miss items, its scores are inner products
    k = 8
    scores = np.asarray(est.decision_function(X), dtype=np.float64)
    scores[X.toarray() != 0] = -np.inf
    # by score, then by item index: the contract's order
    order = np.lexsort((np.broadcast_to(np.arange(scores.shape[1]), scores.shape), -scores),
                       axis=1)[:, :k]
    expected = np.take_along_axis(scores, order, 1)
    idx, val = est.recommend(X, k=k)
    valid = idx >= 0
    np.testing.assert_allclose(val[valid], expected[valid], rtol=1e-5, atol=1e-7,
                               err_msg=f"{name}: recommend's scores are not the top k")
    assert np.array_equal(valid, np.isfinite(expected)), f"{name}: padding differs"
    tie = np.zeros(idx.shape, dtype=bool)
    close = np.isclose(val[:, 1:], val[:, :-1], rtol=1e-5, atol=1e-7)
    tie[:, 1:] |= close
    tie[:, :-1] |= close
    tie[:, -1] = True
    assert np.all((idx == order) | tie | ~valid), f"{name}: lists differ from the top k"
    equal = (val[:, 1:] == val[:, :-1]) & valid[:, 1:]
    assert np.all(idx[:, :-1][equal] < idx[:, 1:][equal]), \
        f"{name}: equal scores not in item order"


def check_empty_user_is_not_catalogue_order(name, estimator):
    """A user without interactions gets the training popularity's order (or the model's
    own ranking of such users, where it declares one: ``_ranks_users_without_history``),
    never every item tied in catalogue order."""
    X = _data()
    n_items = X.shape[1]
    est = clone(estimator).fit(X)
    empty = sp.csr_matrix((1, n_items))
    row = np.asarray(est.decision_function(empty), dtype=np.float64)
    assert np.ptp(row) > 0, f"{name} ties every item for a user without interactions"
    if getattr(est, "_ranks_users_without_history", False):
        return
    # the most popular first, equal counts by item index (the contract's order of ties)
    counts = np.bincount(X.indices, minlength=n_items)
    expected = np.lexsort((np.arange(n_items), -counts))
    idx, _ = est.recommend(empty, k=n_items)
    np.testing.assert_array_equal(
        idx[0], expected, err_msg=f"{name} does not give a user without interactions the "
        "training popularity's order (nor declares a ranking of its own)")


def check_parameters_changed_after_fit_are_refused(name, estimator):
    """A parameter the fit trained under, changed by ``set_params`` without a new fit, is
    refused at scoring (ValueError naming it); set back, the fitted model scores as before.

    Scored under another value, a fitted model would be neither itself nor a refit (a
    fold-in under another penalty, weights read under another shape). Parameters a model
    documents as settable after fit, and those without effect on scores (``random_state``,
    ``verbose``, ``n_jobs``), are left out.
    """
    X = _data()
    est = clone(estimator).fit(X)
    fitted = getattr(est, "_fitted_params", None)
    assert fitted is not None, f"{name} recorded no parameters at fit"
    numeric = [(p, v) for p, v in fitted.items()
               if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)]
    if not numeric:
        return  # nothing a number could be changed to
    before = est.decision_function(X)
    param, value = numeric[0]
    changed = value + 1 if isinstance(value, (int, np.integer)) else 2 * value + 0.5
    est.set_params(**{param: changed})
    # every public method that reads the fitted state, where the model has it
    user = int(np.flatnonzero(np.diff(X.indptr))[0])  # one with interactions to explain
    methods = {"decision_function": est.decision_function,
               "recommend": lambda X: est.recommend(X, k=3),
               "score": getattr(est, "score", None),
               "transform": getattr(est, "transform", None),
               "get_feature_names_out": (getattr(est, "get_feature_names_out", None)
                                         and (lambda X: est.get_feature_names_out())),
               "explain": (getattr(est, "explain", None)
                           and (lambda X: est.explain(X[user], 0))),
               "similar_items": (getattr(est, "similar_items", None)
                                 and (lambda X: est.similar_items([0], k=3))),
               "predict_ratings": (getattr(est, "predict_ratings", None)
                                   and (lambda X: est.predict_ratings(X, items=[0])))}
    for method, score in methods.items():
        if score is None:
            continue
        try:
            score(X)
        except ValueError as exc:
            assert param in str(exc) and "changed since fit" in str(exc), (name, method,
                                                                           str(exc))
        else:
            raise AssertionError(f"{name}.{method} ran with {param} changed since fit")
    est.set_params(**{param: value})
    np.testing.assert_array_equal(est.decision_function(X), before, err_msg=name)


def check_explain_contrast(name, estimator):
    """``explain_contrast`` gives each of the user's items its ``explain`` contribution to
    the item minus the mean of its contributions to the items compared with, largest first;
    an int ``against`` compares with the items that follow it in the user's list (a
    meta-estimator's: its wrapped model's), and an array of those items gives the same; an
    item of the history, ``against=0``, an empty ``against`` and one holding the item are
    refused."""
    X = _data()
    est = clone(estimator).fit(X)
    if not hasattr(est, "explain_contrast"):
        return
    user = int(np.flatnonzero(np.diff(X.indptr) >= 2)[0])
    x = X[user]
    # a meta-estimator explains by its wrapped model (``estimator_``), in that model's list
    ranked = getattr(est, "estimator_", est).recommend(x, k=X.shape[1])
    ranked = np.asarray(ranked[0] if isinstance(ranked, tuple) else ranked)[0]
    ranked = ranked[ranked >= 0]
    item, others = int(ranked[0]), ranked[1:4]

    def terms(i):
        items, contributions = est.explain(x, int(i))
        return dict(zip(items.tolist(), contributions.tolist()))

    own, runners = terms(item), [terms(o) for o in others]
    for against in (3, others):
        items, contributions = est.explain_contrast(x, item, against=against)
        assert sorted(items.tolist()) == sorted(own), (name, items, own)
        expected = [own[j] - np.mean([r.get(j, 0.0) for r in runners]) for j in items.tolist()]
        np.testing.assert_allclose(contributions, expected, rtol=1e-7, atol=1e-12,
                                   err_msg=name)
        assert np.all(np.diff(contributions) <= 0), name
    bad = [(0, "positive number"), ([item], "distinct"), ([], "no item")]
    seen = np.setdiff1d(x.indices[x.indices < X.shape[1]], ranked)
    if seen.size:
        bad.append((3, "history"))
    for against, message in bad:
        explained = int(seen[0]) if message == "history" else item
        try:
            est.explain_contrast(x, explained, against=against)
        except ValueError as exc:
            assert message in str(exc), (name, against, str(exc))
        else:
            raise AssertionError(f"{name}.explain_contrast accepted against={against!r}")


_CHECKS = (
    check_never_recommends_seen,
    check_batch_equals_rows,
    check_row_independence,
    check_fit_reproducible,
    check_pickle_roundtrip,
    check_unseen_users,
    check_recommend_padding,
    check_recommend_matches_decision_function,
    check_empty_user_is_not_catalogue_order,
    check_parameters_changed_after_fit_are_refused,
    check_explain_contrast,
)

# Every check takes the same two arguments: one text documents them all.
_CHECK_PARAMETERS = """

    Parameters
    ----------
    name : str
        The estimator's name, for the failure messages.
    estimator : estimator instance
        An unfitted recommender; the check fits clones of it.
    """
for _check in _CHECKS:
    _check.__doc__ = _check.__doc__.rstrip() + _CHECK_PARAMETERS


def recommender_checks():
    """The recommender checks, as a tuple of ``check(name, estimator)`` callables.

    Returns
    -------
    checks : tuple of callable
        Each takes ``(name, estimator)`` and raises ``AssertionError`` (or
        the error the check names) when the estimator fails it.
    """
    return _CHECKS


def check_recommender(estimator):
    """Run every recommender check on ``estimator``; raise on the first failure.

    Parameters
    ----------
    estimator : estimator instance
        An unfitted recommender.
    """
    name = type(estimator).__name__
    for check in _CHECKS:
        check(name, estimator)
