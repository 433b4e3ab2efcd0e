"""Shared base of the matrix factorization models: factors, fold-in, iterations, early stopping.

A factorization model keeps ``item_factors_`` ``(n_items, n_components)``
(and optionally ``item_bias_``). Any user is represented by folding in their
row against the fixed item factors (``transform``), and scored by the
product of that representation with the item factors. The iterative fit
loop, progress output, validation monitoring with early stopping and thread
control live here; concrete models implement ``_init_state``,
``_iterate`` and ``_fold_in``.
"""

from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..base import RecommenderMixin
from ..utils._progress import Progress
from ..utils._topk import iter_row_batches, mask_seen, row_batch_size, top_k
from ..utils._validation import (
    check_interaction_matrix,
    check_interactions,
    check_item_indices,
    check_k,
)

__all__ = ["MatrixFactorizationBase", "RatingPredictionMixin"]


@contextmanager
def numba_threads(n_jobs):
    """Run numba kernels with ``n_jobs`` threads, restoring the caller's setting."""
    import numba

    if n_jobs is None:
        yield
        return
    previous = numba.get_num_threads()
    limit = numba.config.NUMBA_NUM_THREADS
    n = limit if n_jobs == -1 else (max(1, limit + 1 + n_jobs) if n_jobs < 0 else n_jobs)
    numba.set_num_threads(min(n, limit))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


class MatrixFactorizationBase(
    ClassNamePrefixFeaturesOutMixin, RecommenderMixin, TransformerMixin, BaseEstimator
):
    """Base class of the factorization models (not an estimator on its own).

    Subclasses define ``_init_state(X, rng)``, ``_iterate(X, Xt)`` (one
    sweep or epoch, returning a training loss or None) and
    ``_fold_in(X)`` (user factors of validated CSR rows).
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "dtype": [type],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # metric monitored by early stopping
    _validation_k = 20

    @property
    def _n_features_out(self):
        return self.n_components

    def fit(self, X, y=None, X_val=None):
        """Fit the factors on a user-item matrix, optionally watching a validation matrix.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions (0 = none).
        y : None
            Ignored.
        X_val : sparse matrix of shape (n_users, n_items), default=None
            Held-out interactions of the same users (e.g. from
            :func:`~sklearn_recsys.model_selection.holdout_split`). When given,
            its NDCG@20 under the training users' factors is recorded after
            every iteration in ``validation_scores_``; with
            ``early_stopping=True`` it replaces the internal split.

        Returns
        -------
        self : object
            Fitted model.
        """
        self._validate_params()
        X = check_interactions(self, X, reset=True)
        if X_val is not None:
            X_val = check_interaction_matrix(X_val, input_name="X_val")
            if X_val.shape != X.shape:
                raise ValueError(
                    f"X_val has shape {X_val.shape} but X has shape {X.shape}: pass the "
                    "held-out interactions of the same users and items."
                )
        self._fit(X, X_val)
        return self

    def _fit(self, X, X_val=None):
        X = X.astype(self.dtype, copy=False)
        rng = check_random_state(self.random_state)
        if X_val is None and self.early_stopping:
            from ..model_selection import holdout_split

            X, X_val = holdout_split(
                X, test_size=self.validation_fraction, min_interactions=2,
                random_state=rng.randint(np.iinfo(np.int32).max),
            )
            X = X.astype(self.dtype, copy=False)
        Xt = X.T.tocsr()
        progress = Progress(type(self).__name__, self.max_iter, self.verbose)
        self.validation_scores_ = [] if X_val is not None else None
        best, best_state, stall = -np.inf, None, 0
        with numba_threads(self.n_jobs):
            self._init_state(X, rng)
            self.loss_curve_ = []
            for it in range(1, self.max_iter + 1):
                loss = self._iterate(X, Xt)
                self.loss_curve_.append(loss)
                score = None
                if X_val is not None:
                    score = self._validation_score(X, X_val)
                    self.validation_scores_.append(score)
                    if score > best:
                        best, best_state, stall = score, self._state(copy=True), 0
                    else:
                        stall += 1
                progress.update(it, loss=loss, **{self._validation_name(): score})
                if self.early_stopping and stall >= self.n_iter_no_change:
                    break
            self.n_iter_ = it
            if self.early_stopping and best_state is not None:
                self._set_state(best_state)
                self.best_iteration_ = int(np.argmax(self.validation_scores_)) + 1
        return self

    def _state(self, copy=False):
        state = {n: getattr(self, n) for n in self._state_names if hasattr(self, n)}
        if copy:
            state = {n: v if v is None else v.copy() for n, v in state.items()}
        return state

    def _set_state(self, state):
        for name, value in state.items():
            setattr(self, name, value)

    def _validation_name(self):
        return f"val_ndcg@{self._validation_k}"

    def _validation_score(self, X, X_val):
        """NDCG@k of the held-out entries, ranked by the training users' own factors."""
        from ..metrics import ndcg_at_k

        rows = np.flatnonzero(np.diff(X_val.indptr))
        if len(rows) > 5000:  # a fixed subsample keeps each check cheap
            rows = rows[:: len(rows) // 5000 + 1]
        total = 0.0
        for batch in iter_row_batches(len(rows), row_batch_size(X.shape[1])):
            r = rows[batch]
            scores = self._train_scores(r)
            mask_seen(scores, X[r])
            total += ndcg_at_k(X_val[r], scores, k=self._validation_k) * len(r)
        return total / max(1, len(rows))

    def _train_scores(self, rows):
        scores = self.user_factors_[rows] @ self.item_factors_.T
        if getattr(self, "item_bias_", None) is not None:
            scores += self.item_bias_
        return scores

    def _score_batch(self, X):
        scores = self._fold_in(X) @ self.item_factors_.T
        if getattr(self, "item_bias_", None) is not None:
            scores += self.item_bias_
        return scores

    def transform(self, X):
        """User factors of any users, folded in against the fitted item factors.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions of the users, seen in ``fit`` or not.

        Returns
        -------
        user_factors : ndarray of shape (n_users, n_components)
            Row ``u`` depends only on row ``u`` of ``X``.
        """
        X = self._validate_for_scoring(X)
        out = np.empty((X.shape[0], self.n_components), dtype=self.item_factors_.dtype)
        for rows in iter_row_batches(X.shape[0], 65536):
            out[rows] = self._fold_in(X[rows])
        return out

    def similar_items(self, items, k=10):
        """The ``k`` items whose factors have the largest cosine with each item's.

        Parameters
        ----------
        items : array-like of int
            Item (column) indices.
        k : int, default=10
            Neighbours per item; the item itself is never returned.

        Returns
        -------
        indices : ndarray of shape (n_query_items, k), dtype int64
        scores : ndarray of shape (n_query_items, k)
            Cosine similarities of the item factors.
        """
        check_is_fitted(self)
        k = check_k(k)
        items = check_item_indices(items, self.n_features_in_)
        V = self.item_factors_
        norms = np.linalg.norm(V, axis=1)
        norms[norms == 0] = 1.0
        sims = (V[items] @ V.T) / np.outer(norms[items], norms)
        sims[np.arange(len(items)), items] = -np.inf
        return top_k(sims, k)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags


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
        for rows in iter_row_batches(X.shape[0], max(1, 8_000_000 // max(1, n_cols))):
            out[rows] = self._ratings_batch(X[rows], items)
        return np.clip(out, *self.rating_range_, out=out)
