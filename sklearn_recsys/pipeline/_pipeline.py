"""Recommending through a pipeline: preprocessing applied to score, the raw history to exclude.

A scikit-learn :class:`~sklearn.pipeline.Pipeline` ending in a recommender
can fit and score (``decision_function``), but it has no ``recommend``, and
the two obvious workarounds are wrong: ``pipe[-1].recommend(X)`` skips the
preprocessing, and ``pipe[-1].recommend(pipe[:-1].transform(X))`` excludes
only the items that survive it (a ``RatingBinarizer`` drops the movies a user
rated 3, which then come back as recommendations). Here the scores come from
the transformed rows and the excluded items from the **raw** rows.
"""

import numpy as np
import scipy.sparse as sp
from sklearn import pipeline as sk_pipeline
from sklearn.utils import _safe_indexing
from sklearn.utils._available_if import available_if

from ..base import (_FIT_FAILED, _PARAMS_WITHOUT_EFFECT_ON_SCORES, _allowed_items,
                    _top_k_of_batches, AGAINST_INDICES_FIX, against_count,
                    check_params_unchanged, runners_up)
from ..preprocessing._raw_ids import _fitted_recommender
from ..utils._behaviors import behavior_layout, target_history
from ..utils._scoring_path import served_estimator
from ..utils._topk import iter_row_batches, row_batch_size
from ..utils._validation import (
    check_exclude,
    check_exclude_seen,
    check_k,
    check_row_data,
    check_rows_to_score,
    names_checked,
    pipeline_estimators,
)

__all__ = ["Pipeline", "make_pipeline", "recommend"]


def _refuse_log_encoder(pipe):
    """ValueError for an ``InteractionEncoder`` step: its rows are users, not its input's.

    It maps a log of events to a matrix of users, so a pipeline holding it
    would be split by events in model selection, and its rows to score
    would be a log's users in the encoder's order; the encoder goes before
    the pipeline (and ``encoder.recommend`` serves raw ids).
    """
    from ..preprocessing import InteractionEncoder

    def steps(pipeline, prefix=""):
        # every step, nested pipelines' included (their own last steps too)
        for name, step in pipeline.steps:
            yield prefix + name, step
            if hasattr(step, "steps"):
                yield from steps(step, f"{prefix}{name}__")

    for name, step in steps(pipe):
        if isinstance(step, InteractionEncoder):
            raise ValueError(
                f"The pipeline's step {name!r} is an InteractionEncoder, which maps a log of "
                "events to a matrix of users: its output rows are not the rows it is given, "
                "so the pipeline cannot be fitted, scored or searched on a log (model "
                "selection would split events, not users). Encode before the pipeline: "
                "X = encoder.fit_transform(log), fit the pipeline on X, and serve raw ids "
                "with encoder.recommend(pipe, log).")


def _final_recommender(pipe):
    _refuse_log_encoder(pipe)
    final = pipe[-1]
    if not hasattr(final, "recommend"):
        raise TypeError(
            f"The last step of the pipeline, {type(final).__name__}, is not a recommender "
            "(it has no recommend method).")
    return _fitted_recommender(pipe)


def recommend(estimator, X, k=10, *, exclude_seen=True, exclude=None, candidates=None,
              **params):
    """Top-``k`` items of a recommender or of a pipeline ending in one, excluding the raw history.

    For a :class:`~sklearn.pipeline.Pipeline` (scikit-learn's or this
    module's), each batch of rows goes through every step but the last
    (``transform``), the recommender scores the result, and the items to
    exclude are the non-zeros of the **raw** rows of ``X`` (before any
    binarizing or weighting), plus those of ``exclude``. A last step that
    ranks without dense scores
    (:class:`~sklearn_recsys.neighbors.ApproximateRecommender`) is asked for
    its own ``recommend`` of the transformed rows with those exclusions, so
    the scores are its own (inner products, without the model's biases).
    For a recommender, it is ``estimator.recommend``.

    Parameters
    ----------
    estimator : recommender or Pipeline
        Fitted; a pipeline must end in a recommender and keep the item
        columns (every step maps ``(n_users, n_items)`` to the same shape).
        A fitted search (its ``best_estimator_``) or a ``FrozenEstimator``
        serves the model it wraps.
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Raw interaction history of the users, as given to the pipeline.
    k : int, default=10
        Number of items per user.
    exclude_seen : bool, default=True
        Never return an item with a non-zero in the user's raw row.
    exclude : {array-like, sparse matrix} of shape (n_users, n_items), default=None
        Further items never to return (non-zeros of each row).
    candidates : array-like of int, default=None
        Item indices to choose from; None means the whole catalogue.
    **params : dict
        Row-aligned data of the recommender's scoring (``HybridMF``'s
        ``user_features``): one row per row of ``X``, passed to its
        ``decision_function`` (in a pipeline, untransformed, sliced with
        the rows of each batch).

    Returns
    -------
    indices : ndarray of shape (n_users, min(k, n_items)), dtype int64
        Recommended items, best first, padded with ``-1``.
    scores : ndarray of shape (n_users, min(k, n_items))
        Their scores, padded with ``-inf``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_recsys import EASE, RatingBinarizer
    >>> from sklearn_recsys.pipeline import recommend
    >>> X = np.array([[5., 3., 0., 4.], [4., 0., 5., 1.], [0., 4., 5., 5.]])
    >>> pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=1.0)).fit(X)
    >>> recommend(pipe, X[:1], k=2)[0]  # item 1, rated 3, is excluded
    array([[ 2, -1]])
    """
    # a fitted search (and a FrozenEstimator) serves what it wraps
    estimator = served_estimator(estimator)
    if not isinstance(estimator, sk_pipeline.Pipeline):
        return estimator.recommend(X, k, exclude_seen=exclude_seen, exclude=exclude,
                                   candidates=candidates, **params)
    final = _final_recommender(estimator)
    k = check_k(k)
    X = check_rows_to_score(estimator, X)
    params = _row_params(final, params, X.shape[0])
    n_columns = final.n_features_in_
    if X.shape[1] != n_columns:
        raise ValueError(f"X has {X.shape[1]} items (columns) but the pipeline's recommender "
                         f"was fitted on {n_columns}.")
    # a multi-behaviour recommender scores (and excludes) its target block only
    layout = behavior_layout(final)
    n_items = n_columns if layout is None else layout[0]
    exclude = check_exclude(exclude, X.shape[0], n_items, estimator)
    exclude_seen = check_exclude_seen(exclude_seen)
    if getattr(final, "_ranks_without_scores", False):
        # a search index (ApproximateRecommender): its recommend never builds the
        # dense scores that the blocks below rank; it is told the raw history
        X_t = _transformed(estimator, X)
        banned = exclude
        if exclude_seen:
            history = target_history(X, layout)
            banned = history if banned is None else banned + history
        with names_checked():
            return final.recommend(X_t, k, exclude_seen=False, exclude=banned,
                                   candidates=candidates)
    blocks = _raw_history_blocks(estimator, final, X, layout, exclude_seen=exclude_seen,
                                 exclude=exclude, allowed=_allowed_items(candidates, n_items),
                                 params=params)
    return _top_k_of_batches(blocks, n_items, k, exclude_seen, candidates, exclude)


def _row_params(final, params, n_rows):
    """``params`` without Nones, checked: one row per row of ``X``, and a last step that
    scores through ``decision_function`` (the one that reads them)."""
    params = {name: value for name, value in params.items() if value is not None}
    if not params:
        return params
    if getattr(final, "_ranks_without_scores", False) or _excludes_before_scoring(final):
        raise TypeError(
            f"{type(final).__name__} at the end of the pipeline takes no row data "
            f"({', '.join(params)}); pass them to a pipeline ending in the model that "
            "reads them.")
    check_row_data(params, n_rows)
    return params


def _excludes_before_scoring(model):
    """Whether a recommender's scores depend on the items it may not return.

    The re-rankers and the stack choose their candidates among the items
    left once the history is removed, so in a pipeline they must be told the
    **raw** history, not the preprocessed one (a ``RatingBinarizer`` drops
    the low ratings, which would then fill their candidate lists).
    """
    return getattr(model, "_excludes_before_scoring", False)


def _steps_output_frames(pipe):
    """Whether a preprocessing step of ``pipe`` has its output set to a DataFrame
    (``set_output``): a sparse output cannot be wrapped, so it is given dense rows."""
    from sklearn.utils._set_output import _get_output_config

    return any(_get_output_config("transform", step)["dense"] != "default"
               for step in pipeline_estimators(pipe)[:-1])


def _transformed(pipe, X_raw):
    """Rows ``X_raw`` through every step of ``pipe`` but the last, item columns kept.

    Rows to score arrive as CSR however ``X`` was given. Steps that cannot take them
    (a ``MinMaxScaler``: "Sparse data was passed", though the user passed dense data;
    a step whose output is set to a DataFrame) are given the batch dense instead, as
    a pipeline fitted on a dense ``X`` saw it: on a step's refusal of the sparse rows
    they are tried dense, and the first refusal is raised if that fails too.
    """
    # a one-step pipeline has no preprocessing (and its empty slice no transform)
    if len(pipe.steps) == 1:
        return X_raw
    if sp.issparse(X_raw) and _steps_output_frames(pipe):
        X_raw = X_raw.toarray()  # a row batch of working_memory's size
    with names_checked():
        try:
            X_t = pipe[:-1].transform(X_raw)
        except (TypeError, ValueError) as exc:
            if not sp.issparse(X_raw):
                raise
            try:
                X_t = pipe[:-1].transform(X_raw.toarray())
            except Exception:
                raise exc from None
    if X_t.shape != X_raw.shape:
        raise ValueError(
            f"The pipeline's preprocessing maps {X_raw.shape[1]} item columns to "
            f"{X_t.shape[1]}: recommending needs steps that keep the item columns, "
            "so that the raw items can be excluded.")
    return X_t


def _raw_history_blocks(pipe, final, X, layout, *, exclude_seen=True, exclude=None,
                        allowed=None, params=None):
    """``(rows, raw target history, scores)`` of a pipeline, in row batches of CSR ``X``.

    Scores come from the preprocessed rows; a last step that excludes before
    scoring is given the raw history (when ``exclude_seen``), ``exclude`` and
    ``allowed`` instead of reading the history from its preprocessed input.
    """
    for rows in iter_row_batches(X.shape[0], row_batch_size(final.n_features_in_)):
        X_raw = X[rows]
        X_t = _transformed(pipe, X_raw)
        history = target_history(X_raw, layout)
        if not _excludes_before_scoring(final):
            sliced = {name: _safe_indexing(value, rows) for name, value in (params or {}).items()}
            with names_checked():
                scores = final.decision_function(X_t, **sliced)
            yield rows, history, scores
            del scores  # one block held while the next is scored, not two
            continue
        banned = None if exclude is None else exclude[rows]
        if exclude_seen:
            banned = history if banned is None else banned + history
        with names_checked():
            parts = final._iter_scores(final._validate_for_scoring(X_t), exclude_seen=False,
                                       exclude=banned, allowed=allowed)
            scores = np.vstack([scores for _, _, scores in parts])
        yield rows, history, scores
        del scores


def pipeline_scores(pipe, X, **params):
    """Scores of a pipeline ending in a recommender, as :func:`recommend` ranks them.

    For a :class:`~sklearn.pipeline.Pipeline` (scikit-learn's or this
    module's): the rows through every step but the last, which must keep
    the item columns (refused otherwise, as in :func:`recommend`), then the
    last step's scores, given ``params`` (row data such as
    ``user_features``, one row per row of ``X``) directly; a last step that
    re-ranks or stacks is told the raw history first. The scorers call it
    so that either kind of pipeline is judged on the lists that
    :func:`recommend` returns.
    """
    final = _fitted_recommender(pipe)
    X = check_rows_to_score(pipe, X)
    params = _row_params(final, params, X.shape[0])
    blocks = _raw_history_blocks(pipe, final, X, behavior_layout(final), params=params)
    parts = [scores for _, _, scores in blocks]
    if not parts:
        return np.empty((0, final._n_items()))
    return np.vstack(parts)


def _ends_in_recommender(pipe):
    return hasattr(pipe.steps[-1][1], "recommend")


class Pipeline(sk_pipeline.Pipeline):
    """A :class:`sklearn.pipeline.Pipeline` that can recommend when it ends in a recommender.

    Same parameters and behaviour as scikit-learn's, plus :meth:`recommend`
    (scores from the preprocessed rows, excluded items from the raw rows)
    and a :meth:`score` that ranks the same way. Build one with
    :func:`make_pipeline`.

    Parameters
    ----------
    steps : list of tuples
        ``(name, estimator)`` pairs; the last one a recommender.
    transform_input : list of str, default=None
        As in scikit-learn's Pipeline.
    memory : str or object with the joblib.Memory interface, default=None
        As in scikit-learn's Pipeline.
    verbose : bool, default=False
        As in scikit-learn's Pipeline.

    See Also
    --------
    recommend : The same for any scikit-learn Pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import EASE, RatingBinarizer
    >>> from sklearn_recsys.pipeline import make_pipeline
    >>> X = np.array([[5., 3., 0., 4.], [4., 0., 5., 1.], [0., 4., 5., 5.]])
    >>> pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=1.0)).fit(X)
    >>> pipe.recommend(X[:1], k=2)[0]
    array([[ 2, -1]])
    """

    def fit(self, X, y=None, **params):
        """Fit every step in turn, as scikit-learn's, recording the steps' parameters.

        A preprocessing step's parameter changed by ``set_params`` after
        ``fit`` (``ratingbinarizer__threshold``) would feed the last step rows
        it was not trained on; the pipeline then refuses to score until it is
        set back or the pipeline is fitted again, as the package's models do.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Training interactions.
        y : None
            Ignored.
        **params : dict
            As in scikit-learn's Pipeline (``step__param`` fit parameters).

        Returns
        -------
        self : Pipeline
        """
        return self._recording_step_params(super().fit, X, y, **params)

    @available_if(sk_pipeline.Pipeline._can_fit_transform)
    def fit_transform(self, X, y=None, **params):
        """Fit every step and transform with the last, recording the steps' parameters.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Training interactions.
        y : None
            Ignored.
        **params : dict
            As in scikit-learn's Pipeline.

        Returns
        -------
        Xt : ndarray or sparse matrix
        """
        return self._recording_step_params(super().fit_transform, X, y, **params)

    @available_if(sk_pipeline.Pipeline._can_transform)
    def transform(self, X, **params):
        """As scikit-learn's, refused while a step's parameter differs from its fit's.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions.
        **params : dict
            As in scikit-learn's Pipeline.

        Returns
        -------
        Xt : ndarray or sparse matrix
        """
        self._check_fitted_steps()
        return super().transform(X, **params)

    def get_feature_names_out(self, input_features=None):
        """As scikit-learn's, refused while a step's parameter differs from its fit's.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            As in scikit-learn's Pipeline.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The names of :meth:`transform`'s columns.
        """
        # the names of a transform that is refused would describe no output
        self._check_fitted_steps()
        return super().get_feature_names_out(input_features)

    def _recording_step_params(self, fit, X, y, **params):
        # a fit that raises midway leaves some steps refitted: nothing to score
        self._fitted_step_params = _FIT_FAILED
        if _ends_in_recommender(self):
            _refuse_log_encoder(self)
        result = fit(X, y, **params)
        names = {name for name, _ in self.steps[:-1]}
        # the last step records (and checks) its own parameters
        self._fitted_step_params = {
            key: value for key, value in self.get_params(deep=True).items()
            if key.split("__")[0] in names
            and key.rsplit("__", 1)[-1] not in _PARAMS_WITHOUT_EFFECT_ON_SCORES}
        # the steps themselves: one renamed, inserted or swapped for another fitted one
        # (set_params(steps=...)) leaves no key of the record to compare
        self._fitted_steps = list(self.steps[:-1])
        return result

    def _check_fitted_steps(self):
        """ValueError if a preprocessing step, or its parameter, changed since ``fit``."""
        fitted = getattr(self, "_fitted_step_params", None)
        steps = getattr(self, "_fitted_steps", None)
        if isinstance(fitted, dict) and steps is not None and not _same_steps(
                steps, self.steps[:-1]):
            raise ValueError(
                f"This Pipeline's preprocessing steps changed since fit ({_step_names(steps)}"
                f" -> {_step_names(self.steps[:-1])}, or a step was replaced by another "
                "object), but its last step was fitted on the rows the fit's steps made. Set "
                "the steps back, or fit again.")
        check_params_unchanged(self, fitted)

    @available_if(_ends_in_recommender)
    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None,
                  **params):
        """Top-``k`` items per user; see :func:`sklearn_recsys.pipeline.recommend`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Raw interaction history of the users.
        k : int, default=10
            Number of items per user.
        exclude_seen : bool, default=True
            Never return an item with a non-zero in the user's raw row.
        exclude : {array-like, sparse matrix} of shape (n_users, n_items), default=None
            Further items never to return.
        candidates : array-like of int, default=None
            Item indices to choose from.
        **params : dict
            Row-aligned data of the last step's scoring (``HybridMF``'s
            ``user_features``), one row per row of ``X``.

        Returns
        -------
        indices : ndarray of shape (n_users, min(k, n_items)), dtype int64
        scores : ndarray of shape (n_users, min(k, n_items))
        """
        return recommend(self, X, k, exclude_seen=exclude_seen, exclude=exclude,
                         candidates=candidates, **params)

    @available_if(lambda self: hasattr(self._final_estimator, "decision_function"))
    def decision_function(self, X, **params):
        """Scores of the last step on the preprocessed rows.

        As scikit-learn's, except where the last step is a recommender: as
        in :meth:`recommend`, the preprocessing must keep the item columns,
        row data (``user_features``) goes to the last step directly, and a
        last step that re-ranks or stacks (its candidates are the items the
        user may be recommended) removes the **raw** rows' history before
        choosing them.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Raw interaction history of the users.
        **params : dict
            Row data of the last step (a recommender), one row per row of
            ``X``; otherwise as in scikit-learn's Pipeline.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
        """
        if _ends_in_recommender(self):
            return pipeline_scores(self, X, **params)
        return super().decision_function(X, **params)

    @available_if(lambda self: hasattr(self._final_estimator, "explain"))
    def explain(self, x_row, item):
        """Contribution of each of the user's items to one item's score, through the steps.

        The last step's ``explain`` of the preprocessed row: the items are
        the user's (the steps keep the item columns), the contributions add
        up to the score :meth:`decision_function` gives ``item``.

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's raw interactions.
        item : int
            The item (column) whose score is explained.

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
            The user's items (of the preprocessed row), largest contribution first.
        contributions : ndarray of shape (n_user_items,)
        """
        _final_recommender(self)
        return self._final_estimator.explain(self._explained_row(x_row), item)

    @available_if(lambda self: hasattr(self._final_estimator, "explain_contrast"))
    def explain_contrast(self, x_row, item, against=10):
        """Contribution of each of the user's items to one item's lead over others.

        The last step's ``explain_contrast`` of the preprocessed row; a number
        ``against`` takes the items that follow ``item`` in the pipeline's
        own list (:meth:`recommend`: the **raw** history excluded).

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's raw interactions.
        item : int
            The item (column) whose lead is explained.
        against : int or array-like of int, default=10
            A number of runners-up, or the item indices to compare it with.

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
        contributions : ndarray of shape (n_user_items,)
        """
        _final_recommender(self)
        final = self._final_estimator
        x_t = self._explained_row(x_row)
        count = against_count(against)
        n_items = final._n_items() if hasattr(final, "_n_items") else x_t.shape[1]
        # the runners-up of the pipeline's list where the last step would look them up
        # (a valid item of one user with a history); its own checks raise otherwise
        if (count is not None and count >= 1 and x_t.shape[0] == 1
                and (x_t.nnz if sp.issparse(x_t) else np.count_nonzero(x_t))
                and isinstance(item, (int, np.integer)) and 0 <= item < n_items):
            against = runners_up(self.recommend(x_row, k=n_items)[0][0], item, count,
                                 f"item {item}",
                                 AGAINST_INDICES_FIX)
        return final.explain_contrast(x_t, item, against)

    def _explained_row(self, x_row):
        """``x_row`` through the preprocessing (the last step validates it)."""
        if not (sp.issparse(x_row) or hasattr(x_row, "shape")):
            x_row = np.asarray(x_row)  # a list: _transformed compares shapes
        return _transformed(self, x_row)

    @available_if(lambda self: hasattr(self._final_estimator, "similar_items"))
    def similar_items(self, items, k=10):
        """The last step's ``similar_items`` (item-item, no preprocessing involved).

        Parameters
        ----------
        items : array-like of int
            Item indices.
        k : int, default=10
            Neighbours per item.

        Returns
        -------
        indices : ndarray of shape (n_query_items, min(k, n_items)), dtype int64
        scores : ndarray of shape (n_query_items, min(k, n_items))
        """
        _final_recommender(self)
        return self._final_estimator.similar_items(items, k)

    # no sample_weight argument: scikit-learn would then generate a
    # set_score_request method for metadata routing, which this score ignores
    def score(self, X, y=None, **params):
        """NDCG@10 of the recommendations, the raw history excluded (as in ``recommend``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Raw interaction history (fold-in part) of the users.
        y : sparse matrix of shape (n_users, n_items), default=None
            Held-out interactions of the same users.
        **params : dict
            Row data of the last step (a recommender), one row per row of
            ``X``, as in :meth:`decision_function` (``user_features`` of a
            ``HybridMF``); a name the last step does not take is refused.
            ``sample_weight`` is refused: every user counts once.

        Returns
        -------
        score : float
        """
        from ..metrics import make_ranking_scorer

        if params.pop("sample_weight", None) is not None:
            raise TypeError("Pipeline.score does not take sample_weight: every user counts "
                            "once in the NDCG@10 mean.")
        _final_recommender(self)
        # scored as the scorers score it, the row data included (it was dropped)
        return make_ranking_scorer("ndcg", k=10)(self, X, y, **params)


def make_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """Build a :class:`Pipeline` (that can recommend) from estimators, naming the steps.

    Parameters
    ----------
    *steps : estimators
        The preprocessing steps, then the recommender.
    memory : str or object with the joblib.Memory interface, default=None
        As in :func:`sklearn.pipeline.make_pipeline`.
    transform_input : list of str, default=None
        As in :func:`sklearn.pipeline.make_pipeline`.
    verbose : bool, default=False
        As in :func:`sklearn.pipeline.make_pipeline`.

    Returns
    -------
    pipeline : Pipeline
    """
    named = sk_pipeline.make_pipeline(*steps).steps  # scikit-learn's step names
    return Pipeline(named, memory=memory, transform_input=transform_input, verbose=verbose)


def _same_steps(before, now):
    """Whether ``now`` holds the very step objects of ``before`` under the same names."""
    return len(before) == len(now) and all(
        name == name_now and (step is step_now or (isinstance(step, str) and step == step_now))
        for (name, step), (name_now, step_now) in zip(before, now))


def _step_names(steps):
    return "[" + ", ".join(repr(name) for name, _ in steps) + "]"
