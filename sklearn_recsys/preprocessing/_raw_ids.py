"""Recommendations, neighbours and explanations in raw ids, through a fitted InteractionEncoder.

The models work on row and column indices; users work on their own ids.
These functions are the bridge for the everyday calls (recommend for the
users of a log, including brand-new ones given a few raw item ids; similar
items; explanations) and return a table: a pandas DataFrame, or a dict of
columns when pandas is not wanted.
"""

import inspect

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..base import AGAINST_INDICES_FIX, against_count, runners_up
from ..utils._scoring_path import served_estimator
from ..utils._sequences import dense_ranks, reads_order_keys
from ..utils._validation import pipeline_estimators


def _table(columns, as_frame):
    if not as_frame:
        return columns
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is in the test extra
        raise ImportError("as_frame=True needs pandas (pip install pandas); pass "
                          "as_frame=False for a dict of NumPy columns.") from exc
    return pd.DataFrame(columns)


def _add_item_info(columns, item_info, idx, id_column, item_ids, prefix=""):
    """Metadata columns for the items at column indices ``idx`` (their raw ids in ``id_column``).

    ``item_info`` is a DataFrame (or Series) indexed by raw item id, or a
    mapping of name to a sequence aligned with the item columns (as a loader's
    ``item_titles``). Either is checked against the encoder's ``item_ids``:
    a table of another catalogue would label items with other items' data.
    """
    if item_info is None:
        return columns
    if hasattr(item_info, "to_frame") and not hasattr(item_info, "columns"):
        item_info = item_info.to_frame()  # a Series: one column, named after it
    if hasattr(item_info, "loc") and hasattr(item_info, "columns"):
        _check_item_index(item_info.index, item_ids, columns[id_column])
        names = [str(name) for name in item_info.columns]
        rows = item_info.reindex(columns[id_column])
        values = [rows[name].to_numpy() for name in item_info.columns]
    else:
        names = [str(name) for name in item_info]
        values = []
        for name, v in item_info.items():
            if hasattr(v, "reindex") and hasattr(v, "index") and not _positions(v.index):
                # a Series indexed by raw item id: joined by id, as a DataFrame is (read
                # as a sequence, its values went to the items in the order of its rows)
                _check_item_index(v.index, item_ids, columns[id_column])
                values.append(v.reindex(columns[id_column]).to_numpy())
                continue
            if isinstance(v, np.ndarray) and v.ndim == 1:
                column = v
            else:
                # element by element: a sequence of equal-length lists (genres,
                # tags) would otherwise become a 2-D array
                v = list(v)
                column = np.empty(len(v), dtype=object)
                column[:] = v
            if len(column) != len(item_ids):
                raise ValueError(
                    f"item_info[{name!r}] has {len(column)} entries, but the encoder has "
                    f"{len(item_ids)} item columns: a sequence must give one entry per "
                    "column, in the order of encoder.item_ids_. Align it with item_ids_, or "
                    "pass a DataFrame indexed by raw item id.")
            values.append(column[idx])
    clash = [prefix + n for n in names if prefix + n in columns]
    if clash:
        raise ValueError(f"item_info columns {clash} would overwrite the result's own columns "
                         f"{list(columns)}: rename them first.")
    columns.update({prefix + n: v for n, v in zip(names, values)})
    return columns


def _positions(index):
    """Whether a pandas index is the default one, 0, 1, ... (row positions)."""
    return type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1


def _check_item_index(index, item_ids, wanted):
    """Refuse an ``item_info`` index that cannot be the raw item ids of ``item_ids``.

    ``wanted`` are the ids looked up; the catalogue-wide test runs only when
    none of them is found (a table of some items only is fine).
    """
    if not index.is_unique:
        repeated = index[index.duplicated()].unique()
        raise ValueError(
            f"item_info's index repeats item ids ({list(repeated[:5])}"
            f"{' ...' if len(repeated) > 5 else ''}): each item needs one row of metadata. "
            "Drop or merge the repeated rows (item_info[~item_info.index.duplicated()]).")
    if _positions(index):
        ids = np.asarray(item_ids)
        holds_all = (ids.dtype.kind in "iu" and ids.size > 0
                     and ids.min() >= 0 and ids.max() < len(index))
        if not holds_all:
            raise ValueError(
                f"item_info has the default index 0, 1, ..., {len(index) - 1} (row positions), "
                "which does not hold every raw item id of the encoder: it would label items "
                "with other items' data. Index it by raw item id (item_info.set_index(<id "
                "column>)), or pass a mapping {name: sequence} aligned with "
                "encoder.item_ids_.")
    if len(wanted) and len(index) and (index.get_indexer(wanted) < 0).all() \
            and (index.get_indexer(item_ids) < 0).all():
        raise ValueError(
            f"None of the encoder's item ids is in item_info's index (dtype "
            f"{index.dtype}; the encoder's ids have dtype {np.asarray(item_ids).dtype}, e.g. "
            f"{item_ids[0]!r}): index item_info by the same raw ids, of the same type "
            "(e.g. item_info.index = item_info.index.astype(str)).")


def _ranks(keep):
    """1-based rank of each kept slot of a (rows, k) mask of valid list entries, row-major."""
    return np.broadcast_to(np.arange(1, keep.shape[1] + 1), keep.shape)[keep]


def _recommender(estimator):
    """The recommender at the end of ``estimator`` (itself, or a pipeline's last step)."""
    return estimator[-1] if hasattr(estimator, "steps") else estimator


def _fitted_recommender(estimator):
    """The recommender at the end of ``estimator``, checked as its scoring would check it.

    NotFittedError before ``fit``; ValueError for parameters changed since (the
    package's models, and the preprocessing steps of the package's Pipeline):
    raised here, before the model is sent to any worker.
    A pipeline's other steps are checked too (one replaced by an unfitted
    estimator through ``set_params`` would fail on every worker).
    """
    for step in pipeline_estimators(estimator)[:-1]:
        _check_step_fitted(step)
    # the library's Pipeline: its preprocessing steps' parameters as fit left them
    check_steps = getattr(estimator, "_check_fitted_steps", None)
    if check_steps is not None:
        check_steps()
    model = _recommender(estimator)
    _check_step_fitted(model)
    return model


def _check_step_fitted(step):
    check = getattr(step, "_check_fitted", None)
    if check is None:
        check_is_fitted(step)
    else:
        check()


def _scored_items(model):
    """Items a fitted recommender scores (one block of a multi-behaviour model's columns)."""
    return model._n_items() if hasattr(model, "_n_items") else model.n_features_in_


def _check_catalogue(encoder, estimator):
    """Refuse a model fitted on another catalogue: its columns would name the wrong raw ids."""
    rec = _recommender(estimator)
    try:
        check_is_fitted(rec)
    except NotFittedError:
        return  # the model's own call raises the usual error
    n_scored = _scored_items(rec)
    n_columns = getattr(estimator, "n_features_in_", n_scored)
    behaviors = getattr(encoder, "behaviors_", None)
    if (n_columns, n_scored) == (encoder._n_columns(), encoder.n_items_):
        named = getattr(rec, "behaviors_", None)
        # only the same names in another order is surely wrong: names may differ
        # (an encoder of integer codes, a model told its own names) in the right order
        if behaviors is not None and named is not None and tuple(named) != tuple(behaviors) \
                and sorted(named) == sorted(behaviors):
            # same sizes, other order: the model would rank and mask by the wrong block
            raise ValueError(
                f"The model was told behaviors={tuple(named)!r}, but the encoder's blocks "
                f"are {tuple(behaviors)!r}, in that order: it would read one behaviour as "
                "another. Fit the model with behaviors=encoder.behaviors_ (or give the "
                "encoder behaviors=... in the model's order).")
        return
    if behaviors is not None and n_scored == n_columns == encoder._n_columns():
        fix = (f"The encoder stacks {len(behaviors)} behaviour blocks: use a multi-behaviour "
               f"model (behaviors={tuple(behaviors)!r}), which scores the target's items.")
    else:
        fix = "Fit the model on this encoder's transform of the log."
    raise ValueError(
        f"The model takes {n_columns} columns and scores {n_scored} items, but the encoder "
        f"has {encoder.n_items_} items ({encoder._n_columns()} columns): its recommendations "
        f"would name the wrong raw ids. {fix}")


def model_rows(encoder, estimator, X, wanted=None):
    """The rows of log ``X`` that ``estimator`` reads, through the fitted ``encoder``.

    All of ``transform(X)``'s rows, or only the sorted rows ``wanted``. A
    sequential model reads its values as order keys, so it is given the
    log's timestamps (:meth:`InteractionEncoder.transform_timestamps`; their
    dense ranks 1, 2, ... when one is 0 or below, which it would read as no
    interaction); any other model the values
    (:meth:`InteractionEncoder.transform`).
    """
    if not reads_order_keys(estimator):
        return encoder._rows_of(X, wanted)
    try:
        times = encoder._rows_of(X, wanted, timestamps=True)
    except ValueError as exc:
        raise ValueError(
            f"{type(_recommender(estimator)).__name__} reads the order of each user's "
            f"items, so it is given the log's timestamps: {exc}") from exc
    if times.nnz and times.data.min() <= 0:
        # a key of 0 reads as no interaction (a position column from 0, the epoch):
        # the event would leave the sequence and come back as a recommendation.
        # Only the order counts, so the times go as their dense ranks 1, 2, ...
        times = times.copy()
        times.data = dense_ranks(times.data)
    return times


def _preprocess(estimator, X):
    """``X`` through every step of a pipeline but the last; ``X`` for a bare recommender."""
    if hasattr(estimator, "steps") and len(estimator.steps) > 1:
        return estimator[:-1].transform(X)
    return X


def recommend_raw(encoder, estimator, X, k, exclude_seen, exclude, item_info, as_frame,
                  user_features=None, candidates=None):
    """See :meth:`InteractionEncoder.recommend`."""
    estimator = served_estimator(estimator)  # a fitted search serves its best model
    _check_catalogue(encoder, estimator)
    from ..pipeline import recommend

    users = encoder._checked_columns(X)[0]
    if not len(users):
        raise ValueError("The log is empty: recommend scores the users of the log from "
                         "their interactions (a new user needs at least one raw item id).")
    rows, new_ids = encoder._user_rows(users)
    wanted = np.unique(rows)
    # the ids of these rows only (not every fitted user's, then a few)
    fitted = wanted[wanted < encoder.n_users_]
    user_ids = np.concatenate([encoder.user_ids_[fitted],
                               new_ids[wanted[len(fitted):] - encoder.n_users_]])
    M = model_rows(encoder, estimator, X, wanted)
    if exclude is not None:
        exclude = _exclude_matrix(encoder, exclude, user_ids)
    params = {}
    if user_features is not None:
        check_reads_user_features(estimator)
        params["user_features"] = _user_feature_rows(user_features, user_ids)
    if candidates is not None:
        # raw ids, looked up: integer ids read as columns would be other items
        candidates = encoder.get_item_indices(candidates)
    idx, scores = recommend(estimator, M, k, exclude_seen=exclude_seen, exclude=exclude,
                            candidates=candidates, **params)
    keep = idx >= 0
    per_user = keep.sum(axis=1)
    flat_idx = idx[keep]
    columns = {
        encoder.user_col: np.repeat(user_ids, per_user),
        "rank": _ranks(keep),
        encoder.item_col: encoder.item_ids_[flat_idx],
        "score": scores[keep],
    }
    return _table(_add_item_info(columns, item_info, flat_idx, encoder.item_col,
                                 encoder.item_ids_), as_frame)


def check_reads_user_features(estimator):
    """TypeError unless the recommender at the end of ``estimator`` scores with
    ``user_features`` (HybridMF), before any work is done with them."""
    model = _recommender(estimator)
    if "user_features" not in inspect.signature(model.decision_function).parameters:
        raise TypeError(f"{type(model).__name__} reads no user_features (HybridMF does): "
                        "leave user_features out for this model.")


def _user_feature_rows(user_features, user_ids):
    """The rows of ``user_features`` (indexed by raw user id) of ``user_ids``, in that order.

    By id, never by position: the users of a log come in the encoder's row
    order, which the caller does not choose, so rows taken by position
    would give users each other's features.
    """
    if hasattr(user_features, "to_frame") and not hasattr(user_features, "columns"):
        user_features = user_features.to_frame()  # a Series: one feature
    if not (hasattr(user_features, "index") and hasattr(user_features, "columns")):
        raise TypeError(
            f"user_features must be a pandas DataFrame indexed by raw user id (one row per "
            f"user of the log, new users included), got {type(user_features).__name__}: the "
            "log's users are scored in the encoder's row order, so rows by position would "
            "give users each other's features. Index it by user id "
            "(features.set_index(<user id column>)).")
    index = user_features.index
    if not index.is_unique:
        repeated = index[index.duplicated()].unique()
        raise ValueError(
            f"user_features' index repeats user ids ({list(repeated[:5])}"
            f"{' ...' if len(repeated) > 5 else ''}): each user needs one row of features.")
    pos = index.get_indexer(user_ids)
    missing = np.asarray(user_ids)[pos < 0]
    if len(missing):
        raise ValueError(
            f"user_features has no row for {len(missing)} of the log's {len(user_ids)} "
            f"user(s) (e.g. {list(missing[:5])}; its index has dtype {index.dtype}, the "
            f"log's user ids {np.asarray(user_ids).dtype}): give every user of the log a "
            "row, indexed by the same raw user ids (of the same type).")
    # a DataFrame still (the model checks its column names against fit's), in the
    # rows' order: its raw-id index has served
    return user_features.iloc[pos].reset_index(drop=True)


def _exclude_matrix(encoder, log, user_ids):
    """CSR over ``user_ids`` x items of the interactions of ``log`` (other users ignored)."""
    users, items, _, _ = encoder._checked_columns(log, ids_only=True)
    order = np.argsort(user_ids, kind="stable")
    sorted_ids = user_ids[order]
    pos = np.minimum(np.searchsorted(sorted_ids, users), len(sorted_ids) - 1)
    col = np.minimum(np.searchsorted(encoder.item_ids_, items), encoder.n_items_ - 1)
    keep = (sorted_ids[pos] == users) & (encoder.item_ids_[col] == items)
    rows = order[pos[keep]]
    return sp.csr_matrix((np.ones(keep.sum()), (rows, col[keep])),
                         shape=(len(user_ids), encoder.n_items_))


def similar_items_raw(encoder, estimator, item_ids, k, item_info, as_frame):
    """See :meth:`InteractionEncoder.similar_items`."""
    estimator = served_estimator(estimator)  # a fitted search serves its best model
    _check_catalogue(encoder, estimator)
    query = encoder.get_item_indices(item_ids)
    if not len(query):
        raise ValueError("item_ids is empty: give at least one raw item id.")
    idx, scores = _recommender(estimator).similar_items(query, k)
    keep = idx >= 0
    per_item = keep.sum(axis=1)
    flat_idx = idx[keep]
    columns = {
        encoder.item_col: np.repeat(encoder.item_ids_[query], per_item),
        "rank": _ranks(keep),
        "similar_" + encoder.item_col: encoder.item_ids_[flat_idx],
        "score": scores[keep],
    }
    columns = _add_item_info(columns, item_info, flat_idx, "similar_" + encoder.item_col,
                             encoder.item_ids_, prefix="similar_")
    return _table(columns, as_frame)


def explain_raw(encoder, estimator, X, item_id, against, as_frame):
    """See :meth:`InteractionEncoder.explain`."""
    estimator = served_estimator(estimator)  # a fitted search serves its best model
    _check_catalogue(encoder, estimator)
    users = encoder._checked_columns(X)[0]
    rows, _ = encoder._user_rows(users)
    wanted = np.unique(rows)
    if len(wanted) != 1:
        raise ValueError(f"explain needs the log of one user; this log has {len(wanted)} "
                         "users. Select one user's interactions first.")
    x = model_rows(encoder, estimator, X, wanted)
    col = encoder.get_item_indices([item_id])[0]
    model = _recommender(estimator)
    if against is None:
        items, contributions = model.explain(_preprocess(estimator, x), col)
    else:
        count = against_count(against)
        if count is not None and model is estimator:
            # a bare model takes its runners-up from its own rule (a re-ranker's or
            # ApproximateRecommender's from the wrapped model's list, docs/contract.rst)
            against = count
        elif count is not None:
            # the runners-up of the pipeline's list, which excludes the raw history
            from ..pipeline import recommend

            against = runners_up(recommend(estimator, x, encoder.n_items_)[0][0], col, count,
                                 f"item {item_id!r}",
                                 "pass against as a list of raw item ids to compare it with")
        elif isinstance(against, (str, bytes)) or np.ndim(against) == 0:
            raise TypeError(f"against must be a number of items (an int) or a list of raw "
                            f"item ids, got {against!r}; a list even for one id.")
        else:
            against = encoder.get_item_indices(list(against))
        try:
            items, contributions = model.explain_contrast(_preprocess(estimator, x), col,
                                                          against)
        except ValueError as exc:
            # the model's own runners-up name the item by index and ask for indices
            text = str(exc)
            if not text.startswith(f"item {col} ") and f"follows item {col} " not in text:
                raise
            raise ValueError(text.replace(f"item {col} ", f"item {item_id!r} ").replace(
                AGAINST_INDICES_FIX,
                "pass against as a list of raw item ids to compare it with")) from None
    columns = {encoder.item_col: encoder.item_ids_[items % encoder.n_items_]}
    if getattr(encoder, "behaviors_", None) is not None:
        # multi-behaviour explanations name (behaviour, item) entries of the row
        columns[encoder.behavior_col] = np.asarray(encoder.behaviors_)[items // encoder.n_items_]
    columns["contribution"] = contributions
    return _table(columns, as_frame)
