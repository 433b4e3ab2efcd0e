"""Validation of user-item interaction matrices at every public entry point."""

import contextlib
import threading
import warnings
from collections.abc import Iterable
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import (
    _check_feature_names,
    check_array,
    check_non_negative,
    validate_data,
)

from ._sequences import as_order_keys, reads_order_keys

__all__ = [
    "check_interactions",
    "check_interaction_matrix",
    "check_rows_to_score",
    "names_checked",
    "check_item_indices",
    "check_k",
    "check_rating_values",
    "threshold_in_precision",
    "is_empty_chunk",
]


def _canonical_csr(X):
    """CSR with sorted indices, no duplicates and no explicit zeros."""
    if not sp.issparse(X):
        return sp.csr_matrix(X)
    if not isinstance(X, sp.csr_matrix):
        X = sp.csr_matrix(X)
    if not X.has_canonical_format or (X.data == 0).any():
        X = X.copy()
        X.sum_duplicates()
        X.eliminate_zeros()
    return X


def _float_before_summing(X, dtype):
    """A sparse ``X`` of integers as floats, before any duplicate is summed.

    The conversion to CSR sums a COO matrix's repeated entries in its own
    dtype: 200 + 100 plays stored as uint8 would become 44, 256 as 0.
    Booleans sum as a logical or (a presence matrix stays 0/1): their
    duplicates are summed here, in bool, since a cast to float first would
    count a repeated ``True`` as 2.
    """
    if not sp.issparse(X):
        return X
    if X.dtype.kind in "iu":
        return X.astype(dtype[0])
    if X.dtype.kind == "b" and X.format in ("csr", "csc", "coo"):
        X = X.tocsr(copy=True)
        X.sum_duplicates()
    return X


def check_interaction_matrix(X, *, input_name="X", dtype=(np.float64, np.float32)):
    """Validate an interaction matrix outside an estimator (metrics, splitters).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Non-negative interactions; 0 means "no interaction".
    input_name : str, default="X"
        Name used in error messages.
    dtype : tuple of dtypes, default=(np.float64, np.float32)
        Accepted floating dtypes.

    Returns
    -------
    X : csr_matrix of shape (n_users, n_items)
        Canonical CSR.
    """
    sparse = sp.issparse(X)
    if sparse:
        # before duplicates are summed: -1 beside 1 would sum to an absent entry
        # (an item asked to be excluded silently kept), as in check_interactions
        check_non_negative(X, f"{input_name} (interaction matrix)")
    with _missing_values_explained(input_name):
        X = check_array(_float_before_summing(X, dtype), accept_sparse="csr",
                        dtype=list(dtype), input_name=input_name)
    if not sparse:  # a sum of non-negative entries is non-negative
        check_non_negative(X, f"{input_name} (interaction matrix)")
    return _canonical_csr(X)


def check_rows_to_score(estimator, X, *, order_keys=None):
    """Validated canonical CSR ``X`` of the users that ``estimator`` will score.

    For a recommender, a pipeline or a wrapper of one (scorers, the
    pipeline's ``recommend``, Dask serving): a pair stored twice keeps its
    latest key when the model reads its values as order keys (a sequential
    model), not the sum SciPy's conversion would make (10 + 25 = 35, a later
    time than any in the log), and integer keys keep their order (see
    :func:`~sklearn_recsys.utils._sequences.as_order_keys`); otherwise
    repeats are summed, as floats (``order_keys`` True or False decides it
    instead of the estimator). The column names of a DataFrame ``X`` are
    checked here against the fitted ones; score the CSR rows under
    :func:`names_checked`. A pipeline holding an ``InteractionEncoder`` is
    refused.
    """
    from ._scoring_path import served_estimator

    pipe = served_estimator(estimator)
    if hasattr(pipe, "steps"):
        # before X is read: scikit-learn's Pipeline fits one on a log, whose rows to
        # score would then fail in the encoder with a message about X's type
        from ..pipeline._pipeline import _refuse_log_encoder

        _refuse_log_encoder(pipe)
    _check_feature_names(_names_owner(estimator), X, reset=False)
    if order_keys is None:
        order_keys = reads_order_keys(estimator)
    return check_interaction_matrix(as_order_keys(X) if order_keys else X)


def pipeline_estimators(estimator):
    """The steps of a pipeline that are estimators (not None or ``"passthrough"``); [] else."""
    return [step for _, step in getattr(estimator, "steps", ())
            if step is not None and step != "passthrough"]


def _names_owner(estimator):
    """The estimator whose ``feature_names_in_`` the columns of ``X`` must match.

    A pipeline's first step that is not ``"passthrough"`` (scikit-learn's
    ``Pipeline.feature_names_in_`` reads the first step, whatever it is).
    """
    steps = pipeline_estimators(estimator)
    return steps[0] if steps else estimator


_NAMES_WARNING = "X does not have valid feature names"
_names_filter = {"users": 0, "entry": None}
_names_lock = threading.Lock()


@contextlib.contextmanager
def names_checked():
    """Silence "X does not have valid feature names" for rows already checked.

    :func:`check_rows_to_score` checks the column names of ``X`` once (the
    errors and warnings of scikit-learn: names that differ from fit's are
    an error) and returns CSR, which has none: without this, a model or
    pipeline fitted on a DataFrame would warn on every batch it scores.

    The filter is shared by the threads inside, added by the first and
    removed by the last: ``warnings.catch_warnings`` saves and restores the
    whole process's filters, so two threads scoring at once left it
    installed for good, hiding scikit-learn's warning everywhere (audit
    58a).
    """
    with _names_lock:
        if _names_filter["users"] == 0:
            present = list(warnings.filters)
            warnings.filterwarnings("ignore", message=_NAMES_WARNING, category=UserWarning)
            entry = warnings.filters[0]
            # the caller's own identical filter (moved to the front) is not ours to remove
            _names_filter["entry"] = None if entry in present else entry
        _names_filter["users"] += 1
    try:
        yield
    finally:
        with _names_lock:
            _names_filter["users"] -= 1
            entry = _names_filter["entry"]
            if _names_filter["users"] == 0 and entry is not None:
                _names_filter["entry"] = None
                if entry in warnings.filters:  # gone if the caller reset the filters
                    warnings.filters.remove(entry)
                    warnings._filters_mutated()


@contextlib.contextmanager
def _missing_values_explained(name):
    """ValueError saying what a NaN in an interaction matrix is and how to fix it.

    scikit-learn's message advises estimators that take missing values (for
    supervised learning); here a missing interaction is 0, and a NaN most
    often comes from a pandas pivot table's unrated cells.
    """
    try:
        yield
    except ValueError as exc:
        if "contains NaN" not in str(exc):
            raise
        raise ValueError(
            f"{name} contains NaN. In an interaction matrix 0 means no interaction, so a "
            "missing value (an unrated cell of a pivot table) is 0: fill it "
            f"({name}.fillna(0) for a DataFrame), or build the matrix from the log with "
            "InteractionEncoder.") from exc


def check_interactions(estimator, X, *, reset, dtype=(np.float64, np.float32)):
    """Validate an interaction matrix and return it as CSR (or dense) array.

    Wraps :func:`sklearn.utils.validation.validate_data` so that every model
    reports the same, actionable errors: wrong dimensionality, NaN or infinite
    values, negative values and a number of items that differs from ``fit``.

    Parameters
    ----------
    estimator : estimator instance
        The estimator doing the validation; ``n_features_in_`` is set on it
        when ``reset=True`` and compared against otherwise.
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions; 0 means "no interaction".
    reset : bool
        True in ``fit`` only.
    dtype : tuple of dtypes, default=(np.float64, np.float32)
        Accepted floating dtypes; other dtypes are converted to the first.

    Returns
    -------
    X : sparse matrix of shape (n_users, n_items), CSR format
        Canonical CSR (sorted indices, no duplicates, explicit zeros removed).
    """
    _reject_interaction_log(estimator, X)
    if getattr(estimator, "_values_are_order_keys", False):
        # before validate_data's conversion sums duplicated times or rounds
        # integer ones to float64
        X = as_order_keys(X)
    name = type(estimator).__name__
    checked = sp.issparse(X)
    if checked:
        # before duplicates are summed: a COO entry of -1 beside one of 3 was accepted
        # (summed to 2) where the same entries as CSR were refused
        check_non_negative(X, f"{name}.fit" if reset else name)
    X = _float_before_summing(X, dtype)
    try:
        with _missing_values_explained("X"):
            X = validate_data(
                estimator,
                X,
                reset=reset,
                accept_sparse="csr",
                dtype=list(dtype),
                ensure_min_samples=1,
            )
    except ValueError as exc:
        msg = str(exc)
        if not reset and "features, but" in msg:
            raise ValueError(
                f"{msg} Each column of X is an item: pass rows with the same "
                "items, in the same column order, as the matrix given to fit "
                "(map new data through the fitted InteractionEncoder, or refit "
                "the model on the enlarged catalogue)."
            ) from exc
        raise
    if not checked:  # dense input, or a log converted above
        check_non_negative(X, f"{name}.fit" if reset else name)
    X = _canonical_csr(X)
    if reset and X.nnz == 0:
        raise ValueError(
            f"{name}.fit got an X of shape {X.shape} without any interaction (every value "
            "is 0): there is nothing to learn from. Check that the matrix was built from "
            "the right log (InteractionEncoder) and is not a test split's empty part.")
    return X


def check_rating_values(estimator, X):
    """Refuse ratings with a single distinct value: a rating model then predicts a constant.

    0/1 (implicit) data given to a model of explicit ratings makes every
    prediction equal, so every ranking would be catalogue order.

    Parameters
    ----------
    estimator : estimator instance
        The rating model, named in the error.
    X : csr_matrix
        Validated training ratings.
    """
    if X.nnz and X.data.min() == X.data.max():
        feedback = (" or set feedback='implicit'" if "feedback" in estimator.get_params()
                    else "")
        raise ValueError(
            f"{type(estimator).__name__} models explicit ratings, but every value of X is "
            f"{X.data[0]:g}: a single value leaves nothing to predict, and every item would "
            "score the same. For implicit feedback (clicks, plays, 0/1) use ImplicitALS, "
            f"BPR, EASE or MultVAE{feedback}; for ratings, pass the rating values.")


def is_missing(value):
    """Whether ``value`` is a missing scalar: None, a NaN of any float type, or pandas' NA.

    Strings and collections are never missing (their elements may be).
    """
    if value is None or type(value).__name__ == "NAType":  # NA's comparisons have no truth
        return True
    if isinstance(value, (str, bytes)) or (isinstance(value, Iterable) and np.ndim(value)):
        return False  # a 0-d array is a scalar (np.array(np.nan) is missing)
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # comparisons without a truth value: nothing to read
        return True


def rating_range(X):
    """``(smallest, largest)`` stored value of ``X``, ``(0.0, 0.0)`` when it stores none.

    Rating models clip predictions to it. It is read from every rating
    given to ``fit``, validation hold-outs included: a rating scale does not
    shrink because early stopping held its only 5 out.
    """
    return (float(X.data.min()), float(X.data.max())) if X.nnz else (0.0, 0.0)


# column names of interaction logs (MovieLens, Last.fm, the encoder's examples)
_LOG_COLUMNS = {"user", "userid", "user_id", "item", "itemid", "item_id", "movie", "movieid",
                "movie_id", "artist", "artistid", "artist_id", "rating", "timestamp", "time",
                "weight", "count", "event", "behavior", "behaviour", "session"}
_LOG_FIX = ("Build the matrix from the log with sklearn_recsys.preprocessing.InteractionEncoder "
            "(X = InteractionEncoder().fit_transform((log['user'], log['item'], "
            "log['rating'])) for a DataFrame `log`), then pass X.")


def _reject_interaction_log(estimator, X):
    """Refuse an interaction log (one row per event) given where a user-item matrix is due.

    A numeric log would otherwise train as an (n_events, n_columns) matrix
    without a word, and a log with string ids fail inside NumPy.
    """
    if sp.issparse(X) or not hasattr(X, "shape") or len(getattr(X, "shape", ())) != 2:
        return
    name = type(estimator).__name__
    columns = getattr(X, "columns", None)
    if columns is not None:
        names = {str(c).strip().lower().replace(" ", "_") for c in columns}
        # two log-like names (a user and an item column, ...): one alone may
        # be an item called "time" in a crosstab
        if len(names & _LOG_COLUMNS) >= 2:
            raise ValueError(
                f"{name} got a DataFrame with columns {list(columns)[:6]}: an interaction log "
                "(one row per event), not a user-item matrix (one row per user, one column per "
                f"item). {_LOG_FIX}")
    dtypes = getattr(X, "dtypes", None)
    kinds = {d.kind for d in dtypes} if dtypes is not None else {np.asarray(X).dtype.kind}
    strings = bool(kinds & {"U", "S"})
    if "O" in kinds and not strings:
        try:  # numbers stored as objects are a matrix; strings are ids
            np.asarray(X, dtype=np.float64)
        except ValueError:
            strings = True
        except TypeError:
            pass  # not numbers nor strings: validate_data's own error
    if strings:
        raise ValueError(
            f"{name} got non-numeric values (ids such as 'u1'?): a user-item matrix holds "
            f"numbers, one row per user and one column per item. {_LOG_FIX}")
    n_rows, n_cols = X.shape
    if 2 <= n_cols <= 4 and n_rows >= 1000:
        values = np.asarray(X, dtype=np.float64)
        ids = values[:, :2]
        if (np.all(ids == np.round(ids)) and ids.max() > n_cols
                and np.all(values.max(axis=0) > 0)):
            # a matrix of >= 1000 users and <= 4 items is possible (counts of
            # a tiny catalogue), so only a warning: ids are the likelier reading
            warnings.warn(
                f"{name} got a {n_rows} x {n_cols} matrix whose first columns hold whole "
                f"numbers up to {int(ids.max())}: it looks like an interaction log (user id, "
                f"item id, ...) rather than a matrix of {n_cols} items. If it is one: "
                f"{_LOG_FIX}", UserWarning)


def check_item_indices(items, n_items, *, name="items"):
    """Validate an array of item column indices against the catalogue size.

    Parameters
    ----------
    items : array-like of int
        Item indices.
    n_items : int
        Number of items seen in ``fit``.
    name : str, default="items"
        Name of the argument, used in error messages.

    Returns
    -------
    items : ndarray of shape (n_selected,), dtype int64
    """
    items = np.asarray(items)
    if items.ndim == 0:
        items = items.reshape(1)
    if items.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of item indices, got an array of "
            f"shape {items.shape}."
        )
    if items.size and not np.issubdtype(items.dtype, np.integer):
        raise TypeError(
            f"{name} must hold integer item (column) indices, got dtype "
            f"{items.dtype}. Map raw item ids to columns with InteractionEncoder."
        )
    items = items.astype(np.int64, copy=False)
    if items.size and (items.min() < 0 or items.max() >= n_items):
        raise ValueError(
            f"{name} must be column indices in [0, {n_items}), got values from "
            f"{items.min()} to {items.max()}."
        )
    return items


def check_row_data(row_data, n_rows):
    """Raise unless every non-None value of ``row_data`` has ``n_rows`` rows (one per user)."""
    for name, value in row_data.items():
        if value is None:
            continue
        # a sparse matrix has no len(): its rows are shape[0]
        n_value = value.shape[0] if hasattr(value, "shape") else len(value)
        if n_value != n_rows:
            raise ValueError(
                f"{name} has {n_value} rows but X has {n_rows}: pass one row per user "
                "(row of X).")


def check_column_order(value, name):
    """Refuse a pandas object of per-item data whose index is not its row positions.

    Per-item data (ConvMF's ``documents``, HybridMF's ``item_features``, the
    metrics' ``categories`` and ``item_popularity``) is read by position,
    one row per column of ``X``;
    its index would be ignored, and a table indexed by raw item id (in
    another order than an encoder's sorted columns) would give items each
    other's data without a word.
    """
    index = getattr(value, "index", None)
    if index is None or not hasattr(value, "iloc"):
        return
    positions = np.asarray(index)
    if positions.dtype.kind in "iu" and np.array_equal(positions, np.arange(len(index))):
        return
    raise ValueError(
        f"{name} is a pandas {type(value).__name__} whose index is not its row positions "
        f"(e.g. {list(index[:3])}): it is read by position, one row per item (column of X), "
        "and the index would be ignored. Align it with X's columns (e.g. "
        f"{name}.reindex(encoder.item_ids_)) and pass its values ({name}.to_numpy()), or "
        "reset its index if its rows are in column order already.")


def check_row_order(value, name):
    """Refuse a pandas object of per-user row data indexed by labels that are not positions.

    Row data (HybridMF's ``user_features``) is read by position, one row per
    row of ``X``. An index of user ids (strings, say, as
    ``encoder.recommend`` takes) would be ignored, and a table in another
    order than the encoder's rows would give users each other's features
    without a word. An integer index is accepted: it is the positions, or a
    subset of them (model selection slices row data with the users and keeps
    their index).
    """
    index = getattr(value, "index", None)
    if index is None or not hasattr(value, "iloc"):
        return
    if np.asarray(index).dtype.kind in "iu":
        return
    raise ValueError(
        f"{name} is a pandas {type(value).__name__} indexed by {index.dtype} labels "
        f"(e.g. {list(index[:3])}), but it is read by position, one row per row of X: the "
        "index would be ignored. Put its rows in X's order, indexed by position, e.g. "
        f"{name}.loc[encoder.get_user_ids(log)].reset_index(drop=True) for "
        "X = encoder.transform(log) (encoder.recommend(model, log, user_features=table) "
        "joins them by id itself).")


def is_empty_chunk(estimator, X):
    """Whether ``X`` holds no row, a chunk that ``partial_fit`` passes over.

    A Dask array filtered by rows has empty blocks, which dask-ml's
    ``Incremental`` hands to ``partial_fit`` like the others: an epoch of no
    users changes nothing. After a fit its number of columns is checked still.
    """
    shape = getattr(X, "shape", None)
    n_rows = shape[0] if shape is not None and len(shape) else (
        len(X) if hasattr(X, "__len__") else None)
    if n_rows != 0:
        return False
    fitted = getattr(estimator, "n_features_in_", None)
    if fitted is not None and shape is not None and len(shape) == 2 and shape[1] != fitted:
        raise ValueError(
            f"X has {shape[1]} columns, but {type(estimator).__name__} was fitted on {fitted}: "
            "every chunk of partial_fit must have the same columns (an empty one too).")
    return True


def threshold_in_precision(threshold, dtype):
    """``threshold`` in the precision of float data of ``dtype``, to compare with it.

    A float32 rating of 0.7 is 0.69999999: below a NumPy float64 0.7 but equal
    to a Python float 0.7 (NumPy compares that one in float32), so the same
    threshold would count the rating or not depending on its scalar type.
    """
    if np.dtype(dtype).kind == "f":
        return np.dtype(dtype).type(threshold)
    return threshold


def check_k(k):
    """Validate a cutoff ``k`` (items per user): a positive integer, bools refused.

    Parameters
    ----------
    k : int
        Number of items per user.

    Returns
    -------
    k : int
    """
    if isinstance(k, bool) or not isinstance(k, (Integral, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer (items per user), got {k!r}.")
    return int(k)


def check_exclude_seen(exclude_seen):
    """Validate the ``exclude_seen`` flag: a bool, since any other value would be read as truthy.

    Parameters
    ----------
    exclude_seen : bool

    Returns
    -------
    exclude_seen : bool
    """
    if not isinstance(exclude_seen, (bool, np.bool_)):
        raise TypeError(f"exclude_seen must be True or False, got {exclude_seen!r}.")
    return bool(exclude_seen)


def check_item_names(estimator, matrix, name):
    """ValueError if DataFrame ``matrix`` names its item columns otherwise than ``X`` in fit.

    A scorer's held-out ``y`` and ``recommend``'s ``exclude`` have the model's
    items as columns (a multi-behaviour model's target block); read by position,
    the same items in another order would be other items, silently. Checked as
    scikit-learn checks ``X``: where both have string column names.
    """
    columns = getattr(matrix, "columns", None)
    fitted = getattr(estimator, "feature_names_in_", None)
    if columns is None or fitted is None:
        return
    from ._behaviors import behavior_layout

    layout = behavior_layout(estimator)
    if layout is not None:
        n_items, target = layout
        fitted = fitted[target * n_items:(target + 1) * n_items]
    columns = np.asarray(list(columns), dtype=object)
    if len(columns) != len(fitted) or not all(isinstance(c, str) for c in columns):
        return  # the shape check says what is wrong; unnamed columns are read by position
    differ = np.flatnonzero(columns != np.asarray(fitted, dtype=object))
    if differ.size:
        i = differ[0]
        raise ValueError(
            f"The columns of {name} are not the items of X in fit, in their order: column "
            f"{i} is {columns[i]!r}, item {i} was {fitted[i]!r}. Pass {name} with those "
            f"columns ({name}[model.feature_names_in_]"
            + (", the target block's" if layout is not None else "")
            + "), or as an array read by position.")


def check_exclude(exclude, n_users, n_items, estimator=None):
    """Validate the ``exclude`` matrix of ``recommend``: the items never to return per user.

    Parameters
    ----------
    exclude : {array-like, sparse matrix} of shape (n_users, n_items) or None
        Non-zeros mark excluded items.
    n_users, n_items : int
        The shape it must have (the users scored, the model's items).
    estimator : estimator, default=None
        The model that recommends: a DataFrame's column names are checked
        against its ``feature_names_in_`` (:func:`check_item_names`).

    Returns
    -------
    exclude : csr_matrix or None
    """
    if exclude is None:
        return None
    if estimator is not None:
        check_item_names(estimator, exclude, "exclude")
    exclude = check_interaction_matrix(exclude, input_name="exclude")
    if exclude.shape != (n_users, n_items):
        raise ValueError(
            f"exclude has shape {exclude.shape} but recommend scores {n_users} users over "
            f"{n_items} items: pass one row per user of X, with the model's item columns.")
    return exclude
