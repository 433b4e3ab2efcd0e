"""The two held-out splits of the package: a share of each user's interactions, a share of users.

Everything that holds data out (the public splitters of
:mod:`sklearn_recsys.model_selection`, the scorers when no ``y`` is given, and
the validation split of the training engine) uses these two definitions, so a
``holdout`` or a ``validation_fraction`` means the same thing everywhere.
Inputs are trusted canonical CSR matrices; public wrappers validate them.
"""

import numpy as np
import scipy.sparse as sp

__all__ = ["split_interactions", "split_users", "split_by_rank"]


def split_by_rank(X, keys, n_test):
    """Move, in each row, the ``n_test[row]`` non-zeros of largest key to the second part.

    Ties in ``keys`` are broken by the larger column index going to the
    second part.
    """
    n_rows = X.shape[0]
    row = np.repeat(np.arange(n_rows), np.diff(X.indptr))
    order = np.lexsort((-X.indices, -keys, row))
    rank = np.empty(X.nnz, dtype=np.int64)
    rank[order] = np.arange(X.nnz) - X.indptr[row[order]]
    test = rank < n_test[row]
    return _select(X, row, ~test), _select(X, row, test)


def _select(X, row, mask):
    counts = np.bincount(row[mask], minlength=X.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sp.csr_matrix((X.data[mask], X.indices[mask], indptr), shape=X.shape)


def split_interactions(X, holdout, min_interactions, rng):
    """Hold out ``int(holdout * n_u)`` random interactions of each user with enough of them.

    Parameters
    ----------
    X : csr_matrix of shape (n_users, n_items)
        Canonical CSR.
    holdout : float in (0, 1)
        Share of each user's interactions held out.
    min_interactions : int
        Users with fewer interactions hold nothing out.
    rng : RandomState
        Source of the draw.

    Returns
    -------
    X_keep, X_held_out : csr_matrix of shape (n_users, n_items)
        Their non-zeros partition those of ``X``.
    """
    n_u = np.diff(X.indptr)
    n_test = np.where(n_u >= min_interactions, (holdout * n_u).astype(np.int64), 0)
    return split_by_rank(X, rng.random_sample(X.nnz), n_test)


def split_users(n_users, fraction, rng):
    """Hold out ``round(fraction * n_users)`` random users.

    Returns
    -------
    kept_rows, held_out_rows : ndarray of int64, sorted
        Both empty of held-out users when the share rounds to none or to
        all of them (the caller decides what that means).
    """
    n_out = int(round(fraction * n_users))
    if n_out < 1 or n_out >= n_users:
        return np.arange(n_users), np.arange(0)
    perm = rng.permutation(n_users)
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])
