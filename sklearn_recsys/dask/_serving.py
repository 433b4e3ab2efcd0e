"""Top-k lists for many users on a Dask cluster, block by block, never the whole score matrix."""

import numpy as np
import scipy.sparse as sp

from ..utils._validation import check_k

__all__ = ["batch_recommend"]


def _top_k_block(estimator, block, k, exclude_seen):
    # the model's own recommend scores in row batches sized by working_memory
    return estimator.recommend(sp.csr_matrix(block), k, exclude_seen=exclude_seen)


def batch_recommend(estimator, X, k=10, *, exclude_seen=True, item_ids=None, client=None,
                    rows_per_task=20_000):
    """Top-``k`` items of every user of ``X``, computed in row blocks on a Dask cluster.

    The fitted ``estimator`` is sent to every worker once (``client.scatter``
    with ``broadcast=True``); each task recommends to one block of rows with
    the model's own :meth:`recommend`, which scores in row batches sized by
    scikit-learn's ``working_memory``, so no task (and no machine) ever holds
    the score matrix of all users; only the ``(n_users, k)`` lists come back.
    Row ``u`` of the result depends only on row ``u`` of ``X``: the same as
    ``estimator.recommend(X, k)``.

    Parameters
    ----------
    estimator : fitted recommender or Pipeline ending in one
    X : sparse matrix or dask.array.Array of shape (n_users, n_items)
        The users' interactions: a SciPy matrix (split here into blocks of
        ``rows_per_task`` rows and sent to the workers), or a Dask array
        chunked along rows only (one chunk across the columns), whose
        chunks (SciPy sparse or dense) stay where Dask computes them.
    k : int, default=10
        Items per user.
    exclude_seen : bool, default=True
        Never return an item the user has interacted with.
    item_ids : array-like of shape (n_items,), default=None
        Raw item ids by column (e.g. ``encoder.item_ids_``): the lists come
        back as raw ids, padding (fewer than ``k`` candidates) as None.
    client : distributed.Client, default=None
        The cluster; None takes the current one (``distributed.get_client``).
    rows_per_task : int, default=20_000
        Rows per task for a SciPy ``X``.

    Returns
    -------
    items : ndarray of shape (n_users, k)
        Item indices (int64, padded with -1), or raw ids with ``item_ids``.
    scores : ndarray of shape (n_users, k)
        Their scores, padded with ``-inf``.
    """
    import distributed

    k = check_k(k)
    if not isinstance(rows_per_task, (int, np.integer)) or rows_per_task < 1:
        raise ValueError(f"rows_per_task must be a positive int, got {rows_per_task!r}.")
    client = distributed.get_client() if client is None else client
    model = client.scatter(estimator, broadcast=True, hash=False)
    if hasattr(X, "to_delayed") and hasattr(X, "numblocks"):  # a dask array
        if X.ndim != 2 or X.numblocks[1] != 1:
            raise ValueError(
                f"X must be chunked along rows only (one chunk across its {X.shape[1]} "
                f"columns), got {X.numblocks[1]} column chunks: X.rechunk({{1: -1}}) first.")
        blocks = client.compute(list(X.to_delayed().ravel()))
    else:
        if not sp.issparse(X):
            raise TypeError(f"X must be a SciPy sparse matrix or a dask array, got "
                            f"{type(X).__name__}.")
        X = X.tocsr()
        blocks = client.scatter([X[start:start + rows_per_task]
                                 for start in range(0, X.shape[0], rows_per_task)], hash=False)
    futures = [client.submit(_top_k_block, model, block, k, exclude_seen, pure=False)
               for block in blocks]
    parts = client.gather(futures)
    if not parts:
        return np.empty((0, k), dtype=np.int64), np.empty((0, k))
    items = np.vstack([p[0] for p in parts])
    scores = np.vstack([p[1] for p in parts])
    if item_ids is not None:
        ids = np.asarray(item_ids, dtype=object)
        if ids.ndim != 1 or (items.size and items.max() >= len(ids)):
            raise ValueError(f"item_ids must hold one raw id per item column; got "
                             f"{ids.shape[0] if ids.ndim else 0} ids for items up to "
                             f"{int(items.max()) if items.size else -1}.")
        items = np.where(items >= 0, ids[np.maximum(items, 0)], None)
    return items, scores
