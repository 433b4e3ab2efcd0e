"""Most-popular baseline: every user gets the same item ranking."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import StrOptions

from ..base import ItemScoresTransformMixin, RecommenderMixin

__all__ = ["MostPopular"]


class MostPopular(ItemScoresTransformMixin, RecommenderMixin, TransformerMixin, BaseEstimator):
    """Recommend the items with the most interactions in the training data.

    Parameters
    ----------
    popularity : {"users", "sum"}, default="users"
        ``"users"`` counts the users who interacted with each item;
        ``"sum"`` adds up the interaction values (e.g. play counts).

    Attributes
    ----------
    item_popularity_ : ndarray of shape (n_items,)
        Popularity of each item, divided by the number of training users.
    n_features_in_ : int
        Number of items seen during fit.
    feature_names_in_ : ndarray of shape (n_items,)
        Item names, when ``X`` had string column names.

    See Also
    --------
    ItemKNN : A personalized neighbourhood baseline.

    Examples
    --------
    >>> from sklearn_recsys import MostPopular
    >>> X = [[1, 1, 0], [0, 1, 0], [0, 1, 1]]
    >>> MostPopular().fit(X).recommend([[0, 1, 0]], k=2)[0]
    array([[0, 2]])
    """

    _ignores_history = True  # one list for every user (minus their own items)

    _parameter_constraints = {
        "popularity": [StrOptions({"users", "sum"})],
    }

    def __init__(self, popularity="users"):
        self.popularity = popularity

    def _fit(self, X):
        if self.popularity == "users":
            counts = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
        else:
            # summed in float64 (SciPy's sum of a float32 matrix accumulates in float32,
            # dtype= or not: past 2**24 added plays were lost and the ranking flipped)
            counts = np.bincount(X.indices, weights=X.data.astype(np.float64),
                                 minlength=X.shape[1])
        # a mean of finite values: finite in X's dtype (the float32 sum overflowed)
        self.item_popularity_ = (counts / X.shape[0]).astype(X.dtype)

    def _score_batch(self, X):
        return np.broadcast_to(self.item_popularity_, (X.shape[0], X.shape[1]))
