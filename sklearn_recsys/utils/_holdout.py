"""Held-out data: the two splits of the package, and the one loop that scores held-out entries.

Everything that holds data out (the public splitters of
:mod:`sklearn_recsys.model_selection`, the scorers when no ``y`` is given, and
the validation split of the training engine) uses these two definitions, so a
``holdout`` or a ``validation_fraction`` means the same thing everywhere.
Scoring users on what was held out (validation during training, the scorers)
goes through :func:`iter_heldout_batches` (rankings) or :func:`heldout_rmse`
(ratings). Inputs are trusted canonical CSR matrices; public wrappers validate
them.
"""

import os
import sys
import warnings

import numpy as np
import scipy.sparse as sp

__all__ = [
    "check_held_out_disjoint",
    "heldout_ndcg",
    "heldout_rmse",
    "iter_heldout_batches",
    "split_by_rank",
    "split_interactions",
    "split_latest",
    "split_users",
]


# what a held-out interaction also in the fold-in rows does to a ranking score
SEEN_NEVER_HIT = "a seen item is never ranked, so these can never count as hits"


def check_held_out_disjoint(X, held_out, name, consequence, fix):
    """Refuse held-out interactions that are all in ``X`` too; warn when some are.

    ``X`` (what the model is told) and ``held_out`` (what it is scored on) are
    CSR matrices of one shape. A held-out interaction also in ``X`` is no
    test: a ranking never recommends it (it is seen), a rating is given away.
    ``consequence`` says what that does to the score, ``fix`` how to hold out
    properly.
    """
    if held_out.nnz == 0:
        return
    shared = held_out.multiply(X).nnz
    if shared == held_out.nnz:
        raise ValueError(f"Every interaction of {name} is also in X: {consequence}. {fix}")
    if shared:
        warnings.warn(f"{shared} of the {held_out.nnz} interactions of {name} are also in X: "
                      f"{consequence}. {fix}", UserWarning, stacklevel=_caller_level())


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_level():
    """``stacklevel`` of the first frame outside this package, for the caller of this one.

    The check is reached from a scorer's call and from deep inside ``fit``
    (its ``X_val``): no fixed level names the user's line in both.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE + os.sep):
        frame, level = frame.f_back, level + 1
    return level


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
    """Hold out ``int(holdout * n_u)`` (float error rounded off) random interactions per user.

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
    return split_by_rank(X, rng.random_sample(X.nnz), _n_held_out(X, holdout, min_interactions))


def split_latest(X, holdout, min_interactions):
    """Hold out the same number of interactions per user as :func:`split_interactions`, the latest.

    For a matrix of order keys (a sequential model's input): the held-out
    part is each user's ``int(holdout * n_u)`` largest keys (ties: the larger
    item index is later, as everywhere), so the fold-in part is what came
    before it and the model is never asked to predict the past from the future.
    """
    return split_by_rank(X, X.data, _n_held_out(X, holdout, min_interactions))


def _n_held_out(X, holdout, min_interactions):
    n_u = np.diff(X.indptr)
    # rounded before the floor: 0.7 * 90 is 62.99999999999999 in floating point
    return np.where(n_u >= min_interactions,
                    np.floor(np.round(holdout * n_u, 9)).astype(np.int64), 0)


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


def iter_heldout_batches(X_in, X_out, score_rows, *, max_users=None, all_users=False,
                         layout=None):
    """The one loop that scores users on their held-out interactions, in row batches.

    Only users with held-out entries are scored, unless ``all_users``. ``score_rows(rows, X_rows)``
    returns the dense scores ``(len(rows), n_items)`` of those rows of
    ``X_in`` (given as indices and as the CSR slice); they come back as a
    float64 copy with ``X_in``'s items masked to ``-inf``, ready for a ranking
    metric against ``X_out``.

    Parameters
    ----------
    X_in, X_out : csr_matrix of shape (n_users, n_items)
        Fold-in (known) and held-out interactions of the same users.
    score_rows : callable
        ``(rows, X_rows) -> scores``.
    max_users : int, default=None
        Score an evenly spaced subsample of at most about this many users
        (cheap monitoring during training); None scores all.
    all_users : bool, default=False
        Score every row, held-out entries or not (catalogue coverage counts
        every user's list).
    layout : tuple of (int, int), default=None
        ``(n_items, target_index)`` when ``X_in`` stacks several behaviours
        (see :mod:`~sklearn_recsys.utils._behaviors`): only the target
        block's items are masked, and ``X_out`` has ``n_items`` columns.

    Yields
    ------
    rows : ndarray of int
    y_true : csr_matrix of shape (len(rows), n_items)
        Held-out interactions of the rows.
    scores : ndarray of shape (len(rows), n_items), float64
    """
    from ._behaviors import target_history
    from ._topk import iter_row_batches, mask_seen, row_batch_size

    users = np.arange(X_in.shape[0]) if all_users else np.flatnonzero(np.diff(X_out.indptr))
    if max_users is not None and len(users) > max_users:
        users = users[:: len(users) // max_users + 1]
    for batch in iter_row_batches(len(users), row_batch_size(X_in.shape[1])):
        rows = users[batch]
        X_rows = X_in[rows]
        scores = np.array(score_rows(rows, X_rows), dtype=np.float64)
        mask_seen(scores, target_history(X_rows, layout))
        yield rows, X_out[rows], scores
        del scores  # one block held while the next is scored, not two


def heldout_ndcg(X_in, X_out, score_rows, k, *, max_users=None, layout=None):
    """Mean NDCG@k over users with held-out entries (see :func:`iter_heldout_batches`)."""
    from ..metrics._ranking import ndcg_at_k

    total, n = 0.0, 0
    for rows, y_true, scores in iter_heldout_batches(X_in, X_out, score_rows,
                                                     max_users=max_users, layout=layout):
        total += ndcg_at_k(y_true, scores, k=k) * len(rows)
        del scores  # before the next block is scored
        n += len(rows)
    return total / max(1, n)


def heldout_rmse(X_out, predict_entries, value_range=None, block=1 << 20):
    """RMSE of the held-out ratings, predicted at those entries only.

    ``predict_entries(rows, cols)`` returns the predicted ratings at the
    given (row, column) pairs; it is called on blocks of at most ``block``
    entries, so no dense ``(n_users, n_items)`` block is formed. Predictions
    are clipped to ``value_range`` when given. 0.0 when nothing is held out.
    """
    if X_out.nnz == 0:
        return 0.0
    rows = np.repeat(np.arange(X_out.shape[0]), np.diff(X_out.indptr))
    pred = np.empty(X_out.nnz)
    for start in range(0, X_out.nnz, block):
        sel = slice(start, min(start + block, X_out.nnz))
        pred[sel] = predict_entries(rows[sel], X_out.indices[sel])
    if value_range is not None:
        np.clip(pred, *value_range, out=pred)
    return float(np.sqrt(np.mean((pred - X_out.data) ** 2)))
