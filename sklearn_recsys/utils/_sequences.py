"""Users' rows read as item sequences: the order of each row's interactions from its values.

The sequential models take the usual ``(n_users, n_items)`` matrix whose
stored values are *order keys* (timestamps, or positions 1, 2, ...): a
larger value is a later interaction, and equal values are broken by the
larger item index counting as later, as in
:func:`~sklearn_recsys.model_selection.leave_last_out_split`. A pair stored
twice keeps its latest key.
"""

import numpy as np
import scipy.sparse as sp

from ._scoring_path import scoring_path

__all__ = ["latest_keys", "reads_order_keys", "row_sequences", "values_carry_no_order"]


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
    n_rows, n_cols = coo.shape
    key = coo.row.astype(np.int64) * n_cols + coo.col
    order = np.lexsort((coo.data, key))
    key, data = key[order], coo.data[order]
    last = np.append(key[1:] != key[:-1], True)  # the largest value of each key
    key, data = key[last], data[last]
    return sp.coo_matrix((data, (key // n_cols, key % n_cols)), shape=(n_rows, n_cols))


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
