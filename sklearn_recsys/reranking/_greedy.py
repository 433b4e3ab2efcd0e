"""Greedy re-ranking of a recommender's lists: long-tail exposure (xQuAD) and calibration.

A re-ranker wraps a recommender as scikit-learn's meta-estimators wrap an
estimator: the unfitted model is the ``estimator`` parameter, ``fit`` clones
and fits it (``estimator_``), and ``get_params(deep=True)`` exposes its
parameters as ``estimator__<name>``, so ``GridSearchCV`` tunes the model and
the trade-off together.

For each user, the ``n_candidates`` best **unseen** items of the inner model
(the history is excluded before re-ranking, so the slots are spent on items
that can be recommended) are re-ordered by a greedy list builder that trades
the inner model's relevance against a list-level objective, one parameter,
``tradeoff`` in [0, 1], setting the balance. The re-ranked order is returned
as scores (``decision_function``): the re-ranked candidates get decreasing
scores above every other item, and the other items keep the inner scores, so
``recommend``, ``score`` and every scorer of :mod:`sklearn_recsys.metrics`
see exactly the re-ranked lists.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..base import (
    RecommenderMixin,
    _WrappedFlag,
    _inner_explains,
    _recommend_excluding_first,
)
from ..metrics._beyond_accuracy import (
    SHORT_HEAD_SHARE,
    STECK_ALPHA,
    _bucket_of,
    _category_mix,
    _check_categories,
)
from ..metrics._scorer import _training_popularity
from ..utils._behaviors import behavior_block, behavior_layout
from ..utils._scoring_path import holds_a_frozen_model
from ..utils._topk import iter_row_batches, mask_seen, row_batch_size, top_k

__all__ = ["XQuADReranker", "CalibratedReranker"]


# ----------------------------------------------------------------- greedy core


def _min_max(values, valid):
    """Each row's valid values scaled to [0, 1] (all 1 when they are equal).

    The inner scores are on each model's own scale (EASE's reconstructions,
    factor dot products, probabilities); scaling them per user makes
    ``tradeoff`` mean the same for every model and every user.
    """
    lo = np.min(np.where(valid, values, np.inf), axis=1, keepdims=True)
    hi = np.max(np.where(valid, values, -np.inf), axis=1, keepdims=True)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span > 0, (values - lo) / span, 1.0)
    return np.where(valid, scaled, 0.0)


def _relevance(values, valid, score_scale):
    """Each user's candidate relevances in [0, 1]: the inner scores, min-max scaled.

    ``score_scale="log"`` reads the scores as log-probabilities (or logits):
    they are exponentiated first, relative to the user's best candidate, so the
    relevance is linear in the probability (in the odds, for the logits of a
    sigmoid), as xQuAD's :math:`P(i|u)` is, instead of in its logarithm.
    """
    if score_scale == "log":
        top = np.max(np.where(valid, values, -np.inf), axis=1, keepdims=True)
        # the best candidates get exp(0) = 1 even when their score is infinite (then
        # every other one gets exp(-inf) = 0, where inf - inf would be NaN)
        with np.errstate(invalid="ignore"):
            shifted = np.where(values == top, 0.0, values - top)
        values = np.where(valid, np.exp(shifted), 0.0)
    return _min_max(values, valid)


# relative tolerance under which two gains of the greedy objective are equal
_TIE = 1e-12


def _greedy_order(relevance, valid, tradeoff, objective):
    """Greedy list building: at each step, the candidate of largest marginal objective.

    Parameters
    ----------
    relevance : ndarray of shape (n_users, n_candidates)
        Scaled inner scores of the candidates, in the inner model's order.
    valid : ndarray of bool of shape (n_users, n_candidates)
        False for padding (fewer unseen items than candidates).
    tradeoff : float
        Weight of the list objective; ``1 - tradeoff`` weighs the relevance.
    objective : object
        ``term()`` returns the list objective of adding each candidate to
        the list built so far, ``(n_users, n_candidates)``; ``add(chosen,
        active)`` records the candidate chosen for each active user.

    Returns
    -------
    order : ndarray of shape (n_users, n_candidates), dtype int64
        Candidate columns in the re-ranked order, ``-1`` after the valid ones.
        Ties go to the earlier candidate, i.e. the inner model's order.
    """
    n_users, n_cand = relevance.shape
    order = np.full((n_users, n_cand), -1, dtype=np.int64)
    available = valid.copy()
    rows = np.arange(n_users)
    for step in range(n_cand):
        if not available.any():
            break
        gain = (1.0 - tradeoff) * relevance + tradeoff * objective.term()
        gain[~available] = -np.inf
        # gains equal up to rounding are a tie, which the earlier candidate wins: the
        # same value reached by other operations differs in its last bits (1 - (1 - 1/3)
        # is not 1/3, so xQuAD's tail and head terms of equal shares were not equal)
        best = gain.max(axis=1, keepdims=True)
        chosen = np.argmax(gain >= best - _TIE * (1.0 + np.abs(best)), axis=1)
        active = available[rows, chosen]
        order[active, step] = chosen[active]
        available[rows[active], chosen[active]] = False
        objective.add(chosen, active)
    return order


class _PopularityCoverage:
    """xQuAD's diversity term over the short head and the long tail (Abdollahpouri et al.).

    For a candidate ``i`` of category ``c(i)`` (head or tail),
    ``P(c(i)|u) * P(S' | c(i))``, where ``P(S'|c)``, the likelihood that the
    list ``S`` does not cover ``c`` yet, is ``1`` if no item of ``S`` is in
    ``c`` and ``0`` otherwise ("binary"), or ``1 - |S ∩ c| / |S|``
    ("smooth").
    """

    def __init__(self, in_tail, user_tail_share, user_head_share, kind):
        self.in_tail = in_tail
        self.p_tail, self.p_head = user_tail_share[:, None], user_head_share[:, None]
        self.kind = kind
        self.n = np.zeros(len(in_tail))
        self.n_tail = np.zeros(len(in_tail))

    def term(self):
        n, n_tail = self.n[:, None], self.n_tail[:, None]
        if self.kind == "binary":
            tail_uncovered = (n_tail == 0).astype(np.float64)
            head_uncovered = (n - n_tail == 0).astype(np.float64)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                tail_uncovered = np.where(n > 0, 1.0 - n_tail / n, 1.0)
            head_uncovered = np.where(n > 0, 1.0 - tail_uncovered, 1.0)
        return np.where(self.in_tail, self.p_tail * tail_uncovered,
                        self.p_head * head_uncovered)

    def add(self, chosen, active):
        rows = np.arange(len(chosen))
        self.n += active
        self.n_tail += active & self.in_tail[rows, chosen]


class _Calibration:
    """Minus Steck's miscalibration of the list with each candidate added.

    ``-KL(p || q~)`` with ``p`` the category mix of the user's history,
    ``q`` that of the list (each item counted once, an item of several
    categories as an equal share of each, as
    :func:`~sklearn_recsys.metrics.miscalibration_at_k`) and
    ``q~ = (1 - alpha) q + alpha p``.
    """

    def __init__(self, candidate_categories, user_mix, alpha):
        self.cand = candidate_categories  # (n_users, n_cand, n_categories), p(g|i)
        self.cand_mass = candidate_categories.sum(axis=2)
        self.p = user_mix
        self.alpha = alpha
        self.mass = np.zeros(user_mix.shape)  # sum of p(g|i) over the list so far
        self.total = np.zeros(user_mix.shape[0])

    def term(self):
        mass = self.mass[:, None, :] + self.cand
        total = self.total[:, None] + self.cand_mass
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.where(total[..., None] > 0, mass / total[..., None], 0.0)
            q = (1 - self.alpha) * q + self.alpha * self.p[:, None, :]
            p = self.p[:, None, :]
            # categories the user never chose add nothing (0 log 0 = 0)
            kl = np.where(p > 0, p * np.log(p / q), 0.0).sum(axis=2)
        return -kl

    def add(self, chosen, active):
        rows = np.flatnonzero(active)
        self.mass[rows] += self.cand[rows, chosen[rows]]
        self.total[rows] += self.cand_mass[rows, chosen[rows]]


def _reranked_scores(raw, candidates, order):
    """Scores whose ranking is the re-ranked candidates first, then the inner order.

    The re-ranked candidates get ``b + gap * (n - r)`` at re-ranked position
    ``r`` of ``n``, where ``b`` is the highest inner score of the other items
    and ``gap = max(|b|, 1)``, so they come above every other item in their
    new order (distinct in float64) and the other items keep their inner
    scores. A row depends on nothing but itself.
    """
    out = np.array(raw, dtype=np.float64)
    ranked = np.where(order >= 0, np.take_along_axis(candidates, np.maximum(order, 0), 1), -1)
    valid = ranked >= 0
    rows = np.repeat(np.arange(out.shape[0]), valid.sum(axis=1))
    items = ranked[valid]  # row by row, in re-ranked order
    out[rows, items] = -np.inf
    top_other = out.max(axis=1) if out.shape[1] else np.zeros(out.shape[0])
    top_other = np.where(np.isfinite(top_other), top_other, 0.0)
    gap = np.maximum(np.abs(top_other), 1.0)
    slots = valid.sum(axis=1, keepdims=True) - np.arange(ranked.shape[1])[None, :]
    values = top_other[:, None] + gap[:, None] * slots
    out[rows, items] = values[valid]
    return out


# ----------------------------------------------------------------- estimators


class _GreedyReranker(MetaEstimatorMixin, RecommenderMixin, BaseEstimator):
    """Shared plumbing: fit the inner model, pick unseen candidates, scores of the new order.

    Subclasses implement ``_fit_reranker(X)`` (after the inner model is
    fitted) and ``_objective(X_batch, candidates, valid)`` returning the
    list objective of :func:`_greedy_order` for a batch of users.
    """

    # its candidates are chosen after removing what may not be returned: a pipeline
    # must pass it the raw history (see sklearn_recsys.pipeline)
    _excludes_before_scoring = True
    # users without history get the wrapped model's list
    _ranks_users_without_history = _WrappedFlag()

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "decision_function"])],
        "tradeoff": [Interval(Real, 0, 1, closed="both")],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "score_scale": [StrOptions({"linear", "log"})],
    }

    def _fit(self, X):
        # y passed explicitly: FrozenEstimator.fit requires it
        self.estimator_ = clone(self.estimator).fit(X, None)
        n_items = getattr(self.estimator_, "n_features_in_", X.shape[1])
        if n_items != X.shape[1]:
            raise ValueError(
                f"{type(self).__name__}: the inner {type(self.estimator_).__name__} scores "
                f"{n_items} items but X has {X.shape[1]} columns; the estimator must keep "
                "one column per item.")
        # a multi-behaviour inner model: its layout is the re-ranker's (scores,
        # history, popularity and categories are of the target behaviour's items)
        for name in ("behaviors_", "target_", "target_index_", "n_items_"):
            vars(self).pop(name, None)
        layout = behavior_layout(self.estimator_)
        if layout is not None:
            inner = self.estimator_
            while hasattr(inner, "steps"):
                inner = inner.steps[-1][1]
            self.behaviors_, self.target_ = inner.behaviors_, inner.target_
            self.n_items_, self.target_index_ = layout
        # the inner model's training popularity is what a beyond-accuracy
        # scorer reads (for a pipeline: of the interactions it was given), so the
        # re-ranker's head/tail and the scorer's APLT agree; RecommenderMixin.fit
        # recorded that of X already, kept where the inner model has none or
        # was fitted on other data (frozen: inside a search, its data would hold
        # the validation users')
        if holds_a_frozen_model(self.estimator_):
            self._set_popularity(np.bincount(self._target_history(X).indices,
                                             minlength=self._n_items()).astype(np.float64))
        else:
            try:
                self._item_popularity = np.asarray(_training_popularity(self.estimator_),
                                                   dtype=np.float64)
            except TypeError:
                pass
        self._fit_reranker(X)

    def _n_items(self):
        return getattr(self, "n_items_", None) or self.n_features_in_

    def _target_history(self, X):
        if getattr(self, "n_items_", None) is None:
            return X
        return behavior_block(X, self.n_items_, self.target_index_)

    def _inner_scores(self, X_batch):
        scores = np.asarray(self.estimator_.decision_function(X_batch))
        if scores.shape != (X_batch.shape[0], self._n_items()):
            raise ValueError(
                f"The inner {type(self.estimator_).__name__}.decision_function returned "
                f"scores of shape {scores.shape} for {X_batch.shape[0]} users and "
                f"{self._n_items()} items; a re-ranker needs one score per item.")
        # -inf is an item the inner model never recommends; NaN and +inf order nothing
        # (the candidates' relevance and the other items' place would be NaN). A sum is
        # NaN or +inf only if some score is (short of overflow, which the exact check sorts out)
        total = scores.sum()
        if np.isnan(total) or total == np.inf:
            bad = np.flatnonzero((np.isnan(scores) | np.isposinf(scores)).any(axis=1))
            if bad.size:
                raise ValueError(
                    f"The inner {type(self.estimator_).__name__}.decision_function returned "
                    f"NaN or +inf scores for {bad.size} user(s) (rows {bad[:5].tolist()}"
                    f"{'...' if bad.size > 5 else ''} of the batch); a re-ranker needs scores "
                    "that order the items, with -inf for an item never to recommend. Fix the "
                    "inner model's scores (e.g. np.nan_to_num(scores, nan=-np.inf)).")
        return scores

    def _rerank(self, X_batch, raw, exclude_seen=True, exclude_batch=None, allowed=None):
        """Re-ranked scores of a batch from its inner scores ``raw``."""
        if self.tradeoff == 0:
            # nothing to trade: the inner model's scores, bit for bit
            return raw
        masked = np.array(raw, dtype=np.float64)
        # the history (and any excluded item) is removed *before* choosing the
        # candidates, so that every re-ranked slot can be recommended; the
        # objectives read the history of the items ranked (the target block)
        X_batch = self._target_history(X_batch)
        if exclude_seen:
            mask_seen(masked, X_batch)
        if exclude_batch is not None:
            mask_seen(masked, exclude_batch)
        if allowed is not None:
            masked[:, ~allowed] = -np.inf
        candidates, values = top_k(masked, self.n_candidates)
        del masked
        valid = candidates >= 0
        relevance = _relevance(values, valid, self.score_scale)
        order = np.empty(candidates.shape, dtype=np.int64)
        # the objective's few temporaries of (users, candidates, width) floats
        # stay within about scikit-learn's working_memory
        step = row_batch_size(8 * candidates.shape[1] * self._objective_width())
        for rows in iter_row_batches(X_batch.shape[0], step):
            objective = self._objective(X_batch[rows], candidates[rows], valid[rows])
            order[rows] = _greedy_order(relevance[rows], valid[rows], float(self.tradeoff),
                                        objective)
        return _reranked_scores(raw, candidates, order)

    def _objective_width(self):
        """Floats per candidate that the objective holds (bounds the users re-ranked at once)."""
        return 1

    def _score_batch(self, X_batch):
        return self._rerank(X_batch, self._inner_scores(X_batch))

    def _iter_scores(self, X, exclude_seen=True, exclude=None, allowed=None):
        # the inner model already served its own fallback to users without
        # history and checked its scores, so neither is applied twice here
        step = row_batch_size(self._n_items())
        for rows in iter_row_batches(X.shape[0], step):
            X_batch = X[rows]
            excluded = None if exclude is None else exclude[rows]
            yield rows, self._target_history(X_batch), self._rerank(
                X_batch, self._inner_scores(X_batch), exclude_seen, excluded, allowed)

    def decision_function(self, X):
        """Re-ranked scores: every user's re-ranked candidates first, in their new order.

        For each user, the ``n_candidates`` best items of the inner model
        that are not in the user's row (the history is excluded before
        re-ranking) get decreasing scores, in the re-ranked order, above
        every other item; the other items keep the inner model's scores.
        Sorting a row, with its history masked (as :meth:`recommend` and the
        scorers of :mod:`sklearn_recsys.metrics` do), gives the re-ranked
        list followed by the inner model's order. With ``tradeoff=0`` the
        inner model's scores are returned unchanged. Row ``u`` depends only
        on row ``u`` of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history of the users to score.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
            Higher ranks first. The re-ranked candidates' values encode the
            new order, not a relevance.
        """
        return super().decision_function(X)

    @available_if(_inner_explains)
    def explain(self, x_row, item):
        """The inner model's explanation of one item's relevance to one user.

        Re-ranking changes where an item stands in the list, not why it is
        relevant: the contributions are those of ``estimator_.explain``
        (the convention of each model, see the project's
        ``docs/contract.rst``), not of the order-encoding scores of
        :meth:`decision_function`. Available when the inner model has
        ``explain``.

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's interactions.
        item : int
            The item (column) whose relevance is explained.

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
            The user's items, largest contribution first.
        contributions : ndarray of shape (n_user_items,)
            Their contributions to the inner model's score of ``item``.
        """
        self._check_fitted()
        # the errors of every model; the inner model, fitted on the validated matrix,
        # gets the validated row too (a DataFrame's names would warn there)
        x, item = self._validate_explain(x_row, item)
        return self.estimator_.explain(x, item)

    @available_if(_inner_explains)
    def explain_contrast(self, x_row, item, against=10):
        """The inner model's explanation of one item's lead over others.

        As :meth:`explain`, the inner model's: ``estimator_.explain_contrast``,
        whose int ``against`` takes the items that follow ``item`` in the
        inner model's list, not the re-ranked one (the re-ranking, not the
        user's items, is why the re-ranked order differs).

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's interactions.
        item : int
            The item (column) whose lead is explained.
        against : int or array-like of int, default=10
            The number of items that follow ``item`` in the inner model's
            list, or the item indices to compare it with.

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
            The user's items, largest contribution first.
        contributions : ndarray of shape (n_user_items,)
            Their contributions to the inner model's score of ``item`` minus
            the mean of their contributions to its scores of ``against``.
        """
        self._check_fitted()
        x, item = self._validate_explain(x_row, item)
        return self.estimator_.explain_contrast(x, item, against)

    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        """Top-``k`` re-ranked items for each user, best first.

        The items that may not be returned (the history when
        ``exclude_seen``, the non-zeros of ``exclude``, the items outside
        ``candidates``) are removed **before** the ``n_candidates`` items to
        re-rank are chosen, so the list is re-ranked from items that can be
        recommended. The first ``min(k, n_candidates)`` items are the
        re-ranked ones; any further items follow the inner model's order.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history of the users; row ``u`` is user ``u``.
        k : int, default=10
            Number of items to return per user.
        exclude_seen : bool, default=True
            Never return an item the user has interacted with.
        exclude : {array-like, sparse matrix} of shape (n_users, n_items), default=None
            Further items never to return: the non-zeros of row ``u`` for
            user ``u``.
        candidates : array-like of int, default=None
            Item indices to choose from; ``None`` means the whole catalogue.

        Returns
        -------
        indices : ndarray of shape (n_users, min(k, n_items)), dtype int64
            Recommended item indices, best first, padded with ``-1``.
        scores : ndarray of shape (n_users, min(k, n_items))
            Their scores, padded with ``-inf``: with the default
            ``exclude_seen``, ``exclude`` and ``candidates``, those
            :meth:`decision_function` gives them (the inner model's with
            ``tradeoff=0``); other exclusions re-choose the candidates
            before re-ranking, and the scores encode that new order.
        """
        return _recommend_excluding_first(self, X, k, exclude_seen, exclude, candidates)


_ESTIMATOR_PARAM = """estimator : recommender
        The recommender whose lists are re-ranked: any estimator with ``fit``
        and ``decision_function`` over the same item columns (a model of
        :mod:`sklearn_recsys`, or a :class:`~sklearn.pipeline.Pipeline` ending
        in one), whose scores are finite or ``-inf`` (an item never to
        recommend; NaN and ``+inf`` raise ``ValueError``). It is cloned and
        fitted in :meth:`fit`; its parameters are tunable as
        ``estimator__<name>``. To re-rank a model fitted
        elsewhere, pass ``sklearn.frozen.FrozenEstimator(model)``; the
        items' training popularity (head and tail, the scorers' APLT) is
        then that of the ``X`` given to :meth:`fit`, not of the data the
        frozen model saw."""

_TRADEOFF_PARAMS = """tradeoff : float, default=0.5
        Weight of the list objective against relevance, in [0, 1]: ``0``
        returns the inner model's scores and lists unchanged, ``1`` builds
        the list from the objective alone (relevance only breaks ties).
        The relevance of a candidate is its inner score min-max scaled over
        the user's candidates to [0, 1] (see ``score_scale``), so the weight
        means the same for every model. Settable after ``fit`` (read only
        when re-ranking).
    n_candidates : int, default=100
        Number of the inner model's best unseen items re-ranked per user
        (Abdollahpouri et al. re-rank the top 100 into a top 10). Evaluate
        at a ``k`` below it: at ``k >= n_candidates`` the list holds the
        same items, only reordered. Settable after ``fit``.
    score_scale : {"linear", "log"}, default="linear"
        How the inner scores measure relevance. ``"linear"``: as they are
        (EASE's reconstructions, factor dot products, probabilities).
        ``"log"``: they are log-probabilities (``MultVAE``, ``MultDAE``, the
        sequential models trained with a softmax) or logits, exponentiated
        relative to the user's best candidate before the min-max scaling,
        so a candidate's relevance is linear in its probability (for the
        logits of a sigmoid, as ``CDAE``'s, in its odds ``p / (1 - p)``,
        close to the probability where it is small).
        Read linearly, log-probabilities compress the differences between
        the best candidates (one ten times less likely than the best keeps
        most of its relevance when the candidates span several orders of
        magnitude), so the objective displaces the inner model's best items
        as readily as its last ones. Settable after ``fit``."""

_COMMON_ATTRIBUTES = """estimator_ : estimator
        The fitted clone of ``estimator``.
    n_features_in_ : int
        Number of columns seen during fit.
    feature_names_in_ : ndarray of shape (n_items,)
        Item names, when ``X`` had string column names.
    behaviors_, target_ : tuple of str and str
        Only when ``estimator`` is a multi-behaviour model (or a pipeline
        ending in one): its behaviours and target, whose block is re-ranked.
    target_index_, n_items_ : int
        Only then too: the target block's position and its number of items."""


class XQuADReranker(_GreedyReranker):
    r"""Personalized long-tail re-ranking with xQuAD (Abdollahpouri et al. 2019).

    Wraps a recommender and trades its accuracy for long-tail exposure. The
    catalogue is split by **training** popularity into the short head
    :math:`\Gamma'` (the most popular items holding ``short_head_share`` of
    the training interactions) and the long tail :math:`\Gamma`, as
    :func:`~sklearn_recsys.metrics.aplt_at_k` does. For each user, the list
    :math:`S` is built greedily from the ``n_candidates`` best unseen items
    of the inner model, adding at each step the item :math:`i` maximizing

    .. math::

        (1 - \lambda)\, P(i|u) + \lambda \sum_{c \in \{\Gamma, \Gamma'\}}
        P(c|u)\, P(i|c)\, P(S'|c)

    with :math:`\lambda` = ``tradeoff``, :math:`P(i|u)` the inner score
    min-max scaled over the user's candidates (exponentiated first with
    ``score_scale="log"``), :math:`P(i|c) = 1` if :math:`i \in c` else 0,
    :math:`P(c|u)` the share of the user's history (the non-zeros of the
    user's row) in :math:`c` (or, with ``target_tail_share``, that share
    of the long tail for every user), and :math:`P(S'|c)`, the likelihood
    that :math:`S` does not cover :math:`c` yet:

    * ``kind="binary"``: :math:`\prod_{j \in S} (1 - [j \in c])`, 1 until
      :math:`S` holds an item of :math:`c` (the original xQuAD: at most one
      promoted long-tail item);
    * ``kind="smooth"``: :math:`1 - |S \cap c| / |S|`, the share of
      :math:`S` outside :math:`c`. The paper sets :math:`P(j|c, S)` to the
      share of :math:`S` in :math:`c` inside the product
      :math:`\prod_{j \in S}(1 - P(j|c, S))`; read literally that is
      :math:`(1 - |S \cap c|/|S|)^{|S|}`, which vanishes for both categories
      as the list grows and, at large :math:`\lambda`, pushes every list to
      half head, half tail whatever the user's history. The reading used
      here (as common implementations do) makes the long-tail share of a
      list tend to the user's own, :math:`P(\Gamma|u)` (or
      ``target_tail_share``), as :math:`\lambda` grows: the
      personalization the method is after.

    The re-ranked order is what :meth:`decision_function`, :meth:`recommend`
    and the scorers see, so ``tradeoff`` is tuned by ``GridSearchCV`` with a
    multi-metric scoring, e.g. NDCG next to
    ``make_beyond_accuracy_scorer("aplt")`` and ``refit`` on either.

    Parameters
    ----------
    %(estimator)s
    %(tradeoff)s
    kind : {"smooth", "binary"}, default="smooth"
        How the coverage of a category by the list is measured (above).
        Settable after ``fit``.
    target_tail_share : float or None, default=None
        :math:`P(\Gamma|u)`, the long-tail share the objective aims at.
        None (the paper's personalization): each user's own share of
        long-tail items, so that as ``tradeoff`` grows a list's long-tail
        share tends to its user's history's, which also bounds the
        exposure the re-ranking can add (on average, the users' mean
        share). A float in [0, 1]: that share for every user
        (:math:`P(\Gamma'|u)` its complement), users without history
        included; 0.5 weighs the head and the tail equally. With
        ``kind="smooth"`` the lists tend to that share (at ``tradeoff=1``
        within one item: once a category is covered alone, ties go to
        the inner order); with ``kind="binary"`` it only weighs the one
        item of each category that the list promotes. Settable after
        ``fit``.
    short_head_share : float, default=0.8
        Share of the training interactions held by the short head, in
        (0, 1); the other items, and items without training interactions,
        are the long tail (the definition of
        :func:`~sklearn_recsys.metrics.popularity_buckets`).

    Attributes
    ----------
    %(attributes)s
    long_tail_ : ndarray of bool of shape (n_items,)
        Items of the long tail, from the inner model's training popularity
        (that of the data it saw, after a pipeline's preprocessing).

    See Also
    --------
    CalibratedReranker : Re-ranking towards the user's category mix.
    sklearn_recsys.metrics.aplt_at_k : Long-tail share of the lists.

    Notes
    -----
    With the default ``target_tail_share=None``, a user without any
    interaction has no :math:`P(c|u)` (both are 0) and keeps the inner
    model's list (for most models, the most popular items).
    Re-ranking a batch costs ``O(n_users * n_candidates^2)`` on top of the
    inner model's scoring.

    References
    ----------
    .. [1] H. Abdollahpouri, R. Burke and B. Mobasher, "Managing Popularity
       Bias in Recommender Systems with Personalized Re-ranking", FLAIRS, 2019.
    .. [2] R. L. T. Santos, C. Macdonald and I. Ounis, "Exploiting Query
       Reformulations for Web Search Result Diversification", WWW, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import EASE
    >>> from sklearn_recsys.reranking import XQuADReranker
    >>> X = np.array([[1, 1, 1, 0, 0, 0, 0],
    ...               [1, 1, 0, 1, 0, 0, 0],
    ...               [1, 0, 1, 0, 1, 0, 0],
    ...               [1, 1, 0, 0, 0, 1, 1],
    ...               [1, 1, 1, 0, 0, 0, 1],
    ...               [1, 0, 1, 1, 0, 1, 0]])
    >>> model = XQuADReranker(EASE(alpha=1.0), tradeoff=0.5, n_candidates=4).fit(X)
    >>> model.long_tail_
    array([False, False, False, False,  True, False,  True])
    >>> user = [[0, 0, 0, 0, 1, 1, 0]]  # one head and one tail item
    >>> model.estimator_.recommend(user, k=2)[0]
    array([[0, 2]])
    >>> model.recommend(user, k=2)[0]  # the long-tail item 6 replaces item 2
    array([[0, 6]])
    """

    _parameter_constraints = {
        **_GreedyReranker._parameter_constraints,
        "kind": [StrOptions({"smooth", "binary"})],
        "target_tail_share": [None, Interval(Real, 0, 1, closed="both")],
        "short_head_share": [Interval(Real, 0, 1, closed="neither")],
    }

    _params_settable_after_fit = frozenset(
        {"tradeoff", "n_candidates", "score_scale", "kind", "target_tail_share"})

    def __init__(self, estimator, *, tradeoff=0.5, n_candidates=100, score_scale="linear",
                 kind="smooth", target_tail_share=None, short_head_share=SHORT_HEAD_SHARE):
        self.estimator = estimator
        self.tradeoff = tradeoff
        self.n_candidates = n_candidates
        self.score_scale = score_scale
        self.kind = kind
        self.target_tail_share = target_tail_share
        self.short_head_share = short_head_share

    def _fit_reranker(self, X):
        bounds = np.array([float(self.short_head_share)])
        self.long_tail_ = _bucket_of(self._item_popularity, bounds) == 1

    def _objective(self, X_batch, candidates, valid):
        if self.target_tail_share is None:
            n_history = np.diff(X_batch.indptr).astype(np.float64)
            rows = np.repeat(np.arange(X_batch.shape[0]), np.diff(X_batch.indptr))
            # P(c|u) counts the user's items, whatever their values
            n_tail = np.bincount(rows, weights=self.long_tail_[X_batch.indices],
                                 minlength=X_batch.shape[0])
            with np.errstate(invalid="ignore", divide="ignore"):
                tail_share = np.where(n_history > 0, n_tail / n_history, 0.0)
            head_share = np.where(n_history > 0, 1.0 - tail_share, 0.0)
        else:
            tail_share = np.full(X_batch.shape[0], float(self.target_tail_share))
            head_share = 1.0 - tail_share
        in_tail_cand = self.long_tail_[np.maximum(candidates, 0)] & valid
        return _PopularityCoverage(in_tail_cand, tail_share, head_share, self.kind)


class CalibratedReranker(_GreedyReranker):
    r"""Calibrated re-ranking towards each user's category mix (Steck 2018).

    Wraps a recommender and re-ranks its lists so that their category mix
    (genres, say) matches that of the user's history. For each user, the
    list :math:`I` is built greedily from the ``n_candidates`` best unseen
    items of the inner model, adding at each step the item maximizing

    .. math::

        (1 - \lambda) \sum_{i \in I} s(u, i)
        - \lambda\, C_{KL}(p, \tilde q(I)),\qquad
        C_{KL}(p, \tilde q) = \sum_g p(g|u) \log \frac{p(g|u)}{\tilde q(g|u)}

    with :math:`\lambda` = ``tradeoff``, :math:`s(u, i)` the inner score
    min-max scaled over the user's candidates (exponentiated first with
    ``score_scale="log"``), :math:`p(g|u)` the category
    mix of the user's history (the non-zeros of the user's row),
    :math:`q(g|u)` that of the list and :math:`\tilde q = (1 - \alpha) q +
    \alpha p`, :math:`\alpha = 0.01`: exactly the quantity that
    :func:`~sklearn_recsys.metrics.miscalibration_at_k` measures (each item
    counted once, an item of several categories as an equal share of each,
    uncategorized items ignored). Steck's greedy algorithm is a
    :math:`(1 - 1/e)` approximation of the best list, the objective being
    submodular.

    The re-ranked order is what :meth:`decision_function`, :meth:`recommend`
    and the scorers see, so ``tradeoff`` is tuned by ``GridSearchCV`` with,
    e.g., NDCG next to ``make_beyond_accuracy_scorer("miscalibration",
    categories=...)``.

    Parameters
    ----------
    %(estimator)s
    categories : {array-like, sparse matrix} of shape (n_items, n_categories) or (n_items,)
        Categories of each item, in column order: a membership matrix (0/1
        flags or non-negative weights), one label per item, or one list of
        labels per item (such as ``fetch_movielens(...).item_genres``), read
        as :func:`~sklearn_recsys.metrics.miscalibration_at_k` reads them
        (numeric labels as sets; None or NaN for an item without one). A
        constructor parameter, like ConvMF's ``documents``: it describes the
        items (columns), so model selection never slices it.
    %(tradeoff)s

    Attributes
    ----------
    %(attributes)s
    item_categories_ : sparse matrix of shape (n_items, n_categories)
        :math:`p(g|i)`: each categorized item's row sums to 1.

    See Also
    --------
    XQuADReranker : Re-ranking for long-tail exposure.
    sklearn_recsys.metrics.miscalibration_at_k : The miscalibration of lists.

    Notes
    -----
    A user without a categorized history item has :math:`p = 0` and keeps
    the inner model's list. Re-ranking costs ``O(n_users * n_candidates^2 *
    n_categories)`` on top of the inner model's scoring; users are re-ranked
    in blocks that follow scikit-learn's ``working_memory``.

    References
    ----------
    .. [1] H. Steck, "Calibrated Recommendations", RecSys, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import EASE
    >>> from sklearn_recsys.reranking import CalibratedReranker
    >>> X = np.array([[1, 1, 1, 0, 0, 0, 0],
    ...               [1, 1, 0, 1, 0, 0, 0],
    ...               [1, 0, 1, 0, 1, 0, 0],
    ...               [1, 1, 0, 0, 0, 1, 1],
    ...               [1, 1, 1, 0, 0, 0, 1],
    ...               [1, 0, 1, 1, 0, 1, 0]])
    >>> genres = ["drama", "drama", "drama", "comedy", "comedy", "drama", "comedy"]
    >>> model = CalibratedReranker(EASE(alpha=1.0), genres, tradeoff=0.5,
    ...                            n_candidates=4).fit(X)
    >>> user = [[0, 0, 1, 1, 0, 0, 0]]  # half drama, half comedy
    >>> model.estimator_.recommend(user, k=2)[0]  # two dramas
    array([[0, 5]])
    >>> model.recommend(user, k=2)[0]  # a drama and a comedy
    array([[0, 4]])
    """

    _parameter_constraints = {
        **_GreedyReranker._parameter_constraints,
        "categories": ["array-like", "sparse matrix"],
    }

    _params_settable_after_fit = frozenset({"tradeoff", "n_candidates", "score_scale"})

    def __init__(self, estimator, categories, *, tradeoff=0.5, n_candidates=100,
                 score_scale="linear"):
        self.estimator = estimator
        self.categories = categories
        self.tradeoff = tradeoff
        self.n_candidates = n_candidates
        self.score_scale = score_scale

    def _fit_reranker(self, X):
        self.item_categories_ = _check_categories(self.categories, self._n_items(), where="X")

    def _objective_width(self):
        return max(1, self.item_categories_.shape[1])

    def _objective(self, X_batch, candidates, valid):
        C = self.item_categories_
        # every history item counts once, whatever its value (Steck's uniform
        # weights, as the metric)
        seen = X_batch.copy()
        seen.data = np.ones_like(seen.data, dtype=np.float64)
        user_mix, _ = _category_mix(seen, C)
        n_users, n_cand = candidates.shape
        cand = C[np.maximum(candidates, 0).ravel()].toarray().reshape(n_users, n_cand, -1)
        cand[~valid] = 0.0
        return _Calibration(cand, user_mix, STECK_ALPHA)


for _cls in (XQuADReranker, CalibratedReranker):
    for _key, _text in [("estimator", _ESTIMATOR_PARAM), ("tradeoff", _TRADEOFF_PARAMS),
                        ("attributes", _COMMON_ATTRIBUTES)]:
        _cls.__doc__ = _cls.__doc__.replace(f"%({_key})s", _text)
del _cls, _key, _text
