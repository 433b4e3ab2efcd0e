"""Shared base of the matrix factorization models: factors, fold-in, similar items, threads.

A factorization model keeps ``item_factors_`` ``(n_items, n_components)``
(and optionally ``item_bias_``). Any user is represented by folding in their
row against the fixed item factors (``transform``), and scored by the
product of that representation with the item factors. Training runs on the
engine of :mod:`sklearn_recsys._engine`; concrete models implement its
hooks ``_init_fit`` and ``_iterate``, and ``_fold_in``.
"""

import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    TransformerMixin,
    clone,
)
from sklearn.utils._param_validation import Interval, Options

from .._engine import ENGINE_CONSTRAINTS, IterativeTrainingMixin
from ..base import (EmbeddingFeaturesOutMixin, RecommenderMixin, _mask_unseen_items,
                    similar_in_batches)
from ..utils._parallel import numba_threads
from ..utils._topk import iter_row_batches
from ..utils._validation import (
    check_interaction_matrix,
    check_interactions,
    check_item_indices,
    check_k,
)

__all__ = ["MatrixFactorizationBase"]


class MatrixFactorizationBase(
    IterativeTrainingMixin, EmbeddingFeaturesOutMixin, RecommenderMixin, TransformerMixin,
    BaseEstimator,
):
    """Base class of the factorization models (not an estimator on its own).

    Training runs on the engine (:mod:`sklearn_recsys._engine`). Subclasses
    define ``_init_fit(ctx)`` and ``_iterate(ctx)`` (one sweep or epoch on
    ``ctx.X_train`` and its transpose ``ctx.Xt``, cast to ``dtype``,
    returning the training loss), ``_fold_in(X)`` (user factors of
    validated CSR rows) and ``_state_names`` (the fitted arrays that the best
    iteration restores).
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        **ENGINE_CONSTRAINTS,
        # integer dtypes would truncate factors and scores; float16 is no sparse dtype
        "dtype": [Options(type, {np.float32, np.float64, float})],
        # joblib's convention: a count, or -1, -2, ... for all cores but a few; 0 is none
        "n_jobs": [Interval(Integral, 1, None, closed="left"),
                   Interval(Integral, None, -1, closed="right"), None],
    }
    _iteration_unit = "sweep"
    # a FloatingPointError in float32 triggers one refit in float64
    _refit_in_float64 = True

    @property
    def _n_features_out(self):
        factors = getattr(self, "item_factors_", None)
        return self.n_components if factors is None else factors.shape[1]

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
            the validation score under the training users' factors is
            recorded after every iteration in ``validation_scores_``; with
            ``early_stopping=True`` it replaces the internal split.

        Returns
        -------
        self : object
            Fitted model.
        """
        return self._fit_checked(X, X_val)

    def _fit_checked(self, X, X_val, **fit_data):
        """``fit`` with ``fit_data`` (row-aligned side data, checked by ``_check_fit_data``)."""
        self._validate_params()
        X = check_interactions(self, X, reset=True)
        fit_data = self._check_fit_data(X, **fit_data)
        self._record_popularity(X)
        if X_val is not None:
            X_val = check_interaction_matrix(X_val, input_name="X_val")
            if X_val.shape != X.shape:
                raise ValueError(
                    f"X_val has shape {X_val.shape} but X has shape {X.shape}: pass the "
                    "held-out interactions of the same users and items."
                )
        try:
            self._fit(X, X_val, **fit_data)
            self._check_fold_in(X)
        except FloatingPointError as exc:
            if not self._refit_in_float64 or np.dtype(self.dtype) != np.float32:
                raise
            # float32 overflows (squares of large values, near-singular
            # systems) where float64 does not: one refit, on a clone so the
            # parameters stay as the user set them
            warnings.warn(f"{exc} Refitting in float64 (pass dtype=np.float64 to skip the "
                          "float32 attempt).", RuntimeWarning)
            refit = clone(self).set_params(dtype=np.float64)
            # what fit recorded before _fit, which the engine reads (the items trained on)
            refit._record_popularity(X)
            refit._fit(X, X_val, **fit_data)
            refit._check_fold_in(X)
            # the fitted state, under the parameters as the user set them (dtype stays)
            params = {*self.get_params(deep=False), "_fitted_params"}
            vars(self).update({k: v for k, v in vars(refit).items() if k not in params})
        self._warn_if_collapsed(X)
        return self

    def _warn_if_collapsed(self, X):
        """Warn when the penalty zeroed every factor, or shrank them below the scores'
        precision: all users would then rank alike (by item index)."""
        if self._zero_factors_by_design():
            return
        for side in ("user_factors_", "item_factors_"):
            factors = getattr(self, side, None)
            if factors is not None and factors.size and not np.any(factors):
                warnings.warn(
                    f"{type(self).__name__} learned all-zero {side.replace('_', ' ').strip()}: "
                    "every user gets the same ranking. The penalty alpha outweighs the data "
                    "(the values of X may be tiny: scale them up, or lower alpha).",
                    UserWarning)
                return
        U = getattr(self, "user_factors_", None)
        if U is None or not U.shape[0] or self.item_factors_.shape[0] < 2:
            return
        # factors far smaller than a constant of the scores (ConvMF's global mean) round
        # away in float32: every item ties, and the lists fall back to item order
        # up to 100 users, fewer on a large catalogue (about 4 million scores at most)
        n_items = self.item_factors_.shape[0]
        rows = np.arange(min(U.shape[0], 100, max(8, 2**22 // n_items)))
        flat = np.ptp(self._served_train_scores(X, rows), axis=1) == 0
        if flat.mean() > 0.5:
            warnings.warn(
                f"{type(self).__name__}'s scores are equal over every item for "
                f"{flat.sum()} of the first {len(rows)} training users: its factors are too "
                f"small for the precision of its scores ({np.dtype(self.dtype).name}), so "
                "those users get the items in index order. The penalties outweigh the data: "
                "lower them, or pass dtype=np.float64.", UserWarning)

    def _warn_if_burn_in_covers(self, n_sweeps):
        """Warn when a Gibbs sampler's ``n_sweeps`` end within its ``burn_in``: no sample
        is kept after it, and the model is its last draw alone."""
        if n_sweeps <= self.burn_in:
            warnings.warn(
                f"{type(self).__name__}(solver='gibbs') runs {n_sweeps} sweeps, no more than "
                f"burn_in={self.burn_in}: no sample follows the burn-in, so the model is its "
                "last draw alone. Raise max_iter above burn_in, or lower burn_in.",
                UserWarning)

    def _zero_factors_by_design(self):
        return False

    def _check_fold_in(self, X):
        """Fold in the training users most likely to overflow: scoring must not.

        Training and fold-in may solve differently (CG against Cholesky), so
        a fit can end finite while folding in its own users overflows; that
        is a divergence of the fit (and a float32 fit is redone in float64).
        The users checked are the 32 with the largest values and the 32 with
        the fewest interactions: with fewer interactions than factors, large
        confidences on a few directions against the penalty on the others
        make the worst-conditioned systems. Ties go by the other criterion,
        then by row, so the choice does not depend on a sort's tie order.
        """
        if X.nnz == 0:
            return
        counts = np.diff(X.indptr)
        active = np.flatnonzero(counts > 0)
        row_max = np.maximum.reduceat(X.data, X.indptr[:-1][counts > 0])
        n = counts[active]
        by_value = active[np.lexsort((active, n, -row_max))[:32]]
        by_count = active[np.lexsort((active, -row_max, n))[:32]]
        users = np.union1d(by_value, by_count)
        with self._shared_fold_in():
            finite = np.isfinite(self._score_batch(X[users])).all()
        if not finite:
            self._raise_diverged(f"folding in training users (values up to {row_max.max():g}) "
                                 "gives non-finite scores", self.n_iter_)

    def _check_fit_data(self, X, **fit_data):
        """Validated row-aligned side data of ``fit`` (none in most models)."""
        return fit_data

    def _fit(self, X, X_val=None, **fit_data):
        self._check_dtype_range(X)
        # the split keeps the dtype, so X_train is in self.dtype too
        ctx = self._make_context(X.astype(self.dtype, copy=False), X_val)
        ctx.Xt = ctx.X_train.T.tocsr()
        ctx.fit_data = fit_data
        with numba_threads(self.n_jobs):
            self._run_training(ctx)
        return self

    def _check_dtype_range(self, X):
        """FloatingPointError if casting ``X`` to ``dtype`` would turn values into inf or 0
        (or subnormals, whose precision is lost): a float32 fit is then redone in
        float64. A model that reads only which entries are stored (BPR) skips it."""
        info = np.finfo(self.dtype)
        if not self._values_scale_training or X.nnz == 0 or np.finfo(X.dtype).max <= info.max:
            return
        values = np.abs(X.data)
        low, high = float(values.min()), float(values.max())
        if high > info.max or low < info.tiny:
            raise FloatingPointError(
                f"{type(self).__name__}: the values of X (from {low:g} to {high:g}) are "
                f"outside {info.dtype}'s range of normal numbers ({info.tiny:.2g} to "
                f"{info.max:.2g}): cast to it, they would become inf or lose their precision "
                "(0 below about 1.4e-45). Scale them (e.g. np.log1p, RatingBinarizer), or "
                "pass dtype=np.float64.")

    def _snapshot(self):
        return {n: None if getattr(self, n) is None else getattr(self, n).copy()
                for n in self._state_names if hasattr(self, n)}

    def _restore(self, snapshot):
        for name, value in snapshot.items():
            setattr(self, name, value)

    def _validation_row_scores(self, ctx, rows, X_rows):
        # the training users' own factors: no fold-in needed while fitting
        return self._train_scores(rows)

    def _served_train_scores(self, X, rows):
        """Scores of training rows ``rows`` of ``X`` as served (their fitted factors here)."""
        return self._train_scores(rows)

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

    def _inner_product_form(self, X):
        """``(U, V)`` with ``decision_function(X) = U @ V.T`` plus a constant per row.

        For validated CSR ``X``: the folded-in users and the item factors, with
        a column of ones against the item biases where the model has them
        (global and user biases are constants of a row and do not change its
        ranking). What an approximate maximum-inner-product index searches.
        """
        # a wrapper (ApproximateRecommender) calls it on a model it did not fit
        self._check_fitted_params()
        U, V = self._fold_in(X), self.item_factors_
        bias = getattr(self, "item_bias_", None)
        if bias is not None:
            U = np.hstack([U, np.ones((U.shape[0], 1), dtype=U.dtype)])
            V = self._memoized("with_bias", V, lambda V: np.hstack(
                [V, bias[:, None].astype(V.dtype)]))
        return U, V

    def transform(self, X):
        """User factors of any users, folded in against the fitted item factors.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions of the users, seen in ``fit`` or not.

        Returns
        -------
        user_factors : ndarray of shape (n_users, n_features_out)
            Row ``u`` depends only on row ``u`` of ``X``. ``n_components``
            columns, but for ``MultiTaskMF`` (the shared and both tasks' own
            factors: ``2 * n_components - n_shared_components``) and
            ``ExplicitMF``'s sampler (``n_components`` per kept sample, side
            by side); ``get_feature_names_out`` names them.
        """
        return self._fold_in_all(self._validate_for_scoring(X))

    def _fold_in_all(self, X, **row_data):
        """User factors of validated CSR ``X`` in row batches, ``row_data`` sliced alike."""
        row_data = {name: value for name, value in row_data.items() if value is not None}
        out = np.empty((X.shape[0], self._n_features_out), dtype=self.item_factors_.dtype)
        with self._shared_fold_in():
            for rows in iter_row_batches(X.shape[0], 65536):
                out[rows] = self._fold_in(X[rows], **{n: v[rows] for n, v in row_data.items()})
        return out

    @contextmanager
    def _shared_fold_in(self):
        """Inside the block, what every fold-in shares is computed once (:meth:`_item_gram`).

        Scoring runs in row blocks sized for the dense scores, a hundred-odd
        users a block on a million items, and each block's fold-in would
        recompute the Gram matrix of all the item factors (8 GFLOP at a
        million items and 64 factors, more than the block's own solves).
        The memo lives for one call of :meth:`decision_function`,
        :meth:`recommend` or :meth:`transform` (entered by plain functions,
        never by a generator that an exception could leave suspended), so a
        model refitted or changed between calls is never served a stale
        matrix; a nested or concurrent call uses the memo it finds and
        leaves its removal to the call that made it.
        """
        # the fold-in's kernels on n_jobs threads, as fit's (numba's setting otherwise),
        # in a call that finds a concurrent call's memo too
        with numba_threads(self.n_jobs):
            if "_fold_in_memo" in self.__dict__:
                yield
                return
            memo = self._fold_in_memo = {}
            try:
                yield
            finally:
                if self.__dict__.get("_fold_in_memo") is memo:
                    del self._fold_in_memo

    def __getstate__(self):
        # a memo of a call under way in another thread is not part of the model: kept,
        # it would pin the item factors of this fit through every later refit (popped
        # from a copy: on Python 3.11 object.__getstate__ returns the instance's dict)
        state = dict(super().__getstate__())
        state.pop("_fold_in_memo", None)
        return state

    def _all_scores(self, X, **row_data):
        with self._shared_fold_in():
            return super()._all_scores(X, **row_data)

    def _top_k(self, X, k, exclude_seen, exclude, candidates, **row_data):
        with self._shared_fold_in():
            return super()._top_k(X, k, exclude_seen, exclude, candidates, **row_data)

    def _memoized(self, key, V, compute):
        """``compute(V)``, once per :meth:`_shared_fold_in` block and ``(key, V)``."""
        memo = self.__dict__.get("_fold_in_memo")
        if memo is None:
            return compute(V)
        held = memo.get((key, id(V)))
        if held is None or held[0] is not V:
            # V held with its result, so no other array can take its id meanwhile
            held = memo[key, id(V)] = (V, compute(V))
        return held[1]

    def _item_gram(self, V):
        """``self._gram(V)`` of the item factors, once per scoring call."""
        return self._memoized("gram", V, self._gram)

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
        indices : ndarray of shape (n_query_items, min(k, n_items)), dtype int64
        scores : ndarray of shape (n_query_items, min(k, n_items))
            Cosine similarities of the item factors. Items whose factors are
            all zero (never trained on, or penalised to zero) have no cosine:
            they are padding (-1, ``-inf``) as neighbours and as queries.
        """
        self._check_fitted()
        k = check_k(k)
        items = check_item_indices(items, self.n_features_in_)
        V = self.item_factors_
        norms = np.linalg.norm(V, axis=1)
        zero = norms == 0
        norms[zero] = 1.0

        def similarities(items):
            sims = (V[items] @ V.T) / np.outer(norms[items], norms)
            sims[np.arange(len(items)), items] = -np.inf
            # a zero factor (penalised away, or a bias-only ExplicitMF) has no direction:
            # such items are no one's neighbour and have none, as unseen items
            sims[:, zero] = -np.inf
            sims[zero[items]] = -np.inf
            return _mask_unseen_items(self, sims, items)

        return similar_in_batches(similarities, items, self.n_features_in_, k)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # transform returns the factors' dtype, whatever the input's
        tags.transformer_tags.preserves_dtype = [np.dtype(self.dtype).name]
        tags.non_deterministic = False
        return tags
