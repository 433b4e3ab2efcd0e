"""Two-stage recommendation: base recommenders propose candidates, a learned model ranks them.

The recommender counterpart of scikit-learn's ``StackingClassifier``. Base
recommenders (any mix of the package's models) each propose their best items
for a user; a supervised model (gradient-boosted trees by default) ranks the
union of the proposals from features of every (user, candidate) pair: each
base model's score and rank, the user's own interactions with the item in
every behaviour, the item's popularity in every behaviour, the user's
activity, with several behaviours how often the item and the user have
target interactions outside the other behaviours, and optionally how close
the item is to the user's items by co-occurrence. The ranker is trained on
interactions the base models never saw: ``fit`` holds out one target
interaction per user, fits the base models on the rest, and labels the
candidates by whether they are the held-out one; then it refits the base
models on all of ``X`` for serving.
"""

import warnings
from collections.abc import Mapping, Set as AbstractSet
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import MetaEstimatorMixin, clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import _BaseComposition

from ..base import RecommenderMixin, _recommend_excluding_first
from ..model_selection import leave_k_out_split
from ..utils._behaviors import MultiBehaviorMixin, behavior_block, behavior_layout
from ..utils._holdout import check_held_out_disjoint
from ..utils._parallel import foreign_openmp
from ..utils._scoring_path import holds_a_frozen_model, scoring_model
from ..utils._topk import iter_row_batches, mask_seen, row_batch_size, top_k
from ..utils._validation import _canonical_csr
from ._cooccurrence import cooccurrence_cosine, similarity_sum_max

__all__ = ["StackingRecommender"]


def _ranks_within_rows(rows, values):
    """0-based rank of each value among the values of its row (largest first, ties by order).

    ``rows`` is sorted (row-major pairs), so each row's pairs are contiguous.
    """
    order = np.lexsort((-values, rows))
    starts = np.searchsorted(rows, rows[order])
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(len(values)) - starts
    return ranks


_TIE_BREAK = 1e-9


def _values_at(X, rows, cols):
    """``X[rows[j], cols[j]]`` of a CSR matrix as a flat float64 array (empty for no pairs)."""
    if len(rows) == 0:
        return np.zeros(0)
    return np.asarray(X[rows, cols], dtype=np.float64).ravel()


def _row_max(rows, values, n_rows):
    out = np.full(n_rows, -np.inf)
    np.maximum.at(out, rows, values)
    return out


class StackingRecommender(MultiBehaviorMixin, MetaEstimatorMixin, RecommenderMixin,
                          _BaseComposition):
    """Candidates from several recommenders, ranked by a model trained on held-out interactions.

    A two-stage recommender: each base recommender proposes its
    ``n_candidates`` best items a user has not had (of the target behaviour),
    and ``ranker``, a binary classifier, scores every proposed item from the
    features of the pair. It learns what no single base model knows: which
    model to trust for which user and item (a heavy viewer's own views, a new
    customer's popular items, a niche item's neighbours).

    ``fit`` builds the ranker's training set without leaking: one target
    interaction of every user who has more than one is held out
    (:func:`~sklearn_recsys.model_selection.leave_k_out_split`, or ``split``), clones of
    the base models are fitted on the rest, and each candidate of those users
    is labelled 1 if it is the held-out interaction. The base models are then
    refitted on all of ``X`` (``estimators_``), and the ranker scores their
    candidates at serving time. A user is scored from their row alone, as for
    every model (fold-in).

    Features of a (user, item) candidate, in this order
    (``feature_names_``): for each base model its score, the score minus the
    user's best candidate score of that model, and the item's rank among the
    user's candidates by that model; for each behaviour the user's value for
    the item, the item's training count (log1p) and the user's number of
    interactions (log1p); with several behaviours, the item's share of its
    training target interactions whose user had no other behaviour with it
    and the user's share of their own target interactions of that kind
    (``<target>_only_item_share``, ``<target>_only_user_share``: who buys
    what they never viewed, a buyer of such items being likely to buy
    another); with ``similarity_behaviors``, for each of those behaviours
    ``s`` and each behaviour ``b``, the sum and the maximum of the item's
    co-occurrence cosine in ``s`` over the user's items of ``b``
    (``<s>_cosine_sum_<b>``, ``<s>_cosine_max_<b>``: e.g. how often the
    candidate was viewed by the same users as the items this user viewed,
    its substitutes and complements); and the user's number of candidates.

    Parameters
    ----------
    estimators : list of (str, recommender)
        The base recommenders, named (their parameters are tunable as
        ``<name>__<param>``, and ``<name>="drop"`` leaves one out, as in
        scikit-learn's stacking, so a search can choose the bases): any
        estimator with ``fit`` and
        ``decision_function`` scoring the target behaviour's items (a model
        of :mod:`sklearn_recsys`, or a pipeline ending in one). Every base
        model is fitted on the whole ``X``, so with several behaviours they
        are multi-behaviour models given the same ``behaviors`` and
        ``target`` (checked in ``fit``). Unfitted: a frozen model would have
        seen the held-out interactions (refused).
    ranker : classifier, default=None
        Binary classifier with ``predict_proba`` or ``decision_function``,
        cloned and fitted on the candidates' features. None uses
        ``HistGradientBoostingClassifier(learning_rate=0.05, max_iter=300,
        min_samples_leaf=100, l2_regularization=1.0)`` seeded from
        ``random_state`` (it stops early on 10% of the pairs when there are
        more than 10,000).
    n_candidates : int, default=50
        Items proposed by each base model per user; the union is ranked.
        Items no base model proposes rank below every candidate, in the first
        base model's order.
    split : callable, default=None
        ``split(X) -> (X_fit, X_held)``: the interactions the ranker learns to
        find (``X_held``, the target block's shape) and the rest, on which the
        base models are fitted for training the ranker. None holds out one
        random target interaction of every user with more than one
        (``leave_k_out_split(X, k=1, behaviors=, target=)``, seeded from
        ``random_state``). Give the kind of interaction to be predicted: the
        ranker learns that kind, e.g. purchases of items never viewed.
    n_repeats : int, default=1
        Held-out draws the ranker learns from: each draw holds out its own
        interactions (a fresh seed from ``random_state``, or a new call of
        ``split``, which should then be random), fits the base models on the
        rest and adds its candidates to the ranker's training set. More draws
        give the ranker more held-out interactions to learn from (one per
        user and draw) at the cost of fitting the base models once more per
        draw and of the ranker's larger training set.
    similarity_behaviors : "all", sequence of str or None, default=None
        Behaviours whose item-item co-occurrence gives the ranker features
        above: the cosine of two items' binary columns of that behaviour's
        block (users who had both over the square root of the product of
        each item's users), computed at ``fit`` on the interactions the base
        models see (in each held-out draw, on its ``X_fit``: the held-out
        interactions never count), then on all of ``X`` for serving. "all":
        every behaviour; None: no such features. Costs memory: the
        similarities are kept sparse, one non-zero per pair of items some
        user had together (``item_similarities_``).
    behaviors : sequence of str, default=None
        Name of each column block of ``X`` (see :ref:`multi-behavior`);
        None: one behaviour.
    target : str, default=None
        The behaviour recommended, held out and masked by ``exclude_seen``;
        None means the last block.
    random_state : int, RandomState instance or None, default=None
        Seeds the held-out draw and the default ranker.

    Attributes
    ----------
    estimators_ : list of estimator
        The base models fitted on all of ``X``.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The same, by name.
    ranker_ : estimator or None
        The fitted ranker; None (with a warning in ``fit``) when the held-out
        interactions gave nothing to learn (every candidate, or none, held
        out): the candidates are then ranked by the first base model's score.
    feature_names_ : list of str
        Names of the ranker's features.
    n_training_pairs_ : int
        Candidates the ranker was trained on (over all ``n_repeats`` draws).
    candidate_recall_ : float
        Share of the held-out interactions that were among the candidates
        in ``fit``, over all draws (an upper bound of the hit rate at any
        cutoff).
    item_counts_ : ndarray of shape (n_behaviors, n_items)
        Training interactions per item and behaviour (a feature).
    item_similarities_ : list of scipy.sparse.csr_matrix or None
        The co-occurrence cosine of each behaviour of
        ``similarity_behaviors``, in that order, of shape
        ``(n_items, n_items)`` (float32, zero diagonal); None without them.
    item_target_only_share_ : ndarray of shape (n_items,) or None
        Share of each item's training target interactions whose user had no
        other behaviour with the item (a feature; 0 for an item without
        target interactions); None with one behaviour.
    behaviors_, target_, target_index_, n_items_ : as in :class:`MultiBehaviorEASE`
        The layout of ``X``.
    n_features_in_ : int
        Columns of ``X``.

    See Also
    --------
    sklearn_recsys.reranking.XQuADReranker : Re-ranks one model's list for long-tail exposure.

    Notes
    -----
    ``fit`` fits every base model ``n_repeats + 1`` times (on each held-out
    split, then on all of ``X``). The scores of :meth:`decision_function`
    are the ranker's probabilities for the candidates (plus at most
    ``1e-9`` of the first base model's min-max scaled score, which breaks
    the ranker's ties); the other items get values below all of them
    (``min - 2`` to ``min - 1``, ordered by the first base model).

    Examples
    --------
    >>> from sklearn_recsys import EASE, ItemKNN, MostPopular, make_interactions
    >>> from sklearn_recsys.ensemble import StackingRecommender
    >>> X = make_interactions(n_users=200, n_items=40, density=0.1, random_state=0)
    >>> model = StackingRecommender(
    ...     [("ease", EASE(alpha=10.0)), ("knn", ItemKNN()), ("pop", MostPopular())],
    ...     n_candidates=10, random_state=0).fit(X)
    >>> model.ranker_ is not None  # trained on interactions held out of X
    True
    >>> model.recommend(X[:2], k=3)[0].shape
    (2, 3)
    """

    # its candidates are chosen after removing what may not be returned: a pipeline
    # must pass it the raw history (see sklearn_recsys.pipeline)
    _excludes_before_scoring = True
    # the ranker orders a user's candidates, those of one without history too
    _ranks_users_without_history = True

    _parameter_constraints = {
        "estimators": [list],
        "ranker": [HasMethods(["fit"]), None],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "split": [callable, None],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "similarity_behaviors": [StrOptions({"all"}), "array-like", None],
        "behaviors": ["array-like", None],
        "target": [str, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimators, ranker=None, *, n_candidates=50, split=None, n_repeats=1,
                 similarity_behaviors=None, behaviors=None, target=None, random_state=None):
        self.estimators = estimators
        self.ranker = ranker
        self.n_candidates = n_candidates
        self.split = split
        self.n_repeats = n_repeats
        self.similarity_behaviors = similarity_behaviors
        self.behaviors = behaviors
        self.target = target
        self.random_state = random_state

    def get_params(self, deep=True):
        """Parameters of the stack and, with ``deep``, of each base model.

        Parameters
        ----------
        deep : bool, default=True
            Also return each base model (as ``<name>``) and its parameters
            (as ``<name>__<param>``).

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        """Set the stack's parameters, a base model (``<name>``) or its parameters.

        Parameters
        ----------
        **params : dict
            The stack's parameters, ``<name>`` to replace a base model (or
            ``"drop"`` to leave it out) and ``<name>__<param>`` for its
            parameters.

        Returns
        -------
        self : StackingRecommender
            This estimator.
        """
        self._set_params("estimators", **params)
        return self

    # -- fit ---------------------------------------------------------------

    def _check_estimators(self):
        if not self.estimators:
            raise ValueError("estimators is empty: give at least one (name, recommender) pair.")
        names, models = [], []
        for pair in self.estimators:
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ValueError(f"estimators must be a list of (name, recommender) pairs, got "
                                 f"the entry {pair!r}.")
            name, model = pair
            if isinstance(model, str) and model == "drop":  # left out, as in scikit-learn's
                continue
            if not (hasattr(model, "fit") and hasattr(model, "decision_function")):
                raise TypeError(f"The base model {name!r} ({type(model).__name__}) has no "
                                "fit and decision_function: it is not a recommender.")
            names.append(name)
            models.append(model)
        self._validate_names([pair[0] for pair in self.estimators])
        if not models:
            raise ValueError("Every base model of estimators is 'drop': keep at least one.")
        return names, models

    def _make_ranker(self, rng):
        if self.ranker is not None:
            ranker = clone(self.ranker)
            if not (hasattr(ranker, "predict_proba") or hasattr(ranker, "decision_function")):
                raise TypeError(f"ranker ({type(ranker).__name__}) needs predict_proba or "
                                "decision_function to score candidates: pass a classifier.")
            return ranker
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=300, min_samples_leaf=100, l2_regularization=1.0,
            random_state=rng.randint(np.iinfo(np.int32).max))

    def _fit(self, X):
        self._set_layout(X)
        names, models = self._check_estimators()
        rng = check_random_state(self.random_state)
        # the splits' seeds first: the same random_state holds out the same
        # interactions whatever the ranker
        seeds = [rng.randint(np.iinfo(np.int32).max) for _ in range(self.n_repeats)]
        ranker = self._make_ranker(rng)
        self.feature_names_ = (
            [f"{name}_{kind}" for name in names for kind in ("score", "gap", "rank")]
            + [f"{b}_{kind}" for b in self.behaviors_
               for kind in ("value", "item_count", "user_count")]
            + ([f"{self.target_}_only_item_share", f"{self.target_}_only_user_share"]
               if len(self.behaviors_) > 1 else [])
            + [f"{self.behaviors_[s]}_cosine_{kind}_{b}" for s in self._similarity_blocks()
               for b in self.behaviors_ for kind in ("sum", "max")]
            + ["n_candidates"])
        features, labels, n_held, n_users = zip(
            *(self._held_out_pairs(X, names, models, seed) for seed in seeds))
        # each draw's block is freed here, before the ranker fits on their union
        features, labels = np.concatenate(features), np.concatenate(labels)
        self.item_similarities_ = None  # the last draw's: not needed while the ranker fits
        n_held, n_users = sum(n_held), sum(n_users)
        self.candidate_recall_ = float(labels.sum() / n_held) if n_held else 0.0
        if labels.all() or not labels.any():
            # nothing to learn from: too few users, items or interactions
            warnings.warn(
                f"{type(self).__name__} could not train its ranker: "
                + ("no user has two interactions of the target behaviour to hold one out"
                   if n_users == 0 else
                   f"{'every' if labels.all() else 'no'} candidate of the held-out users is "
                   "a held-out interaction")
                + f"; it ranks by its first base model ({names[0]!r}). Fit on more users, "
                "items and interactions, or change n_candidates.", UserWarning)
            self.ranker_ = None
        else:
            with foreign_openmp():
                self.ranker_ = ranker.fit(features, labels)
        self.n_training_pairs_ = len(labels)
        self.estimators_ = [self._fitted_clone(name, model, X)
                            for name, model in zip(names, models)]
        self.named_estimators_ = Bunch(**dict(zip(names, self.estimators_)))
        self.item_counts_, self.item_target_only_share_ = self._item_counts(X)
        self.item_similarities_ = self._similarities(X)

    def _similarity_blocks(self):
        """Block indices of ``similarity_behaviors``, in its order."""
        if self.similarity_behaviors is None:
            return []
        if isinstance(self.similarity_behaviors, str):  # "all", the only string allowed
            return list(range(len(self.behaviors_)))
        if isinstance(self.similarity_behaviors, (AbstractSet, Mapping)):
            # a set's order changes from one process to the next: so would the features'
            raise TypeError(
                "similarity_behaviors must be an ordered sequence (a tuple or list) of "
                "behaviour names, \"all\" or None; got a "
                f"{type(self.similarity_behaviors).__name__}.")
        names = list(self.similarity_behaviors)
        unknown = [b for b in names if b not in self.behaviors_]
        if unknown or len(set(names)) != len(names):
            raise ValueError(
                f"similarity_behaviors={self.similarity_behaviors!r} must name distinct "
                f"behaviours of behaviors={self.behaviors_!r}"
                + (f"; {unknown[0]!r} is not one" if unknown else "")
                + ". Pass some of those names, \"all\" or None.")
        return [self.behaviors_.index(b) for b in names]

    def _similarities(self, X):
        blocks = self._similarity_blocks()
        if not blocks:
            return None
        return [cooccurrence_cosine(behavior_block(X, self.n_items_, s)) for s in blocks]

    def _held_out_pairs(self, X, names, models, seed):
        """One held-out draw: its candidates' features and labels, and the numbers of
        held-out interactions and of users with one."""
        if self.split is None:
            X_fit, held = leave_k_out_split(X, k=1, random_state=seed,
                                            behaviors=self.behaviors, target=self.target)
        else:
            X_fit, held = self._custom_split(X)
        users = np.flatnonzero(held.getnnz(axis=1))
        if not users.size:
            return (np.zeros((0, len(self.feature_names_))), np.zeros(0, dtype=bool),
                    held.nnz, 0)
        bases = [self._fitted_clone(name, model, X_fit) for name, model in zip(names, models)]
        # the item counts and similarities are features: those of the data the base
        # models saw, never of the held-out interactions
        self.item_counts_, self.item_target_only_share_ = self._item_counts(X_fit)
        self.item_similarities_ = None  # the previous draw's, freed before the next
        self.item_similarities_ = self._similarities(X_fit)
        rows, cols, features = self._training_pairs(bases, X_fit[users])
        return features, _values_at(held[users], rows, cols) != 0, held.nnz, users.size

    def _fitted_clone(self, name, model, X):
        fresh = clone(model)
        if fresh is model or holds_a_frozen_model(fresh):
            # sklearn.frozen.FrozenEstimator clones to itself (also inside a pipeline or
            # a re-ranker): fitted on all of X, it has seen the interactions held out to
            # train the ranker
            raise ValueError(
                f"The base model {name!r} is or scores through a frozen model (its clone "
                "is itself, as sklearn.frozen.FrozenEstimator's), so it was fitted "
                f"on the interactions {type(self).__name__} holds out to train its ranker "
                "and the ranker would learn to trust it blindly; pass the unfitted model.")
        # y passed explicitly, as scikit-learn's meta-estimators do
        fresh.fit(X, None)
        # through a pipeline, a wrapper or a search, to the model that scores
        named = getattr(scoring_model(fresh), "behaviors_", None)
        if named is not None and len(self.behaviors_) > 1 and \
                tuple(named) != self.behaviors_ and sorted(named) == sorted(self.behaviors_):
            # the same sizes and target block, other names: it would read one behaviour
            # as another (its behavior_weights on the wrong blocks)
            raise ValueError(
                f"The base model {name!r} was told behaviors={tuple(named)!r}, but "
                f"{type(self).__name__}'s blocks are {self.behaviors_!r}, in that order: "
                "it would read one behaviour as another. Give it the same behaviors.")
        layout = behavior_layout(fresh)
        mine = None if len(self.behaviors_) == 1 else (self.n_items_, self.target_index_)
        if layout is not None and layout != mine:
            raise ValueError(
                f"The base model {name!r} scores block {layout[1]} of {layout[0]} items, but "
                f"{type(self).__name__} recommends {self.target_!r} (block "
                f"{self.target_index_} of {self.n_items_} items): give it the same "
                "behaviors and target.")
        return fresh

    def _custom_split(self, X):
        X_fit, held = self.split(X)
        # a split that zeroes entries out leaves them stored: the history, the counts
        # and the shares read stored entries
        X_fit, held = _canonical_csr(X_fit), _canonical_csr(held)
        if X_fit.shape != X.shape or held.shape != (X.shape[0], self.n_items_):
            raise ValueError(
                f"split(X) must return (X_fit, X_held) of shapes {X.shape} and "
                f"{(X.shape[0], self.n_items_)} (the target behaviour's block); got "
                f"{X_fit.shape} and {held.shape}.")
        # a held-out purchase left in X_fit is seen, never a candidate, never a label
        check_held_out_disjoint(
            self._target_history(X_fit), held, "split(X)'s held-out part",
            "they stay in X_fit's target block, so the ranker never sees them as candidates "
            "or labels", "Remove the held-out interactions from X_fit's target block.")
        return X_fit, held

    def _item_counts(self, X):
        """Interactions per behaviour and item, and each item's share of its target
        interactions that their users had in no other behaviour (None with one)."""
        counts = np.stack([np.bincount(behavior_block(X, self.n_items_, b).indices,
                                       minlength=self.n_items_)
                           for b in range(len(self.behaviors_))]).astype(np.float64)
        if len(self.behaviors_) == 1:
            return counts, None
        only = np.bincount(self._target_only(X).indices, minlength=self.n_items_)
        target = counts[self.target_index_]
        return counts, np.divide(only, target, out=np.zeros_like(target), where=target > 0)

    def _target_only(self, X):
        """The target interactions of ``X`` whose user has no other behaviour with the item."""
        target = self._target_history(X)
        others = sum(abs(behavior_block(X, self.n_items_, b)) for b in self._auxiliary())
        only = target - target.multiply(others > 0)
        only.eliminate_zeros()
        return only

    # -- candidates and features -------------------------------------------

    def _base_scores(self, bases, X_batch):
        out = []
        for model in bases:
            scores = np.asarray(model.decision_function(X_batch), dtype=np.float64)
            if scores.shape != (X_batch.shape[0], self.n_items_):
                raise ValueError(
                    f"The base model {type(model).__name__} returned scores of shape "
                    f"{scores.shape} for {X_batch.shape[0]} users; {type(self).__name__} "
                    f"needs one score per item of the target behaviour ({self.n_items_}).")
            out.append(scores)
        return out

    def _training_pairs(self, bases, X):
        """``_candidates`` of all rows of ``X``, computed in blocks of rows (bounded memory)."""
        parts = []
        step = row_batch_size(self.n_items_ * len(bases))
        for rows in iter_row_batches(X.shape[0], step):
            r, c, f, _ = self._candidates(bases, X[rows])
            parts.append((r + rows.start, c, f))
        return tuple(np.concatenate(p) for p in zip(*parts))

    def _candidates(self, bases, X_batch, exclude_seen=True, exclude_batch=None, allowed=None):
        """``(rows, cols, features, base_scores)`` of every user's candidates, row-major.

        The items that may not be recommended (the target history with
        ``exclude_seen``, the non-zeros of ``exclude_batch``, the items outside
        ``allowed``) are removed before each base model's best are taken.
        """
        scores = self._base_scores(bases, X_batch)
        history = self._target_history(X_batch)
        n_rows = X_batch.shape[0]
        chosen = np.zeros((n_rows, self.n_items_), dtype=bool)
        for s in scores:
            masked = s.copy()
            if exclude_seen:
                mask_seen(masked, history)
            if exclude_batch is not None:
                mask_seen(masked, exclude_batch)
            if allowed is not None:
                masked[:, ~allowed] = -np.inf
            idx, _ = top_k(masked, self.n_candidates)
            valid = idx >= 0
            chosen[np.nonzero(valid)[0], idx[valid]] = True
        rows, cols = np.nonzero(chosen)
        del chosen
        columns = []
        for s in scores:
            value = s[rows, cols]
            columns += [value, value - _row_max(rows, value, n_rows)[rows],
                        _ranks_within_rows(rows, value)]
        blocks = [behavior_block(X_batch, self.n_items_, b) for b in range(len(self.behaviors_))]
        for b, block in enumerate(blocks):
            columns += [_values_at(block, rows, cols),
                        np.log1p(self.item_counts_[b, cols]),
                        np.log1p(np.diff(block.indptr))[rows]]
        if len(self.behaviors_) > 1:
            # whether this user, and this item's buyers, have target interactions
            # outside their other behaviours: who buys what they never looked at
            n_target = np.diff(history.indptr)
            n_only = np.diff(self._target_only(X_batch).indptr)
            columns += [self.item_target_only_share_[cols],
                        (n_only / np.maximum(n_target, 1))[rows]]
        for similarity in self.item_similarities_ or ():
            for block in blocks:
                columns += similarity_sum_max(similarity, block, rows, cols)
        columns.append(np.bincount(rows, minlength=n_rows)[rows].astype(np.float64))
        return rows, cols, np.column_stack(columns), scores

    def _ranker_scores(self, features, first):
        if self.ranker_ is None:
            return first
        with foreign_openmp():
            if hasattr(self.ranker_, "predict_proba"):
                return self.ranker_.predict_proba(features)[:, -1]
            return np.asarray(self.ranker_.decision_function(features), dtype=np.float64)

    # -- scoring -----------------------------------------------------------

    def _score_batch(self, X_batch, exclude_seen=True, exclude_batch=None, allowed=None):
        rows, cols, features, scores = self._candidates(self.estimators_, X_batch, exclude_seen,
                                                        exclude_batch, allowed)
        first = scores[0]
        lo, hi = first.min(axis=1, keepdims=True), first.max(axis=1, keepdims=True)
        # items nobody proposed: below every candidate, in the first model's order
        out = (first - lo) / np.where(hi > lo, hi - lo, 1.0)
        ranked = self._ranker_scores(features, features[:, 0]) if len(rows) else np.zeros(0)
        # candidates the ranker ties (trees give few distinct values) keep the
        # first model's order instead of the catalogue's
        ranked = ranked + _TIE_BREAK * out[rows, cols]
        floor = np.zeros(X_batch.shape[0])
        has = np.bincount(rows, minlength=X_batch.shape[0]) > 0
        floor[has] = -_row_max(rows, -ranked, X_batch.shape[0])[has]
        out += floor[:, None] - 2.0
        out[rows, cols] = ranked
        return out

    def _iter_scores(self, X, exclude_seen=True, exclude=None, allowed=None):
        # a block holds every base model's scores, a masked copy and the stack's own: sized
        # by the catalogue alone it took (bases + 2) times working_memory (6 bases: 8.5x)
        step = row_batch_size(self.n_items_ * (len(self.estimators_) + 2))
        for rows in iter_row_batches(X.shape[0], step):
            X_batch = X[rows]
            excluded = None if exclude is None else exclude[rows]
            scores = self._popularity_for_empty_rows(
                X_batch, self._score_batch(X_batch, exclude_seen, excluded, allowed))
            yield rows, self._target_history(X_batch), self._checked_scores(rows, scores)
            del scores  # one block held while the next is scored, not two

    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        """Top-``k`` items for each user by the ranker, best first.

        The items that may not be returned (the target history when
        ``exclude_seen``, the non-zeros of ``exclude``, the items outside
        ``candidates``) are removed **before** the base models propose their
        ``n_candidates`` best, so every proposed item can be recommended.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_behaviors * n_items)
            Interaction history of the users (all behaviours).
        k : int, default=10
            Number of items to return per user.
        exclude_seen : bool, default=True
            Never return an item of the user's target-behaviour history.
        exclude : {array-like, sparse matrix} of shape (n_users, n_items), default=None
            Further items never to return: the non-zeros of row ``u``.
        candidates : array-like of int, default=None
            Item indices to choose from; ``None`` means the whole catalogue.

        Returns
        -------
        indices : ndarray of shape (n_users, min(k, n_items)), dtype int64
            Recommended item indices, best first, padded with ``-1``.
        scores : ndarray of shape (n_users, min(k, n_items))
            Their scores, padded with ``-inf``: with the default exclusions,
            those of :meth:`decision_function`; other exclusions
            (``exclude``, ``candidates``, ``exclude_seen=False``) are removed
            before the base models' candidates are chosen, so the ranker scores
            another set of candidates (its rank features change with them).
        """
        return _recommend_excluding_first(self, X, k, exclude_seen, exclude, candidates)

    def explain(self, x_row, item):
        """Contribution of each of the user's entries to the stack's score of one item.

        The ranker's score of a candidate rests on a few paths from the
        user's row: each base model's score of the item, the user's own
        entries on the item, and the co-occurrence features of each block.
        The item's score difference between the row and a baseline where
        every path is at its empty-row value (the bases' scores of the item
        for an all-zero row, no own entry, no co-occurrence) is shared among
        the paths by their Shapley values over the ranker (every subset of
        paths at its baseline, the candidate's gap and rank recomputed
        against the other candidates). Each path's share goes on to the
        user's entries: a base model's in proportion to that base's own
        ``explain`` terms of the item (made to sum to the base's score change
        by sharing any residual equally, as leave-one-out terms need not sum
        to it); an own entry's to that entry; a
        block's co-occurrence share in proportion to the entries' summed
        cosines with the item. So the contributions sum to the item's score
        minus its baseline score, whatever the bases' explanations (exact,
        integrated gradients or leave-one-out); a base whose terms sum to 0
        (a row of items without training interactions, which the base
        scores by popularity) passes its share to no entry. The user's
        activity features (their counts in each behaviour, the share of
        their target interactions outside the other behaviours, their number
        of candidates) and the other candidates' scores stay as they are.

        An item that is not one of the user's candidates is scored below them
        in the first base model's order, so its contributions are that model's
        explanation scaled as its scores are. With a base model that has no
        ``explain`` (a pipeline, say), or more than 16 paths that move the
        candidate's features, the contributions are leave-one-out's.

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_behaviors * n_items)
            One user's behaviours, stacked as in ``fit``.
        item : int
            The item (``0 .. n_items - 1``) whose score is explained.

        Returns
        -------
        columns : ndarray of shape (n_user_entries,), dtype int64
            Columns of the row (``b * n_items + j`` for item ``j`` of behaviour
            ``b``), largest contribution first.
        contributions : ndarray of shape (n_user_entries,)
            Their contributions.
        """
        x, item = self._validate_explain(x_row, item)
        if x.nnz == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        if not all(hasattr(model, "explain") for model in self.estimators_):
            return super().explain(x, item)
        _, cols, features, scores = self._candidates(self.estimators_, x)
        found = np.flatnonzero(cols == item)
        contributions = np.zeros(x.nnz)

        def credit(columns, values):
            """Add ``values`` to the row's entries ``columns`` (columns outside the row: none)."""
            columns = np.asarray(columns, dtype=np.int64)
            at = np.searchsorted(x.indices, columns)
            inside = (at < x.nnz) & (x.indices[np.minimum(at, x.nnz - 1)] == columns)
            np.add.at(contributions, at[inside], np.asarray(values, np.float64)[inside])

        if found.size == 0:
            first = scores[0][0]
            span = first.max() - first.min()
            columns, values = self.estimators_[0].explain(x, item)
            credit(columns, np.asarray(values, np.float64) / (span if span > 0 else np.inf))
        else:
            paths = self._explained_paths(x, item, features, found[0])
            if len(paths) > 16:
                return super().explain(x, item)
            for (spread, _), value in zip(paths, _shapley(self, features[found[0]], paths)):
                columns, weights = spread()
                weights = np.asarray(weights, dtype=np.float64)
                if weights.sum() != 0:  # in proportion to the path's own terms
                    credit(columns, value * weights / weights.sum())
        order = np.argsort(-contributions, kind="stable")
        return x.indices[order].astype(np.int64), contributions[order]

    def _explained_paths(self, x, item, features, position):
        """``(spread, baseline)`` of each path that moves the candidate's features.

        ``baseline(rows)`` sets the path's features of the candidate to their
        empty-row values in the given feature rows; ``spread()`` gives the
        row's columns the path's Shapley value goes to and their weights. A
        path already at its baseline (a base scoring the item as for an empty
        row, a block without co-occurrence with the item) is left out: its
        Shapley value is 0.
        """
        n_bases, n_blocks = len(self.estimators_), len(self.behaviors_)
        paths = []
        empty = sp.csr_matrix((1, x.shape[1]), dtype=x.dtype)
        for b, model in enumerate(self.estimators_):
            scorer = getattr(model, "_scores_without_fallback", model.decision_function)
            baseline = float(np.asarray(scorer(empty), dtype=np.float64)[0, item])
            if features[position, 3 * b] == baseline:
                continue
            others = np.delete(features[:, 3 * b], position)
            # as _candidates computes them: the gap to the row's best, the rank with
            # ties in candidate order
            gap = baseline - max(baseline, others.max(initial=-np.inf))
            rank = np.sum(others > baseline) + np.sum(others[:position] == baseline)

            def set_base(rows, b=b, values=(baseline, gap, rank)):
                rows[:, 3 * b:3 * b + 3] = values

            change = float(features[position, 3 * b]) - baseline
            paths.append((lambda model=model, change=change: _completed_terms(
                *model.explain(x, item), change), set_base))
        blocks_at = 3 * n_bases
        for b in range(n_blocks):
            column = b * self.n_items_ + item
            if features[position, blocks_at + 3 * b] != 0:
                def set_own(rows, b=b):
                    rows[:, blocks_at + 3 * b] = 0.0

                paths.append((lambda column=column: ([column], [1.0]), set_own))
        similar_at = blocks_at + 3 * n_blocks + (2 if n_blocks > 1 else 0)
        for b in range(n_blocks if self.item_similarities_ else 0):
            block = behavior_block(x, self.n_items_, b)
            weights = sum(np.asarray(s[item][:, block.indices].toarray(), dtype=np.float64)
                          .ravel() for s in self.item_similarities_)
            if block.nnz == 0 or weights.sum() == 0:
                continue

            def set_similar(rows, b=b):
                for s in range(len(self.item_similarities_)):
                    at = similar_at + 2 * (s * n_blocks + b)
                    rows[:, at:at + 2] = 0.0

            paths.append((lambda b=b, block=block, weights=weights: (
                b * self.n_items_ + block.indices, weights), set_similar))
        return paths

    def decision_function(self, X):
        """The ranker's score of every user's candidates; other items below them.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_behaviors * n_items)
            Interaction history of the users (all behaviours).

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
            For each user's candidates (chosen with the target history
            excluded), the ranker's score: its probability that the item is
            the held-out kind of interaction (``predict_proba``), or its
            ``decision_function``; lower values for the other items.
        """
        return super().decision_function(X)


def _completed_terms(columns, terms, change):
    """A base model's explanation terms, made to sum to its score change ``change``.

    Exact and integrated-gradient terms sum to it already; leave-one-out
    terms need not, and spread in proportion to their own sum, a sum near 0
    against a clear change put hundreds of times a path's value on single
    entries, with opposite signs (the residual is shared equally instead).
    Terms all 0 (items without training interactions) stay 0: their share
    goes to no entry.
    """
    terms = np.asarray(terms, dtype=np.float64)
    if terms.size and terms.any():
        terms = terms + (change - terms.sum()) / terms.size
    return columns, terms


def _shapley(stack, feature_row, paths):
    """Shapley value of each path for the ranker's score of one candidate.

    Row ``m`` of the coalition table keeps the paths whose bit is set in
    ``m`` as they are and sets the others to their baselines.
    """
    n = len(paths)
    masks = np.arange(2 ** n)
    present = (masks[:, None] >> np.arange(n)) & 1
    rows = np.repeat(feature_row[None, :], len(masks), axis=0)
    for p, (_, baseline) in enumerate(paths):
        absent = present[:, p] == 0
        if absent.any():
            sub = rows[absent]
            baseline(sub)
            rows[absent] = sub
    values = stack._ranker_scores(rows, rows[:, 0])
    sizes = present.sum(axis=1)
    factorial = np.cumprod(np.r_[1.0, np.arange(1, n + 1)])
    out = np.zeros(n)
    for p in range(n):
        without = present[:, p] == 0
        size = sizes[without]
        weight = factorial[size] * factorial[n - size - 1] / factorial[n]
        out[p] = np.sum(weight * (values[masks[without] | (1 << p)] - values[without]))
    return out
