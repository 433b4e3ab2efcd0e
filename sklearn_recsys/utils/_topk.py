"""Top-k selection and seen-item masking kernels shared by models and metrics."""

from numbers import Integral

import numpy as np
from numba import njit, prange

from ._parallel import numba_threads, parallel_kernel
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
        if isinstance(batch_size, bool) or not isinstance(batch_size, (Integral, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}.")
        return int(batch_size)
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

    Returns
    -------
    scores : ndarray of shape (n_batch, n_items)
        The same array, masked.
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
    values : ndarray of shape (n_rows, min(k, n_items))
        Of the dtype of ``scores`` if floating, else float64 (the padding
        ``-inf`` needs a float).
    """
    k = check_k(k)
    scores = np.asarray(scores)
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_rows, n_items), got shape {scores.shape}.")
    n_rows, n_cols = scores.shape
    kk = min(k, n_cols)
    if scores.dtype not in (np.float32, np.float64) or kk == 0 or n_rows == 0:
        return _top_k_numpy(scores, kk)
    indices = np.empty((n_rows, kk), dtype=np.int64)
    values = np.empty((n_rows, kk), dtype=scores.dtype)
    # one pass per row instead of NumPy's dozen over the block; inside a
    # Dask worker, numba gets the task's share of the cores
    with numba_threads(None):
        _top_k_heap(scores, indices, values)
    return indices, values


@njit(cache=True, nogil=True)
def _worse(value_a, index_a, value_b, index_b):
    # the ranking order: a lower score, or an equal score at a higher index
    return value_a < value_b or (value_a == value_b and index_a > index_b)


@njit(cache=True, nogil=True)
def _sift_down(hv, hi, pos, size, v, j):
    # put (v, j) at ``pos`` of the heap hv[:size]/hi[:size] (worst at the root),
    # moving the worse child up while it is worse than (v, j)
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and _worse(hv[child + 1], hi[child + 1], hv[child], hi[child]):
            child += 1
        if not _worse(hv[child], hi[child], v, j):
            break
        hv[pos] = hv[child]
        hi[pos] = hi[child]
        pos = child
    hv[pos] = v
    hi[pos] = j


@parallel_kernel
def _top_k_heap(scores, indices, values):
    """Fill ``indices``/``values`` (n_rows, kk) with each row's best ``kk``, best first.

    Each row keeps a binary heap of its ``kk`` best (worst at the root) in its
    output rows while it reads the scores in index order, so a score equal to
    the root's never enters (its index is higher); NaN and ``-inf`` are
    skipped and their slots padded with ``-1``/``-inf``. The heap is then
    sorted in place, best first.
    """
    n_rows, n_cols = scores.shape
    kk = indices.shape[1]
    for r in prange(n_rows):
        hv = values[r]
        hi = indices[r]
        size = 0
        for j in range(n_cols):
            v = scores[r, j]
            if not v > -np.inf:  # NaN or -inf
                continue
            if size < kk:
                pos = size
                size += 1
                while pos > 0:  # sift up past better parents
                    parent = (pos - 1) // 2
                    if not _worse(v, j, hv[parent], hi[parent]):
                        break
                    hv[pos] = hv[parent]
                    hi[pos] = hi[parent]
                    pos = parent
                hv[pos] = v
                hi[pos] = j
            elif v > hv[0]:
                _sift_down(hv, hi, 0, size, v, j)
        # heap sort: the worst goes to the end, so the row ends best first
        for end in range(size - 1, 0, -1):
            v, j = hv[end], hi[end]
            hv[end] = hv[0]
            hi[end] = hi[0]
            _sift_down(hv, hi, 0, end, v, j)
        for p in range(size, kk):
            hv[p] = -np.inf
            hi[p] = -1


def _top_k_numpy(scores, kk):
    """:func:`top_k` with NumPy operations, for any float dtype (``kk`` <= n_cols)."""
    n_rows, n_cols = scores.shape
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
