"""Ranking scorers for ``GridSearchCV``, ``cross_validate`` and ``score``.

A scorer is a callable ``scorer(estimator, X, y=None)``:

* with ``y`` a sparse matrix of held-out interactions (same shape as ``X``),
  ``X`` is the fold-in history: the estimator scores it, ``X``'s items are
  removed from the ranking and the ranking is compared with ``y``. Model
  selection tools slice ``X`` and ``y`` by the same rows, so folds split
  users (strong generalization, Liang et al. 2018);
* without ``y`` (or with a 1-D ``y``), the scorer splits each row of ``X``
  itself with :func:`~sklearn_recsys.model_selection.holdout_split` and a
  fixed seed, so every candidate of a search is judged on the same split.
"""

import re
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from ..utils._holdout import iter_heldout_batches, split_interactions
from ..utils._validation import check_interaction_matrix, check_k
from ._ranking import (
    _TOP_K_METRICS,
    _nanmean,
    _per_user_auc,
    _ranked,
    _relevant,
)

__all__ = ["make_ranking_scorer", "get_ranking_scorer", "get_ranking_scorer_names"]

_METRIC_NAMES = tuple(_TOP_K_METRICS) + ("auc", "coverage")


class _RankingScorer:
    """Callable ``(estimator, X, y=None) -> float``; see :func:`make_ranking_scorer`."""

    def __init__(self, metric, k, holdout, min_interactions, random_state, kwargs,
                 relevance_threshold=None):
        self.metric = metric
        self.k = k
        self.relevance_threshold = relevance_threshold
        self.holdout = holdout
        self.min_interactions = min_interactions
        self.random_state = random_state
        self.kwargs = kwargs

    def __repr__(self):
        k = "" if self.metric == "auc" else f", k={self.k}"
        if self.relevance_threshold is not None:
            k += f", relevance_threshold={self.relevance_threshold!r}"
        return f"make_ranking_scorer({self.metric!r}{k})"

    def _split(self, estimator, X, y):
        if y is not None and (sp.issparse(y) or np.ndim(y) == 2):
            y = check_interaction_matrix(y, input_name="y")
            if y.shape[0] != X.shape[0] or (
                hasattr(estimator, "n_features_in_") and y.shape[1] != estimator.n_features_in_
            ):
                raise ValueError(
                    f"y (held-out interactions) has shape {y.shape}, but X has "
                    f"{X.shape[0]} users and the model {getattr(estimator, 'n_features_in_', '?')}"
                    " items. Pass y with the same rows and items as X."
                )
            return X, y
        return split_interactions(X, self.holdout, self.min_interactions,
                                  check_random_state(self.random_state))

    def __call__(self, estimator, X, y=None):
        X = check_interaction_matrix(X)
        # X is canonical CSR here, and holdout_split returns canonical CSR.
        X_in, X_out = self._split(estimator, X, y)
        X_out = _relevant(X_out, self.relevance_threshold)
        values, covered = [], None
        # decision_function (not a private hook) so that a Pipeline ending in
        # a recommender is scored like the recommender itself; every user, so
        # coverage counts all lists and the estimator validates X even when
        # nothing is held out
        batches = iter_heldout_batches(
            X_in, X_out, lambda rows, X_rows: estimator.decision_function(X_rows),
            all_users=True)
        for _, y_b, scores in batches:
            if self.metric == "auc":
                values.append(_per_user_auc(y_b, scores))
                continue
            idx = _ranked(scores, self.k, False, scores.shape[1])
            if self.metric == "coverage":
                covered = np.zeros(X.shape[1], bool) if covered is None else covered
                covered[idx[idx >= 0]] = True
            else:
                values.append(_TOP_K_METRICS[self.metric](y_b, idx, self.k, **self.kwargs))
        if self.metric == "coverage":
            return float(covered.mean()) if covered is not None else float("nan")
        return _nanmean(np.concatenate(values) if values else [], repr(self))


# the options each metric takes beyond y_true, y_score, k, and their values
_METRIC_KWARGS = {"ndcg": {"gain": ("binary", "graded")}}


def _check_metric_kwargs(metric, kwargs):
    allowed = _METRIC_KWARGS.get(metric, {})
    for name, value in kwargs.items():
        if name not in allowed:
            raise TypeError(
                f"make_ranking_scorer({metric!r}) got an unexpected option {name!r}; "
                f"{metric!r} takes {sorted(allowed) or 'no options'}.")
        if value not in allowed[name]:
            raise ValueError(f"{name} must be one of {allowed[name]} for {metric!r}, "
                             f"got {value!r}.")


def _check_split(holdout, random_state):
    """Arguments of the per-row split a scorer makes when no ``y`` is given."""
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be in (0, 1), got {holdout!r}.")
    if not isinstance(random_state, Integral):
        raise ValueError(
            "random_state must be an int so that every candidate of a search is "
            f"scored on the same split; got {random_state!r}."
        )


def make_ranking_scorer(
    metric, *, k=10, relevance_threshold=None, holdout=0.2, min_interactions=5,
    random_state=0, **kwargs
):
    """Make a ranking scorer for model selection and evaluation.

    Parameters
    ----------
    metric : {"ndcg", "recall", "precision", "map", "mrr", "hit_rate", "auc", \
            "coverage"}
        Metric of :mod:`sklearn_recsys.metrics` to compute.
    k : int, default=10
        Rank cut-off (ignored by ``"auc"``).
    relevance_threshold : float, default=None
        Held-out values below it are not hits (they stay candidates): with
        ratings, ``4`` counts only the movies rated 4 or 5 as successes.
        None: every held-out interaction is relevant. Ignored by
        ``"coverage"``.
    holdout : float, default=0.2
        Share of each user's interactions held out when the scorer splits
        ``X`` itself (no sparse ``y`` given).
    min_interactions : int, default=5
        Users with fewer interactions hold nothing out in that split and are
        left out of the mean.
    random_state : int, default=0
        Seed of that split; fixed so every candidate sees the same split.
    **kwargs : dict
        Passed to the metric, e.g. ``gain="graded"`` for NDCG.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None)`` returning a float, higher is better.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_recsys import EASE, make_interactions
    >>> from sklearn_recsys.metrics import make_ranking_scorer
    >>> X = make_interactions(n_users=300, n_items=50, density=0.2, random_state=0)
    >>> search = GridSearchCV(EASE(), {"alpha": [1.0, 100.0]},
    ...                       scoring=make_ranking_scorer("ndcg", k=10), cv=3)
    >>> search.fit(X).best_params_
    {'alpha': 100.0}
    >>> bool(search.best_score_ > 0.2)
    True
    """
    if metric not in _METRIC_NAMES:
        raise ValueError(f"Unknown ranking metric {metric!r}; choose one of {_METRIC_NAMES}.")
    k = check_k(k)
    _check_split(holdout, random_state)
    _check_metric_kwargs(metric, kwargs)
    _relevant(sp.csr_matrix((1, 1)), relevance_threshold)  # type check, now not at scoring
    return _RankingScorer(metric, k, holdout, min_interactions, random_state, kwargs,
                          relevance_threshold)


_NAME_RE = re.compile(r"^(?P<metric>[a-z_]+)(@(?P<k>\d+))?$")


def get_ranking_scorer(name):
    """Ranking scorer from a name such as ``"ndcg@10"``, ``"recall@20"`` or ``"auc"``.

    Parameters
    ----------
    name : str
        ``"<metric>@<k>"`` with a metric of :func:`make_ranking_scorer`, or
        ``"auc"``.

    Returns
    -------
    scorer : callable
        As returned by :func:`make_ranking_scorer`.

    Examples
    --------
    >>> from sklearn_recsys.metrics import get_ranking_scorer
    >>> get_ranking_scorer("recall@20")
    make_ranking_scorer('recall', k=20)
    """
    match = _NAME_RE.match(name) if isinstance(name, str) else None
    if match is None or match["metric"] not in _METRIC_NAMES or (
        match["k"] is None and match["metric"] != "auc"
    ):
        raise ValueError(
            f"{name!r} is not a ranking scorer name; use '<metric>@<k>' with a "
            f"metric in {_METRIC_NAMES}, e.g. 'ndcg@10', or 'auc'."
        )
    return make_ranking_scorer(match["metric"], k=int(match["k"] or 10))


def get_ranking_scorer_names():
    """Metric names usable in :func:`get_ranking_scorer` (followed by ``@k``).

    Returns
    -------
    names : list of str
    """
    return list(_METRIC_NAMES)
