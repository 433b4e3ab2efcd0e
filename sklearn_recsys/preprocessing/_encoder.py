"""Raw interaction logs (user id, item id, value, timestamp) to a CSR matrix and back."""

import warnings
from collections.abc import Mapping
from numbers import Number

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Options, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..utils._behaviors import check_behaviors

__all__ = ["InteractionEncoder"]


class InteractionEncoder(TransformerMixin, BaseEstimator):
    """Encode raw interaction logs as a user-item matrix, and recommendations back to raw ids.

    ``fit`` learns the catalogue: the distinct user ids and item ids of a log
    of interactions, each sorted (as :class:`~sklearn.preprocessing.OrdinalEncoder`
    sorts categories). ``transform`` turns any log into a CSR matrix of shape
    ``(n_users, n_items)`` whose row ``r`` is the user ``get_user_ids(X)[r]``
    and whose column ``j`` is the item ``item_ids_[j]``. Rows ``0 ..
    n_users_ - 1`` are always the users seen in ``fit``, in the same order,
    so a later log (a test period, new events) gives a matrix aligned with
    the training matrix row by row; users not seen in ``fit`` get new rows
    after them (fold-in: every model scores them from their row). A new user
    gets a row even when none of their items is known (an empty row, which
    the models treat as a user without history), so the rows of
    ``transform(X)`` and the ids of ``get_user_ids(X)`` always agree.

    A log is given as a pandas DataFrame (columns picked by name), a mapping
    of column name to 1-D array (a ``dict``; pandas is not needed), or a
    tuple of 1-D arrays ``(users, items[, values[, timestamps]])`` whose
    positions give their meaning (values and timestamps are used whenever
    the tuple has them; the ``*_col`` names apply to DataFrames and
    mappings). A tuple is always read as columns. A list is refused: a list
    of ``(user, item)`` records and a list of columns look alike, so pass
    records as ``pd.DataFrame(records, columns=[...])`` or as the columns
    ``tuple(zip(*records))``.

    Ids are compared as they are: every user id must have one type, and so
    must every item id (all strings or all numbers; ``1`` and ``"1"`` are
    neither merged nor silently split: a log mixing them is refused, as by
    :class:`~sklearn.preprocessing.OneHotEncoder`; nor are ``True`` and
    ``1``), and a log given to ``transform`` must use the types seen in
    ``fit``: numbers of another dtype are read in the fitted one (``2.0`` is
    user ``2`` of integer ids, labelled ``2``), and refused where it cannot
    hold them exactly (``2.5``, or ``2**63`` for int64 ids). A missing id (NaN,
    None, NaT, ``pd.NA``) is an error, not a user: drop those interactions
    first. Missing or infinite values and timestamps are errors too.

    Parameters
    ----------
    user_col : str, default="user_id"
        Column (DataFrame or mapping key) holding the user ids.
    item_col : str, default="item_id"
        Column holding the item ids.
    value_col : str or None, default=None
        Column holding the value of each interaction (rating, play count,
        confidence). None: every logged interaction counts 1 (implicit
        feedback), so repeated events are counted. Values must
        be finite and non-negative; pairs whose combined value is 0 are no
        interaction and are left out of the matrix.
    timestamp_col : str or None, default=None
        Column holding the time of each interaction (numbers or
        ``datetime64``; datetimes become seconds since the epoch, time-zone
        aware pandas columns in UTC). Used by ``duplicates="last"`` and
        returned by :meth:`transform_timestamps`. Any finite number is a
        time, 0 included. Times are held as float64 seconds (datetimes to
        the microsecond): distinct times that would become equal (integer
        nanoseconds, datetimes finer than a microsecond) raise ``ValueError``.
    duplicates : {"auto", "sum", "last", "max"}, default="auto"
        How repeated (user, item) pairs are combined into one value: their
        sum (play counts), the latest one (by timestamp when
        ``timestamp_col`` is set, else the last in log order; re-rated
        items), or the largest one. "auto" sums them too, and warns when
        the values of a ``value_col`` are summed (ratings would leave their
        scale); without ``value_col`` it counts the events. The timestamp of
        a combined pair is always the latest one.
    handle_unknown : {"warn", "error", "ignore"}, default="warn"
        Items not seen in ``fit`` found by ``transform``: dropped with a
        warning that counts them, an error, or dropped silently. The model's
        catalogue is fixed at ``fit``; refit to add items.
    dtype : {np.float64, np.float32}, default=np.float64
        Dtype of the values of the matrix.
    behavior_col : str or None, default=None
        Column holding the behaviour of each interaction (``"view"``,
        ``"cart"``, ``"buy"``...), for multi-behaviour models (see
        :ref:`multi-behavior`). The matrix then stacks one ``(n_users,
        n_items)`` block per behaviour, in the order of ``behaviors_``: its
        column ``b * n_items_ + j`` is item ``j`` in behaviour ``b``. Needs a
        DataFrame or mapping log.
    behaviors : sequence of str or None, default=None
        Order of the behaviour blocks (e.g. ``("view", "cart", "buy")``);
        None sorts the behaviours found in ``fit``. A behaviour absent from
        the fitted log still gets its (empty) block; a log holding a
        behaviour not listed is an error.

    Attributes
    ----------
    user_ids_ : ndarray of shape (n_fitted_users,)
        Raw user ids seen in ``fit``, sorted; row ``r`` is ``user_ids_[r]``.
    item_ids_ : ndarray of shape (n_fitted_items,)
        Raw item ids seen in ``fit``, sorted; column ``j`` is ``item_ids_[j]``.
    n_users_ : int
        Number of users seen in ``fit``.
    n_items_ : int
        Number of items (columns of every matrix this encoder makes, per
        behaviour block).
    behaviors_ : tuple of str
        The behaviour of each column block, with ``behavior_col`` set; else
        not set.

    See Also
    --------
    sklearn_recsys.model_selection.leave_last_out_split : Uses the timestamp
        matrix of :meth:`transform_timestamps`.

    Examples
    --------
    >>> from sklearn_recsys.preprocessing import InteractionEncoder
    >>> log = {"user_id": ["ann", "bob", "ann", "ann"],
    ...        "item_id": ["tea", "tea", "jam", "tea"]}
    >>> enc = InteractionEncoder()
    >>> X = enc.fit_transform(log)
    >>> X.toarray()
    array([[1., 2.],
           [0., 1.]])
    >>> enc.item_ids_
    array(['jam', 'tea'], dtype='<U3')
    >>> enc.inverse_transform([[1, 0], [0, -1]])
    array([['tea', 'jam'],
           ['jam', None]], dtype=object)
    """

    _parameter_constraints: dict = {
        "user_col": [str],
        "item_col": [str],
        "value_col": [str, None],
        "timestamp_col": [str, None],
        "duplicates": [StrOptions({"auto", "sum", "last", "max"})],
        "handle_unknown": [StrOptions({"warn", "error", "ignore"})],
        # an integer dtype would truncate values (0.5 to a stored zero) without a word
        "dtype": [Options(type, {np.float32, np.float64, float})],
        "behavior_col": [str, None],
        "behaviors": ["array-like", None],
    }

    def __init__(
        self,
        *,
        user_col="user_id",
        item_col="item_id",
        value_col=None,
        timestamp_col=None,
        duplicates="auto",
        handle_unknown="warn",
        dtype=np.float64,
        behavior_col=None,
        behaviors=None,
    ):
        self.behavior_col = behavior_col
        self.behaviors = behaviors
        self.user_col = user_col
        self.item_col = item_col
        self.value_col = value_col
        self.timestamp_col = timestamp_col
        self.duplicates = duplicates
        self.handle_unknown = handle_unknown
        self.dtype = dtype

    # -- reading logs ---------------------------------------------------

    def _columns(self, X, ids_only=False):
        """Return (users, items, values or None, timestamps or None) as checked 1-D arrays
        (``ids_only``: the user and item columns only, for a log of pairs to exclude)."""
        wanted = [self.user_col, self.item_col,
                  *([None, None] if ids_only else [self.value_col, self.timestamp_col])]
        if hasattr(X, "columns") or isinstance(X, Mapping):
            available = list(X.columns) if hasattr(X, "columns") else list(X.keys())
            missing = [c for c in wanted if c is not None and c not in available]
            if missing:
                raise KeyError(
                    f"Column(s) {missing} not found in the log; it has {available}. "
                    "Name the columns with user_col, item_col, value_col and "
                    "timestamp_col."
                )
            raw = [None if c is None else _naive_utc(X[c]) for c in wanted]
        elif isinstance(X, tuple) and 2 <= len(X) <= 4:
            raw = list(X) + [None] * (4 - len(X))
            raw[3] = None if raw[3] is None else _naive_utc(raw[3])  # as a DataFrame's
            if ids_only:
                raw[2:] = [None, None]
            elif raw[2] is None and self.value_col is not None:
                raise ValueError(
                    "value_col is set but the log tuple has no values: pass "
                    "(users, items, values[, timestamps])."
                )
            if not ids_only and raw[3] is None and self.timestamp_col is not None:
                raise ValueError(
                    "timestamp_col is set but the log tuple has no timestamps: "
                    "pass (users, items, values, timestamps)."
                )
        else:
            raise TypeError(_not_a_log_message(X))
        cols = [_as_ids(raw[0]), _as_ids(raw[1])]
        cols += [None if c is None else np.asarray(c) for c in raw[2:]]
        n = len(cols[0]) if cols[0].ndim else 0
        for name, col in zip(["users", "items", "values", "timestamps"], cols):
            if col is not None and (col.ndim != 1 or len(col) != n):
                raise ValueError(
                    f"Every column of the log must be 1-D with one entry per "
                    f"interaction: {name} has shape {col.shape}, users has "
                    f"{cols[0].shape}."
                )
        users, items, values, times = cols
        _check_no_missing(users, "user", self.user_col)
        _check_no_missing(items, "item", self.item_col)
        if values is not None:
            values = _as_float(values, "values")
            if values.size and values.min() < 0:
                raise ValueError(
                    "Negative values in the log's value column: interaction "
                    "values must be >= 0 (0 = no interaction). Shift or clip "
                    "them before encoding."
                )
        if times is not None:
            times = _timestamps_as_float(times)
        return users, items, values, times

    def _checked_columns(self, X, ids_only=False):
        """``_columns`` of a log to encode with the fitted ids: id types must match fit's."""
        check_is_fitted(self)
        users, items, values, times = self._columns(X, ids_only)
        checked = []
        for kind, ids, fitted, col in [("user", users, self.user_ids_, self.user_col),
                                       ("item", items, self.item_ids_, self.item_col)]:
            family = _id_family(ids, kind, col)
            # fit made every id one type: the first one tells it (no loop over all)
            fitted_family = _id_family(fitted[:1], kind, col)
            if None not in (family, fitted_family) and family != fitted_family:
                # numpy compares 1 with "1" as "not equal" without a word, so a
                # log of string ids against integer-fitted ids would make every
                # user new (and every item unknown) instead of matching them
                raise TypeError(
                    f"The log's {kind} ids are {family} ids but the encoder was "
                    f"fitted on {fitted_family} ids ({fitted[:3].tolist()}...): "
                    f"no {kind} could match. Convert the ids to the type used "
                    f"in fit (e.g. df[{col!r}].astype(str) or .astype(int))."
                )
            checked.append(_as_fitted_numbers(ids, fitted, kind, col)
                           if family == "number" else ids)
        users, items = checked
        return users, items, values, times

    # -- fitting --------------------------------------------------------

    def fit(self, X, y=None):
        """Learn the user and item ids of a log.

        Parameters
        ----------
        X : DataFrame, mapping of str to array, or tuple of arrays
            The log: one entry per interaction.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted encoder.
        """
        self._validate_params()
        users, items, _, _ = self._columns(X)
        if len(users) == 0:
            raise ValueError(
                "The log is empty: fit needs at least one interaction to learn "
                "the users and items."
            )
        _id_family(users, "user", self.user_col)  # mixed types raise here
        _id_family(items, "item", self.item_col)
        self.user_ids_ = _unique(users, "user")
        self.item_ids_ = _unique(items, "item")
        self.n_users_ = len(self.user_ids_)
        self.n_items_ = len(self.item_ids_)
        if self.behavior_col is not None:
            found = np.unique(self._behavior_column(X).astype(str))
            if self.behaviors is None:
                self.behaviors_ = tuple(found.tolist())
            else:
                self.behaviors_ = check_behaviors(self.behaviors, None)[0]
                self._behavior_codes(X)  # a behaviour not listed raises here
        elif self.behaviors is not None:
            raise ValueError("behaviors is set but behavior_col is None: name the log's "
                             "behaviour column with behavior_col=...")
        else:
            vars(self).pop("behaviors_", None)  # a refit without behaviours keeps none
        return self

    # -- behaviours -----------------------------------------------------

    def _fitted_with_behaviors(self):
        """Whether fit stacked behaviour blocks; ValueError if ``behavior_col`` says otherwise.

        The columns are fit's: with ``behavior_col`` set (or unset) after a fit, the log
        would be read in a layout the fitted blocks do not have.
        """
        fitted = hasattr(self, "behaviors_")
        if fitted != (self.behavior_col is not None):
            raise ValueError(
                f"behavior_col is {self.behavior_col!r}, but this InteractionEncoder was "
                f"fitted {'with' if fitted else 'without'} a behaviour column: its columns "
                "are that fit's. Set behavior_col back, or fit again.")
        return fitted

    def _n_columns(self):
        return self.n_items_ * (len(self.behaviors_) if self._fitted_with_behaviors() else 1)

    def _behavior_column(self, X):
        if not (hasattr(X, "columns") or isinstance(X, Mapping)):
            raise TypeError("behavior_col needs a log with named columns (a DataFrame or a "
                            f"mapping of column name to array), got {type(X).__name__}.")
        available = list(X.columns) if hasattr(X, "columns") else list(X.keys())
        if self.behavior_col not in available:
            raise KeyError(f"Column {self.behavior_col!r} (behavior_col) not found in the "
                           f"log; it has {available}.")
        column = np.asarray(X[self.behavior_col])
        _check_no_missing(column, "behaviour", self.behavior_col)
        return column

    def _behavior_codes(self, X):
        """Block index of each interaction of the log (None without ``behavior_col``)."""
        if not self._fitted_with_behaviors():
            return None
        column = self._behavior_column(X).astype(str)
        names = np.asarray(self.behaviors_)
        order = np.argsort(names)
        pos = np.minimum(np.searchsorted(names[order], column), len(names) - 1)
        known = names[order][pos] == column
        if not known.all():
            raise ValueError(
                f"The log has behaviour(s) {np.unique(column[~known])[:5].tolist()} that are "
                f"not among the encoder's behaviors_ {self.behaviors_!r}: list every "
                "behaviour in behaviors=..., or drop those interactions.")
        return order[pos].astype(np.int64)

    def fit_transform(self, X, y=None):
        """Learn the ids of a log and encode it.

        Parameters
        ----------
        X : DataFrame, mapping of str to array, or tuple of arrays
            The log.
        y : None
            Ignored.

        Returns
        -------
        X_new : csr_matrix of shape (n_fitted_users, n_fitted_items)
            Combined interaction values.
        """
        return self.fit(X).transform(X)

    # -- encoding -------------------------------------------------------

    def _encode(self, X, wanted=None, values_read=True):
        """Rows, columns, values and timestamps of the combined (user, item) pairs.

        With ``wanted`` (sorted rows holding every row of the log's users),
        the rows are positions in ``wanted``, and ``n_rows`` is its length.
        """
        users, items, values, times = self._checked_columns(X)
        # rows come from every user of the log, before unknown items are
        # dropped: a new user whose items are all unknown keeps an (empty) row,
        # so that the rows always line up with get_user_ids(X)
        rows, new_ids = self._user_rows(users)
        cols, known = _lookup(self.item_ids_, items)
        codes = self._behavior_codes(X)
        if codes is not None:
            cols = cols + codes * self.n_items_
        if not known.all():
            n_unknown = int((~known).sum())
            examples = np.unique(items[~known])[:5].tolist()
            msg = (
                f"{n_unknown} interaction(s) with item ids not seen in fit "
                f"(e.g. {examples}); the model's items are fixed at fit."
            )
            if self.handle_unknown == "error":
                raise ValueError(msg + " Refit on a log that includes them, or "
                                 "set handle_unknown='warn' to drop them.")
            if self.handle_unknown == "warn":
                kept_new = np.unique(rows[known][rows[known] >= self.n_users_])
                n_empty = len(new_ids) - len(kept_new)
                msg += " They are dropped"
                if n_empty:
                    msg += (f"; {n_empty} new user(s) with only unknown items keep "
                            "an empty row")
                warnings.warn(msg + ".", UserWarning, stacklevel=3)
            rows, cols = rows[known], cols[known]
            values = None if values is None else values[known]
            times = None if times is None else times[known]
        n_rows = self.n_users_ + len(new_ids)
        if wanted is not None:
            n_rows, rows = len(wanted), np.searchsorted(wanted, rows)
        # the timestamps' matrix reads no values: nothing summed to warn of
        ask = self.duplicates == "auto" and values is not None and values_read
        if values is None:
            values = np.ones(len(rows))
        duplicates = "sum" if self.duplicates == "auto" else self.duplicates
        if duplicates == "sum" and times is None:
            # scipy's COO -> CSR conversion sums repeated pairs in linear time
            M = sp.coo_matrix((values, (rows, cols)), shape=(n_rows, self._n_columns())).tocsr()
            if ask:
                self._warn_summed_values(len(rows) - M.nnz)
            M.eliminate_zeros()
            rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(M.indptr))
            return n_rows, new_ids, rows, M.indices.astype(np.int64), M.data, None
        # group by pair with one int64 key; within a pair, entries stay in time
        # order (stable sorts keep log order for equal times), so "last" is
        # each group's end
        key = rows * np.int64(self._n_columns()) + cols
        if times is not None and duplicates == "last":
            order = np.lexsort((times, key))
        else:
            order = np.argsort(key, kind="stable")
        rows, cols, values = rows[order], cols[order], values[order]
        times = None if times is None else times[order]
        starts = np.flatnonzero(
            np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])]
        ) if len(rows) else np.zeros(0, dtype=np.intp)
        ends = np.r_[starts[1:], len(rows)] - 1
        if ask:
            self._warn_summed_values(len(rows) - len(starts))
        if len(rows):
            if duplicates == "sum":
                values = np.add.reduceat(values, starts)
            elif duplicates == "max":
                values = np.maximum.reduceat(values, starts)
            else:
                values = values[ends]
            if times is not None:
                times = np.maximum.reduceat(times, starts)
        rows, cols = rows[starts], cols[starts]
        keep = values != 0
        rows, cols, values = rows[keep], cols[keep], values[keep]
        times = None if times is None else times[keep]
        return n_rows, new_ids, rows, cols, values, times

    def _warn_summed_values(self, n_repeated):
        """UserWarning: values of ``value_col`` summed by default over repeated pairs."""
        if n_repeated:
            values = "values" if self.value_col is None else f"{self.value_col!r} values"
            warnings.warn(
                f"{n_repeated} repeated (user, item) pair(s) of the log: their {values} "
                "were summed (duplicates='auto'), right for counts but not for ratings (an "
                "item rated twice would get 10 stars). Set duplicates='last' (re-ratings; "
                "by timestamp_col when set), 'max', or 'sum' to say which.",
                UserWarning, stacklevel=4)

    def _matrix(self, n_rows, rows, cols, data, dtype):
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        return sp.csr_matrix(
            (np.asarray(data, dtype=dtype), cols.astype(np.int64), indptr),
            shape=(n_rows, self._n_columns()),
        )

    def transform(self, X):
        """Encode a log as a user-item matrix aligned with the fitted users and items.

        Parameters
        ----------
        X : DataFrame, mapping of str to array, or tuple of arrays
            The log.

        Returns
        -------
        X_new : csr_matrix of shape (n_fitted_users + n_new_users, n_fitted_items)
            Row ``r`` is user ``get_user_ids(X)[r]``: the fitted users
            first (empty rows for those absent from ``X``), then users not
            seen in ``fit``, sorted by id, each with a row even if all of
            their items are unknown (then empty). Repeated pairs are
            combined by ``duplicates``; unknown items follow
            ``handle_unknown``.
        """
        return self._rows_of(X)

    def transform_timestamps(self, X):
        """Encode the timestamps of a log, in the sparsity pattern of :meth:`transform`.

        Parameters
        ----------
        X : DataFrame, mapping of str to array, or tuple of arrays
            The log, with the ``timestamp_col`` column.

        Returns
        -------
        timestamps : csr_matrix of shape (n_fitted_users + n_new_users, n_fitted_items)
            Latest time of each (user, item) pair (seconds since the epoch
            for datetimes), float64, stored even where it is 0 so that its
            entries line up with those of ``transform(X)`` (as
            :func:`~sklearn_recsys.model_selection.leave_last_out_split`
            expects).
        """
        return self._rows_of(X, timestamps=True)

    def _rows_of(self, X, wanted=None, timestamps=False):
        """``transform(X)[wanted]`` (``transform_timestamps`` with ``timestamps``).

        Only the sorted rows ``wanted``, which must hold every row of the log's
        users: serving one user would otherwise index every user seen in
        ``fit``. None: every row.
        """
        n_rows, _, rows, cols, values, times = self._encode(X, wanted,
                                                            values_read=not timestamps)
        if timestamps and times is None:
            raise ValueError(
                "transform_timestamps needs timestamps: set timestamp_col to the "
                "time column of a DataFrame or mapping, or pass a tuple "
                "(users, items, values, timestamps)."
            )
        data, dtype = (times, np.float64) if timestamps else (values, self.dtype)
        return self._matrix(n_rows, rows, cols, data, dtype)

    def get_user_ids(self, X=None):
        """Raw user ids of the rows of ``transform(X)``.

        Parameters
        ----------
        X : DataFrame, mapping of str to array, tuple of arrays or None, default=None
            A log. None: the users seen in ``fit`` (``user_ids_``).

        Returns
        -------
        user_ids : ndarray of shape (n_rows,)
            ``user_ids_`` followed by the ids of the users of ``X`` not seen in
            ``fit``, sorted (those with only unknown items included): one id
            per row of ``transform(X)``, in order.
        """
        check_is_fitted(self)
        if X is None:
            return self.user_ids_.copy()
        _, new_ids = self._user_rows(self._checked_columns(X)[0])
        if not len(new_ids):
            return self.user_ids_.copy()
        return np.concatenate([self.user_ids_, new_ids])

    def _user_rows(self, users):
        """Row of each entry of ``users`` and the sorted ids of the new users.

        The one place rows are assigned: ``transform`` and ``get_user_ids``
        both use it, so a matrix and its labels cannot disagree.
        """
        rows, known = _lookup(self.user_ids_, users)
        if known.all():
            return rows, users[:0]
        new_ids = _unique(users[~known], "user")
        rows[~known] = self.n_users_ + np.searchsorted(new_ids, users[~known])
        return rows, new_ids

    def inverse_transform(self, X):
        """Map item column indices (e.g. from ``recommend``) back to raw item ids.

        Parameters
        ----------
        X : array-like of int
            Item indices of any shape, such as the ``(n_users, k)`` indices
            returned by ``recommend``; -1 marks padding.

        Returns
        -------
        item_ids : ndarray of the same shape
            Raw item ids, in the dtype of ``item_ids_``; when ``X`` holds
            padding (-1), an object array with None there (as
            :meth:`sklearn.preprocessing.OrdinalEncoder.inverse_transform`
            does for unknown categories).
        """
        check_is_fitted(self)
        indices = np.asarray(X)
        if not indices.size:  # np.asarray([]) is float: nothing to map, whatever its dtype
            return np.empty(indices.shape, dtype=self.item_ids_.dtype)
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(
                f"inverse_transform expects integer item indices, got dtype "
                f"{indices.dtype}."
            )
        if indices.min() < -1 or indices.max() >= self.n_items_:
            raise ValueError(
                f"Item indices must be in [0, {self.n_items_}) or -1 (padding), "
                f"got values from {indices.min()} to {indices.max()}."
            )
        pad = indices == -1
        ids = self.item_ids_[np.where(pad, 0, indices)]
        if pad.any():
            ids = ids.astype(object)
            ids[pad] = None
        return ids

    # -- raw ids ----------------------------------------------------------

    def get_item_indices(self, item_ids):
        """Columns of raw item ids: the inverse of :meth:`inverse_transform`.

        Parameters
        ----------
        item_ids : array-like of shape (n_ids,)
            Raw item ids seen in ``fit``.

        Returns
        -------
        indices : ndarray of shape (n_ids,), dtype int64
        """
        return self._indices(item_ids, "item_ids_", "item", self.item_col)

    def get_user_indices(self, user_ids):
        """Rows of raw user ids seen in ``fit`` (in every matrix this encoder makes).

        Parameters
        ----------
        user_ids : array-like of shape (n_ids,)
            Raw user ids seen in ``fit``.

        Returns
        -------
        indices : ndarray of shape (n_ids,), dtype int64
        """
        return self._indices(user_ids, "user_ids_", "user", self.user_col)

    def _indices(self, ids, fitted, kind, col):
        check_is_fitted(self)
        fitted = getattr(self, fitted)
        ids = _as_ids(ids if np.ndim(ids) else [ids])
        _check_no_missing(ids, kind, col)
        family, fitted_family = _id_family(ids, kind, col), _id_family(fitted[:1], kind, col)
        if None not in (family, fitted_family) and family != fitted_family:
            raise TypeError(f"The {kind} ids are {family} ids but the encoder was fitted on "
                            f"{fitted_family} ids: convert them to the type used in fit.")
        if family == "number":
            ids = _as_fitted_numbers(ids, fitted, kind, col)
        pos, known = _lookup(fitted, ids)
        if not known.all():
            raise ValueError(f"{(~known).sum()} {kind} id(s) were not seen in fit, e.g. "
                             f"{ids[~known][:5].tolist()}.")
        return pos

    def recommend(self, estimator, X, k=10, *, exclude_seen=True, exclude=None,
                  candidates=None, item_info=None, as_frame=True, user_features=None):
        """Top-``k`` items, in raw ids, for every user of a log (new users included).

        One call from raw ids to a table: the log is encoded, the users of
        the log (and only they) are scored by ``estimator`` (a fitted
        recommender, or a pipeline ending in one, fitted on this encoder's
        matrices), and the lists come back with raw user and item ids. A
        brand-new user is given by a few raw item ids in the log. A
        sequential model (``SASRec``, ``GRU4Rec``) reads the log's
        timestamps (:meth:`transform_timestamps`), the others its values.

        Parameters
        ----------
        estimator : recommender or Pipeline
            Fitted on matrices made by this encoder (a fitted search or a
            ``FrozenEstimator`` serves the model it wraps).
        X : DataFrame, mapping of str to array, or tuple of arrays
            The users' interactions (their history).
        k : int, default=10
            Items per user.
        exclude_seen : bool, default=True
            Never return an item of the user's history in ``X``.
        exclude : DataFrame, mapping or tuple, default=None
            A log of further interactions never to return (e.g. every
            rated item when ``X`` holds the liked ones): its user and item
            columns only (any value, even 0, excludes the pair; it needs no
            value or timestamp column); other users in it are ignored.
        candidates : array-like of raw item ids, default=None
            The items to choose from (in stock, say), each seen in ``fit``;
            None: every item.
        item_info : DataFrame or mapping, default=None
            Item metadata to add as columns: a DataFrame indexed by raw item
            id, or a mapping of name to a sequence aligned with the item
            columns (such as a loader's ``item_titles``; a Series in it
            indexed by raw item id is joined by id). A sequence of
            another length, a DataFrame with the default index ``0..n-1``
            that does not hold every raw id, one whose index holds none of
            them (ids of another type) or repeats one raises ``ValueError``.
        as_frame : bool, default=True
            A pandas DataFrame; False: a dict of NumPy columns.
        user_features : DataFrame, default=None
            Features of the users for a model that reads them
            (``HybridMF``'s ``user_features``), indexed by raw user id: a
            row for every user of the log, new users included (other rows
            are ignored), its columns those given to ``fit``. Joined by id:
            a user missing from the index, a repeated id or another type
            of array raises.

        Returns
        -------
        recommendations : DataFrame or dict
            Columns ``user_col``, ``rank`` (1 = best), ``item_col``,
            ``score`` (then the ``item_info`` columns): one row per
            recommended item, users in row order of :meth:`transform`.
        """
        from ._raw_ids import recommend_raw

        check_is_fitted(self)
        return recommend_raw(self, estimator, X, k, exclude_seen, exclude, item_info,
                             as_frame, user_features, candidates)

    def similar_items(self, estimator, item_ids, k=10, *, item_info=None, as_frame=True):
        """The ``k`` items most similar to each raw item id, in raw ids.

        Parameters
        ----------
        estimator : recommender or Pipeline
            Fitted on this encoder's matrices, with ``similar_items`` (or a
            fitted search of one).
        item_ids : array-like
            Raw item ids seen in ``fit``.
        k : int, default=10
            Neighbours per item.
        item_info : DataFrame or mapping, default=None
            Metadata of the neighbours, added as ``similar_<name>`` columns
            (see :meth:`recommend`).
        as_frame : bool, default=True
            A pandas DataFrame; False: a dict of NumPy columns.

        Returns
        -------
        neighbours : DataFrame or dict
            Columns ``item_col``, ``rank``, ``similar_<item_col>``, ``score``.
        """
        from ._raw_ids import similar_items_raw

        check_is_fitted(self)
        return similar_items_raw(self, estimator, item_ids, k, item_info, as_frame)

    def explain(self, estimator, X, item_id, *, against=None, as_frame=True):
        """Contribution of each item of one user's log to the score of a raw item id.

        Parameters
        ----------
        estimator : recommender or Pipeline
            Fitted on this encoder's matrices, with ``explain`` (or a fitted
            search of one).
        X : DataFrame, mapping of str to array, or tuple of arrays
            The interactions of one user (with their timestamps for a
            sequential model, which reads them as :meth:`recommend` does).
        item_id : object
            Raw id of the item whose score is explained.
        against : int or list of object, default=None
            None: the model's ``explain`` (contributions to the item's
            score). Otherwise its ``explain_contrast``, the contributions to
            the item's lead over other items: an int ``k``, the ``k`` items
            that follow it in the user's list (a pipeline's, without the raw
            history; a re-ranker's or ``ApproximateRecommender``'s wrapped
            model's, as their ``explain_contrast``); a list, their raw ids (a
            list even of one id, so an int id is not read as a count).
        as_frame : bool, default=True
            A pandas DataFrame; False: a dict of NumPy columns.

        Returns
        -------
        contributions : DataFrame or dict
            Columns ``item_col`` and ``contribution``, largest first; with
            an exact ``explain`` they sum to the item's score (minus its score
            for a user without history, where the model has one: ExplicitMF's
            biases), with ``against`` to its lead over the mean score of
            those items.
        """
        from ._raw_ids import explain_raw

        check_is_fitted(self)
        return explain_raw(self, estimator, X, item_id, against, as_frame)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # the input is a log of (user, item, value, time) records, not a
        # feature matrix with one sample per row
        tags.input_tags.two_d_array = False
        tags.input_tags.dict = True
        tags.target_tags.required = False
        # the output's dtype is the step's own (token ids, the dtype parameter), not the input's
        tags.transformer_tags.preserves_dtype = []
        return tags


def _not_a_log_message(X):
    """The TypeError message for an input that is not a log, with the fix for its kind."""
    expected = (
        "InteractionEncoder expects a log of interactions: a pandas DataFrame, "
        "a mapping of column name to array, or a tuple of columns "
        "(users, items[, values[, timestamps]])"
    )
    records = ("for a list of (user, item[, value[, time]]) records pass "
               "pd.DataFrame(records, columns=[...]) or the columns "
               "tuple(zip(*records))")
    if isinstance(X, list):
        # a list of two (user, item) records and a list of two columns look
        # alike, and a list of records read as columns mislabels every entry
        return (f"{expected}; got a list, which is ambiguous (records or "
                f"columns?): {records}, and pass columns as a tuple.")
    if isinstance(X, tuple):
        return (f"{expected}; got a tuple of {len(X)} entries, not 2 to 4 "
                f"columns: {records}.")
    if getattr(X, "ndim", None) == 2:
        return (f"{expected}; got a 2-D array of shape {X.shape}: for one "
                "(user, item[, value[, time]]) record per row pass its columns, "
                "tuple(X.T).")
    return f"{expected}; got {type(X).__name__}."


def _naive_utc(column):
    """A time-zone aware pandas column as naive UTC datetimes (numpy has no time zones)."""
    if getattr(getattr(column, "dt", None), "tz", None) is not None:
        return column.dt.tz_convert(None)
    if getattr(column, "tz", None) is not None and hasattr(column, "tz_convert"):
        return column.tz_convert(None)  # a DatetimeIndex
    return column


def _as_ids(column):
    """A column of ids as a 1-D array, without numpy's silent conversion to strings."""
    if isinstance(column, (list, tuple)) and len(column) and isinstance(column[0], (str, bytes)):
        try:
            longest, total = max(map(len, column)), sum(map(len, column))
        except TypeError:  # ids without a length: mixed types, which the checks refuse
            longest = total = 0
        # numpy pads every string to the longest (4 bytes a character): a few long ids
        # among many short ones would take events x longest, objects what is there
        if longest * len(column) > max(8 * total, 2**24):
            return np.asarray(column, dtype=object)
    ids = np.asarray(column)
    if (ids.dtype.kind in "iuf" and isinstance(column, (list, tuple))
            and any(issubclass(t, (bool, np.bool_)) for t in set(map(type, column)))):
        # numpy writes [True, 1] as [1, 1]: keep the objects, which the checks refuse
        # as one id (a pandas column of them is already object)
        return np.asarray(column, dtype=object)
    if ids.dtype.kind in "US" and not isinstance(column, np.ndarray):
        # numpy writes [1, "1", nan] as ["1", "1", "nan"], merging 1 with "1"
        # and naming a user "nan": keep the entries as they are, so that the
        # checks for missing and mixed ids see them
        text = str if ids.dtype.kind == "U" else bytes
        if not all(isinstance(v, text) for v in column):
            ids = np.asarray(column, dtype=object)
    return ids


def _missing(column):
    """Mask of the missing entries (NaN, None, NaT, pandas.NA) of a 1-D array."""
    kind = column.dtype.kind
    if kind in "fc":
        return np.isnan(column)
    if kind in "mM":
        return np.isnat(column)
    if kind != "O":
        return np.zeros(len(column), dtype=bool)
    return np.fromiter((_is_missing(v) for v in column), dtype=bool, count=len(column))


def _is_missing(value):
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT are the values unequal to themselves
    except TypeError:
        return True  # pandas.NA: its comparisons are NA, whose truth is undefined


def _check_no_missing(ids, kind, col):
    missing = _missing(ids)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"{len(rows)} interaction(s) of the log have a missing {kind} id "
            f"(NaN, None or NaT; log rows {rows[:5].tolist()}"
            f"{'...' if len(rows) > 5 else ''}): such an interaction belongs to "
            f"no {kind}, and encoding it would make a phantom {kind}. Drop those "
            f"interactions first (e.g. df.dropna(subset=[{col!r}]))."
        )


def _id_family(ids, kind, col):
    """The type of a column of ids: "number", "string", "bytes" or a type name; None if empty.

    Raises TypeError for ids mixing types: 1 and "1" are different users to
    Python but one to numpy's string conversion, so no mapping is safe.
    """
    if not len(ids):
        return None
    code = ids.dtype.kind
    if code == "b":
        return "boolean"  # True is 1 to NumPy: not one family with the numbers
    if code in "iufc":
        return "number"
    if code in "US":
        return "string" if code == "U" else "bytes"
    if code in "mM":
        return "datetime" if code == "M" else "timedelta"
    if code != "O":
        return str(ids.dtype)
    types = set(map(type, ids))
    bools = {t for t in types if issubclass(t, (bool, np.bool_))}
    if bools and bools != types:  # True and 1 would be one id
        types = {*(t for t in types if t not in bools), bool}
    elif bools:
        return "boolean"
    for family, base in [("string", str), ("bytes", bytes), ("number", Number)]:
        if bool not in types and all(issubclass(t, base) for t in types):
            return family
    if len(types) == 1:
        return types.pop().__name__
    names = sorted(t.__name__ for t in types)
    raise TypeError(
        f"The {kind} ids mix types ({', '.join(names)}): 1 and '1' would be the "
        f"same {kind} or two, depending on how the log was built: give them one "
        f"type (all strings or all integers), e.g. df[{col!r}].astype(str), "
        "before encoding."
    )


def _as_fitted_numbers(ids, fitted, kind, col):
    """Numeric ``ids`` in the dtype of the ``fitted`` ids, where each keeps its value.

    NumPy compares an int64 id with a float64 or uint64 one as floats, and joins
    them into float64 labels: ids above 2**53 would be rounded (two new users
    under one label, a float id taken for another integer user) and the fitted
    integer ids relabelled as floats. An id the fitted dtype cannot hold
    exactly (2.5 against integer ids, 2**63 against int64) is refused.
    """
    if ids.dtype == fitted.dtype or ids.dtype.kind not in "iuf" or \
            fitted.dtype.kind not in "iuf" or not len(ids):
        return ids
    if fitted.dtype.kind in "iu":  # whole numbers within the range, checked before the cast
        info = np.iinfo(fitted.dtype)
        if ids.dtype.kind == "f":
            exact = bool(np.isfinite(ids).all() and (ids == np.floor(ids)).all()
                         and ids.min() >= info.min and ids.max() < float(info.max) + 1)
        else:
            exact = int(ids.min()) >= info.min and int(ids.max()) <= info.max
        cast = ids.astype(fitted.dtype) if exact else None
    else:  # float ids: every id must come back from the cast unchanged
        cast = ids.astype(fitted.dtype)
        exact = bool((cast.astype(ids.dtype) == ids).all())
    if not exact:
        raise TypeError(
            f"The log's {kind} ids are {ids.dtype} (e.g. {ids[:3].tolist()}) but the encoder "
            f"was fitted on {fitted.dtype} ids, which cannot hold each of them exactly: "
            f"convert the ids to the type used in fit (e.g. df[{col!r}].astype("
            f"{str(fitted.dtype)!r})), or fit on ids of this type.")
    return cast


def _timestamps_as_float(times):
    """Timestamps as float64: numbers as they are, datetimes as seconds since the epoch.

    Distinct times that the conversion would make equal are refused: tied, the
    latest of a repeated pair and a sequence's order would be decided by row
    order instead of time.
    """
    if times.dtype.kind in "mM":
        nat = np.isnat(times)
        if nat.any():
            # NaT casts to the int64 minimum, -9.2e18 s: a time, to every later step
            raise ValueError(
                f"{int(nat.sum())} timestamp(s) of the log are NaT (missing; log "
                f"rows {np.flatnonzero(nat)[:5].tolist()}): drop or fill those "
                "interactions before encoding."
            )
        # microseconds, not whole seconds: clicks within one second keep their
        # order (float64 seconds near 1.7e9 resolve 0.24 microseconds)
        unit = "datetime64[us]" if times.dtype.kind == "M" else "timedelta64[us]"
        micro = times.astype(unit)
        _refuse_merged_times(times, micro, "finer than a microsecond", "floor them to "
                             "the microsecond yourself (df[col].dt.floor('us'))")
        micro = micro.astype(np.int64)
        seconds = micro / 1e6
        # float64 seconds resolve a microsecond below 2**33 s only (from the year 2242 on,
        # or before 1698, they are 2 microseconds apart): times there could tie
        if (np.abs(micro) >= 2**32 * 10**6).any() and (
                np.unique(seconds).size < np.unique(micro).size):
            raise ValueError(
                "The log's timestamps lie beyond the years 1698 to 2242, where seconds as "
                "float64 are about 2 microseconds apart, and distinct times would become "
                "equal: events close in time would tie, and the latest of a repeated "
                "(user, item) pair or a sequence's order would follow the log's row order "
                "instead. Floor them to the millisecond (df[col].dt.floor('ms')) or shift "
                "them nearer the present before encoding.")
        return seconds
    converted = _as_float(times, "timestamps", " or datetime64 values")
    if times.dtype.kind in "iuO":
        # float64 holds every integer up to 2**53 only: nanoseconds since the epoch
        # (1.7e18) are rounded to 256 ns, in an int64 column or as Python ints in an
        # object one (which compare with floats exactly)
        _refuse_merged_times(times, converted,
                             "integers too large for float64 to hold exactly (above 2**53)",
                             "convert them to a coarser unit first (e.g. microseconds or "
                             "seconds: df[col] // 1000)")
    return converted


def _refuse_merged_times(times, converted, why, fix):
    """ValueError if ``converted`` holds fewer distinct values than ``times`` (the
    conversion keeps their order otherwise: only ties are created)."""
    if (converted.astype(times.dtype) == times).all():
        return  # exact, as nearly always (whole microseconds, integers below 2**53)
    if np.unique(converted).size < np.unique(times).size:
        raise ValueError(
            f"The log's timestamps are {why}, and distinct times would become equal: "
            "events close in time would tie, and the latest of a repeated (user, item) "
            "pair or a sequence's order would follow the log's row order instead. To "
            f"accept those ties, {fix} before encoding.")


def _as_float(column, name, alternative=""):
    try:
        column = column.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The log's {name} must be numbers{alternative}: {exc}") from exc
    if not np.isfinite(column).all():
        raise ValueError(
            f"The log's {name} contain NaN or infinite entries: drop or fill "
            "those interactions before encoding."
        )
    return column


def _unique(ids, kind):
    try:
        return np.unique(ids)
    except TypeError as exc:
        raise TypeError(
            f"The {kind} ids cannot be sorted ({exc}); give them one type "
            "(all strings or all integers)."
        ) from exc


def _lookup(sorted_ids, ids):
    """Positions of ``ids`` in ``sorted_ids`` and a mask of those found."""
    pos = np.searchsorted(sorted_ids, ids)
    pos = np.minimum(pos, len(sorted_ids) - 1)
    found = sorted_ids[pos] == ids if len(ids) else np.zeros(0, dtype=bool)
    return pos.astype(np.int64), np.asarray(found, dtype=bool)
