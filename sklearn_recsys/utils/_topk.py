"""Top-k selection and seen-item masking kernels shared by models and metrics."""

import numpy as np

from ._validation import check_k

__all__ = ["top_k", "mask_seen", "iter_row_batches", "row_batch_size"]


def row_batch_size(n_items, batch_size=None):
    """Number of user rows scored at once for a catalogue of ``n_items``.

    Follows scikit-learn's ``working_memory`` (``sklearn.set_config``, 1024
    MiB by default): a dense float64 block of scores fills at most about
    that much, so scoring never materialises ``(n_users, n_items)`` at once.
    ``batch_size`` overrides it (tests, internal fixed chunks).
    """
    if batch_size is not None:
        return max(1, int(batch_size))
    from sklearn import get_config

    entries = int(get_config()["working_memory"] * 2**20 // 8)
    return max(1, entries // max(1, n_items))


def iter_row_batches(n_rows, batch_size):
    """Yield ``slice`` objects covering ``range(n_rows)`` in order."""
    for start in range(0, n_rows, batch_size):
        yield slice(start, min(start + batch_size, n_rows))


def mask_seen(scores, X_batch):
    """Set ``scores[u, i] = -inf`` in place wherever ``X_batch[u, i] != 0``.

    Parameters
    ----------
    scores : ndarray of shape (n_batch, n_items)
        Dense, writeable score block.
    X_batch : csr_matrix of shape (n_batch, n_items)
        Interactions of the same users, canonical CSR.
    """
    rows = np.repeat(np.arange(X_batch.shape[0]), np.diff(X_batch.indptr))
    scores[rows, X_batch.indices] = -np.inf
    return scores


def top_k(scores, k):
    """Indices and values of the ``k`` largest scores of each row, best first.

    Items scored ``-inf`` (excluded candidates) and NaN are never returned:
    their slots are padded with index ``-1`` and score ``-inf``. Ties are
    broken by the lower item index. A ``k`` beyond the number of columns
    gives one column per item (``min(k, n_items)`` columns), so a huge ``k``
    costs no memory.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_items)
        Score block; higher is better.
    k : int
        Number of items per row, at least 1.

    Returns
    -------
    indices : ndarray of shape (n_rows, min(k, n_items)), dtype int64
    values : ndarray of shape (n_rows, min(k, n_items)), dtype of ``scores``
    """
    k = check_k(k)
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_rows, n_items), got shape {scores.shape}.")
    n_rows, n_cols = scores.shape
    kk = min(k, n_cols)
    if kk == 0:
        return np.empty((n_rows, 0), dtype=np.int64), np.empty((n_rows, 0), dtype=scores.dtype)
    neg = -scores
    neg = np.where(np.isnan(neg), np.inf, neg)
    if kk < n_cols:
        # The kk-th best value; among items tied with it, the lowest indices
        # are kept, so the selection does not depend on the partition order.
        thresh = np.partition(neg, kk - 1, axis=1)[:, kk - 1 : kk]
        better = neg < thresh
        tied = neg == thresh
        needed = kk - better.sum(axis=1, keepdims=True)
        chosen = better | tied
        # only rows with more ties than places left need the (costly) running count
        over = np.flatnonzero(tied.sum(axis=1) > needed[:, 0])
        if over.size:
            chosen[over] = better[over] | (
                tied[over] & (np.cumsum(tied[over], axis=1) <= needed[over]))
        part = np.nonzero(chosen)[1].reshape(n_rows, kk)
    else:
        part = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    part_vals = np.take_along_axis(neg, part, axis=1)
    # Sort by score, then by item index, so equal scores come in index order.
    order = np.lexsort((part, part_vals), axis=1)
    indices = np.take_along_axis(part, order, axis=1).astype(np.int64)
    values = -np.take_along_axis(part_vals, order, axis=1)
    invalid = ~np.isfinite(values) & (values < 0) | np.isnan(values)
    indices[invalid] = -1
    values = values.astype(scores.dtype, copy=False)
    values[invalid] = -np.inf
    return indices, values
