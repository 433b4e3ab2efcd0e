"""Explicit ratings to implicit positives: keep the ratings at or above a threshold."""

from numbers import Real

from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..utils._validation import check_interactions, threshold_in_precision
from ._base import InteractionTransformer

__all__ = ["RatingBinarizer"]


class RatingBinarizer(InteractionTransformer):
    """Turn ratings into binary positives: 1 where ``rating >= threshold``, else 0.

    The usual first step from explicit ratings to implicit feedback (Liang et
    al. 2018 keep MovieLens ratings >= 4 as positives). Unlike
    :class:`sklearn.preprocessing.Binarizer`, which keeps values strictly
    greater than its threshold, the threshold here is inclusive, as papers
    state it. Stateless: ``fit`` only records the number of items. Sparsity
    and dtype are kept; entries below the threshold become absent, not
    stored zeros.

    Parameters
    ----------
    threshold : float, default=4.0
        Smallest rating that counts as a positive interaction.

    Attributes
    ----------
    n_features_in_ : int
        Number of items seen in ``fit``.

    References
    ----------
    .. [1] D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara,
       "Variational Autoencoders for Collaborative Filtering", WWW 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys.preprocessing import RatingBinarizer
    >>> RatingBinarizer(threshold=4).fit_transform(np.array([[5., 3., 4.], [0., 1., 2.]])).toarray()
    array([[1., 0., 1.],
           [0., 0., 0.]])
    """

    _parameter_constraints: dict = {"threshold": [Interval(Real, None, None, closed="neither")]}

    def __init__(self, threshold=4.0):
        self.threshold = threshold

    def fit(self, X, y=None):
        """Check ``X`` (some value must reach ``threshold``) and record its number of items.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Ratings; 0 means "not rated".
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        self._validate_params()
        X = check_interactions(self, X, reset=True)
        self._record_popularity(X)
        if X.data.max() < self._threshold_for(X):
            # all interactions would be dropped: the data is binary already,
            # or the threshold is on another scale
            raise ValueError(
                f"No value of X reaches threshold={self.threshold} (the largest is "
                f"{X.data.max():g}), so the output would have no interactions. If X is "
                "implicit feedback already (0/1), drop RatingBinarizer; otherwise set a "
                "threshold on the scale of X.")
        return self

    def _threshold_for(self, X):
        """``threshold`` in the precision of float ``X`` (a grid of NumPy thresholds
        dropped float32 ratings equal to them)."""
        return threshold_in_precision(self.threshold, X.dtype)

    def transform(self, X):
        """Keep the ratings at or above ``threshold`` as 1.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Ratings of any users.

        Returns
        -------
        X_new : csr_matrix of shape (n_users, n_items)
            1 where ``X >= threshold`` (and ``X > 0``), in the dtype of ``X``.
        """
        check_is_fitted(self)
        X = check_interactions(self, X, reset=False)
        X = X.copy()
        X.data = (X.data >= self._threshold_for(X)).astype(X.dtype)
        X.eliminate_zeros()
        return X
