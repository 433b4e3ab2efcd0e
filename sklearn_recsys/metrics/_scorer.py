"""Ranking scorers for ``GridSearchCV``, ``cross_validate`` and ``score``.

A scorer is a callable ``scorer(estimator, X, y=None)``:

* with ``y`` a sparse matrix of held-out interactions (same shape as ``X``),
  ``X`` is the fold-in history: the estimator scores it, ``X``'s items are
  removed from the ranking and the ranking is compared with ``y``.
  ``GridSearchCV`` slices ``X`` and ``y`` by the same rows, so folds split
  users (strong generalization, Liang et al. 2018); ``cross_validate``
  refuses a sparse ``y`` in its parameter check, and takes ``y.toarray()``;
* without ``y`` (or with a 1-D ``y``), the scorer splits each row of ``X``
  itself with :func:`~sklearn_recsys.model_selection.holdout_split` and a
  fixed seed, so every candidate of a search is judged on the same split. A
  sequential model's values are order keys: its rows hold out their latest
  interactions instead (the same number), so the fold-in part never holds
  what came after the items to predict. ``split="latest"`` makes any model's
  rows hold out their latest (``X``'s values then being order keys), so that
  models are compared on one protocol.
"""

import re
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.metadata_routing import (
    MetadataRequest,
    _MetadataRequester,
    _routing_enabled,
    get_routing_for_object,
)
from sklearn.utils.validation import check_is_fitted

from ..utils._behaviors import behavior_block, behavior_layout, target_history, with_block
from ..utils._holdout import (SEEN_NEVER_HIT, check_held_out_disjoint, iter_heldout_batches,
                              split_interactions, split_latest)
from ..utils._scoring_path import served_estimator
from ..utils._sequences import reads_order_keys
from ..utils._validation import (
    check_interaction_matrix,
    check_item_names,
    check_k,
    check_row_data,
    check_rows_to_score,
    names_checked,
)
from ._beyond_accuracy import (
    NEEDS_POPULARITY,
    _accumulator,
    _check_categories,
    _check_item_popularity,
)
from ._ranking import (
    _TOP_K_METRICS,
    _nanmean,
    _per_user_auc,
    _ranked,
    _relevant,
)

__all__ = ["make_ranking_scorer", "get_ranking_scorer", "get_ranking_scorer_names",
           "make_beyond_accuracy_scorer"]

_METRIC_NAMES = tuple(_TOP_K_METRICS) + ("auc", "coverage")
# X given with y must be the fold-in part of the test users, not their whole rows
_DISJOINT_FIX = ("Pass as X what the model may see of these users and as y what was held out "
                 "of it: X_in, y = holdout_split(X_test) gives disjoint parts.")


class _RankingScorer(_MetadataRequester):
    """Callable ``(estimator, X, y=None, **row_data) -> float``; see :func:`make_ranking_scorer`.

    ``row_data`` (e.g. ``user_features`` of :class:`~sklearn_recsys.HybridMF`):
    side data with one row per row of ``X``, sliced with the rows and passed
    to the estimator's ``decision_function``. Model selection tools route it
    here, sliced with the test users, after ``set_score_request``.
    """

    # scorers pickled before the option existed split as "auto" did
    split = "auto"

    def __init__(self, metric, k, holdout, min_interactions, random_state, kwargs,
                 relevance_threshold=None, split="auto"):
        self.metric = metric
        self.split = split
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
        if self.split != "auto":
            k += f", split={self.split!r}"
        return f"make_ranking_scorer({self.metric!r}{k})"

    def set_score_request(self, **kwargs):
        """Request row-aligned metadata (e.g. ``user_features=True``) from model selection tools.

        Only with scikit-learn's metadata routing enabled
        (``sklearn.set_config(enable_metadata_routing=True)``); see
        :ref:`side-features`.

        Parameters
        ----------
        **kwargs : dict
            ``param_name=alias``, alias in ``{True, False, None, str}``.

        Returns
        -------
        self : object
        """
        if not _routing_enabled():
            raise RuntimeError(
                "set_score_request is only available when metadata routing is enabled: "
                "sklearn.set_config(enable_metadata_routing=True).")
        self._metadata_request = MetadataRequest(owner=self)
        for param, alias in kwargs.items():
            self._metadata_request.score.add_request(param=param, alias=alias)
        return self

    def _get_metadata_request(self):
        if hasattr(self, "_metadata_request"):
            return get_routing_for_object(self._metadata_request)
        return MetadataRequest(owner=self)

    def _checked_rows(self, estimator, X, y):
        """Validated CSR ``X``; its values are order keys (a repeated pair keeps its latest)
        for a sequential model, and for any model when the scorer holds out the latest
        (no held-out ``y`` given)."""
        given = y is not None and (sp.issparse(y) or np.ndim(y) == 2)
        return check_rows_to_score(estimator, X,
                                   order_keys=True if self.split == "latest" and not given
                                   else None)

    def _split(self, estimator, X, y):
        """``(X_in, X_out, layout)``: fold-in rows, held-out (target) interactions, layout.

        For a multi-behaviour model (:func:`behavior_layout` is not None),
        ``X_out`` and a given ``y`` hold the target behaviour only, and the
        split without ``y`` holds out target interactions only. That split
        holds out each user's latest interactions rather than random ones with
        ``split="latest"``, or with ``"auto"`` for a model of order keys (a
        sequential model).
        """
        layout = behavior_layout(estimator)
        n_columns = getattr(estimator, "n_features_in_", None)
        if layout and n_columns is not None and X.shape[1] != n_columns:
            # before the blocks are cut: cut at the fitted width, a wider X was scored
            # with its blocks misaligned (silently)
            raise ValueError(
                f"X has {X.shape[1]} columns, but the model was fitted on {n_columns}: "
                f"{n_columns // layout[0]} behaviour blocks of {layout[0]} items. Pass X "
                "with every behaviour's block, in the order of fit"
                + (", and y with the target's." if y is not None else "."))
        if y is not None and (sp.issparse(y) or np.ndim(y) == 2):
            check_item_names(estimator, y, "y")
            y = check_interaction_matrix(y, input_name="y")
            n_items = layout[0] if layout else getattr(estimator, "n_features_in_", None)
            if y.shape[0] != X.shape[0] or (n_items is not None and y.shape[1] != n_items):
                what = " (target behaviour)" if layout else ""
                raise ValueError(
                    f"y (held-out interactions{what}) has shape {y.shape}, but X has "
                    f"{X.shape[0]} users and the model {n_items if n_items else '?'}"
                    " items. Pass y with the same rows and items as X"
                    + (", one block wide." if layout else ".")
                )
            seen = behavior_block(X, *layout) if layout else X
            check_held_out_disjoint(seen, y, "y", SEEN_NEVER_HIT, _DISJOINT_FIX)
            return X, y, layout
        if self.split == "latest" or (self.split == "auto" and reads_order_keys(estimator)):
            # the values are order keys: hold out each user's latest, not a random share
            # whose fold-in part would hold later items than the ones to predict
            graded = getattr(self, "kwargs", {}).get("gain") == "graded"
            if self.relevance_threshold is not None or graded:
                option = "gain='graded'" if graded else "relevance_threshold"
                raise ValueError(
                    f"{option} reads the held-out values as ratings, but this scorer holds "
                    "out each user's latest interactions (split='latest', or 'auto' for a "
                    f"model of order keys such as {type(estimator).__name__}), whose values "
                    "are order keys (times or positions): it would grade hits by their "
                    f"times. Drop {option}, or pass y with the held-out ratings.")

            def split(Xt):
                return split_latest(Xt, self.holdout, self.min_interactions)
        else:
            rng = check_random_state(self.random_state)

            def split(Xt):
                return split_interactions(Xt, self.holdout, self.min_interactions, rng)
        if layout is None:
            return (*split(X), None)
        n_items, index = layout
        X_t_in, X_out = split(behavior_block(X, n_items, index))
        return with_block(X, n_items, index, X_t_in), X_out, layout

    def __call__(self, estimator, X, y=None, **row_data):
        X = self._checked_rows(estimator, X, y)
        # X is canonical CSR here, and holdout_split returns canonical CSR.
        X_in, X_out, layout = self._split(estimator, X, y)
        X_out = _relevant(X_out, self.relevance_threshold)
        values, covered = [], None
        # decision_function (not a private hook) so that a Pipeline ending in
        # a recommender is scored like the recommender itself; every user, so
        # coverage counts all lists and the estimator validates X even when
        # nothing is held out
        batches = iter_heldout_batches(
            X_in, X_out, _row_scorer(estimator, X.shape[0], row_data), all_users=True,
            layout=layout)
        for _, y_b, scores in batches:
            if self.metric == "auc":
                values.append(_per_user_auc(y_b, scores))
                del scores  # before the next block is scored
                continue
            idx = _ranked(scores, self.k, False, scores.shape[1])
            del scores  # before the next block is scored
            if self.metric == "coverage":
                covered = np.zeros(X_out.shape[1], bool) if covered is None else covered
                covered[idx[idx >= 0]] = True
            else:
                values.append(_TOP_K_METRICS[self.metric](y_b, idx, self.k, **self.kwargs))
        if self.metric == "coverage":
            return float(covered.mean()) if covered is not None else float("nan")
        return _nanmean(np.concatenate(values) if values else [], repr(self))


def _row_scorer(estimator, n_rows, row_data):
    """``(rows, X_rows) -> scores`` by ``decision_function``, with ``row_data`` sliced by rows."""
    check_row_data(row_data, n_rows)

    from ..pipeline._pipeline import _ends_in_recommender, pipeline_scores

    # a pipeline ending in a recommender (scikit-learn's or the library's; bare,
    # or served by a fitted search or a FrozenEstimator, as in nested
    # cross-validation) is scored as recommend ranks it: its steps must keep the
    # item columns, row data goes to the last step, and a re-ranker or a stack
    # at the end is told the raw history
    pipe = served_estimator(estimator)
    if not (hasattr(pipe, "steps") and _ends_in_recommender(pipe)):
        pipe = None

    def score_rows(rows, X_rows):
        # by position whatever the container: value[rows] took a
        # DataFrame's columns and failed on a list of lists
        sliced = {name: None if value is None else _safe_indexing(value, rows)
                  for name, value in row_data.items()}
        with names_checked():  # the rows of X, whose names _checked_rows checked
            if pipe is not None:
                scores = pipeline_scores(pipe, X_rows, **sliced)
            else:
                scores = estimator.decision_function(X_rows, **sliced)
        return _refuse_nan(scores, estimator, rows)

    return score_rows


def _refuse_nan(scores, estimator, rows):
    """``scores`` of the users ``rows``, refused where one is NaN, as the metric
    functions refuse them.

    The ranking would skip a NaN as an excluded item and AUC would drop the
    user, so a model that diverged for some items would still get a plausible
    figure in a search. The package's models never return NaN; this catches
    a model from elsewhere (or a pipeline step) that does.
    """
    scores = np.asarray(scores)
    # a sum first: the exact check only when it is NaN (+inf and -inf together too)
    if scores.dtype.kind == "f" and np.isnan(scores.sum()) and np.isnan(scores).any():
        bad = np.asarray(rows)[np.isnan(scores).any(axis=1)]
        raise ValueError(
            f"{type(estimator).__name__}.decision_function returned NaN scores for "
            f"{bad.size} user(s) (rows {bad[:5].tolist()}{' ...' if bad.size > 5 else ''}); "
            "a ranking metric cannot rank them. Score every item (use -inf for an item "
            "never to recommend), or find why the model diverged.")
    return scores


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


_SPLITS = ("auto", "random", "latest")


def _check_split(holdout, random_state, split="auto", min_interactions=5):
    """Arguments of the per-row split a scorer makes when no ``y`` is given."""
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}.")
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be in (0, 1), got {holdout!r}.")
    if (not isinstance(min_interactions, Integral) or isinstance(min_interactions, bool)
            or min_interactions < 1):
        # as holdout_split's: scoring failed on None or "5" (NaN in every cell of a
        # search) and took 2.5 or -3 silently
        raise ValueError(
            f"min_interactions must be an int >= 1 (the fewest interactions a user needs "
            f"to hold some out), got {min_interactions!r}.")
    if not isinstance(random_state, Integral):
        raise ValueError(
            "random_state must be an int so that every candidate of a search is "
            f"scored on the same split; got {random_state!r}."
        )


def make_ranking_scorer(
    metric, *, k=10, relevance_threshold=None, holdout=0.2, min_interactions=5,
    random_state=0, split="auto", **kwargs
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
        ``X`` itself (no sparse ``y`` given): random ones, or the latest for
        a sequential model (its values are order keys).
    min_interactions : int, default=5
        Users with fewer interactions hold nothing out in that split and are
        left out of the mean.
    random_state : int, default=0
        Seed of that split; fixed so every candidate sees the same split
        (unused when the latest interactions are held out: no draw).
    split : {"auto", "random", "latest"}, default="auto"
        Which interactions that split holds out: ``"random"`` ones,
        each user's ``"latest"`` (the values of ``X`` are then order keys,
        larger is later, ties broken by the larger item index, as in
        :func:`~sklearn_recsys.model_selection.leave_last_out_split`), or
        ``"auto"``: the latest for a sequential model (its values are order
        keys), random ones for the others. ``"latest"`` puts models that
        do not read the order on a sequential model's protocol, as
        :func:`~sklearn_recsys.model_selection.compare_recommenders` does
        in a table with one (the fold-in rows keep their keys as values:
        give such a model presence, e.g. behind a
        :class:`~sklearn_recsys.preprocessing.RatingBinarizer`, as that
        function does). With the latest held out, ``relevance_threshold``
        and ``gain="graded"`` are refused (they would read the keys as
        ratings).
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
    _check_split(holdout, random_state, split, min_interactions)
    _check_metric_kwargs(metric, kwargs)
    _relevant(sp.csr_matrix((1, 1)), relevance_threshold)  # type check, now not at scoring
    return _RankingScorer(metric, k, holdout, min_interactions, random_state, kwargs,
                          relevance_threshold, split)


_NAME_RE = re.compile(r"^(?P<metric>[a-z_]+)(@(?P<k>\d+))?$")


def get_ranking_scorer(name, **kwargs):
    """Ranking scorer from a name such as ``"ndcg@10"``, ``"recall@20"`` or ``"auc"``.

    Parameters
    ----------
    name : str
        ``"<metric>@<k>"`` with a metric of :func:`make_ranking_scorer`, or
        ``"auc"``.
    **kwargs : dict
        Further arguments of :func:`make_ranking_scorer` (``holdout``,
        ``min_interactions``, ``relevance_threshold``, ...).

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
    return make_ranking_scorer(match["metric"], k=int(match["k"] or 10), **kwargs)


def get_ranking_scorer_names():
    """Metric names usable in :func:`get_ranking_scorer` (followed by ``@k``).

    Returns
    -------
    names : list of str
    """
    return list(_METRIC_NAMES)


# ------------------------------------------------------- beyond-accuracy scorers

# the options of each beyond-accuracy metric (validated by the metric itself)
_BEYOND_OPTIONS = {
    "arp": (),
    "aplt": ("short_head_share",),
    "long_tail_coverage": ("short_head_share",),
    "gini_index": (),
    "novelty": (),
    "miscalibration": ("categories", "alpha"),
    "ndcg_by_popularity": ("buckets", "bucket"),
    "recall_by_popularity": ("buckets", "bucket"),
    "ips_ndcg": ("gamma",),
    "ips_recall": ("gamma",),
}
# lower is better: their scorers return the negated value, as scikit-learn's
# neg_* scorers and make_rating_scorer do, so that greater is better for all
_NEGATED = ("arp", "gini_index", "miscalibration")


def _training_popularity(estimator):
    """The training share of each item, as the fitted recommender recorded it in ``fit``.

    Inside ``GridSearchCV`` or ``cross_validate`` the estimator was fitted on
    the training fold only, so this is that fold's popularity and never the
    held-out users'.
    """
    model = estimator
    # a Pipeline ending in a recommender; a fitted search (nested cross-validation)
    while not hasattr(model, "_item_popularity"):
        if hasattr(model, "best_estimator_"):
            model = model.best_estimator_
        elif hasattr(model, "steps"):
            popularity = _pipeline_input_popularity(model)
            if popularity is not None:
                return popularity
            model = model.steps[-1][1]  # a search to look into, or a model without record
        else:
            break
    # private: base.RecommenderMixin.fit records it (the scores of users
    # without history); no public accessor exists yet
    popularity = getattr(model, "_item_popularity", None)
    if popularity is None:
        if isinstance(model, BaseEstimator):
            check_is_fitted(model)  # an unfitted recommender says so first
        raise TypeError(
            f"{type(model).__name__} does not record the popularity of its training "
            "data, which this scorer needs; pass item_popularity=<training matrix> "
            "to make_beyond_accuracy_scorer.")
    return popularity


def _pipeline_input_popularity(pipe):
    """The popularity of a Pipeline's input, as its first recording step recorded it.

    A transformer of this library records the popularity of the interactions it
    was given, before it drops (``RatingBinarizer``) or reweighs them (an item
    held by every user vanishes under ``BM25Weighting``'s idf); the first such
    step over the final step's items (for a multi-behaviour model, the target
    block of its record) is the one nearest the pipeline's input. A frozen step
    is passed over: fitted on other data, its record would hold other users
    (in a search, the very users being scored). Otherwise the final step's own
    record, or None when it has none (a search to look into).
    """
    from sklearn.frozen import FrozenEstimator

    steps = [step for _, step in pipe.steps if step is not None and step != "passthrough"]
    final = getattr(steps[-1], "_item_popularity", None)
    if final is None:
        return None
    layout = behavior_layout(steps[-1])
    for step in steps[:-1]:
        popularity = getattr(step, "_item_popularity", None)
        if popularity is None or isinstance(step, FrozenEstimator):
            continue
        if len(popularity) == len(final):
            return popularity
        if layout is not None and len(popularity) == steps[-1].n_features_in_:
            # one share per stacked column: the target block's, as the model records
            n_items, index = layout
            block = popularity[index * n_items:(index + 1) * n_items]
            return block / block.sum() if block.any() else block
    return final


class _BeyondAccuracyScorer(_RankingScorer):
    """Callable ``(estimator, X, y=None, **row_data) -> float``; see
    :func:`make_beyond_accuracy_scorer`."""

    def __init__(self, metric, k, holdout, min_interactions, random_state, kwargs,
                 relevance_threshold, item_popularity, split="auto"):
        super().__init__(metric, k, holdout, min_interactions, random_state, kwargs,
                         relevance_threshold, split)
        self.item_popularity = item_popularity

    def __repr__(self):
        options = "".join(f", {name}={value!r}" for name, value in self.kwargs.items()
                          if name != "categories")
        if self.relevance_threshold is not None:
            options += f", relevance_threshold={self.relevance_threshold!r}"
        if self.split != "auto":
            options += f", split={self.split!r}"
        return f"make_beyond_accuracy_scorer({self.metric!r}, k={self.k}{options})"

    def __call__(self, estimator, X, y=None, **row_data):
        X = self._checked_rows(estimator, X, y)
        X_in, X_out, layout = self._split(estimator, X, y)
        X_out = _relevant(X_out, self.relevance_threshold)
        popularity = None
        if NEEDS_POPULARITY[self.metric]:
            popularity = (self.item_popularity if self.item_popularity is not None
                          else _training_popularity(estimator))
        n_items = X_out.shape[1]
        acc = _accumulator(self.metric, n_items, self.k, item_popularity=popularity,
                           where="X", **self.kwargs)
        # miscalibration compares each list with the history it was made from
        history = self.metric == "miscalibration"
        batches = iter_heldout_batches(
            X_in, X_out, _row_scorer(estimator, X.shape[0], row_data), all_users=True,
            layout=layout)
        for rows, y_b, scores in batches:
            seen = target_history(X_in[rows], layout) if history else y_b
            acc.add(seen, _ranked(scores, self.k, False, n_items))
            del scores  # before the next block is scored
        value = float(np.ravel(acc.result())[0])  # by popularity: the one bucket asked for
        return -value if self.metric in _NEGATED else value


def make_beyond_accuracy_scorer(
    metric, *, k=10, item_popularity=None, relevance_threshold=None, holdout=0.2,
    min_interactions=5, random_state=0, split="auto", **kwargs
):
    """Make a popularity-bias, exposure, novelty or calibration scorer.

    The scorer follows the protocol of :func:`make_ranking_scorer` (a
    sparse ``y`` of held-out interactions, or a fixed-seed split of ``X``),
    so it goes next to NDCG in a multi-metric ``scoring`` dict of
    ``GridSearchCV`` or ``cross_validate``.

    Parameters
    ----------
    metric : {"arp", "aplt", "long_tail_coverage", "gini_index", "novelty", \
            "miscalibration", "ndcg_by_popularity", "recall_by_popularity", \
            "ips_ndcg", "ips_recall"}
        Metric of :mod:`sklearn_recsys.metrics` (:func:`arp_at_k`,
        :func:`aplt_at_k`, :func:`long_tail_coverage`, :func:`gini_index`,
        :func:`novelty_at_k`, :func:`miscalibration_at_k`,
        :func:`ndcg_at_k_by_popularity`, :func:`recall_at_k_by_popularity`,
        :func:`ips_ndcg_at_k`, :func:`ips_recall_at_k`). ``"arp"``,
        ``"gini_index"`` and ``"miscalibration"`` are better when lower:
        their scorers return the negated value, so that greater is better
        for every scorer (as scikit-learn's ``neg_*`` scorers).
    k : int, default=10
        Rank cut-off.
    item_popularity : {array-like, sparse matrix}, default=None
        Where the training popularity comes from. None: from the fitted
        estimator, which records each item's share of its training
        interactions in ``fit`` (in a Pipeline, the interactions the
        pipeline was given: a first step such as ``RatingBinarizer`` or
        ``BM25Weighting`` records them before it drops or reweighs any); inside
        ``GridSearchCV`` and ``cross_validate`` that is the training fold's,
        never the held-out users'. Otherwise a training matrix or one value
        per item, fixed now (for a model fitted elsewhere, or an estimator
        that does not record it); inside a cross-validation this must not be
        the whole data, or the validation users' interactions leak into it.
        Ignored by ``"gini_index"`` and ``"miscalibration"``.
    relevance_threshold : float, default=None
        Held-out values below it are not hits (the accuracy metrics
        ``"*_by_popularity"`` and ``"ips_*"``; ignored by the others).
    holdout : float, default=0.2
        Share of each user's interactions held out when the scorer splits
        ``X`` itself (no sparse ``y`` given): random ones, or the latest for
        a sequential model (its values are order keys).
    min_interactions : int, default=5
        Users with fewer interactions hold nothing out in that split (they
        still have a list, which the list metrics count).
    random_state : int, default=0
        Seed of that split; fixed so every candidate sees the same split
        (unused when the latest interactions are held out: no draw).
    split : {"auto", "random", "latest"}, default="auto"
        Which interactions that split holds out, as in
        :func:`make_ranking_scorer`.
    **kwargs : dict
        Options of the metric: ``short_head_share`` (``"aplt"``,
        ``"long_tail_coverage"``); ``categories`` (required) and ``alpha``
        (``"miscalibration"``, whose user distribution is the fold-in rows
        ``X``); ``buckets`` and ``bucket`` (``"*_by_popularity"``: the index
        of the bucket returned, or ``"head"`` / ``"tail"``; default
        ``"tail"``); ``gamma`` (``"ips_*"``).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None)`` returning a float, higher is better.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_recsys import ItemKNN, make_interactions
    >>> from sklearn_recsys.metrics import make_beyond_accuracy_scorer, make_ranking_scorer
    >>> X = make_interactions(n_users=300, n_items=60, density=0.1, random_state=0)
    >>> scoring = {"ndcg": make_ranking_scorer("ndcg", k=10),
    ...            "aplt": make_beyond_accuracy_scorer("aplt", k=10)}
    >>> search = GridSearchCV(ItemKNN(), {"n_neighbors": [5, 50]}, scoring=scoring,
    ...                       refit="ndcg", cv=3).fit(X)
    >>> bool(0 <= search.cv_results_["mean_test_aplt"].min() <= 1)
    True
    """
    if metric not in _BEYOND_OPTIONS:
        raise ValueError(f"Unknown beyond-accuracy metric {metric!r}; choose one of "
                         f"{tuple(_BEYOND_OPTIONS)}.")
    k = check_k(k)
    _check_split(holdout, random_state, split, min_interactions)
    for name in kwargs:
        if name not in _BEYOND_OPTIONS[metric]:
            raise TypeError(
                f"make_beyond_accuracy_scorer({metric!r}) got an unexpected option {name!r}; "
                f"{metric!r} takes {list(_BEYOND_OPTIONS[metric]) or 'no options'}.")
    _relevant(sp.csr_matrix((1, 1)), relevance_threshold)  # type check, now not at scoring
    n_items = 1
    if metric == "miscalibration":
        kwargs["categories"] = _check_categories(kwargs.get("categories"), None)
        n_items = kwargs["categories"].shape[0]
    if metric.endswith("_by_popularity"):
        kwargs.setdefault("bucket", "tail")
    if item_popularity is not None:
        item_popularity = _check_item_popularity(item_popularity, None)
    # the options are checked now rather than at the first fold of a search
    _accumulator(metric, n_items, k, item_popularity=np.ones(n_items), **kwargs)
    return _BeyondAccuracyScorer(metric, k, holdout, min_interactions, random_state, kwargs,
                                 relevance_threshold, item_popularity, split)
