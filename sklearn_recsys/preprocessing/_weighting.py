"""Item-statistics weighting of interaction matrices: BM25 and TF-IDF."""

import warnings
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..utils._validation import check_interactions
from ._base import InteractionTransformer

__all__ = ["BM25Weighting", "TfidfWeighting"]


class _ItemWeighting(InteractionTransformer):
    """Shared plumbing: item document frequencies learned in ``fit``."""

    def fit(self, X, y=None):
        """Learn the item statistics from the training users.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions (counts, confidences or ratings).
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        self._validate_params()
        X = check_interactions(self, X, reset=True)
        self.n_users_ = X.shape[0]
        self.item_users_ = self._record_popularity(X)
        self._fit_stats(X)
        return self

    def _fit_stats(self, X):
        pass

    def transform(self, X):
        """Reweight each non-zero; zeros stay zeros, the dtype is kept.

        A weight of 0 (a BM25 item whose idf is 0) leaves the entry out.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions of any users, seen in ``fit`` or not.

        Returns
        -------
        X_new : csr_matrix of shape (n_users, n_items)
            Weighted interactions, in the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        X = check_interactions(self, X, reset=False)
        X = X.copy()
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        X.data = self._weight(X, rows).astype(X.dtype, copy=False)
        X.eliminate_zeros()  # an idf of 0: absent, not a stored zero
        return X


class BM25Weighting(_ItemWeighting):
    """Okapi BM25 weighting of a user-item matrix (users as documents, items as terms).

    Each non-zero ``x_ui`` becomes

    .. math::

        \\frac{x_{ui} (k_1 + 1)}{x_{ui} + k_1 (1 - b + b\\, |u| / \\overline{|u|})}
        \\; \\log\\frac{N}{1 + n_i}

    with ``|u|`` the sum of the user's values, ``N`` the number of training
    users, ``n_i`` the number of training users of item ``i`` and the mean row
    sum taken over training users. Popular items are damped and heavy users
    normalized; a common first step before item-item models and ALS
    (as in the ``implicit`` package's ``bm25_weight``).

    Parameters
    ----------
    k1 : float, default=100.0
        Saturation of large values.
    b : float, default=0.8
        Strength of the user-length normalization, in [0, 1].

    Attributes
    ----------
    n_users_ : int
        Number of training users.
    item_users_ : ndarray of shape (n_items,)
        Number of training users of each item.
    idf_ : ndarray of shape (n_items,)
        ``log(N / (1 + n_i))``, floored at 0.
    mean_user_length_ : float
        Mean row sum of the training users.
    n_features_in_ : int
        Number of items seen during fit.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_recsys import EASE, make_interactions
    >>> from sklearn_recsys.preprocessing import BM25Weighting
    >>> X = make_interactions(n_users=200, n_items=40, density=0.1, random_state=0)
    >>> model = make_pipeline(BM25Weighting(), EASE(alpha=10.0)).fit(X)
    >>> model.decision_function(X[:2]).shape
    (2, 40)
    """

    _parameter_constraints = {
        "k1": [Interval(Real, 0, None, closed="left")],
        "b": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, k1=100.0, b=0.8):
        self.k1 = k1
        self.b = b

    def _fit_stats(self, X):
        self.idf_ = np.maximum(np.log(self.n_users_) - np.log1p(self.item_users_), 0.0)
        erased = np.flatnonzero((self.idf_ == 0) & (self.item_users_ > 0))
        if erased.size:
            warnings.warn(
                f"BM25Weighting: {erased.size} item(s) (e.g. {erased[:5].tolist()}) have "
                f"training users in at least N - 1 of the N = {self.n_users_} rows, so their "
                "idf log(N / (1 + n_i)) is floored at 0: they vanish from every row, and the "
                "next step never learns nor recommends them. Use TfidfWeighting (its idf "
                "stays positive), or leave such items out.", UserWarning, stacklevel=3)
        self.mean_user_length_ = float(X.sum()) / max(X.shape[0], 1) or 1.0

    def _weight(self, X, rows):
        length = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
        norm = (1.0 - self.b) + self.b * length / self.mean_user_length_
        data = X.data.astype(np.float64)
        return data * (self.k1 + 1.0) / (self.k1 * norm[rows] + data) * self.idf_[X.indices]


class TfidfWeighting(_ItemWeighting):
    """TF-IDF weighting of a user-item matrix (users as documents, items as terms).

    Each non-zero becomes ``tf(x_ui) * idf_i`` with the smoothed
    ``idf_i = ln((1 + N) / (1 + n_i)) + 1`` of
    :class:`sklearn.feature_extraction.text.TfidfTransformer`, learned on the
    training users; rows are then optionally normalized.

    Parameters
    ----------
    tf : {"raw", "log", "binary"}, default="log"
        ``x``, ``1 + ln(x)`` (for ``x >= 1``; ``x`` below 1 is kept) or 1.
    norm : {"l2", "l1"} or None, default=None
        Row normalization after weighting.

    Attributes
    ----------
    n_users_ : int
        Number of training users.
    item_users_ : ndarray of shape (n_items,)
        Number of training users of each item.
    idf_ : ndarray of shape (n_items,)
        Smoothed inverse document frequency of each item.
    n_features_in_ : int
        Number of items seen during fit.

    Examples
    --------
    >>> from sklearn_recsys.preprocessing import TfidfWeighting
    >>> TfidfWeighting(tf="raw").fit([[1, 1], [1, 0]]).idf_.round(3)
    array([1.   , 1.405])
    """

    _parameter_constraints = {
        "tf": [StrOptions({"raw", "log", "binary"})],
        "norm": [StrOptions({"l1", "l2"}), None],
    }

    def __init__(self, tf="log", norm=None):
        self.tf = tf
        self.norm = norm

    def _fit_stats(self, X):
        self.idf_ = np.log((1.0 + self.n_users_) / (1.0 + self.item_users_)) + 1.0

    def _weight(self, X, rows):
        data = X.data.astype(np.float64)
        if self.tf == "log":
            data = np.where(data >= 1, 1.0 + np.log(np.maximum(data, 1)), data)
        elif self.tf == "binary":
            data = np.ones_like(data)
        data = data * self.idf_[X.indices]
        if self.norm is not None:
            sq = data**2 if self.norm == "l2" else np.abs(data)
            totals = np.bincount(rows, weights=sq, minlength=X.shape[0])
            if self.norm == "l2":
                totals = np.sqrt(totals)
            data = data / np.where(totals > 0, totals, 1.0)[rows]
        return data
