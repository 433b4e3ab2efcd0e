"""Top-k lists for many users on a Dask cluster, block by block, never the whole score matrix."""

import numpy as np
import scipy.sparse as sp

from sklearn.utils import _safe_indexing

from ..preprocessing._raw_ids import (
    _fitted_recommender,
    _recommender,
    _scored_items,
    check_reads_user_features,
)
from ..utils._scoring_path import served_estimator
from ..utils._validation import (check_exclude, check_item_indices, check_k, check_row_data,
                                 check_rows_to_score, names_checked)

__all__ = ["batch_recommend", "batch_recommend_logs"]


def _top_k_block(estimator, block, k, exclude_seen, user_features=None, exclude=None,
                 candidates=None):
    from ..pipeline import recommend

    if block.shape[0] == 0:  # a chunk of a filtered dask array can hold no row
        width = min(k, _scored_items(_recommender(estimator)))
        return np.empty((0, width), dtype=np.int64), np.empty((0, width))
    # a chunk's repeated pairs merged as a model's own validation would (the latest
    # key for order keys, floats otherwise), not by SciPy's conversion; the model's
    # own recommend scores in row batches sized by working_memory; any pipeline
    # (scikit-learn's has no recommend) excludes the raw rows' items
    # a block is CSR, without column names: a model fitted on a DataFrame is not told so
    # again by every block (and every step of a pipeline) on every worker
    with names_checked():
        row_data = {} if user_features is None else {"user_features": user_features}
        return recommend(estimator, check_rows_to_score(estimator, block), k,
                         exclude_seen=exclude_seen, exclude=exclude, candidates=candidates,
                         **row_data)


def batch_recommend(estimator, X, k=10, *, exclude_seen=True, exclude=None, candidates=None,
                    item_ids=None, client=None, rows_per_task=20_000, user_features=None):
    """Top-``k`` items of every user of ``X``, computed in row blocks on a Dask cluster.

    The fitted ``estimator`` is sent to every worker once (``client.scatter``
    with ``broadcast=True``); each task recommends to one block of rows as
    :func:`sklearn_recsys.pipeline.recommend` does, scoring in row batches sized by
    scikit-learn's ``working_memory``, so no task (and no machine) ever holds
    the score matrix of all users; only the ``(n_users, k)`` lists come back.
    Row ``u`` of the result depends only on row ``u`` of ``X``: the same as
    ``sklearn_recsys.pipeline.recommend(estimator, X, k)`` (the model's own
    ``recommend``, or for any pipeline its scores of the transformed rows
    with the raw rows' items excluded), up to float rounding (BLAS may sum a
    block of another size in another order, which can swap near-ties).

    Parameters
    ----------
    estimator : fitted recommender or Pipeline ending in one
        Or a fitted search of one (its ``best_estimator_`` is served).
    X : sparse matrix or dask.array.Array of shape (n_users, n_items)
        The users' interactions: a SciPy matrix (split here into blocks of
        ``rows_per_task`` rows and sent to the workers), or a Dask array
        chunked along rows only (one chunk across the columns), whose
        chunks (SciPy sparse or dense) stay where Dask computes them.
    k : int, default=10
        Items per user.
    exclude_seen : bool, default=True
        Never return an item the user has interacted with.
    exclude : {array-like, sparse matrix} of shape (n_users, n_items), default=None
        Further items never to return (non-zeros of each row), in memory:
        each task gets the rows of its block (so a Dask ``X`` needs known
        chunk sizes: ``X.compute_chunk_sizes()`` after a boolean filter).
    candidates : array-like of int, default=None
        Item indices to choose from, the same for every user; None means the
        whole catalogue.
    item_ids : array-like of shape (n_items,), default=None
        Raw item ids by column (e.g. ``encoder.item_ids_``): the lists come
        back as raw ids, padding (fewer than ``k`` candidates) as None.
    client : distributed.Client, default=None
        The cluster; None takes the current one (``distributed.get_client``).
    rows_per_task : int, default=20_000
        Rows per task for a SciPy ``X``.
    user_features : {array-like, sparse matrix} of shape (n_users, n_features), default=None
        Features of the users for a model that reads them (``HybridMF``),
        one row per row of ``X``, in memory: each task gets the rows of its
        block. Without them such a model scores every user from their
        interactions alone.

    Returns
    -------
    items : ndarray of shape (n_users, min(k, n_items))
        Item indices (int64, padded with -1), or raw ids with ``item_ids``.
    scores : ndarray of shape (n_users, min(k, n_items))
        Their scores, padded with ``-inf``.
    """
    estimator = served_estimator(estimator)  # a fitted search serves its best model
    import distributed

    k = check_k(k)
    if (not isinstance(rows_per_task, (int, np.integer)) or isinstance(rows_per_task, bool)
            or rows_per_task < 1):
        raise ValueError(f"rows_per_task must be a positive int, got {rows_per_task!r}.")
    if len(getattr(X, "shape", ())) != 2:
        raise ValueError(
            f"X must be a 2-D matrix of shape (n_users, n_items), got shape "
            f"{getattr(X, 'shape', None)}: one row of interactions per user (a single "
            "user's row as X[None, :] or X.reshape(1, -1)).")
    # refused here, not by every task on the workers after the model was sent
    model = _fitted_recommender(estimator)
    if np.isnan(X.shape[0]) and (exclude is not None or user_features is not None):
        # a boolean filter leaves a dask array's row count unknown: the per-user
        # arguments could not be cut to its chunks (the checks would read "nan users")
        passed = " and ".join(name for name, value in (("exclude", exclude),
                                                       ("user_features", user_features))
                              if value is not None)
        raise ValueError(
            f"X has an unknown number of rows (a dask array with unknown chunk sizes, as a "
            f"boolean filter leaves it), so {passed} cannot be aligned to its users: call "
            "X.compute_chunk_sizes() first, or pass the filtered rows of the per-user "
            "arguments with an X whose chunks are known.")
    ids = None if item_ids is None else _check_item_ids(estimator, item_ids)
    if user_features is not None:
        check_reads_user_features(estimator)
        check_row_data({"user_features": user_features}, X.shape[0])
    # checked here as recommend checks them, not by every task on the workers
    n_items = _scored_items(model)
    exclude = check_exclude(exclude, X.shape[0], n_items, estimator)
    if candidates is not None:
        candidates = check_item_indices(candidates, n_items, name="candidates")
    if X.shape[0] == 0:  # nothing to scatter (distributed fails on an empty list)
        width = min(k, _scored_items(model))
        return (np.empty((0, width), dtype=np.int64 if ids is None else object),
                np.empty((0, width)))
    client = distributed.get_client() if client is None else client
    model = client.scatter(estimator, broadcast=True, hash=False)
    if hasattr(X, "to_delayed") and hasattr(X, "numblocks"):  # a dask array
        if X.numblocks[1] != 1:
            raise ValueError(
                f"X must be chunked along rows only (one chunk across its {X.shape[1]} "
                f"columns), got {X.numblocks[1]} column chunks: X.rechunk({{1: -1}}) first.")
        blocks = client.compute(list(X.to_delayed().ravel()))
        bounds = np.cumsum((0,) + tuple(X.chunks[0]))
    else:
        if not sp.issparse(X):
            raise TypeError(f"X must be a SciPy sparse matrix or a dask array, got "
                            f"{type(X).__name__}.")
        # repeated pairs merged before the blocks are cut, as a model's own
        # validation would: the latest time for order keys, summed as floats
        # otherwise (tocsr would sum small integers in their own dtype)
        X = check_rows_to_score(estimator, X)
        bounds = np.append(np.arange(0, X.shape[0], rows_per_task), X.shape[0])
        blocks = client.scatter([X[start:stop] for start, stop in zip(bounds, bounds[1:])],
                                hash=False)
    # each block's own rows of the features (small next to the interactions)
    features = [None if user_features is None else
                _safe_indexing(user_features, np.arange(start, stop))
                for start, stop in zip(bounds, bounds[1:])]
    excluded = [None if exclude is None else exclude[start:stop]
                for start, stop in zip(bounds, bounds[1:])]
    futures = [client.submit(_top_k_block, model, block, k, exclude_seen, rows, banned,
                             candidates, pure=False)
               for block, rows, banned in zip(blocks, features, excluded)]
    parts = client.gather(futures)
    items = np.vstack([p[0] for p in parts])
    scores = np.vstack([p[1] for p in parts])
    if ids is not None:
        items = np.where(items >= 0, ids[np.maximum(items, 0)], None)
    return items, scores


def _check_item_ids(estimator, item_ids):
    """``item_ids`` as an object array, one raw id per item the fitted model scores."""
    ids = np.asarray(item_ids, dtype=object)
    n_items = _scored_items(_fitted_recommender(estimator))
    if ids.ndim != 1 or len(ids) != n_items:
        raise ValueError(
            f"item_ids must hold one raw id per item the model scores ({n_items}), got "
            f"{ids.shape[0] if ids.ndim else 'a scalar'}: ids from another encoder or "
            "catalogue would label the lists wrongly. Pass the encoder's item_ids_.")
    return ids


def _id_dtype(ids):
    """The column dtype of a vocabulary's ids in a Dask result.

    String ids (NumPy's, or Python strings in an object array) get pandas'
    string dtype: Dask fills an object column's metadata with placeholder
    objects, which pyarrow cannot write (``to_parquet`` failed on string ids).
    """
    import pandas as pd

    if ids.dtype.kind == "U" or (ids.dtype == object and len(ids) and isinstance(ids[0], str)):
        return pd.StringDtype()
    return ids.dtype


def _recommend_partition(log, estimator, encoder, k, exclude_seen, dtypes, user_features=None):
    import pandas as pd

    if len(log) == 0:
        return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in dtypes.items()})
    table = encoder.recommend(estimator, log, k, exclude_seen=exclude_seen, as_frame=True,
                              user_features=user_features)
    return table.astype(dtypes)


def batch_recommend_logs(estimator, encoder, logs, k=10, *, exclude_seen=True, client=None,
                         user_features=None):
    """Top-``k`` raw item ids for every user of a Dask DataFrame of raw logs.

    The log is shuffled so that each user's interactions lie in one
    partition (``logs.shuffle(on=encoder.user_col)``: a user split across
    partitions would otherwise get lists from parts of their history), then
    each partition goes through ``encoder.recommend`` on a worker: encoded
    with the fitted vocabulary (users not seen in the encoder's ``fit`` are
    new users, scored from their rows), scored by the model, which is sent
    to every worker once. The lists of a user are those of
    ``encoder.recommend(estimator, <that user's rows>, k)``: the same as on
    the whole log wherever the encoding does not depend on the order of the
    rows (with ``duplicates="last"`` and no ``timestamp_col`` it does, and
    the shuffle does not keep that order). A client must be running: the
    model and the encoder are sent to the workers at the call, and the
    result is computed on that cluster.

    Parameters
    ----------
    estimator : fitted recommender or Pipeline ending in one
        Fitted on matrices made by ``encoder`` (a fitted search serves its
        ``best_estimator_``).
    encoder : InteractionEncoder
        Fitted; its ``user_col``, ``item_col`` (and ``value_col``) name the
        columns of ``logs``.
    logs : dask.dataframe.DataFrame
        Raw interactions, one row per (user, item) event, in any partitioning.
    k : int, default=10
        Items per user.
    exclude_seen : bool, default=True
        Never return an item of the user's history in ``logs``.
    client : distributed.Client, default=None
        The cluster; None takes the current one (``distributed.get_client``).
    user_features : pandas.DataFrame, default=None
        Features of the users for a model that reads them (``HybridMF``),
        indexed by raw user id, a row for every user of ``logs``, as
        :meth:`~sklearn_recsys.InteractionEncoder.recommend` takes them
        (joined by id); sent to every worker once.

    Returns
    -------
    recommendations : dask.dataframe.DataFrame
        Lazy; columns ``user_col``, ``rank`` (1 = best), ``item_col``,
        ``score``, one row per recommended item, as
        :meth:`~sklearn_recsys.InteractionEncoder.recommend` gives them
        (string ids in pandas' string dtype rather than objects, which
        Parquet could not write). ``.compute()`` it, or write it out
        (``.to_parquet``) without gathering it.
    """
    estimator = served_estimator(estimator)  # a fitted search serves its best model
    import distributed
    import pandas as pd
    from sklearn.utils.validation import check_is_fitted

    k = check_k(k)
    check_is_fitted(encoder)
    # refused before they are sent to the workers (behavior_col changed since fit)
    encoder._fitted_with_behaviors()
    _fitted_recommender(estimator)
    if user_features is not None:
        check_reads_user_features(estimator)
    if not (hasattr(logs, "map_partitions") and hasattr(logs, "npartitions")):
        raise TypeError(f"logs must be a dask DataFrame of raw interactions, got "
                        f"{type(logs).__name__}; for a pandas DataFrame use "
                        "encoder.recommend(estimator, logs, k).")
    # every column the encoder reads, checked here: on a worker a missing one is a
    # KeyError in a traceback of the failed task
    read = {name: getattr(encoder, name, None) for name in (
        "user_col", "item_col", "value_col", "timestamp_col", "behavior_col")}
    missing = [c for c in read.values() if c is not None and c not in logs.columns]
    if missing:
        named = " and ".join(f"{name}={col!r}" for name, col in read.items() if col is not None)
        raise ValueError(f"logs has no column {missing}: the encoder reads {named}.")
    client = distributed.get_client() if client is None else client
    # the encoder's vocabulary goes to every worker once too, not into every task
    model, encoder_on_workers = client.scatter([estimator, encoder], broadcast=True,
                                               hash=False)
    features = (None if user_features is None else
                client.scatter(user_features, broadcast=True, hash=False))
    # the ids come back from the encoder's vocabulary (whatever the log's column dtype,
    # e.g. a categorical whose categories Dask does not know)
    meta = pd.DataFrame({
        encoder.user_col: pd.Series([], dtype=_id_dtype(encoder.user_ids_)),
        "rank": pd.Series([], dtype=np.int64),
        encoder.item_col: pd.Series([], dtype=_id_dtype(encoder.item_ids_)),
        "score": pd.Series([], dtype=np.float64)})
    grouped = logs.shuffle(on=encoder.user_col)
    # the columns' dtypes, not the empty frame: a frame among map_partitions' arguments
    # is aligned with the log's partitions by Dask before 2024.3 (unknown divisions)
    return grouped.map_partitions(_recommend_partition, model, encoder_on_workers, k,
                                  exclude_seen, meta.dtypes.to_dict(), features, meta=meta)
