"""The training engine: the one iteration loop under every iterative model.

Matrix factorization sweeps, neural epochs and ConvMF's alternation all run
through :meth:`IterativeTrainingMixin._run_training`. The engine owns what
they have in common: the validation split (a share of users, or a share of
each user's interactions: the two definitions of :mod:`.utils._holdout`), the
higher-is-better validation score, patience (``n_iter_no_change``, ``tol``),
restoring the best state, the progress display, and the attributes
``loss_curve_``, ``validation_scores_``, ``n_iter_`` and ``best_iteration_``.
Scratch state of one fit lives in a :class:`FitContext` that is dropped when
``fit`` returns, never on the estimator. A model supplies hooks only:
``_init_fit``, ``_iterate``, ``_snapshot``/``_restore`` and, where NDCG of
its own scores is not the right monitor, ``_validation_score``.
"""

import math
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from .utils._behaviors import behavior_block, behavior_layout, with_block
from .utils._holdout import (SEEN_NEVER_HIT, check_held_out_disjoint, heldout_ndcg,
                             split_interactions, split_users)
from .utils._progress import Progress

__all__ = ["FitContext", "IterativeTrainingMixin", "ENGINE_CONSTRAINTS"]

# Parameters every iterative model accepts; models with a users split also
# take ``validation_fraction`` (see USERS_SPLIT_CONSTRAINTS).
ENGINE_CONSTRAINTS = {
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_holdout": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}
USERS_SPLIT_CONSTRAINTS = {
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
}

# Monitoring a huge validation set every iteration costs more than it tells:
# an evenly spaced subsample of users is scored.
_MAX_VALIDATION_USERS = 5000


class FitContext:
    """Scratch state of one fit, handed to every hook and dropped after ``fit``.

    Attributes
    ----------
    X : csr_matrix of shape (n_users, n_items)
        All the data given to ``fit``.
    X_train : csr_matrix
        What the iterations learn from: ``X`` minus the held-out validation
        interactions (interactions split), or ``X`` (users split: see
        ``train_rows``).
    train_rows : ndarray of int or None
        Users split: the rows of ``X`` that train; None means all.
    X_val_in, X_val_out : csr_matrix or None
        Validation users' known and held-out interactions. For the
        interactions split ``X_val_in`` is ``X_train`` (same users).
    split : {"users", "interactions"} or None
        Kind of validation split, None without validation.
    rng : RandomState
        The fit's generator (weights, batches, sampling).
    iteration : int
        The iteration being run, from 1.

    Hooks may add their own attributes (TensorFlow variables, kernel
    buffers); they disappear with the context. ``label`` (optional) names
    the progress bar of a trial run inside a fit.
    """

    def __init__(self, X, rng):
        self.X = self.X_train = X
        self.rng = rng
        self.train_rows = None
        self.X_val_in = self.X_val_out = None
        self.split = None
        self.iteration = 0


class IterativeTrainingMixin(metaclass=ABCMeta):
    """The engine's side of an iterative model; see the module docstring.

    Class attributes a model may set: ``_validation_split`` ("interactions":
    ``validation_holdout`` of every user's interactions; "users":
    ``validation_fraction`` of the users, each split ``validation_holdout``
    into known and held-out), ``_validation_k`` (NDCG cutoff of the default
    monitor) and ``_iteration_unit`` (word shown by the progress display).
    """

    _validation_split = "interactions"
    _validation_k = 20
    _iteration_unit = "iter"
    # whether the scale of X's values moves training (not for a model that reads only
    # which entries are stored, BPR, or only their order, the sequential models)
    _values_scale_training = True

    # -- hooks ------------------------------------------------------------

    @abstractmethod
    def _init_fit(self, ctx):
        """Initialise the parameters (fitted attributes) and the context's scratch."""

    @abstractmethod
    def _iterate(self, ctx):
        """One iteration (epoch, sweep); returns the training loss or None."""

    @abstractmethod
    def _snapshot(self):
        """A copy of the learned state, for restoring the best iteration."""

    @abstractmethod
    def _restore(self, snapshot):
        """Put a :meth:`_snapshot` back."""

    def _finish_fit(self, ctx):
        """Called once after the loop (and after restoring the best state)."""

    def _items_trained_on(self, ctx):
        """Mask of the items the iterations learn from, or None: those of the whole ``X``.

        With a validation split, the items with interactions among the
        training part only (see ``RecommenderMixin._known_items``).
        """
        if ctx.split is None:
            return None
        X_train = ctx.X_train if ctx.train_rows is None else ctx.X_train[ctx.train_rows]
        popularity = getattr(self, "_item_popularity", None)
        if popularity is None or X_train.shape[1] != len(popularity):
            return None  # several behaviour blocks: any entry is history
        return np.bincount(X_train.indices, minlength=X_train.shape[1]) > 0

    def _validation_label(self):
        return f"val_ndcg@{self._validation_k}"

    def _validation_row_scores(self, ctx, rows, X_rows):
        """Scores of validation users (the known part ``X_rows`` of rows ``rows``)."""
        return self._score_batch(X_rows)

    def _validation_score(self, ctx):
        """Higher-is-better monitor: NDCG@``_validation_k`` of the held-out interactions."""
        return heldout_ndcg(
            ctx.X_val_in, ctx.X_val_out,
            lambda rows, X_rows: self._validation_row_scores(ctx, rows, X_rows),
            self._validation_k, max_users=_MAX_VALIDATION_USERS,
            layout=behavior_layout(self),
        )

    def _holdout_description(self):
        """What :meth:`_hold_out` holds out of each user, for messages."""
        h = self.validation_holdout
        # int(h * n) >= 1 (float error rounded off, as split_interactions does), n >= 2
        least = max(2, math.ceil(round(1.0 / h, 9)))
        return (f"validation_holdout={h} of each user's interactions (a user needs at "
                f"least {least} to hold one out)")

    def _hold_out(self, X, rng):
        """``validation_holdout`` of each row's interactions held out: ``(X_in, X_out)``.

        A multi-behaviour model holds out interactions of its target
        behaviour only (``X_out`` is that block).
        """
        layout = behavior_layout(self)
        if layout is None:
            return split_interactions(X, self.validation_holdout, 2, rng)
        n_items, index = layout
        X_in, X_out = split_interactions(behavior_block(X, n_items, index),
                                         self.validation_holdout, 2, rng)
        return with_block(X, n_items, index, X_in), X_out

    # -- the loop ---------------------------------------------------------

    def _make_context(self, X, X_val=None, rng=None, validate=None, warn=True):
        """Context with the validation split drawn (or ``X_val`` used) as the parameters say.

        The split has its own generator seeded by one draw from ``rng``,
        made whether or not there is a split, so the weights a fit draws
        next do not depend on validation settings. Without validation data
        it warns (``warn``) and returns a context without a split.
        """
        rng = check_random_state(self.random_state) if rng is None else rng
        split_rng = np.random.RandomState(rng.randint(np.iinfo(np.int32).max))
        ctx = FitContext(X, rng)
        validate = self.early_stopping if validate is None else validate
        if X_val is not None:
            _check_validation_matrix(X, X_val)
            ctx.X_val_in, ctx.X_val_out, ctx.split = X, X_val, "interactions"
        elif validate and self._validation_split == "users":
            train_rows, val_rows = split_users(X.shape[0], self.validation_fraction, split_rng)
            if len(val_rows) == 0:
                self._warn_no_validation(
                    warn,
                    f"validation_fraction={self.validation_fraction} of {X.shape[0]} users "
                    "holds out no user (or all of them)")
                return ctx
            X_in, X_out = self._hold_out(X[val_rows], split_rng)
            if X_out.nnz == 0:
                # every user trains: the validation users would score 0 at every epoch
                # and the first epoch would be kept
                self._warn_no_validation(
                    warn, f"{self._holdout_description()} holds none out of the "
                    f"{len(val_rows)} validation users (validation_fraction="
                    f"{self.validation_fraction})")
                return ctx
            ctx.train_rows, ctx.X_val_in, ctx.X_val_out = train_rows, X_in, X_out
            ctx.split = "users"
        elif validate:
            X_train, X_out = self._hold_out(X, split_rng)
            if X_out.nnz == 0:
                self._warn_no_validation(
                    warn, f"{self._holdout_description()} holds none out")
                return ctx
            ctx.X_train, ctx.X_val_in, ctx.X_val_out = X_train, X_train, X_out
            ctx.split = "interactions"
        return ctx

    def _warn_no_validation(self, warn, why):
        if not warn:
            return
        warnings.warn(
            f"{type(self).__name__}: early stopping needs validation data but {why}; "
            "training without validation for max_iter iterations.", UserWarning)

    def _run_training(self, ctx, max_iter=None):
        """Initialise, iterate, monitor, stop and restore; sets the engine's attributes.

        Parameters
        ----------
        ctx : FitContext
            From :meth:`_make_context`.
        max_iter : int, default=None
            Iterations to run at most; None reads ``self.max_iter``.

        Returns
        -------
        ctx : FitContext
        """
        max_iter = self.max_iter if max_iter is None else max_iter
        early_stopping = self.early_stopping and ctx.split is not None
        patience, tol = self.n_iter_no_change, float(getattr(self, "tol", 0.0))
        self._init_fit(ctx)
        self._trained_items = self._items_trained_on(ctx)
        self.loss_curve_ = []
        self.validation_scores_ = [] if ctx.split is not None else None
        self.best_iteration_ = None
        best, best_iteration, snapshot, stall = -np.inf, 0, None, 0
        # internal trial runs of a fit (a choice of alpha) name themselves in ctx.label
        progress = Progress(getattr(ctx, "label", type(self).__name__), max_iter, self.verbose,
                            self._iteration_unit)
        try:
            for it in range(1, max_iter + 1):
                ctx.iteration = it
                loss = self._iterate(ctx)
                if loss is not None and not np.isfinite(loss):
                    self._raise_diverged(f"the training loss is {float(loss)}", it)
                self.loss_curve_.append(None if loss is None else float(loss))
                score = None
                if ctx.split is not None:
                    score = float(self._validation_score(ctx))
                    self.validation_scores_.append(score)
                    # as scikit-learn's MLP: tol decides patience, any gain the best
                    stall = 0 if score > best + tol else stall + 1
                    if score > best:
                        best, best_iteration = score, it
                        if early_stopping:
                            snapshot = self._snapshot()
                progress.update(it, loss=loss, **{self._validation_label(): score})
                if early_stopping and stall >= patience:
                    break
        finally:
            progress.close()
        self.n_iter_ = it
        if snapshot is not None:
            self._restore(snapshot)
            self.best_iteration_ = best_iteration
        else:
            self.best_iteration_ = it
        self._finish_fit(ctx)
        bad = _non_finite_attributes(self)
        if bad:
            self._raise_diverged(f"{', '.join(bad)} hold non-finite values", it)
        return ctx

    def _raise_diverged(self, what, iteration):
        raise FloatingPointError(
            f"{type(self).__name__} diverged: {what} after {self._iteration_unit} "
            f"{iteration}. To fix it, {self._divergence_hint()}.")

    def _divergence_hint(self):
        """What to change when training diverges, from the parameters this model has.

        A gradient-trained model (``learning_rate_init``) most often overshoots; a
        closed-form or ALS fit overflows on large values, or on a penalty too weak to
        bound its factors. An ``alpha`` whose square the float type cannot hold is itself
        the cause, whatever the solver.
        """
        fixes = []
        learning_rate = getattr(self, "learning_rate_init", None)
        if learning_rate is not None:
            fixes.append(f"lower learning_rate_init (now {learning_rate:g})")
        if self._values_scale_training:
            fixes.append("scale the values of X down (e.g. np.log1p, RatingBinarizer or "
                         "BM25Weighting)")
        alpha = getattr(self, "alpha", None)
        if isinstance(alpha, Real):
            dtype = np.dtype(getattr(self, "dtype", np.float32))
            if alpha > math.sqrt(np.finfo(dtype).max) / 1e4:  # the likeliest cause then
                fixes.insert(0, f"lower alpha (now {alpha:g}: {dtype.name} cannot hold the "
                             "products it enters)")
            elif learning_rate is None:
                fixes.append("increase alpha")
        if not fixes:
            return "pass dtype=np.float64"
        return fixes[0] if len(fixes) == 1 else f"{', '.join(fixes[:-1])} or {fixes[-1]}"


def pass_rows(state, X, n_users):
    """Rows of a per-user table that the users of the next chunk ``X`` fill; moves ``state``.

    For ``partial_fit`` of models with one parameter per user: the users are
    numbered by pass, ``state["n_users"]`` of them (set by the first call from
    ``n_users``, or the first chunk's size), and the chunks of a pass are its
    consecutive rows, from ``state["position"]``. The first pass records
    each chunk's size and number of interactions by its start, and later
    passes must give the same chunks there: chunks in another order (dask-ml's
    ``Incremental`` with ``shuffle_blocks=True``) would otherwise train one
    user's parameters on another user's row without a sign. Raises, without
    moving ``state``, when a chunk would run past the end of a pass, differs
    from the chunk the first pass had there, or ``n_users`` changes.
    """
    n_rows = X.shape[0]
    if n_users is not None and (not isinstance(n_users, Integral) or n_users < 1):
        raise ValueError(f"n_users must be a positive int, got {n_users!r}.")
    total = state["n_users"]
    if total is None:
        total = n_rows if n_users is None else int(n_users)
        if total < n_rows:
            raise ValueError(
                f"n_users={total} is smaller than this chunk of {n_rows} users: pass "
                "the number of users of a whole pass.")
    elif n_users is not None and int(n_users) != total:
        raise ValueError(
            f"n_users={n_users} differs from the {total} users of the earlier calls: "
            "every pass must hold the same users; call fit to start anew.")
    start = state["position"]
    if start + n_rows > total:
        raise ValueError(
            f"This chunk of {n_rows} users starts at user {start} of a pass of {total} "
            f"and runs past its end: each pass must give the same {total} users in "
            "the same chunks, in the same order.")
    seen = state.get("chunks", {})
    if start in seen and seen[start] != (n_rows, X.nnz):
        raise ValueError(
            f"The chunk at user {start} of the pass has {n_rows} users and {X.nnz} "
            f"interactions, but the first pass had {seen[start][0]} users and "
            f"{seen[start][1]} there: give the same chunks in the same order every pass "
            "(with dask-ml's Incremental, shuffle_blocks=False).")
    state["chunks"] = {**seen, start: (n_rows, X.nnz)}
    state["n_users"], state["position"] = total, (start + n_rows) % total
    return np.arange(start, start + n_rows)


def _check_validation_matrix(X, X_val):
    """``X_val`` must hold interactions held out of ``X``: those in ``X`` can never be hits.

    Validation ranks the items a user has not interacted with in ``X``, so an
    interaction of ``X_val`` that is also in ``X`` scores 0 whatever the model.
    """
    if X_val.nnz == 0:
        raise ValueError("X_val has no interactions, so there is nothing to validate on. "
                         "Pass held-out interactions (e.g. from holdout_split) or X_val=None.")
    check_held_out_disjoint(
        X, X_val, "X_val", SEEN_NEVER_HIT,
        "Remove the held-out interactions from X: X_train, X_val = holdout_split(X) "
        "gives disjoint parts.")


def _non_finite_attributes(estimator):
    """Names of the fitted attributes of ``estimator`` holding NaN or infinity.

    Float arrays, also inside lists, tuples and dicts (a network's layers).
    """
    return sorted(
        name for name, value in vars(estimator).items()
        if name.endswith("_") and not name.startswith("_") and not _all_finite(value)
    )


def _all_finite(value):
    if isinstance(value, np.ndarray):
        return value.dtype.kind not in "fc" or bool(np.isfinite(value).all())
    if isinstance(value, (list, tuple)):
        return all(_all_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    return True
