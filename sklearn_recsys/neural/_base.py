"""Shared bases of the neural models: TensorFlow trains on the engine, NumPy serves.

:class:`NeuralRecommenderBase` is the base of every neural recommender
(Mult-DAE, Mult-VAE, AutoRec, CDAE): ``fit`` imports TensorFlow, runs the
training engine (:mod:`sklearn_recsys._engine`: epochs, validation, early
stopping) with the model's hooks, and leaves NumPy arrays on the estimator.
Weights are initialised in NumPy from the estimator's own ``random_state``,
and dropout and sampling are stateless and seeded from the same generator, so
nothing global changes and the same seed gives the same weights. Scoring,
``transform`` and ``recommend`` then run in NumPy/SciPy, so a fitted model
serves, pickles and loads without TensorFlow.

:class:`AutoencoderBase` adds the layout, loss and serving of the
multinomial autoencoders; see :class:`MultDAE` and :class:`MultVAE`.
"""

import warnings
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._engine import (ENGINE_CONSTRAINTS, USERS_SPLIT_CONSTRAINTS, FitContext,
                       IterativeTrainingMixin, pass_rows)
from ..base import EmbeddingFeaturesOutMixin, RecommenderMixin
from ..utils._validation import check_interactions, is_empty_chunk
from ..utils._propensity import PROPENSITY_REFERENCES, exposure_propensity
from ..utils._topk import iter_row_batches
from ._tf import adam, compile_step, import_tensorflow

__all__ = ["AutoencoderBase", "NeuralRecommenderBase", "PartialFitMixin", "glorot_uniform"]

# the floor of the sum of squares when the training step L2-normalises rows: the smallest
# normal float32, so every row fit accepts (check_squares_fit_float32) gets unit norm
_TINY32 = float(np.finfo(np.float32).tiny)


class NeuralRecommenderBase(IterativeTrainingMixin, RecommenderMixin, BaseEstimator):
    """Base class of the neural recommenders (not an estimator on its own).

    Subclasses implement the engine's hooks with ``ctx.tf`` (the TensorFlow
    module) at hand, build their step with :meth:`_compile_step` and loop
    over :meth:`_minibatches`.
    """

    _iteration_unit = "epoch"
    # what fit hands the engine (the sequential models keep their order keys in float64)
    _fit_dtype = np.float32

    @abstractmethod
    def _score_batch(self, X):
        """Dense scores of validated CSR rows, in NumPy."""

    def _compile_step(self, ctx, step, n_batches, input_signature=None):
        """``step`` traced into a graph when the fit runs enough of them."""
        return compile_step(ctx.tf, step, n_batches * self.max_iter, input_signature)

    def _check_training_values(self, X):
        """Raise if ``X``'s values cannot be trained on (a hook; every value can by default)."""

    def _fit(self, X):
        self._partial_state = None  # a new fit: partial_fit would start afresh after it
        self._check_training_values(X)
        ctx = self._make_context(X.astype(self._fit_dtype))
        ctx.tf = import_tensorflow()
        self._run_training(ctx)
        return self

    def _epoch_batches(self, rng, n_samples, rows):
        """One epoch's mini-batches of ``rows``: shuffled, or in row order (``shuffle=False``)."""
        if getattr(self, "shuffle", True):
            return self._minibatches(rng, n_samples, self.batch_size, rows)
        return (rows[start:start + self.batch_size]
                for start in range(0, len(rows), self.batch_size))

    @staticmethod
    def _minibatches(rng, n_samples, batch_size, rows=None):
        """Sorted sample indices of each mini-batch of one shuffled epoch."""
        order = rng.permutation(n_samples) if rows is None else rows[rng.permutation(len(rows))]
        for start in range(0, len(order), batch_size):
            yield np.sort(order[start:start + batch_size])


def glorot_uniform(rng, shape, fan_in=None, fan_out=None):
    """Glorot-uniform float32 weights drawn from ``rng``; fans default to the last two axes."""
    fan_in = shape[-2] if fan_in is None else fan_in
    fan_out = shape[-1] if fan_out is None else fan_out
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def check_sizes(sizes, name, *, allow_empty=True, what="layer widths"):
    """``sizes`` as a tuple of ints, or a ValueError that names the parameter.

    The constraints only say "tuple or list": a width of 0 would train a model
    that ignores its input, 2.5 would be truncated, and "a" or -2 would fail
    deep inside NumPy.
    """
    ok = all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in sizes)
    if not ok or not (allow_empty or len(sizes)):
        empty = "" if allow_empty else "non-empty "
        raise ValueError(
            f"{name} must be a {empty}tuple of positive ints ({what}), got {sizes!r}.")
    return tuple(int(s) for s in sizes)


def _row_norms_float64(X):
    """L2 norms of CSR rows in float64 for any finite values: each row's largest value is
    factored out before squaring, so neither the squares nor their sum overflow."""
    X = X.astype(np.float64)
    n_per_row = np.diff(X.indptr)
    top = np.zeros(X.shape[0])
    nonempty = n_per_row > 0
    top[nonempty] = np.maximum.reduceat(np.abs(X.data), X.indptr[:-1][nonempty])
    scaled = X.data / np.repeat(np.where(top > 0, top, 1.0), n_per_row)
    sums = np.zeros(X.shape[0])
    np.add.at(sums, np.repeat(np.arange(X.shape[0]), n_per_row), scaled * scaled)
    return top * np.sqrt(sums)


def _normalize_rows(X, dtype=np.float32):
    """L2-normalised CSR rows (empty rows stay zero), in ``dtype``.

    Computed in ``dtype`` as always, unless a value or a row's sum of squares
    overflows it (float32 values from about 1.9e19 square past 3.4e38: the
    row became 0, a user without history) or underflows it (values below
    about 1e-19 square below float32's smallest normal number, and from
    about 1e-22 to 0, the same user without history): that batch is
    normalised in float64, its rows' largest values factored out, and cast.
    """
    Xd = X.astype(dtype)
    with np.errstate(over="ignore", under="ignore"):
        squares = np.asarray(Xd.multiply(Xd).sum(axis=1)).ravel()
    nonempty = np.diff(Xd.indptr) > 0
    if (np.isfinite(squares).all() and np.isfinite(Xd.data).all()
            and not (squares[nonempty] < np.finfo(dtype).tiny).any()):
        norms = np.sqrt(squares)
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ Xd)
    X = sp.csr_matrix(X, dtype=np.float64, copy=True)
    norms = _row_norms_float64(X)
    norms[norms == 0] = 1.0
    X.data /= np.repeat(norms, np.diff(X.indptr))  # not times 1 / norm, which could overflow
    return X.astype(dtype)


_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def trained_long_tail(model, X):
    """Indices of the long-tail items of a training matrix that have interactions.

    The long tail is every item outside the short head (the most popular
    items holding 80% of the interactions, as in APLT); items without
    training interactions are left out, so the long-tail term never lifts
    what the model has not learnt. With no such item, a warning says that
    the term is off and None is returned.
    """
    from ..metrics._beyond_accuracy import popularity_buckets

    counts = np.bincount(X.indices, minlength=X.shape[1])
    tail = np.flatnonzero((popularity_buckets(counts) == 1) & (counts > 0))
    if tail.size == 0:
        warnings.warn(
            f"{type(model).__name__}: long_tail_weight={model.long_tail_weight!r} has no "
            "long-tail item to train: every item with training interactions is in the short "
            "head (the most popular items holding 80% of the interactions). The long-tail "
            "term is off for this fit.", UserWarning)
        return None
    return tail


def check_squares_fit_float32(model, X):
    """ValueError if a row's sum of squares overflows or underflows float32 (the training
    graph's L2 norm).

    TensorFlow normalises each training row in float32: such a row became
    all zeros, a user trained as one without history, with no warning.
    """
    if X.nnz == 0:
        return
    # a bound first: no copy of X for the data of every day
    top = float(np.abs(X.data).max())
    if top * top * float(np.diff(X.indptr).max()) > _FLOAT32_MAX:
        bad = np.flatnonzero(_row_norms_float64(X) > np.sqrt(_FLOAT32_MAX))
        if bad.size:
            raise ValueError(
                f"{type(model).__name__}: the values of {bad.size} row(s) of X (rows "
                f"{_some(bad)}) are too large for training in float32: their sums of squares "
                "pass 3.4e38, so their L2 norm overflows and they would train as users "
                "without history. Scale the values down (e.g. np.log1p, or RatingBinarizer).")
    # the same rows lost the other way: squares below float32's smallest normal number
    # lose their precision, and from about 1e-22 round to 0 (a row's norm is at least
    # its largest value: a bound first again)
    if np.abs(X.data).min() >= np.sqrt(_FLOAT32_TINY):
        return
    norms = _row_norms_float64(X)
    bad = np.flatnonzero((norms > 0) & (norms < np.sqrt(_FLOAT32_TINY)))
    if bad.size:
        raise ValueError(
            f"{type(model).__name__}: the values of {bad.size} row(s) of X (rows "
            f"{_some(bad)}) are too small for training in float32: their sums of squares "
            "fall below 1.2e-38, so their L2 norm underflows and they would train as users "
            "without history. Scale the values up (e.g. RatingBinarizer, or multiply X).")


def _some(rows):
    return f"{rows[:5].tolist()}{'...' if rows.size > 5 else ''}"


class PartialFitMixin:
    """``partial_fit`` for the minibatch neural models.

    A model adds the hooks below (and keeps its training in
    :meth:`_start_training` and :meth:`_iterate`, which :meth:`fit` runs too);
    the mixin carries the weights, Adam's moments, the generator and the
    update count between calls. A model with one parameter per user (CDAE's
    input nodes) sets ``_per_user_parameters``: its ``partial_fit`` takes
    ``n_users``, the users of one pass, and the chunks of a pass are its
    consecutive rows (``ctx.user_rows`` says which rows of the table a
    chunk's users are).
    """

    _per_user_parameters = False

    def _check_partial_fit(self):
        """Raise if the parameters need the whole data at once."""
        if getattr(self, "propensity_power", 0):
            raise ValueError(
                "partial_fit cannot weight by propensities (propensity_power="
                f"{self.propensity_power!r}): they need every item's count over the whole "
                "data. Use fit, or propensity_power=0.")
        if getattr(self, "long_tail_weight", 0):
            raise ValueError(
                "partial_fit cannot train the long-tail term (long_tail_weight="
                f"{self.long_tail_weight!r}): the short head needs every item's count over the "
                "whole data. Use fit, or long_tail_weight=0.")

    def _weight_shapes(self):
        """``(trained, built)``: the shapes of the fitted weight matrices, and those the
        current parameters build for the fitted catalogue."""
        raise NotImplementedError

    def _check_same_architecture(self):
        """Refuse to continue weights that the current parameters would not build.

        ``set_params`` between ``fit`` (or ``partial_fit``) and ``partial_fit``
        may change the layers' sizes; continuing would train (or crash on)
        weights of another network than the parameters describe.
        """
        trained, built = self._weight_shapes()
        if [tuple(t) for t in trained] != [tuple(b) for b in built]:
            raise ValueError(
                f"This {type(self).__name__}'s weights have shapes {trained}, but its "
                f"parameters now build {built}: the layer sizes changed since they were "
                "trained. Set them back to continue with partial_fit, or call fit to start "
                "anew.")

    def _trained_columns(self):
        """Mask of the columns of ``X`` whose input weights trained (read in users' rows)."""
        return self._known_items()

    def _set_trained_columns(self, mask):
        self._trained_items = mask

    def _check_pass_weights(self, weights, n_users):
        """Raise if a fitted model's per-user parameters (``weights[-1]``) miss ``n_users``."""

    def _initial_weights_for(self, rng, X, n_users=None):
        """The weights the first ``partial_fit`` call starts from (``X``: its chunk).

        ``n_users``: the users of a pass (models with per-user parameters).
        """
        raise NotImplementedError

    def _current_weights(self):
        """The fitted weights, in the form :meth:`_start_training` takes."""
        raise NotImplementedError

    def _has_weights(self):
        try:
            self._current_weights()
        except AttributeError:
            return False
        return True

    def _start_training(self, ctx, weights, n_epochs, adam_state=None, n_updates=0):
        """Variables from ``weights``, the (traced) step, ``ctx.optimizer_state``."""
        raise NotImplementedError

    def partial_fit(self, X, y=None):
        """One epoch over ``X``, continuing the training of the previous calls.

        For data that does not fit in memory: call it once per chunk of users
        (a plain loop over row blocks, or ``dask_ml.wrappers.Incremental``),
        as many passes as epochs. The first call draws the weights and the
        generator from ``random_state`` exactly as :meth:`fit` does; the
        weights, Adam's moments, the generator and the update count (for
        KL annealing) carry over between calls, so one pass over chunks is
        the epoch of :meth:`fit` on their concatenation when ``shuffle=False``
        and every chunk but the last holds a multiple of ``batch_size`` users
        (with ``early_stopping=False``). There is no validation and no early
        stopping here; ``n_iter_`` counts the calls. After :meth:`fit`,
        training continues from its weights but starts the rest anew: a new
        optimizer, generator (from ``random_state``), update count, loss
        curve, and the popularity fallback of the chunks; the items ``fit``
        trained are still read in users' rows (with those of the chunks). A
        pickled model
        carries the optimizer's state (twice the weights) until the next
        :meth:`fit`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            A chunk of users; every chunk has the same items (columns).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The partially fitted recommender.
        """
        return self._partial_fit(X)

    def _partial_fit(self, X, n_users=None):
        state = getattr(self, "_partial_state", None)
        # no trained weights yet (a fresh model, or a first call that failed)
        first = state is None and not self._has_weights()
        self._validate_params()
        self._check_partial_fit()
        if is_empty_chunk(self, X):
            return self
        X = check_interactions(self, X, reset=first)
        self._check_training_values(X)
        X = X.astype(self._fit_dtype)
        if not first:
            self._check_same_architecture()
        counts = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
        if state is None:
            rng = check_random_state(self.random_state)
            rng.randint(np.iinfo(np.int32).max)  # fit's draw for its validation split
            # after fit, the items it trained stay trained: the chunks' counts
            # alone would have its users' other items read as untrained noise
            known = None if first else np.array(self._trained_columns(), dtype=bool)
            state = {"rng": rng, "adam": None, "n_updates": 0, "counts": np.zeros_like(counts),
                     "n_users": None, "position": 0, "known": known}
            if not first and n_users is None and self._per_user_parameters:
                n_users = self._current_weights()[-1].shape[0]  # fit's users by default
            user_rows = (pass_rows(state, X, n_users)
                         if self._per_user_parameters else None)
            weights = (self._initial_weights_for(rng, X, state["n_users"]) if first
                       else self._current_weights())
            self._check_pass_weights(weights, state["n_users"])
            self.loss_curve_, self.validation_scores_, self.n_iter_ = [], None, 0
            if hasattr(self, "propensity_"):
                self.propensity_ = None  # a fit's propensities must not weight these epochs
        else:
            weights = self._current_weights()
            state = dict(state)  # a refused chunk leaves the pass where it was
            user_rows = (pass_rows(state, X, n_users)
                         if self._per_user_parameters else None)
        state["counts"] = state["counts"] + counts
        self._set_popularity(state["counts"])
        trained = state["counts"] > 0
        self._set_trained_columns(trained if state.get("known") is None
                                  else state["known"] | trained)
        ctx = FitContext(X, state["rng"])
        ctx.tf = import_tensorflow()
        ctx.user_rows, ctx.pass_users = user_rows, state["n_users"]
        self._start_training(ctx, weights, 1, state["adam"], state["n_updates"])
        loss = self._iterate(ctx)
        if not np.isfinite(loss):
            self._raise_diverged(f"the training loss is {loss}", self.n_iter_ + 1)
        state["adam"], state["n_updates"] = ctx.optimizer_state(), getattr(ctx, "n_updates", 0)
        self._partial_state = state
        self.loss_curve_.append(float(loss))
        self.n_iter_ += 1
        self.best_iteration_ = self.n_iter_
        return self


class AutoencoderBase(PartialFitMixin, EmbeddingFeaturesOutMixin, TransformerMixin,
                      NeuralRecommenderBase):
    """Base class of the multinomial autoencoders (not an estimator on its own)."""

    _ranks_users_without_history = True  # the network's output for an empty input

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [tuple, list],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "propensity_power": [Interval(Real, 0, None, closed="left")],
        "propensity_correction": [StrOptions({"weight", "offset"})],
        "propensity_reference": [StrOptions(set(PROPENSITY_REFERENCES))],
        "long_tail_weight": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        **ENGINE_CONSTRAINTS,
        **USERS_SPLIT_CONSTRAINTS,
    }
    _variational = False
    _validation_split = "users"
    _validation_k = 100

    @property
    def _n_features_out(self):
        return self._fitted_layout()[1] if hasattr(self, "coefs_") else self.n_components

    def _check_training_values(self, X):
        check_squares_fit_float32(self, X)

    # -- layout -----------------------------------------------------------

    def _fitted_layout(self):
        """(encoder layers, code size) of the fitted weights, which scoring reads.

        The layout is symmetric (as many decoder layers as encoder ones), so the
        weights say it whatever ``hidden_layer_sizes`` and ``n_components`` say
        now; training builds it from those parameters (``_layer_sizes``).
        """
        n_enc = len(self.coefs_) // 2
        return n_enc, self.coefs_[n_enc].shape[0]

    def _layer_sizes(self, n_items):
        hidden = list(check_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"))
        code = self.n_components * (2 if self._variational else 1)
        encoder = [n_items, *hidden, code]
        decoder = [self.n_components, *hidden[::-1], n_items]
        return list(zip(encoder[:-1], encoder[1:])) + list(zip(decoder[:-1], decoder[1:]))

    def _weight_shapes(self):
        return ([w.shape for w in self.coefs_],
                [tuple(size) for size in self._layer_sizes(self.n_features_in_)])

    def _n_encoder_layers(self):
        return len(self.hidden_layer_sizes) + 1

    def _init_weights(self, rng, n_items):
        """Glorot-uniform weights and N(0, 0.001) biases, as Liang et al.'s code."""
        coefs, intercepts = [], []
        for fan_in, fan_out in self._layer_sizes(n_items):
            coefs.append(glorot_uniform(rng, (fan_in, fan_out)))
            intercepts.append((rng.standard_normal(fan_out) * 0.001).astype(np.float32))
        return coefs, intercepts

    # -- NumPy serving ----------------------------------------------------

    def _encode_np(self, X):
        """Code of validated CSR rows: the (mean) latent vector, NumPy only."""
        h = _normalize_rows(self._untrained_zeroed(X))
        n_enc, k = self._fitted_layout()
        for i in range(n_enc):
            h = h @ self.coefs_[i] + self.intercepts_[i]
            h = np.asarray(h)
            if i < n_enc - 1 or not self._variational:
                np.tanh(h, out=h)
        if self._variational:
            h = h[:, :k]
        return np.ascontiguousarray(h)

    def _decode_np(self, z):
        n_enc = self._fitted_layout()[0]
        h = z
        for i in range(n_enc, len(self.coefs_)):
            h = h @ self.coefs_[i] + self.intercepts_[i]
            if i < len(self.coefs_) - 1:
                np.tanh(h, out=h)
        return h

    def _score_batch(self, X):
        # log-probabilities of the multinomial over the items: the logits minus
        # their log-sum-exp (same ranking; a score explain() decomposes)
        return _log_softmax(self._decode_np(self._encode_np(X)))

    def _layer_activations(self):
        """Whether each weight matrix's output goes through tanh (serving path)."""
        n_enc, n_layers = self._fitted_layout()[0], len(self.coefs_)
        return [(i < n_enc - 1 or not self._variational) if i < n_enc else i < n_layers - 1
                for i in range(n_layers)]

    def explain(self, x_row, item):
        """Integrated-gradients attribution of one item's score to each of the user's items.

        The model is a multinomial over the items, and its score
        (:meth:`decision_function`) is the item's log-probability
        ``log softmax(logits)[item]``: its logit measured against every
        other item's. The attribution of item ``j`` is ``h_j``
        (the L2-normalised row) times the mean gradient of that
        log-probability along the straight path from the all-zero input (a
        user without history) to ``h`` (Sundararajan et al. 2017), integrated
        by 64-point Gauss-Legendre quadrature in NumPy on the served weights
        (no TensorFlow). By completeness the contributions sum to
        ``decision_function(x_row)[0, item]`` minus the score of the all-zero
        input: checked on every call (to 1e-4 of that difference), with
        256, 1024 and then 4096 points where saturated
        units make the path too sharp for 64, and a warning if even they
        miss. (Attributing the raw logit instead credits the
        items that raise every popular item's logit alike, which does not
        move the item against the others: removing the items ranked first
        lowered MultVAE's recommendations less in the deletion test of
        ``benchmarks/bench_explain.py``.)

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
            Their integrated gradients.

        References
        ----------
        .. [1] M. Sundararajan, A. Taly and Q. Yan, "Axiomatic Attribution
           for Deep Networks", ICML 2017.
        """
        x, item = self._validate_explain(x_row, item)
        if x.nnz == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # an untrained item is not read (its weights are random): contribution 0
        h = _normalize_rows(self._untrained_zeroed(x), np.float64).toarray()[0, x.indices]
        # float64 once per call; of the first layer, only the user's rows are read
        coefs = [self.coefs_[0][x.indices].astype(np.float64)]
        coefs += [w.astype(np.float64) for w in self.coefs_[1:]]
        intercepts = [b.astype(np.float64) for b in self.intercepts_]
        ends = self._path_gradients(coefs, intercepts, h, np.array([0.0, 1.0]), item)[1]

        def attributions_with(alphas, weights):
            return h * (weights @ self._path_gradients(coefs, intercepts, h, alphas, item)[0])

        contrib = complete_attributions(attributions_with, ends[1] - ends[0], self)
        order = np.argsort(-contrib, kind="stable")
        return x.indices[order].astype(np.int64), contrib[order]

    def _path_gradients(self, coefs, intercepts, h, alphas, item):
        """Gradient of the log-softmax of ``item`` at the inputs ``alpha * h``, and that
        log-softmax, for each of ``alphas`` (float64).

        ``h`` is the user's normalised row at their items only and ``coefs[0]``
        those items' rows of the first weights: the path is a line through the
        origin, so its first layer is ``alpha * (h @ W0) + b0`` (one product for
        every point, where a dense path multiplied every point's whole row), and
        the gradient is wanted at the user's items only (a product with
        ``W0^T`` of theirs).
        """
        tanh = self._layer_activations()
        n_enc, k = self._fitted_layout()
        outs = []
        for i, (W, b) in enumerate(zip(coefs, intercepts)):
            if i == 0:
                a = alphas[:, None] * (h @ W)[None, :] + b
            else:
                if i == n_enc and self._variational:
                    a = a[:, :k]  # the decoder reads the mean of the code
                a = a @ W + b
            if tanh[i]:
                a = np.tanh(a)
            outs.append(a)
        # d log softmax(a)[item] / da = e_item - softmax(a)
        a = outs[-1]
        top = a.max(axis=1)
        log_p = a[:, item] - top - np.log(np.exp(a - top[:, None]).sum(axis=1))
        g = -_softmax(a)
        g[:, item] += 1.0
        for i in range(len(coefs) - 1, -1, -1):
            if tanh[i]:
                g = g * (1.0 - outs[i] ** 2)
            g = g @ coefs[i].T
            if i == n_enc and self._variational:
                g = np.hstack([g, np.zeros_like(g)])  # the log-variance half
        return g, log_p

    def transform(self, X):
        """Code of each user: the latent vector the decoder ranks items from.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions of any users (a forward pass: no refit needed).

        Returns
        -------
        codes : ndarray of shape (n_users, n_components)
            The mean of the latent distribution for variational models.
        """
        X = self._validate_for_scoring(X)
        out = np.empty((X.shape[0], self._n_features_out), dtype=np.float32)
        for rows in iter_row_batches(X.shape[0], 65536):
            out[rows] = self._encode_np(X[rows])
        return out

    # -- training (the engine's hooks) ------------------------------------

    def _init_fit(self, ctx):
        coefs, intercepts = self._init_weights(ctx.rng, ctx.X.shape[1])
        self.propensity_ = self._long_tail = None
        if self.propensity_power or self.long_tail_weight:
            # popularity counts of the training users only (validation users excluded)
            train = ctx.X if ctx.train_rows is None else ctx.X[ctx.train_rows]
        if self.propensity_power:
            self.propensity_ = exposure_propensity(train, self.propensity_power,
                                                   self.propensity_reference)
        if self.long_tail_weight:
            self._long_tail = trained_long_tail(self, train)
        self._start_training(ctx, (coefs, intercepts), self.max_iter)
        self._store(ctx)

    def _start_training(self, ctx, weights, n_epochs, adam_state=None, n_updates=0):
        tf = ctx.tf
        coefs, intercepts = weights
        ctx.Ws = [tf.Variable(w) for w in coefs]
        ctx.bs = [tf.Variable(b) for b in intercepts]
        n_train = ctx.X.shape[0] if ctx.train_rows is None else len(ctx.train_rows)
        ctx.n_batches = int(np.ceil(n_train / self.batch_size))
        step = self._make_step(tf, ctx.Ws, ctx.bs, ctx.Ws + ctx.bs, adam_state)
        ctx.optimizer_state = step.optimizer_state
        ctx.step = compile_step(tf, step, ctx.n_batches * n_epochs)
        ctx.n_updates = n_updates

    def _iterate(self, ctx):
        tf, X = ctx.tf, ctx.X
        rows = np.arange(X.shape[0]) if ctx.train_rows is None else ctx.train_rows
        total = 0.0
        for idx in self._epoch_batches(ctx.rng, X.shape[0], rows):
            seeds = ctx.rng.randint(0, np.iinfo(np.int32).max, size=(2, 2)).astype(np.int32)
            total += float(ctx.step(tf.constant(X[idx].toarray()), tf.constant(seeds),
                                    tf.constant(self._beta(ctx.n_updates, ctx.n_batches),
                                                dtype=tf.float32)))
            ctx.n_updates += 1
        self._store(ctx)
        return total / max(1, ctx.n_batches)

    def _initial_weights_for(self, rng, X, n_users=None):
        self.propensity_ = None
        self._long_tail = None
        return self._init_weights(rng, X.shape[1])

    def _current_weights(self):
        return self.coefs_, self.intercepts_

    def _snapshot(self):
        return self.coefs_, self.intercepts_  # _store makes new arrays every epoch

    def _restore(self, snapshot):
        self.coefs_, self.intercepts_ = snapshot

    def _beta(self, n_updates, updates_per_epoch=1):
        return 0.0

    def _store(self, ctx):
        self.coefs_ = [w.numpy() for w in ctx.Ws]
        self.intercepts_ = [b.numpy() for b in ctx.bs]

    def _make_step(self, tf, Ws, bs, variables, adam_state=None):
        """One Adam update on a dense batch; returns the batch loss."""
        update = adam(tf, variables, self.learning_rate_init, state=adam_state)
        alpha, dropout = self.alpha, self.dropout
        # Rel-MF: an observed interaction counts 1 / theta_i in the likelihood, or
        # (offset) the exposure theta_i multiplies the relevance inside the softmax
        weights = offset = None
        if self.propensity_ is not None and self.propensity_correction == "offset":
            offset = tf.constant(np.log(self.propensity_).astype(np.float32))
        elif self.propensity_ is not None:
            weights = tf.constant((1.0 / self.propensity_).astype(np.float32))
        # the long-tail term: -log of the softmax's mass on the trained long tail
        tail = getattr(self, "_long_tail", None)
        tail_weight = float(getattr(self, "long_tail_weight", 0.0)) if tail is not None else 0.0
        if tail_weight:
            tail = tf.constant(tail.astype(np.int32))
        n_enc = self._n_encoder_layers()
        variational, k = self._variational, self.n_components

        def step(x, seeds, beta):
            with tf.GradientTape() as tape:
                # epsilon: TensorFlow's default floor (1e-12 on the sum of squares) left
                # rows of norm below 1e-6 unnormalised, where serving normalises them
                h = tf.math.l2_normalize(x, axis=1, epsilon=_TINY32)
                if dropout > 0:
                    h = tf.nn.experimental.stateless_dropout(h, rate=dropout, seed=seeds[0])
                for i in range(n_enc):
                    h = tf.matmul(h, Ws[i]) + bs[i]
                    if i < n_enc - 1 or not variational:
                        h = tf.tanh(h)
                kl = 0.0
                if variational:
                    mu, logvar = h[:, :k], h[:, k:]
                    eps_z = tf.random.stateless_normal(tf.shape(mu), seed=seeds[1])
                    h = mu + eps_z * tf.exp(0.5 * logvar)
                    kl = tf.reduce_mean(tf.reduce_sum(
                        0.5 * (-logvar + tf.exp(logvar) + mu ** 2 - 1.0), axis=1))
                for i in range(n_enc, len(Ws)):
                    h = tf.matmul(h, Ws[i]) + bs[i]
                    if i < len(Ws) - 1:
                        h = tf.tanh(h)
                target = x if weights is None else x * weights
                logits = h if offset is None else h + offset
                neg_ll = -tf.reduce_mean(tf.reduce_sum(tf.nn.log_softmax(logits) * target,
                                                       axis=1))
                loss = neg_ll + beta * kl
                if tail_weight:
                    # on the served scores (the logits without the offset)
                    log_tail = (tf.reduce_logsumexp(tf.gather(h, tail, axis=1), axis=1)
                                - tf.reduce_logsumexp(h, axis=1))
                    loss -= tail_weight * tf.reduce_mean(log_tail)
                if alpha > 0:
                    loss += alpha * tf.add_n([tf.reduce_sum(tf.square(W)) for W in Ws])
            update(tape.gradient(loss, variables))
            return loss

        step.optimizer_state = update.state
        return step

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


# Gauss-Legendre points of integrated gradients, tried in turn until the attributions
# sum to the end points' difference (completeness) within _IG_TOLERANCE of it
_IG_POINTS = (64, 256, 1024, 4096)
_IG_TOLERANCE = 1e-4


def complete_attributions(attributions_with, difference, model, tolerance=_IG_TOLERANCE):
    """Integrated gradients that satisfy completeness, refining the quadrature if needed.

    ``attributions_with(alphas, weights)`` integrates along the path with
    those nodes and weights on ``[0, 1]``; ``difference`` is the output at
    the input minus the output at the baseline. A smooth path is exact with
    64 points; saturated units (a sharp step along the path) need more, and
    a model whose attributions still miss by more than ``tolerance`` (1e-4)
    of the difference (plus float rounding of their sum) after 4096 points
    says so rather than returning them silently. The points are integrated
    64 at a time, so memory stays that of 64.
    """
    for n in _IG_POINTS:
        nodes, weights = np.polynomial.legendre.leggauss(n)
        alphas, weights = (nodes + 1.0) / 2.0, weights / 2.0
        # the integral is a sum over the points: chunks of 64 bound the memory
        contrib = sum(attributions_with(alphas[i:i + 64], weights[i:i + 64])
                      for i in range(0, n, 64))
        gap = abs(contrib.sum() - difference)
        # plus the rounding of the attributions' sum: a score that barely moves between
        # items that pull both ways leaves only that to compare with
        if gap <= tolerance * abs(difference) + 1e-12 * (1.0 + np.abs(contrib).sum()):
            return contrib
    warnings.warn(
        f"{model if isinstance(model, str) else type(model).__name__ + '.explain'}: the "
        f"integrated gradients sum to "
        f"{contrib.sum():.6g}, not to the score's change {difference:.6g} (gap {gap:.3g}), "
        f"even with {_IG_POINTS[-1]} quadrature points: the network switches sharply along "
        "this input's path (saturated units, max-pooling's windows). Rank by them with "
        "care.", UserWarning)
    return contrib


def _softmax(a):
    """Softmax of the logits ``a`` over their last axis (the items, for rows of scores)."""
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(a):
    """Row-wise log-softmax of the logits ``a`` (in their dtype)."""
    shifted = a - a.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
