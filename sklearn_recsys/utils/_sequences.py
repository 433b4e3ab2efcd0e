"""Users' rows read as item sequences: the order of each row's interactions from its values.

The sequential models take the usual ``(n_users, n_items)`` matrix whose
stored values are *order keys* (timestamps, or positions 1, 2, ...): a
larger value is a later interaction, and equal values are broken by the
larger item index counting as later, as in
:func:`~sklearn_recsys.model_selection.leave_last_out_split`. A pair stored
twice keeps its latest key.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from ._scoring_path import scoring_path

__all__ = ["as_order_keys", "dense_ranks", "latest_keys", "reads_order_keys", "row_sequences",
           "values_carry_no_order"]


def latest_keys(X):
    """``X`` with each duplicated (row, item) entry reduced to its largest order key.

    SciPy sums duplicates when it converts a COO matrix (or canonicalises a
    CSR one); for times that invents a later event than any in the log
    (10 + 25 = 35). A repeated interaction happened last at its latest time.

    Parameters
    ----------
    X : object
        Anything a model accepts; only COO, CSR and CSC matrices (the
        formats that can store duplicates) are changed.

    Returns
    -------
    X : object
        ``X`` itself when it holds no duplicate entry, else a COO matrix
        without duplicates.
    """
    if not sp.issparse(X) or X.format not in ("coo", "csr", "csc") or getattr(
            X, "has_canonical_format", False):
        return X
    summed = X.tocsr(copy=True)  # the cheap test: summing merges duplicates, if any
    summed.sum_duplicates()
    if summed.nnz == X.nnz:
        return X
    coo = X.tocoo()
    # sorted by pair, then value (not by row * n_cols + col, which overflows int64
    # from 2**63 cells)
    order = np.lexsort((coo.data, coo.col, coo.row))
    row, col, data = coo.row[order], coo.col[order], coo.data[order]
    # the largest value of each pair
    last = np.append((row[1:] != row[:-1]) | (col[1:] != col[:-1]), True)
    return sp.coo_matrix((data[last], (row[last], col[last])), shape=coo.shape)


def as_order_keys(X):
    """``X`` read as order keys: one key per pair, every comparison of the keys kept.

    A repeated (row, item) pair keeps its latest key (:func:`latest_keys`),
    and integer keys that float64 cannot hold exactly (above 2**53, such as
    int64 nanoseconds near 1.7e18, 256 apart in float64) become their ranks
    1, 2, ... over the whole matrix (0 stays 0: no interaction), which keep
    every comparison where the float conversion of the models would tie
    events less than 256 ns apart. Negative or non-finite keys of a sparse
    ``X`` are refused here, before a repeat could hide them (a dense ``X``
    has no repeats: its validation refuses them).

    Parameters
    ----------
    X : object
        Anything a model accepts.

    Returns
    -------
    X : object
        ``X`` itself, or a matrix of the same entries with those changes.
    """
    _warn_if_rounded(X)
    if sp.issparse(X):
        if X.format not in ("coo", "csr", "csc"):
            X = X.tocoo()  # dok, lil, dia, bsr: their stored entries are not .data
        bad = X.data[~np.isfinite(X.data) | (X.data < 0)] if X.dtype.kind in "fiu" else []
        if len(bad):
            raise ValueError(
                f"X holds {len(bad)} negative or non-finite order key(s) (e.g. {bad[0]:g}): "
                "each interaction needs a time or position >= 0 (0 is no interaction). "
                "Drop or fix those entries.")
        X = latest_keys(X)
        if X.dtype.kind in "iu" and X.nnz and X.data.max() > 2 ** 53:
            X = X.copy()
            X.data = _ranks_of_positive(X.data)
        return X
    values = np.asarray(X)
    if values.dtype.kind in "iu" and values.size and values.max() > 2 ** 53 \
            and values.min() >= 0:
        out = np.zeros(values.shape, dtype=np.float64)
        stored = values != 0
        out[stored] = _ranks_of_positive(values[stored])
        if hasattr(X, "columns") and hasattr(X, "index"):
            # a DataFrame stays one: its column names are checked against the fit's
            return type(X)(out, index=X.index, columns=X.columns)
        return out
    return X


def _warn_if_rounded(X):
    """UserWarning: keys in a float type too narrow for them were rounded before they came.

    float32 holds whole numbers exactly only up to 2**24: Unix times near
    8.8e8 s are 64 s apart there, so events within a minute tie and the
    latest item is chosen by column (audit 58c: 18,474 more tied pairs on
    MovieLens 100K, another last item for 156 of 943 users). Nothing can
    undo it here; the warning says to pass float64 or integer keys.
    """
    dtype = getattr(X, "dtype", None)
    if dtype is None or np.dtype(dtype).kind != "f" or np.dtype(dtype).itemsize >= 8:
        return
    data = X.data if sp.issparse(X) else np.asarray(X)
    finite = data[np.isfinite(data)] if data.size else data
    exact = 2.0 ** (np.finfo(dtype).nmant + 1)
    if finite.size and finite.max() > exact:
        top = float(finite.max())
        warnings.warn(
            f"The order keys come as {np.dtype(dtype).name}, which holds whole numbers exactly "
            f"only up to {exact:.0f}: near the largest key ({top:.6g}) they are "
            f"{float(np.spacing(np.asarray(top, dtype=dtype))):g} apart, so events closer "
            "than that tie and are ordered by column. Pass the timestamps as float64 or "
            "integers (InteractionEncoder.transform_timestamps gives float64).",
            UserWarning, stacklevel=4)


def dense_ranks(keys):
    """Dense ranks 1, 2, ... of ``keys`` as float64: every comparison kept, ties tied."""
    return np.unique(keys, return_inverse=True)[1].reshape(np.shape(keys)) + 1.0


def _ranks_of_positive(keys):
    """Dense ranks 1, 2, ... of the positive ``keys`` as float64; zeros stay 0."""
    out = np.zeros(keys.shape, dtype=np.float64)
    positive = keys > 0
    out[positive] = dense_ranks(keys[positive])
    return out


def reads_order_keys(estimator):
    """Whether a recommender reads its values as order keys: itself, or the model it
    scores through (a pipeline's last step, a re-ranker's or wrapper's ``estimator``)."""
    return any(getattr(model, "_values_are_order_keys", False)
               for model in scoring_path(estimator))


def row_sequences(X, length):
    """The ``length`` most recent items of each row, oldest first, left-padded.

    Parameters
    ----------
    X : csr_matrix of shape (n_users, n_items)
        Canonical CSR whose values are order keys.
    length : int
        Columns of the result; longer histories keep their most recent
        ``length`` items.

    Returns
    -------
    sequences : ndarray of shape (n_users, length), dtype int32
        ``item + 1`` (0 is padding), the most recent item in the last
        column; a row with fewer items is padded with 0 on the left.
    """
    n_rows = X.shape[0]
    out = np.zeros((n_rows, length), dtype=np.int32)
    if X.nnz == 0:
        return out
    row = np.repeat(np.arange(n_rows), np.diff(X.indptr))
    order = np.lexsort((X.indices, X.data, row))
    # position counted from the row's end: 0 is the most recent interaction
    from_end = X.indptr[row[order] + 1] - 1 - np.arange(X.nnz)
    keep = from_end < length
    out[row[order][keep], length - 1 - from_end[keep]] = X.indices[order][keep] + 1
    return out


def values_carry_no_order(X):
    """Whether every value of ``X`` is equal while some row holds two or more items.

    Then the rows' order is only the item index: most likely 0/1 data given
    to a model that reads the values as times.
    """
    if X.nnz == 0 or np.diff(X.indptr).max() < 2:
        return False
    return bool(X.data.min() == X.data.max())
