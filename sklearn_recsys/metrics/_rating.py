"""Rating-prediction scorers (RMSE, MAE) on held-out ratings, for explicit-feedback models.

The protocol mirrors the ranking scorers: ``scorer(estimator, X, y=None)``
with ``y`` a sparse matrix of held-out ratings of the same users (``X`` is
what the model is told about them), or without ``y`` a fixed-seed split of
each row of ``X``. The estimator (or the last step of a Pipeline) must have
``predict_ratings(X, items)``.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import check_random_state

from ..utils._holdout import check_held_out_disjoint, split_interactions
from ..utils._scoring_path import served_estimator
from ..utils._topk import iter_row_batches
from ..utils._validation import (check_interaction_matrix, check_item_names, check_rows_to_score,
                                 names_checked)
from ._scorer import _DISJOINT_FIX, _check_split

__all__ = ["make_rating_scorer"]

_METRICS = ("rmse", "mae")


class _RatingScorer:
    """Callable ``(estimator, X, y=None) -> -error``; see :func:`make_rating_scorer`."""

    def __init__(self, metric, holdout, min_interactions, random_state):
        self.metric = metric
        self.holdout = holdout
        self.min_interactions = min_interactions
        self.random_state = random_state

    def __repr__(self):
        return f"make_rating_scorer({self.metric!r})"

    def __call__(self, estimator, X, y=None):
        # a DataFrame's column names are checked against fit's here, before the CSR
        # conversion drops them (the rows are then scored under names_checked)
        X = check_rows_to_score(estimator, X, order_keys=False)
        if y is not None and (sp.issparse(y) or np.ndim(y) == 2):
            # a DataFrame y is read by its names too, as the ranking scorers read it
            check_item_names(estimator, y, "y")
            y = check_interaction_matrix(y, input_name="y")
            if y.shape != X.shape:
                raise ValueError(
                    f"y (held-out ratings) has shape {y.shape} but X has shape "
                    f"{X.shape}; pass y with the same users and items as X."
                )
            check_held_out_disjoint(
                X, y, "y", "the model is told the ratings it is scored on, so the error is too "
                "good", _DISJOINT_FIX)
            X_in, X_out = X, y
        else:
            X_in, X_out = split_interactions(X, self.holdout, self.min_interactions,
                                             check_random_state(self.random_state))
        # a fitted search or a FrozenEstimator predicts by the model it serves
        model, transform = served_estimator(estimator), None
        if not hasattr(model, "predict_ratings") and hasattr(model, "steps"):
            # a one-step pipeline has nothing to transform (its empty head has no
            # transform, which failed every candidate of a search)
            model, transform = model[-1], (model[:-1] if len(model.steps) > 1 else None)
        if not hasattr(model, "predict_ratings"):
            raise TypeError(
                f"{type(model).__name__} does not predict ratings (no "
                "predict_ratings method); use a ranking scorer for it."
            )
        errors = []
        for rows in iter_row_batches(X_in.shape[0], 4096):
            y_b = X_out[rows]
            if y_b.nnz == 0:
                continue
            items = np.unique(y_b.indices)
            with names_checked():
                X_b = X_in[rows] if transform is None else transform.transform(X_in[rows])
                pred = model.predict_ratings(X_b, items)
            r = np.repeat(np.arange(y_b.shape[0]), np.diff(y_b.indptr))
            errors.append(pred[r, np.searchsorted(items, y_b.indices)] - y_b.data)
        if not errors:
            warnings.warn(
                f"{self!r} is undefined: no user has a held-out rating in y (or in the "
                "split of X). Returning NaN.", UndefinedMetricWarning, stacklevel=2)
            return float("nan")
        e = np.concatenate(errors).astype(np.float64)
        value = np.sqrt(np.mean(e**2)) if self.metric == "rmse" else np.mean(np.abs(e))
        return -float(value)


def make_rating_scorer(metric="rmse", *, holdout=0.2, min_interactions=2, random_state=0):
    """Make a rating-prediction scorer (negated error, so greater is better).

    Parameters
    ----------
    metric : {"rmse", "mae"}, default="rmse"
        Root mean squared error or mean absolute error over all held-out
        ratings (each rating counts once, as in the Netflix Prize and
        MovieLens literature).
    holdout : float, default=0.2
        Share of each user's ratings held out when the scorer splits ``X``
        itself: when it is given no ``y`` or a 1-D one (the ``y`` that
        ``GridSearchCV`` passes when fitted without one), which it ignores, as
        the ranking scorers do. A 2-D ``y`` holds the held-out ratings of the
        rows of ``X``, 0 where none (a rating scale holding 0 must be shifted).
    min_interactions : int, default=2
        Users with fewer ratings hold nothing out in that split; with
        ``holdout=0.2`` a user needs 5 ratings for one to be held out
        (``floor(0.2 * n)``).
    random_state : int, default=0
        Seed of that split, fixed so every candidate sees the same split.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None)`` returning ``-rmse`` or ``-mae``
        (as scikit-learn's ``neg_root_mean_squared_error``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_recsys import ExplicitMF
    >>> from sklearn_recsys.metrics import make_rating_scorer
    >>> rng = np.random.default_rng(0)
    >>> R = np.clip(np.rint(rng.normal(3, 1, (60, 1)) + rng.normal(0, 1, (1, 30))), 1, 5)
    >>> X = R * (rng.random(R.shape) < 0.5)
    >>> search = GridSearchCV(ExplicitMF(n_components=2, random_state=0),
    ...                       {"alpha": [0.01, 1.0]}, scoring=make_rating_scorer("rmse"), cv=3)
    >>> bool(search.fit(X).best_score_ < 0)
    True
    """
    if metric not in _METRICS:
        raise ValueError(f"Unknown rating metric {metric!r}; choose one of {_METRICS}.")
    _check_split(holdout, random_state, min_interactions=min_interactions)
    return _RatingScorer(metric, holdout, min_interactions, random_state)
