"""The recommender contract: scoring, top-k recommendation and evaluation.

Every model of the package inherits :class:`RecommenderMixin` and implements
two private hooks:

* ``_fit(X)`` learns from a validated canonical CSR matrix;
* ``_score_batch(X)`` returns the dense scores ``(n_batch, n_items)`` of a
  validated CSR batch of user rows, depending only on those rows (fold-in).

The mixin turns them into the public API: ``fit``, ``decision_function``,
``recommend`` and ``score``, with input validation done once per public call
and scoring done in row batches so memory stays bounded.
"""


import contextlib
import functools

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .utils._sparse_dense import csr_csr_dense_product, csr_dense_product
from .utils._topk import iter_row_batches, mask_seen, row_batch_size, top_k
from .utils._validation import (
    check_exclude,
    check_exclude_seen,
    check_interactions,
    check_item_indices,
    check_k,
)

# parameters that scoring never reads: a change leaves what a fitted model returns
_PARAMS_WITHOUT_EFFECT_ON_SCORES = frozenset({"random_state", "verbose", "n_jobs"})


def _same_value(old, new):
    """Whether a parameter still has its fit's value (the same object, or an equal one).

    Equal values of another container count as the same (a list set back for the
    fit's tuple, a 0-d array for a float, an equal copy of a sparse matrix); values
    whose equality has no truth value (data frames) count as changed.
    """
    if old is new:
        return True
    if sp.issparse(old) or sp.issparse(new):
        return (sp.issparse(old) and sp.issparse(new) and old.shape == new.shape
                and (old != new).nnz == 0)
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return len(old) == len(new) and all(map(_same_value, old, new))
    if isinstance(old, np.ndarray) or isinstance(new, np.ndarray):
        if not all(isinstance(v, (np.ndarray, np.generic, list, tuple, int, float))
                   for v in (old, new)):
            return False
        try:
            old, new = np.asarray(old), np.asarray(new)
        except ValueError:  # ragged: not the fit's array
            return False
        return old.shape == new.shape and bool(np.array_equal(old, new))
    try:
        return bool(old == new)
    except (TypeError, ValueError):  # no truth value (e.g. sequences of arrays)
        return False


# the parameters recorded by a fit that raised: no fitted model to score
_FIT_FAILED = "fit failed"


def _recording_fitted_params(fit):
    """``fit`` (or ``partial_fit``) marking the model's parameters failed if it raises.

    The parameters are recorded when training starts (:meth:`RecommenderMixin._set_popularity`);
    a fit that raises after that leaves the weights of an earlier fit, or part of the new
    one, under the new parameters: scoring them would pass the guard. A call refused before
    training started (a ``partial_fit`` chunk with a NaN) leaves the model as it was.
    """
    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        before = getattr(self, "_fitted_params", None)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            if getattr(self, "_fitted_params", None) is not before:  # training had started
                self._fitted_params = _FIT_FAILED
            raise

    wrapper._records_failure = True
    return wrapper


def check_params_unchanged(estimator, fitted):
    """ValueError if ``estimator``'s deep parameters differ from ``fitted``, its fit's record.

    ``fitted`` None: nothing recorded (not fitted by a recording fit); the string
    ``_FIT_FAILED``: the last fit raised after training had started.
    """
    if fitted is None:
        return
    name = type(estimator).__name__
    if isinstance(fitted, str):  # _FIT_FAILED
        raise ValueError(
            f"This {name}'s last fit raised an error: what it holds is not the model of its "
            "parameters (those of an earlier fit, or part of a new one). Fit it again.")
    now = estimator.get_params(deep=True)
    changed = {key: (value, now[key]) for key, value in fitted.items()
               if key in now and not _same_value(value, now[key])}
    if changed:
        said = ", ".join(_change(key, old, new) for key, (old, new) in changed.items())
        raise ValueError(
            f"This {name}'s parameters changed since fit ({said}), but its fitted state is "
            "that of the fit's values. Set them back (objects such as estimators: the "
            "fit's own, not an equal copy), or fit again.")


def _change(key, old, new):
    """A changed parameter for a message: ``key old -> new``, or what changed where the
    two look alike."""
    before, after = _brief(old), _brief(new)
    if before != after:
        return f"{key} {before} -> {after}"
    if type(old).__eq__ is object.__eq__:
        # an equal-looking object (a new EASE(alpha=2.0) for the fit's) read "EASE(alpha=
        # 2.0) -> EASE(alpha=2.0)": such objects are compared by identity, so say so
        return f"{key} replaced by another {type(new).__name__} object, {after}"
    return f"{key} {before} -> other values"  # an array or a long list, by its size


def _brief(value):
    """A parameter's value for a message: arrays and long sequences by their size."""
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name  # a dtype parameter (np.float32), not an array
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return repr(value.item())  # a NumPy scalar (a search over np.logspace)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"<{type(value).__name__} of shape {value.shape}>"
    text = repr(value)
    if len(text) > 60 and hasattr(value, "__len__"):
        return f"<{type(value).__name__} of {len(value)} items>"
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = [
    "RecommenderMixin",
    "RatingPredictionMixin",
    "ItemItemMixin",
    "ItemScoresTransformMixin",
    "EmbeddingFeaturesOutMixin",
]


def item_shares(counts):
    """Each item's share of the interactions, from per-item counts (all zeros: zeros)."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts / max(counts.sum(), 1.0)


def rows_without_known_items(X, known):
    """Rows of CSR ``X`` (non-negative) with no entry on a ``known`` column (empty ones too).

    ``known`` None (nothing recorded yet, as in a refit's self-check): the empty rows.
    """
    if known is None:
        return np.flatnonzero(np.diff(X.indptr) == 0)
    return np.flatnonzero(X @ np.asarray(known, dtype=np.float64) == 0)


class _WrappedFlag:
    """A boolean attribute of a meta-estimator read from the recommender it wraps
    (``estimator_`` once fitted, else ``estimator``); False where that has none."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, wrapper, owner=None):
        if wrapper is None:
            return self
        inner = getattr(wrapper, "estimator_", wrapper.estimator)
        return getattr(inner, self.name, False)


def items_with_co_occurrence(X):
    """Mask of the columns of CSR ``X`` held by some row that holds another column too."""
    counts = np.diff(X.indptr)
    in_longer_rows = np.repeat(counts >= 2, counts)
    return np.bincount(X.indices[in_longer_rows], minlength=X.shape[1]) > 0


def against_count(against):
    """``explain_contrast``'s ``against`` as a number of runners-up (a Python or NumPy
    integer, or a 0-d integer array), or None where it is not one (items, or a bool)."""
    if isinstance(against, (str, bytes)):
        return None
    value = np.asarray(against)
    return int(value) if value.ndim == 0 and value.dtype.kind in "iu" else None


def check_against_count(count):
    """ValueError unless ``explain_contrast``'s number of runners-up is positive."""
    if count < 1:
        raise ValueError(f"against must be a positive number of items or the items to "
                         f"compare with, got {count}.")


# what explain_contrast's errors ask for when no list follows an item (the encoder's
# raw-id serving puts its own words in its place)
AGAINST_INDICES_FIX = "pass against as the item indices to compare it with"


def runners_up(ranked, item, count, name, fix):
    """The ``count`` items after ``item`` in the list ``ranked`` (``-1`` padding ignored),
    for ``explain_contrast``; ``name`` is how errors call the item, ``fix`` what to do."""
    check_against_count(count)
    ranked = ranked[ranked >= 0]
    at = np.flatnonzero(ranked == item)
    if at.size == 0:
        raise ValueError(f"{name} is not in the user's recommendation list (it is in their "
                         f"history), so no items follow it; {fix}.")
    others = ranked[at[0] + 1:at[0] + 1 + count]
    if others.size == 0:
        raise ValueError(f"No item follows {name} in the user's recommendation list; {fix}.")
    return others


class RecommenderMixin:
    """Mixin class for all recommenders of :mod:`sklearn_recsys`.

    A recommender learns from a user-item matrix ``X`` of shape
    ``(n_users, n_items)`` and scores, ranks and embeds any user given that
    user's row of interactions, including users absent from ``fit``.
    """

    _estimator_type = "recommender"

    # a user without interactions gets the model's own ranking (item biases, a
    # network's output for an empty input) rather than the training popularity;
    # check_empty_user_is_not_catalogue_order holds the others to popularity
    _ranks_users_without_history = False
    # every user gets the same scores (MostPopular): exempt from check_unseen_users'
    # "different histories, different scores"
    _ignores_history = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "recommender"
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @_recording_fitted_params
    def fit(self, X, y=None):
        """Fit the recommender on a user-item interaction matrix.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions: counts, confidences or ratings; 0 means "no
            interaction". Values are used as given; binarize them in a
            preprocessing step if the model should see 0/1.
        y : None
            Ignored; present so that the model composes with
            :class:`~sklearn.pipeline.Pipeline` and model selection tools.

        Returns
        -------
        self : object
            The fitted recommender.
        """
        self._validate_params()
        X = check_interactions(self, X, reset=True)
        self._record_popularity(X)
        self._fit(X)
        return self

    def _record_popularity(self, X):
        """Keep the training share of each item: the scores of users without history."""
        self._set_popularity(np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64))

    def _set_popularity(self, counts):
        """The popularity of :meth:`_record_popularity` from per-column interaction counts."""
        self._item_popularity = item_shares(counts)
        # the items trained are those with interactions, unless training set
        # some aside afterwards (see _known_items)
        self._trained_items = None
        # every fit and partial_fit passes here: the parameters it trains under
        # (recorded before training, which may score validation users; a fit that
        # raises marks them failed, see _recording_fitted_params)
        self._fitted_params = self._guarded_params()

    # constructor parameters read when scoring, documented as settable on a
    # fitted model (a subclass names its own); any other one changed by
    # set_params after fit is refused at scoring (see _check_fitted_params)
    _params_settable_after_fit = frozenset()
    # training data passed as parameters (a ConvMF's documents): scoring uses what
    # fit learned from them, so setting them to None slims a fitted model
    _params_only_read_by_fit = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("fit", "partial_fit"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "_records_failure", False):
                setattr(cls, name, _recording_fitted_params(method))

    def _guarded_params(self):
        """The parameters scoring must find as ``fit`` left them, nested ones included.

        A meta-estimator's template (``estimator``) is changed in place by
        ``set_params(estimator__alpha=...)``: the object stays the same, so
        its parameters are recorded one by one; the fitted clone it scores
        with keeps the fit's values.
        """
        left_out = (self._params_settable_after_fit | self._params_only_read_by_fit
                    | _PARAMS_WITHOUT_EFFECT_ON_SCORES)
        return {name: value for name, value in self.get_params(deep=True).items()
                if name.split("__")[0] not in left_out
                and name.rsplit("__", 1)[-1] not in _PARAMS_WITHOUT_EFFECT_ON_SCORES}

    def _check_fitted_params(self):
        """ValueError if a parameter the fit trained under has changed since (set_params).

        The fitted state belongs to the fit's values: scored under others, a
        model would fold users in under another objective, read its weights
        under other shapes (out of bounds in a compiled kernel) or feed its
        ranker features it never saw, none of which is the fitted model or a
        refitted one.
        """
        check_params_unchanged(self, getattr(self, "_fitted_params", None))
        if self._params_settable_after_fit:
            self._validate_params()  # those set after fit: in range, as fit would check

    def _known_items(self):
        """Boolean mask of the items the model learned from (None before ``fit``).

        The items with training interactions, or, where the training engine
        held some interactions out for validation (or a model trains on part
        of its rows, as a sequential model's inputs), the items it trained on:
        an item whose only interactions were held out kept its initial (or
        zero) parameters, and a user with only such items is one without
        history.
        """
        trained = getattr(self, "_trained_items", None)
        if trained is not None:
            return trained
        popularity = getattr(self, "_item_popularity", None)
        return None if popularity is None else popularity > 0

    def _untrained_zeroed(self, X, known=None):
        """CSR ``X`` with its entries on items the model never trained on set to 0.

        For models that read a row through per-item input weights (the
        autoencoders): an item without interactions in the training part of
        ``fit`` (see :meth:`_known_items`) kept its random initial weights,
        and reading them would encode noise; the row is read without it, and a
        row of such items only is a row without history. The zeros stay stored
        (``X.indices`` unchanged), so attributions keep one entry per item.
        ``known``: a mask of X's columns in place of :meth:`_known_items`.
        """
        known = self._known_items() if known is None else known
        if known is None or X.shape[1] != len(known):
            return X
        keep = known[X.indices]
        if keep.all():
            return X
        X = X.copy()
        X.data = np.where(keep, X.data, 0).astype(X.data.dtype, copy=False)
        return X

    def _untrained_removed(self, X):
        """CSR ``X`` without its entries on items the model never trained on.

        For models that read which items a row holds rather than their values
        (a sequence's order, BPR's sampled pairs), where a stored 0 would
        still be read as an item: see :meth:`_untrained_zeroed` for why.
        """
        known = self._known_items()
        if known is None or X.shape[1] != len(known):
            return X
        keep = known[X.indices]
        if keep.all():
            return X
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=X.shape[0]))])
        return sp.csr_matrix((X.data[keep], X.indices[keep], indptr), shape=X.shape)

    def _check_fitted(self):
        """NotFittedError before ``fit``; ValueError if parameters changed since (or it failed)."""
        check_is_fitted(self)
        self._check_fitted_params()

    def _validate_for_scoring(self, X):
        self._check_fitted()
        return check_interactions(self, X, reset=False)

    def _iter_scores(self, X, **row_data):
        """Yield ``(rows, X_batch, scores)`` blocks for validated CSR ``X``.

        Block size follows scikit-learn's ``working_memory``; a model's
        ``batch_size``, where it has one, is its training minibatch only.
        ``row_data`` (side data with one row per row of ``X``; None entries
        are left out) is sliced with each block and passed to ``_score_batch``.
        """
        step = row_batch_size(self.n_features_in_)
        row_data = {name: value for name, value in row_data.items() if value is not None}
        for rows in iter_row_batches(X.shape[0], step):
            X_batch = X[rows]
            batch_data = {name: value[rows] for name, value in row_data.items()}
            scores = self._popularity_for_empty_rows(
                X_batch, self._score_batch(X_batch, **batch_data))
            yield rows, self._target_history(X_batch), self._checked_scores(rows, scores)
            # the next block is scored before the consumer lets go of this one: one block
            # held, not two (working_memory sizes one)
            del scores

    def _n_items(self):
        """Number of items scored: columns of ``X``, or of one block of a multi-behaviour ``X``."""
        return self.n_features_in_

    def _target_history(self, X):
        """The part of validated CSR ``X`` that ``exclude_seen`` masks (all of it here)."""
        return X

    def _checked_scores(self, rows, scores):
        """The scores of rows ``rows`` (a slice of X); FloatingPointError if one is not finite."""
        # a sum is cheaper than isfinite and is finite iff every term is
        # (short of overflow, which the exact check then sorts out)
        if not np.isfinite(scores.sum()) and not np.isfinite(scores).all():
            bad = rows.start + np.flatnonzero(~np.isfinite(scores).all(axis=1))
            self._raise_non_finite(
                f"{len(bad)} user(s) (rows {bad[:5].tolist()}"
                f"{'...' if len(bad) > 5 else ''} of X)")
        return scores

    def _raise_non_finite(self, whom):
        raise FloatingPointError(
            f"{type(self).__name__} computed non-finite scores for {whom}: their values are "
            "too large for the model's floating-point type. Scale the values of X down "
            "(e.g. np.log1p or RatingBinarizer), before fit too.")

    def _needs_interactions_for_similarity(self):
        """Whether an item without training interactions has no meaningful neighbours."""
        return True

    def _popularity_for_empty_rows(self, X_batch, scores, popularity=None):
        """Training popularity as the scores of users without interactions whose scores tie.

        A row whose only items had no training interactions counts as without
        interactions.

        With no history, most models (item-item, factor fold-in) give every
        item the same score, and a ranking would be catalogue order. Models
        that do rank such a user (biases, an autoencoder's prior) keep their
        own scores. Depends on the row only, so rows stay independent.
        ``popularity``: the shares to give them (default: the fit's,
        ``_item_popularity``; early stopping passes those of the training part).
        """
        if popularity is None:
            popularity = getattr(self, "_item_popularity", None)
        if popularity is None:
            return scores
        n_items = len(popularity)
        if X_batch.shape[1] == n_items:
            # entries only on items without training interactions teach the fold-in
            # nothing either (their factors are zero or left out): such a row is empty
            empty = rows_without_known_items(X_batch, self._known_items())
        else:  # several behaviour blocks: the columns (behaviour, item) fit trained on
            known = getattr(self, "_trained_columns", lambda: None)()
            empty = rows_without_known_items(
                X_batch, known if known is not None and len(known) == X_batch.shape[1]
                else None)
        if empty.size == 0:
            return scores
        block = scores[empty, :n_items]
        # flat up to rounding: an item-item model's own-item term x_j - x_j B'_jj
        # can leave 1e-16 where it is 0 in exact arithmetic (SparseEASE), which
        # would rank such a user in catalogue order
        scale = np.maximum(1.0, np.abs(block).max(axis=1, initial=0.0))
        tol = 64 * np.finfo(block.dtype).eps if block.dtype.kind == "f" else 0
        flat = empty[np.ptp(block, axis=1) <= tol * scale]
        if flat.size:
            if not scores.flags.writeable:
                scores = scores.copy()
            scores[flat, :n_items] = popularity.astype(scores.dtype)
            scores[flat, n_items:] = 0.0  # extra candidates: no popularity yet
        return scores

    def _validate_explain(self, x_row, item):
        """Validated one-row CSR and item index for ``explain``."""
        x = self._validate_for_scoring(x_row)
        if x.shape[0] != 1:
            raise ValueError(f"x_row must hold one user (1 row), got {x.shape[0]} rows.")
        if np.ndim(item) != 0:
            raise ValueError(f"item must be one item index (an int), got {item!r}; call "
                             "explain once per item.")
        return x, int(check_item_indices([item], self._n_items(), name="item")[0])

    def explain(self, x_row, item):
        """Leave-one-out contribution of each of the user's items to one item's score.

        The default explanation, for models whose score is not linear in the
        user's row (a fold-in by gradient steps or multiplicative updates):
        the contribution of item ``j`` is how much the item's score drops
        when ``j`` is removed from the row and the user is scored again.
        Models with an exact decomposition (item-item models, least-squares
        fold-ins, integrated gradients for the autoencoders) override it.
        Leave-one-out contributions need not sum to the score.

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's interactions.
        item : int
            The item (column) whose score is explained.

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
            The user's items, largest contribution first.
        contributions : ndarray of shape (n_user_items,)
            ``score(x_row) - score(x_row without j)`` for each of them.
        """
        x, item = self._validate_explain(x_row, item)
        if x.nnz == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        contrib = self._leave_one_out_terms(x, np.array([item]))[:, 0]
        order = np.argsort(-contrib, kind="stable")
        return x.indices[order].astype(np.int64), contrib[order]

    def _leave_one_out_terms(self, x, items):
        """``score(x) - score(x without j)`` of each of ``items`` (columns) for each
        entry ``j`` of the one-row CSR ``x`` (rows, in ``x.indices`` order)."""
        n = x.nnz
        terms = np.zeros((n, len(items)))
        read = self._entries_read(x)
        varied = np.arange(n) if read is None else np.flatnonzero(read)
        # row j of a batch is the user without their j-th item; batches of scored
        # rows (the whole row and its variants) as decision_function's, so a long
        # history needs no (n, n) arrays
        for rows in iter_row_batches(len(varied), max(1, row_batch_size(x.shape[1]) - 1)):
            js = varied[rows]
            keep = np.ones((len(js), n), dtype=bool)
            keep[np.arange(len(js)), js] = False
            without = sp.csr_matrix(
                (np.broadcast_to(x.data, keep.shape)[keep],
                 (np.repeat(np.arange(len(js)), n - 1),
                  np.broadcast_to(x.indices, keep.shape)[keep])),
                shape=(len(js), x.shape[1]))
            # the whole row scored in the same product as its variants: an item whose
            # removal changes nothing (one a sequence model never trained) then gives
            # exactly 0 (a one-row product may round in another order)
            scored = self._scores_without_fallback(
                sp.vstack([x, without], format="csr"))[:, items]
            if not np.isfinite(scored).all():
                # differences of them would be NaN contributions, silently
                self._raise_non_finite("the row explained (or it without one of its items)")
            terms[js] = scored[0] - scored[1:]
        return terms

    def _entries_read(self, x):
        """Which entries of the one-row CSR ``x`` its score may depend on; None: all.

        Removing any other entry leaves the score as it is, so its
        leave-one-out term is 0 without scoring the row without it (a
        sequence model reads only its ``max_len`` most recent trained items:
        2,498 of the 2,698 of latest-small's longest history are not read).
        """
        return None

    def explain_contrast(self, x_row, item, against=10):
        """Contribution of each of the user's items to one item's lead over others.

        A contrastive explanation ("why this item rather than those?"): the
        contribution of item ``j`` is its :meth:`explain` contribution to
        ``item``'s score minus the mean of its contributions to the scores of
        the items in ``against``. Where ``explain``'s terms sum to the score
        (minus the score of a baseline input: integrated gradients' all-zero
        row), these sum to the item's lead over the mean score of
        ``against`` (minus the same lead at that input). A user's item that
        explains the item and its runners-up alike (a popular item, a
        neighbour of them all) explains its score but not why it is ranked
        above them, which is what removing it from the history would change;
        :meth:`explain` credits it, this does not.

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's interactions.
        item : int
            The item (column) whose lead is explained.
        against : int or array-like of int, default=10
            An int ``k``: the ``k`` items that follow ``item`` in the user's
            recommendation list (:meth:`recommend` with its defaults, so never
            an item of the user's history; fewer where fewer follow it). An
            array: the item indices to compare it with (distinct, without
            ``item``).

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
            The user's items, largest contribution first.
        contributions : ndarray of shape (n_user_items,)
            Each one's contribution to ``item``'s score minus the mean of its
            contributions to the scores of ``against``.
        """
        x, item = self._validate_explain(x_row, item)
        # without history nothing to explain: against is checked, but no runners-up
        # are looked for (in a fallback ranking the last item has none)
        others = self._contrast_items(x, item, against, rank=x.nnz > 0)
        if x.nnz == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        if not x.has_sorted_indices:  # a copy: the caller's matrix stays as given
            x = x.copy()
            x.sort_indices()
        terms = self._explanation_terms(x, np.concatenate([[item], others]))
        contrib = terms[:, 0] - terms[:, 1:].mean(axis=1)
        order = np.argsort(-contrib, kind="stable")
        return x.indices[order].astype(np.int64), contrib[order]

    def _contrast_items(self, x, item, against, rank=True):
        """The validated item indices ``explain_contrast`` compares ``item`` with
        (with ``rank=False``, a number of runners-up is checked, not looked up: None)."""
        n_items = self._n_items()
        count = against_count(against)
        if count is not None and not rank:
            check_against_count(count)
            return None
        if count is not None:
            ranked = self.recommend(x, k=n_items)
            ranked = np.asarray(ranked[0] if isinstance(ranked, tuple) else ranked)[0]
            return runners_up(ranked, item, count, f"item {item}",
                              AGAINST_INDICES_FIX)
        if np.ndim(against) == 0:
            raise TypeError(f"against must be a number of items (an int) or an array of "
                            f"item indices, got {against!r}.")
        others = check_item_indices(against, n_items, name="against")
        if others.size == 0:
            raise ValueError("against holds no item: give at least one item to compare with.")
        if np.unique(others).size != others.size or np.any(others == item):
            raise ValueError(f"against must hold distinct items other than item {item}, got "
                             f"{against!r}.")
        return others

    def _explains_by_leave_one_out(self):
        """Whether :meth:`explain` is this mixin's leave-one-out (overrides that only
        document it, marked ``_runs_inherited``, are looked through)."""
        for klass in type(self).__mro__:
            explain = klass.__dict__.get("explain")
            if explain is not None and not getattr(explain, "_runs_inherited", False):
                return explain is RecommenderMixin.__dict__["explain"]
        return False

    def _explanation_terms(self, x, items):
        """:meth:`explain`'s contributions to each of ``items`` (columns) for each entry
        of the one-row CSR ``x`` with sorted indices (rows, in ``x.indices`` order)."""
        if self._explains_by_leave_one_out():
            # one refold per entry serves every item
            return self._leave_one_out_terms(x, items)
        terms = np.zeros((x.nnz, len(items)))
        for t, one in enumerate(items):
            got, contrib = self.explain(x, int(one))
            at = np.searchsorted(x.indices, got)
            if got.size and (at.max() >= x.nnz or np.any(x.indices[at] != got)):
                raise RuntimeError(f"{type(self).__name__}.explain returned items outside "
                                   "the user's row; explain_contrast cannot align them.")
            terms[at, t] = contrib
        return terms

    def _scores_without_fallback(self, X):
        """The model's own scores of validated CSR rows (no popularity for empty rows)."""
        return np.asarray(self._score_batch(X), dtype=np.float64)

    def decision_function(self, X):
        """Relevance score of every item for every user.

        Row ``u`` of the result depends only on row ``u`` of ``X``, so users
        not seen in ``fit`` are scored by folding in their interactions. A
        user without any interaction (or only with items that had none in
        ``fit``), whom the model would score all alike
        (item-item models, factor fold-in), is given the items' share of the
        training interactions instead (popularity), so rankings and scorers
        serve such users the most popular items rather than catalogue order;
        models that rank empty rows themselves keep their scores.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history of the users to score.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
            Higher means more relevant. Seen items are not masked here; use
            :meth:`recommend` for ranked lists without them.
        """
        return self._all_scores(self._validate_for_scoring(X))

    def _all_scores(self, X, **row_data):
        """Dense scores of validated CSR ``X`` (``row_data`` as in :meth:`_iter_scores`)."""
        out = None
        for rows, _, scores in self._iter_scores(X, **row_data):
            if out is None:
                out = np.empty((X.shape[0], scores.shape[1]), dtype=scores.dtype)
            out[rows] = scores
            del scores  # before the next block is scored (see _iter_scores)
        return out

    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        """Top-``k`` items for each user, best first.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history of the users; row ``u`` is user ``u``.
        k : int, default=10
            Number of items to return per user. A ``k`` beyond the number of
            items returns one column per item (``min(k, n_items)``); lists with
            fewer candidates left are padded.
        exclude_seen : bool, default=True
            Never return an item the user has interacted with (a non-zero of
            the user's row).
        exclude : {array-like, sparse matrix} of shape (n_users, n_items), default=None
            Further items never to return: the non-zeros of row ``u`` for
            user ``u``. For the history to exclude when it is not the history
            to score from, e.g. every rated movie when ``X`` holds only the
            liked ones.
        candidates : array-like of int, default=None
            Item indices to choose from; other items are never returned.
            ``None`` means the whole catalogue.

        Returns
        -------
        indices : ndarray of shape (n_users, min(k, n_items)), dtype int64
            Recommended item indices, best first. Padded with ``-1`` when
            fewer than ``k`` candidates remain (seen or not candidates). A
            user without any interaction gets the most popular items of
            ``fit`` unless the model itself ranks such users.
        scores : ndarray of shape (n_users, min(k, n_items))
            Their scores, padded with ``-inf``.
        """
        check_k(k)
        return self._top_k(self._validate_for_scoring(X), k, exclude_seen, exclude, candidates)

    def _top_k(self, X, k, exclude_seen, exclude, candidates, **row_data):
        """``recommend`` of validated CSR ``X`` (``row_data`` as in :meth:`_iter_scores`)."""
        exclude = check_exclude(exclude, X.shape[0], self._n_items(), self)
        return _top_k_of_batches(self._iter_scores(X, **row_data), self._n_items(), k,
                                 exclude_seen, candidates, exclude)

    def score(self, X, y=None):
        """NDCG@10 of the recommendations for ``X``.

        Uses the protocol of :func:`sklearn_recsys.metrics.make_ranking_scorer`:
        with a sparse ``y`` of held-out interactions, ``X`` is the fold-in
        history and its items are excluded from the ranking; without ``y``
        (or with a 1-D ``y``) each row of ``X`` is split 80/20 with a fixed
        seed and the 20% are predicted from the 80% (for a sequential model,
        whose values are order keys, the latest 20% from the earlier 80%).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history (fold-in part) of the users to evaluate.
        y : sparse matrix of shape (n_users, n_items), default=None
            Held-out interactions of the same users.

        Returns
        -------
        score : float
            Mean NDCG@10 over users with at least one held-out item.
        """
        from .metrics import make_ranking_scorer

        return make_ranking_scorer("ndcg", k=10)(self, X, y)


class RatingPredictionMixin:
    """``predict_ratings`` for explicit-rating models, in row batches, clipped to the scale.

    Models implement ``_check_can_predict_ratings()`` (optional) and
    ``_ratings_batch(X, items)`` returning the raw predictions of validated
    CSR rows for the selected items (None = all), and set ``rating_range_``.
    """

    def _check_can_predict_ratings(self):
        pass

    def predict_ratings(self, X, items=None):
        """Predicted ratings of given items for users given by their known ratings.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Known ratings of the users (0 = unknown); the users are folded in
            from these, so they need not be users of ``fit``.
        items : array-like of int of shape (n_selected,), default=None
            Item (column) indices to predict; None means every item.

        Returns
        -------
        ratings : ndarray of shape (n_users, n_selected)
            Predictions clipped to ``rating_range_`` (a prediction outside
            the scale is never better than its bound).
        """
        X = self._validate_for_scoring(X)
        self._check_can_predict_ratings()
        if items is not None:
            items = check_item_indices(items, self.n_features_in_)
        n_cols = self.n_features_in_ if items is None else len(items)
        out = np.empty((X.shape[0], n_cols), dtype=np.float64)
        # the factor models share their fold-in's Gram and threads across the batches
        with getattr(self, "_shared_fold_in", contextlib.nullcontext)():
            for rows in iter_row_batches(X.shape[0], max(1, 8_000_000 // max(1, n_cols))):
                out[rows] = self._ratings_batch(X[rows], items)
        return np.clip(out, *self.rating_range_, out=out)


def _top_k_of_batches(batches, n_candidates, k, exclude_seen, candidates, exclude=None):
    """Stacked top-``k`` of ``(rows, X_batch, scores)`` blocks over ``n_candidates`` columns.

    The first ``X_batch.shape[1]`` columns of the scores are the catalogue
    items (masked where seen in ``X_batch``, and where ``exclude[rows]`` has
    a non-zero); any further columns are extra candidates.
    """
    exclude_seen = check_exclude_seen(exclude_seen)
    candidate_mask = None
    if candidates is not None:
        candidate_mask = np.zeros(n_candidates, dtype=bool)
        candidate_mask[check_item_indices(candidates, n_candidates, name="candidates")] = True
    all_idx, all_val = [], []
    for rows, X_batch, scores in batches:
        if not scores.flags.writeable:
            scores = scores.copy()
        if exclude_seen:
            mask_seen(scores[:, : X_batch.shape[1]], X_batch)
        if exclude is not None:
            mask_seen(scores[:, : X_batch.shape[1]], exclude[rows])
        if candidate_mask is not None:
            scores[:, ~candidate_mask] = -np.inf
        idx, val = top_k(scores, k)
        del scores  # before the next block is scored (see _iter_scores)
        all_idx.append(idx)
        all_val.append(val)
    return np.vstack(all_idx), np.vstack(all_val)


def _inner_explains(meta):
    """Whether a meta-estimator's wrapped recommender has ``explain`` (the fitted one once fitted).

    For ``available_if`` on the ``explain`` of wrappers that delegate it.
    """
    return hasattr(getattr(meta, "estimator_", meta.estimator), "explain")


def _allowed_items(candidates, n_items):
    """Boolean mask of the ``candidates`` over ``n_items`` items (None when they are all)."""
    if candidates is None:
        return None
    allowed = np.zeros(n_items, dtype=bool)
    allowed[check_item_indices(candidates, n_items, name="candidates")] = True
    return allowed


def _recommend_excluding_first(estimator, X, k, exclude_seen, exclude, candidates):
    """``recommend`` of a model whose scores depend on which items may be recommended.

    The re-rankers and the stack choose their candidates among the items that
    can be returned; ``estimator._iter_scores(X, exclude_seen, exclude,
    allowed)`` receives the exclusions (``allowed``: a boolean mask of the
    ``candidates``, or None) and yields the blocks of :meth:`_top_k_of_batches`.
    """
    check_k(k)
    X = estimator._validate_for_scoring(X)
    n_items = estimator._n_items()
    exclude = check_exclude(exclude, X.shape[0], n_items, estimator)
    exclude_seen = check_exclude_seen(exclude_seen)
    batches = estimator._iter_scores(X, exclude_seen, exclude,
                                     _allowed_items(candidates, n_items))
    return _top_k_of_batches(batches, n_items, k, exclude_seen, candidates, exclude)


class EmbeddingFeaturesOutMixin(ClassNamePrefixFeaturesOutMixin):
    """``get_feature_names_out`` of a fitted model's ``transform`` (its user embedding, or
    the item scores of a model without one).

    scikit-learn's mixin only checks that ``_n_features_out`` exists, which a
    model's property answers before fit, and after ``set_params`` changed
    ``n_components``, with names that are not those of its ``transform``:
    here the model must be fitted under its current parameters, as for
    ``transform`` itself.
    """

    def get_feature_names_out(self, input_features=None):
        """Output feature names: ``<class name in lower case>0``, ``...1``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_`` where the model has it.

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per column of :meth:`transform`.
        """
        self._check_fitted()
        return super().get_feature_names_out(input_features)


class ItemScoresTransformMixin(EmbeddingFeaturesOutMixin, TransformerMixin):
    """``transform`` returning the item scores, for models without a latent space.

    Its columns are named as an embedding's, ``<class name>0`` for item 0 and
    so on, so it composes with ``FeatureUnion`` and ``set_output`` (scikit-learn
    wraps the output of a ``transform`` defined under ``TransformerMixin``).
    """

    @property
    def _n_features_out(self):
        return self._n_items()

    def transform(self, X):
        """Item scores of each user: the representation of a model without factors.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history of the users.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
            Same as :meth:`decision_function`.
        """
        return self.decision_function(X)


class ItemItemMixin(ItemScoresTransformMixin):
    """Shared plumbing of models that score ``X @ W`` with an item-item matrix.

    Concrete models (EASE, item-KNN) implement ``_item_item()`` returning the
    fitted ``W`` of shape ``(n_items, n_items)``, dense or sparse, where
    ``W[j, i]`` is how much an interaction with item ``j`` adds to the score
    of item ``i``. Scores are then exact sums of per-item contributions,
    which :meth:`explain` exposes. A model that never forms ``W``
    (SparseEASE) overrides ``_score_batch``, ``_item_item_rows`` and
    ``_item_item_entries`` instead.
    """

    def _known_items(self):
        """Items with training interactions, and (EASE, SparseEASE) some co-occurrence.

        An item held only by users with no other item has an empty row of
        EASE's ``B`` (its row of the Gram matrix is diagonal): a user with
        only such items would score 0 everywhere, catalogue order, where the
        popularity fallback is the answer, as for a user without history.
        """
        known = super()._known_items()
        linked = getattr(self, "_linked_items", None)
        if known is None or linked is None or len(linked) != len(known):
            return known
        return known & linked

    def _score_batch(self, X):
        W = self._item_item()
        if isinstance(W, np.ndarray):  # on every core, scipy's values
            return csr_dense_product(X, W)
        return csr_csr_dense_product(X, W)

    def similar_items(self, items, k=10):
        """The ``k`` items with the largest item-item weight from each item (``ItemKNN``: its
        ``n_neighbors`` most similar items, column ``item`` of ``similarity_``, or its row
        with ``neighborhood="history"``).

        Parameters
        ----------
        items : array-like of int
            Item (column) indices.
        k : int, default=10
            Neighbours per item; the item itself is never returned.

        Returns
        -------
        indices : ndarray of shape (n_query_items, min(k, n_items)), dtype int64
            Padded with ``-1`` when fewer than ``k`` items have a weight (an
            exact 0 is none: EASE's outside the item's co-occurrence component).
        scores : ndarray of shape (n_query_items, min(k, n_items))
            Weights ``W[item, neighbour]`` (``ItemKNN``: ``similarity_[neighbour,
            item]``, the column that keeps the item's neighbours, or
            ``similarity_[item, neighbour]`` with ``neighborhood="history"``), padded
            with ``-inf``.
        """
        self._check_fitted()
        k = check_k(k)
        items = check_item_indices(items, self.n_features_in_)

        def similarities(items):
            rows = self._item_item_rows(items)
            if hasattr(rows, "toarray"):
                dense = np.full(rows.shape, -np.inf, dtype=rows.dtype)
                coo = rows.tocoo()
                dense[coo.row, coo.col] = coo.data
                rows = dense
            else:
                if not rows.flags.writeable:  # the masking below writes to it
                    rows = rows.copy()
                # a dense matrix's exact 0 is no weight, as a sparse one's missing entry:
                # EASE's B has them outside the item's co-occurrence component (an item
                # held only by single-item users listed catalogue order at -0.0)
                rows[rows == 0] = -np.inf
            rows[np.arange(len(items)), items] = -np.inf
            return _mask_unseen_items(self, rows, items)

        return similar_in_batches(similarities, items, self.n_features_in_, k)

    def _item_item_rows(self, items):
        """Rows ``items`` of the item-item matrix (dense or sparse), the caller's to write.

        A fancy-indexed copy: :meth:`similar_items` masks it in place (copying
        it again doubled the memory of a query on every item: 721 MB more on
        MovieLens latest-small).
        """
        return self._item_item()[items]

    def _item_item_entries(self, rows, item):
        """Entries ``W[rows, item]`` as a 1-d array."""
        col = self._item_item()[rows, item]
        return np.asarray(col.toarray() if hasattr(col, "toarray") else col).ravel()

    def explain(self, x_row, item):
        """Exact contribution of each of the user's items to one item's score.

        ``decision_function(x_row)[0, item]`` equals the sum of the returned
        contributions for a user with interactions on trained items. A user
        without any gets the popularity fallback of :meth:`decision_function`
        and no contributions; so does one whose items all had no training
        interactions, whose items come back with contributions of 0.

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's interactions.
        item : int
            The item (column) whose score is explained.

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
            The user's items, largest contribution first.
        contributions : ndarray of shape (n_user_items,)
            ``x_row[j] * W[j, item]`` for each of them.
        """
        x, item = self._validate_explain(x_row, item)
        # float64 whatever the model's dtype, as every other explain
        contrib = (np.asarray(x.data, dtype=np.float64)
                   * np.asarray(self._item_item_entries(x.indices, item), dtype=np.float64))
        order = np.argsort(-contrib, kind="stable")
        return x.indices[order].astype(np.int64), contrib[order]


def similar_in_batches(similarities, items, n_items, k):
    """Top ``k`` of ``similarities(batch)`` (the masked rows of a batch of query items).

    The query items go in batches that ``working_memory`` sizes, as users do
    in ``recommend``: every item at once would be ``n_items ** 2`` scores.
    """
    parts = [top_k(similarities(items[rows]), k)
             for rows in iter_row_batches(len(items), row_batch_size(n_items))]
    if not parts:  # no query item: the model's dtype all the same
        return top_k(similarities(items), k)
    return np.vstack([idx for idx, _ in parts]), np.vstack([val for _, val in parts])


def _mask_unseen_items(estimator, similarities, items):
    """``-inf`` for items without training interactions, as neighbours and as queries.

    Their weights or factors carry no information (zeros, or initial noise),
    so they are no one's neighbour and have none: such a query row is all
    padding.
    """
    # the items the model trained on: with early stopping, an item whose only
    # interactions were held out for validation kept its initial noise too. The base
    # definition, not an item-item model's refinement, which is about scoring users:
    # an item no other item keeps as a neighbour still has neighbours of its own
    trained = RecommenderMixin._known_items(estimator)
    if trained is None or not estimator._needs_interactions_for_similarity():
        return similarities
    unseen = ~trained
    similarities[:, unseen] = -np.inf
    similarities[unseen[items]] = -np.inf
    return similarities
