"""Splitters of interaction matrices: within users (holdout) and across users.

Within-user splitters return two matrices of the same shape as ``X`` whose
non-zeros partition those of ``X``: the fold-in (training) part and the
held-out part. Across-user splitters split rows, which any scikit-learn CV
splitter over rows already does inside ``GridSearchCV``.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ..utils._behaviors import behavior_block, check_behaviors, n_items_of, with_block
from ..utils._holdout import split_by_rank, split_interactions
from ..utils._sequences import _warn_if_rounded, as_order_keys, latest_keys
from ..utils._validation import check_interaction_matrix

__all__ = [
    "holdout_split",
    "leave_k_out_split",
    "leave_last_out_split",
    "user_train_test_split",
    "strong_generalization_split",
]


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "holdout": [Interval(Real, 0, 1, closed="neither")],
        "min_interactions": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "behaviors": ["array-like", None],
        "target": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def holdout_split(X, *, holdout=0.2, min_interactions=5, random_state=None, behaviors=None,
                  target=None):
    """Hold out a random share of each user's interactions.

    For every user with at least ``min_interactions`` interactions,
    ``int(holdout * n_u)`` of them (the product's floating-point error
    rounded off first), drawn uniformly, go to the held-out
    matrix and the rest to the fold-in matrix; users with fewer keep all their
    interactions in the fold-in part (Liang et al. 2018).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions.
    holdout : float, default=0.2
        Share of each user's interactions held out, in (0, 1).
    min_interactions : int, default=5
        Users with fewer interactions hold nothing out.
    random_state : int, RandomState instance or None, default=None
        Seed of the draw.
    behaviors, target : sequence of str and str, default=None
        For a multi-behaviour ``X`` (one column block per behaviour, see
        :ref:`multi-behavior`): only interactions of the ``target``
        behaviour (default: the last block) are held out, and ``X_test``
        holds that block only.

    Returns
    -------
    X_train : csr_matrix of shape (n_users, n_items)
        Fold-in part (all blocks of a multi-behaviour ``X``).
    X_test : csr_matrix of shape (n_users, n_items)
        Held-out part; ``X_train + X_test == X`` (for several behaviours,
        ``X_test`` equals the target block of ``X`` minus that of
        ``X_train``).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recsys.model_selection import holdout_split
    >>> X = sp.csr_matrix([[1, 1, 1, 1, 1, 0], [0, 1, 1, 0, 0, 1]])
    >>> X_train, X_test = holdout_split(X, holdout=0.2, random_state=0)
    >>> X_train.nnz, X_test.nnz
    (7, 1)
    """
    _refuse_bool(min_interactions=min_interactions)
    X = check_interaction_matrix(X)
    rng = check_random_state(random_state)
    return _split_target(X, behaviors, target,
                         lambda Xt: split_interactions(Xt, holdout, min_interactions, rng))


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "k": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "behaviors": ["array-like", None],
        "target": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def leave_k_out_split(X, *, k=1, random_state=None, behaviors=None, target=None):
    """Hold out ``k`` random interactions of every user who has more than ``k``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions.
    k : int, default=1
        Interactions held out per user. Users with ``k`` or fewer keep all of
        them in the fold-in part.
    random_state : int, RandomState instance or None, default=None
        Seed of the draw.
    behaviors, target : sequence of str and str, default=None
        For a multi-behaviour ``X``: hold out ``k`` interactions of the
        ``target`` behaviour only (as in :func:`holdout_split`).

    Returns
    -------
    X_train, X_test : csr_matrix of shape (n_users, n_items)
        Fold-in and held-out parts (``X_test``: the target block only, for
        several behaviours).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recsys.model_selection import leave_k_out_split
    >>> X_train, X_test = leave_k_out_split(sp.csr_matrix([[1, 1, 0], [0, 1, 0]]))
    >>> X_test.getnnz(axis=1)
    array([1, 0], dtype=int32)
    """
    _refuse_bool(k=k)
    X = check_interaction_matrix(X)
    rng = check_random_state(random_state)

    def split(Xt):
        n_u = np.diff(Xt.indptr)
        return split_by_rank(Xt, rng.random_sample(Xt.nnz), np.where(n_u > k, k, 0))

    return _split_target(X, behaviors, target, split)


def _refuse_bool(**counts):
    """Refuse a bool for a count: validate_params' ``Integral`` takes ``True`` as 1."""
    for name, value in counts.items():
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def _split_target(X, behaviors, target, split, *aligned):
    """``split`` of ``X``, or of its target block when ``X`` stacks several behaviours.

    ``aligned`` matrices (the timestamps) have ``X``'s layout; ``split`` gets
    the same block of each after the block of ``X``.
    """
    if behaviors is None and target is None:
        return split(X, *aligned)
    names, index = check_behaviors(behaviors, target)
    n_items = n_items_of(X.shape[1], names)
    X_train_t, X_test = split(*(behavior_block(M, n_items, index) for M in (X, *aligned)))
    return with_block(X, n_items, index, X_train_t), X_test


def _same_entries(X, T):
    """Whether ``X`` is ``T`` or a sparse copy of it (the same stored coordinates and values)."""
    if X is T:
        return True
    if not (sp.issparse(X) and sp.issparse(T)) or X.format != T.format or X.shape != T.shape:
        return False
    parts = {"coo": ("row", "col", "data"), "csr": ("indptr", "indices", "data"),
             "csc": ("indptr", "indices", "data")}.get(X.format)
    if parts is None:
        return False
    return all(np.array_equal(np.asarray(getattr(X, p)), np.asarray(getattr(T, p)))
               for p in parts)


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "timestamps": ["array-like", "sparse matrix"],
        "k": [Interval(Integral, 1, None, closed="left")],
        "behaviors": ["array-like", None],
        "target": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def leave_last_out_split(X, timestamps, *, k=1, behaviors=None, target=None):
    """Hold out each user's ``k`` most recent interactions.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions.
    timestamps : {array-like, sparse matrix} of shape (n_users, n_items)
        Time of each interaction, with a stored entry exactly where ``X``
        has a non-zero (as built by the dataset loaders and
        ``InteractionEncoder.transform_timestamps``); a stored 0 is a time
        (the epoch, or the first position), which a dense array cannot
        carry. Equal times are broken by the larger item index counting as
        later; a pair stored twice (a COO matrix of a log with repeats)
        keeps its latest time, in ``X`` too when ``X`` is the times (``T``
        or a copy), where a time of 0 is refused (a key of 0 in ``X`` is no
        interaction). NaN or infinite times are refused. Integer times
        (e.g. int64 nanoseconds) are compared exactly, not as floats; when
        ``X`` is the times and they exceed 2**53 (beyond float64's exact
        integers), the parts returned hold their ranks 1, 2, ... instead,
        which keep their order.
    k : int, default=1
        Interactions held out per user who has more than ``k``.
    behaviors, target : sequence of str and str, default=None
        For a multi-behaviour ``X`` (and ``timestamps`` in the same
        layout): hold out the ``k`` most recent interactions of the
        ``target`` behaviour only (as in :func:`holdout_split`).

    Returns
    -------
    X_train, X_test : csr_matrix of shape (n_users, n_items)
        Earlier and latest interactions (``X_test``: the target block only,
        for several behaviours).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recsys.model_selection import leave_last_out_split
    >>> X = sp.csr_matrix([[1, 1, 1]])
    >>> T = sp.csr_matrix([[30, 10, 20]])
    >>> leave_last_out_split(X, T)[1].indices
    array([0], dtype=int32)
    """
    # a repeated (user, item) pair happened last at its latest time, not at the sum;
    # X too when it is the times themselves (leave_last_out_split(T, T), or a copy)
    if _same_entries(X, timestamps):
        data = X.data if sp.issparse(X) else np.asarray(X)
        if data.dtype.kind in "iu" and data.size and data.max() > 2 ** 53:
            warnings.warn(
                "X is the times, and they exceed 2**53 (e.g. int64 nanoseconds), beyond the "
                "integers float64 holds exactly: X_train and X_test hold their ranks 1, 2, "
                "... (in the same order) instead. To keep the times, pass the interactions "
                "as X (e.g. X = T.copy(); X.data[:] = 1) and the times as timestamps.",
                UserWarning, stacklevel=3)  # the caller, behind validate_params
        X = as_order_keys(X)
        if sp.issparse(X) and not np.all(X.data):
            raise ValueError(
                f"X is the times and stores {int(np.sum(X.data == 0))} time(s) of 0, which "
                "X reads as no interaction (a key of 0 is none: start positions at 1). For "
                "times that can be 0, pass the interactions as X, e.g. X = T.copy(); "
                "X.data[:] = 1, and the times as timestamps.")
    else:
        _warn_if_rounded(timestamps)  # as_order_keys warns of X read as the times
    _refuse_bool(k=k)
    X = check_interaction_matrix(X)
    # sorted_indices, not sort_indices: a conversion of dtype may share the
    # caller's index array, which an in-place sort would reorder under its values
    T = latest_keys(timestamps)
    T = T if sp.issparse(T) else np.asarray(T)
    # integer times stay integers: int64 nanoseconds near 1.7e18 are 256 apart in
    # float64, so events 100 ns apart would tie (signed: the ranking negates them)
    integer = T.dtype.kind == "i" or (T.dtype.kind == "u" and (
        T.size == 0 or T.max() <= np.iinfo(np.int64).max))
    T = sp.csr_matrix(T, dtype=np.int64 if integer else np.float64).sorted_indices()
    if not np.isfinite(T.data).all():
        raise ValueError(
            f"timestamps holds {int(np.sum(~np.isfinite(T.data)))} NaN or infinite "
            "value(s): every interaction needs a time to be ordered. Drop those "
            "interactions from X and timestamps, or fill their times.")
    # stored zeros stay: a time of 0 (the epoch, a first event) is a time, not a gap
    if T.shape != X.shape or T.nnz != X.nnz or not (
        np.array_equal(T.indptr, X.indptr) and np.array_equal(T.indices, X.indices)
    ):
        raise ValueError(
            "timestamps must have the same shape and the same non-zero pattern as "
            f"X (one time per interaction); got shape {T.shape} with {T.nnz} "
            f"non-zeros for X of shape {X.shape} with {X.nnz} non-zeros. Build "
            "both from the same log, e.g. with InteractionEncoder."
        )

    def split(Xt, Tt):
        n_u = np.diff(Xt.indptr)
        return split_by_rank(Xt, Tt.data, np.where(n_u > k, k, 0))

    return _split_target(X, behaviors, target, split, T)


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "return_users": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def user_train_test_split(X, *, test_size=0.2, random_state=None, return_users=False):
    """Split the users (rows) of ``X`` into training and test users.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions.
    test_size : float, default=0.2
        Share of users in the test part.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle.
    return_users : bool, default=False
        Also return the rows of ``X`` in ``X_train`` and ``X_test`` (as
        :func:`strong_generalization_split`'s ``return_users``).

    Returns
    -------
    X_train : csr_matrix of shape (n_train_users, n_items)
    X_test : csr_matrix of shape (n_test_users, n_items)
    train_users, test_users : ndarray of int
        Only with ``return_users``: the rows of ``X`` in ``X_train`` and in
        ``X_test``, sorted.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recsys.model_selection import user_train_test_split
    >>> X_train, X_test = user_train_test_split(sp.eye(10, format="csr"), random_state=0)
    >>> X_train.shape, X_test.shape
    ((8, 10), (2, 10))
    """
    X = check_interaction_matrix(X)
    train_users, test_users = train_test_split(
        np.arange(X.shape[0]), test_size=test_size, random_state=random_state
    )
    train_users.sort()
    test_users.sort()
    if return_users:
        return X[train_users], X[test_users], train_users, test_users
    return X[train_users], X[test_users]


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "holdout": [Interval(Real, 0, 1, closed="neither")],
        "min_interactions": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "behaviors": ["array-like", None],
        "target": [str, None],
        "return_users": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def strong_generalization_split(
    X, *, test_size=0.2, holdout=0.2, min_interactions=5, random_state=None, behaviors=None,
    target=None, return_users=False,
):
    """Split users into training and test users, then each test user's items.

    The protocol of Liang et al. (2018): models are fitted on the training
    users' full rows, then score the test users from their fold-in items and
    are judged on the held-out ones.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions.
    test_size : float, default=0.2
        Share of users held out (test users).
    holdout : float, default=0.2
        Share of each test user's interactions held out.
    min_interactions : int, default=5
        Test users with fewer interactions hold nothing out.
    random_state : int, RandomState instance or None, default=None
        Seed of both draws.
    behaviors, target : sequence of str and str, default=None
        For a multi-behaviour ``X`` (one column block per behaviour, see
        :ref:`multi-behavior`): only the test users' interactions of the
        ``target`` behaviour (default: the last block) are held out, as in
        :func:`holdout_split`.
    return_users : bool, default=False
        Also return the rows of ``X`` of the training and test users (to
        map them back to raw ids, ``encoder.get_user_ids()[test_users]``).

    Returns
    -------
    X_train : csr_matrix of shape (n_train_users, n_items)
        Full rows of the training users (all blocks).
    X_test_in : csr_matrix of shape (n_test_users, n_items)
        Fold-in part of the test users (all blocks).
    X_test_out : csr_matrix of shape (n_test_users, n_items)
        Held-out part of the test users (the target block only).
    train_users, test_users : ndarray of int
        Only with ``return_users``: the rows of ``X`` in ``X_train`` and in
        ``X_test_in`` / ``X_test_out``, sorted.

    Examples
    --------
    >>> from sklearn_recsys.datasets import make_interactions
    >>> from sklearn_recsys.model_selection import strong_generalization_split
    >>> X = make_interactions(n_users=100, n_items=50, random_state=0)
    >>> X_train, X_in, X_out = strong_generalization_split(X, random_state=0)
    >>> X_train.shape, X_in.shape, X_out.shape
    ((80, 50), (20, 50), (20, 50))
    """
    _refuse_bool(min_interactions=min_interactions)
    rng = check_random_state(random_state)
    X_train, X_test, train_users, test_users = user_train_test_split(
        X, test_size=test_size, random_state=rng, return_users=True)
    X_in, X_out = holdout_split(
        X_test, holdout=holdout, min_interactions=min_interactions, random_state=rng,
        behaviors=behaviors, target=target,
    )
    if return_users:
        return X_train, X_in, X_out, train_users, test_users
    return X_train, X_in, X_out
