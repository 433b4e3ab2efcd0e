"""AutoRec: autoencoders of explicit ratings, item-based or user-based (Sedhain et al. 2015)."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._engine import ENGINE_CONSTRAINTS, FitContext
from ..base import RatingPredictionMixin
from ..utils._holdout import heldout_rmse
from ..utils._solvers import fold_in_contributions
from ..utils._validation import check_rating_values, rating_range
from ._base import NeuralRecommenderBase, complete_attributions
from ._tf import adam, import_tensorflow

__all__ = ["AutoRec"]


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def sigmoid_layer_attributions(x, encoder, offset, decoder_column, model):
    """Integrated gradients of ``decoder_column . sigmoid(x @ encoder + offset)`` w.r.t. ``x``.

    The path runs from the all-zero input to the CSR row ``x`` (Sundararajan
    et al. 2017), integrated by 64-point Gauss-Legendre quadrature: entry
    ``j`` gets ``x_j encoder[j] . mean_a[sigmoid'(a x @ encoder + offset) *
    decoder_column]``. By completeness the attributions sum to the output
    at ``x`` minus the output at the zero input, which is checked: saturated
    units get more points (:func:`complete_attributions`). The one-layer
    sigmoid encoders with a linear decoder of U-AutoRec and CDAE.

    Parameters
    ----------
    model : estimator
        Named in the warning if completeness fails.

    Returns
    -------
    attributions : ndarray of shape (x.nnz,)
        In the order of ``x.indices``.
    """
    E = np.asarray(np.asarray(encoder)[x.indices], dtype=np.float64)  # the rows read
    values = x.data.astype(np.float64)
    code = values @ E
    decoder_column = np.asarray(decoder_column, dtype=np.float64)

    def attributions_with(alphas, weights):
        s = _sigmoid(alphas[:, None] * code[None, :] + offset)  # (n_points, k)
        mean_slope = weights @ (s * (1.0 - s))  # the path's mean gradient on the code
        return values * (E @ (mean_slope * decoder_column))

    difference = decoder_column @ (_sigmoid(code + offset) - _sigmoid(offset))
    return complete_attributions(attributions_with, difference, model)


class AutoRec(RatingPredictionMixin, NeuralRecommenderBase):
    """AutoRec: an autoencoder that reconstructs observed ratings.

    A vector of ratings ``r`` is encoded as ``h = sigmoid(r V + mu)`` and
    decoded as ``W h + b`` (identity output); only the **observed** entries of
    ``r`` enter the squared error, with the penalty
    ``alpha / 2 (||W||^2 + ||V||^2)`` (Sedhain et al. 2015), trained by Adam
    in TensorFlow. The kept weights are a running average of Adam's iterates
    (``ema_momentum``), and with early stopping the validation ratings only
    choose the epoch count: the model is then trained again on all ratings
    (``refit``). Two variants, chosen by ``kind``:

    * ``"item"`` (I-AutoRec, the paper's better model): each *item*'s vector of
      ratings by all training users is a sample, so the decoder has one output
      per training user: ``r_ui ~ w_u . h_i + b_u``. A user is scored by
      fold-in: ``(b_u, w_u)`` is the MAP solution of their known ratings on
      the fixed item codes ``h_i`` under a Gaussian prior whose mean and
      covariance are those of the training users' biases and decoder rows
      (empirical Bayes), weighted by ``fold_in_alpha_`` (chosen on the
      validation ratings; the training MSE without early stopping). A new
      user needs no refit, one with few ratings is shrunk towards the typical
      user, and a training user is scored from their ratings alone, like any
      other.
    * ``"user"`` (U-AutoRec): each *user*'s row is a sample; any user is
      scored by a forward pass of their row.

    After ``fit`` everything is NumPy: scoring, :meth:`predict_ratings`
    (clipped to the training rating range) and pickling need no TensorFlow.

    Parameters
    ----------
    kind : {"item", "user"}, default="item"
        I-AutoRec or U-AutoRec.
    n_components : int, default=500
        Hidden units (the paper's 500).
    alpha : float, default=100.0
        L2 penalty on the weights (the paper's lambda; chosen on MovieLens
        100K validation ratings).
    batch_size : int, default=2048
        Samples (items or users) per Adam step. Large batches follow the
        paper's full-batch training; with ``learning_rate_init=1e-2`` they gave
        a lower RMSE on the internal validation ratings of MovieLens 100K's
        training sets (u1: 0.890 against 0.904 with 256 samples and 1e-3;
        mean over u1..u5: 0.890). Test ratings were not used for the choice.
    learning_rate_init : float, default=1e-2
        Adam step size.
    max_iter : int, default=500
        Epochs.
    early_stopping : bool, default=True
        Hold out ``validation_holdout`` of each user's ratings, keep the
        epoch with the lowest RMSE on them, and stop after
        ``n_iter_no_change`` epochs without improvement.
    validation_holdout : float, default=0.1
        Share of each user's ratings held out when ``early_stopping``.
    n_iter_no_change : int, default=20
        Patience, in epochs. On MovieLens 100K u1..u5 the best validation
        epoch (61 to 64) is the same with 20 as with 50, which trained 30
        epochs more.
    tol : float, default=0.0
        Smallest gain of the validation score that resets the patience of
        ``n_iter_no_change`` (the best iteration is kept whatever the gain).
    ema_momentum : float in [0, 1), default=0.9
        The weights used (for validation and after ``fit``) are the
        exponential moving average of the iterates,
        ``avg = ema_momentum * avg + (1 - ema_momentum) * w`` after each Adam
        step; 0 keeps the last iterate. Chosen on the validation ratings of
        MovieLens 100K u1.base (RMSE 0.8905 / 0.8893 / 0.8883 / 0.8905 /
        0.896 for 0 / 0.8 / 0.9 / 0.95 / 0.97).
    refit : bool, default=True
        With ``early_stopping``, train again from the same initial weights
        on all ratings for ``best_iteration_`` epochs, so the held-out
        ratings are not lost to the final model.
    random_state : int, RandomState instance or None, default=None
        Seed of the weights, batches and validation split.
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more: also a line per epoch.

    Attributes
    ----------
    coefs_ : list of ndarray
        Encoder ``V`` and decoder ``W`` weights (for ``kind="item"``,
        ``V`` is ``(n_training_users, n_components)``).
    intercepts_ : list of ndarray
        Biases ``mu`` and ``b``.
    item_codes_ : ndarray of shape (n_items, n_components)
        For ``kind="item"``: the codes ``h_i`` of the training items.
    fold_in_codes_ : ndarray of shape (n_items, n_components + 1)
        For ``kind="item"``: ``[1, item_codes_] @ C`` with ``C C^T`` the
        covariance of the training users' (bias, decoder row) pairs (plus a
        ridge of 1e-3 of its mean variance), the whitened coordinates of the
        fold-in.
    fold_in_offsets_ : ndarray of shape (n_items,)
        For ``kind="item"``: ``[1, item_codes_] @ mean`` of those pairs, the
        prior's prediction (what a user without ratings gets).
    fold_in_alpha_ : float
        Weight of the prior in the I-AutoRec fold-in.
    rating_range_ : tuple of float
        Smallest and largest rating given to ``fit`` (validation hold-outs
        included).
    loss_curve_ : list of float
        Mean squared error on the observed training ratings per epoch, of the
        run whose weights are kept (the refit, with ``refit``).
    validation_scores_ : list of float or None
        Minus the validation RMSE per epoch (with ``early_stopping``; higher
        is better, as every validation score of the package).
    best_iteration_ : int
        Epoch of lowest validation RMSE (with ``early_stopping``): the
        weights kept, or the length of the refit; the last epoch without
        early stopping.
    n_iter_ : int
        Epochs run (before the refit).
    n_features_in_ : int

    References
    ----------
    .. [1] S. Sedhain, A. K. Menon, S. Sanner and L. Xie, "AutoRec:
       Autoencoders Meet Collaborative Filtering", WWW 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import AutoRec
    >>> X = np.array([[5., 4., 0., 1.], [4., 5., 1., 0.], [1., 0., 5., 4.]])
    >>> model = AutoRec(n_components=4, max_iter=20, early_stopping=False,
    ...                 random_state=0).fit(X)  # doctest: +SKIP
    >>> model.predict_ratings(X, items=[2, 3]).shape  # doctest: +SKIP
    (3, 2)
    """

    _ranks_users_without_history = True  # its network's output for no ratings

    _parameter_constraints: dict = {
        "kind": [StrOptions({"item", "user"})],
        "ema_momentum": [Interval(Real, 0, 1, closed="left")],
        "refit": ["boolean"],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        **ENGINE_CONSTRAINTS,
    }

    def __init__(
        self,
        kind="item",
        n_components=500,
        *,
        alpha=100.0,
        batch_size=2048,
        learning_rate_init=1e-2,
        max_iter=500,
        early_stopping=True,
        validation_holdout=0.1,
        n_iter_no_change=20,
        tol=0.0,
        ema_momentum=0.9,
        refit=True,
        random_state=None,
        verbose=0,
    ):
        self.kind = kind
        self.n_components = n_components
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.ema_momentum = ema_momentum
        self.refit = refit
        self.random_state = random_state
        self.verbose = verbose

    # -- NumPy side -------------------------------------------------------

    def _encode_np(self, R):
        """Codes of the rows of a CSR sample matrix (items or users)."""
        return _sigmoid(np.asarray(R @ self.coefs_[0]) + self.intercepts_[0])

    def _ratings_batch(self, X, items):
        X = X.astype(np.float32)
        if self.kind == "user":
            # an untrained item's input weights are random: not read
            out = self._encode_np(self._untrained_zeroed(X)) @ self.coefs_[1] + self.intercepts_[1]
            return out if items is None else out[:, items]
        from ..utils._solvers import ridge_rows_sweep

        H, offsets = self.fold_in_codes_, self.fold_in_offsets_
        # an item without training ratings has the all-zero sample's code, the same
        # for every such item: its ratings say nothing of the user (not read)
        X = self._untrained_removed(X)
        Z = np.zeros((X.shape[0], H.shape[1]), dtype=np.float64)
        # MAP (bias, decoder row) under the training users' Gaussian prior, in
        # whitened coordinates: an isotropic ridge around the prior mean
        ridge_rows_sweep(X.indptr, X.indices, X.data.astype(np.float64), Z, H,
                         np.zeros(X.shape[0]), offsets, max(float(self.fold_in_alpha_), 1e-10),
                         False)
        if items is not None:
            H, offsets = H[items], offsets[items]
        return Z @ H.T + offsets

    def _score_batch(self, X):
        return self._ratings_batch(X, None)

    def explain(self, x_row, item):
        """Contribution of each of the user's ratings to one item's predicted rating.

        I-AutoRec (``kind="item"``) scores a user by a ridge fold-in on the
        fixed item codes, so the prediction is exact in the ratings: with the
        whitened codes ``h`` (``fold_in_codes_``), prior offsets ``o``
        (``fold_in_offsets_``) and ``W = (sum_j h_j h_j^T + fold_in_alpha_
        I)^{-1}``, rating ``j`` contributes ``(r_j - o_j) h_item^T W h_j``, and
        the contributions sum to the raw prediction minus ``o_item`` (what a
        user without ratings is predicted; ``predict_ratings`` also clips to
        the rating range). U-AutoRec (``kind="user"``) reads the ratings
        through one sigmoid layer: its contributions are the integrated
        gradients of the item's predicted rating from the all-zero input (no
        ratings) to the user's ratings, in NumPy; they sum to the raw
        prediction minus the network's prediction for the all-zero input
        (within 1e-4 relative: more quadrature points are taken until
        they do).

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's ratings.
        item : int
            The item (column) whose prediction is explained.

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
            The rated items, largest contribution first.
        contributions : ndarray of shape (n_user_items,)
        """
        x, item = self._validate_explain(x_row, item)
        if self.kind == "user":
            if x.nnz == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0)
            contrib = sigmoid_layer_attributions(self._untrained_zeroed(x), self.coefs_[0],
                                                 self.intercepts_[0],
                                                 self.coefs_[1][:, item], self)
            order = np.argsort(-contrib, kind="stable")
            return x.indices[order].astype(np.int64), contrib[order]
        H = self.fold_in_codes_
        read = self._untrained_removed(x)  # as the fold-in reads the row
        items, contrib = fold_in_contributions(
            H, read, H[item], max(float(self.fold_in_alpha_), 1e-10), 0.0, explicit=True,
            offset=self.fold_in_offsets_)
        if read.nnz == x.nnz:
            return items, contrib
        items = np.concatenate([items, np.setdiff1d(x.indices, read.indices)])
        contrib = np.concatenate([contrib, np.zeros(x.nnz - read.nnz)])
        order = np.argsort(-contrib, kind="stable")
        return items[order], contrib[order]

    # -- training (the engine's hooks) ------------------------------------

    def _fit(self, X):
        check_rating_values(self, X)
        for name in ("item_codes_", "fold_in_codes_", "fold_in_offsets_"):
            # kind="item"'s serving state: a refit as kind="user" must not keep it
            self.__dict__.pop(name, None)
        X = X.astype(np.float32)
        self.rating_range_ = rating_range(X)
        ctx = self._make_context(X)
        ctx.tf = import_tensorflow()
        self._run_training(ctx)
        # MAP weight of the prior: the noise variance, here the training MSE
        # of the kept epoch
        self.fold_in_alpha_ = self.loss_curve_[self.best_iteration_ - 1]
        if ctx.split is None:
            return self
        if self.kind == "item":
            self.fold_in_alpha_ = self._tune_fold_in(ctx.X_train, ctx.X_val_out)
        if self.refit:
            # the validation ratings only chose the epoch count (and the
            # fold-in penalty): train again, from the same initial weights,
            # on all ratings
            n_iter, scores, best = self.n_iter_, self.validation_scores_, self.best_iteration_
            refit = FitContext(X, ctx.rng)
            refit.tf, refit.init = ctx.tf, ctx.init
            self._run_training(refit, max_iter=best)
            self.n_iter_, self.validation_scores_ = n_iter, scores
        return self

    def _init_fit(self, ctx):
        """Adam on the observed entries of ``ctx.X_train``, one sample per item or user.

        The initial weights are drawn once per fit (the refit reuses them);
        the kept weights are the running average of the iterates when
        ``ema_momentum > 0``.
        """
        tf, X = ctx.tf, ctx.X_train
        if getattr(ctx, "init", None) is None:
            n_in, k = (X.shape[0] if self.kind == "item" else X.shape[1]), self.n_components
            limit = np.sqrt(6.0 / (n_in + k))
            ctx.init = [ctx.rng.uniform(-limit, limit, (n_in, k)).astype(np.float32),
                        ctx.rng.uniform(-limit, limit, (k, n_in)).astype(np.float32),
                        np.zeros(k, np.float32)]
        ctx.samples = X.T.tocsr() if self.kind == "item" else X  # one row per sample
        n_in = ctx.samples.shape[1]
        V, W, mu = (tf.Variable(a) for a in ctx.init)
        b = tf.Variable(np.full(n_in, X.data.mean() if X.nnz else 0.0, np.float32))
        variables = [V, W, mu, b]
        momentum = self.ema_momentum
        averages = [tf.Variable(v) for v in variables] if momentum > 0 else []
        ctx.kept = averages if momentum > 0 else variables
        update = adam(tf, variables, self.learning_rate_init)
        alpha = self.alpha

        def step(r, share):
            mask = tf.cast(r > 0, tf.float32)
            with tf.GradientTape() as tape:
                h = tf.sigmoid(tf.matmul(r, V) + mu)
                out = tf.matmul(h, W) + b
                sq = tf.reduce_sum(tf.square((out - r) * mask))
                loss = sq + share * alpha / 2.0 * (tf.reduce_sum(V * V) + tf.reduce_sum(W * W))
            update(tape.gradient(loss, variables))
            if momentum > 0:
                for avg, v in zip(averages, variables):
                    avg.assign(momentum * avg + (1.0 - momentum) * v)
            return sq

        n_batches = int(np.ceil(ctx.samples.shape[0] / self.batch_size))
        ctx.step = self._compile_step(ctx, step, n_batches)

    def _iterate(self, ctx):
        tf, samples, n_samples = ctx.tf, ctx.samples, ctx.samples.shape[0]
        sq_total = 0.0
        for idx in self._minibatches(ctx.rng, n_samples, self.batch_size):
            share = np.float32(len(idx) / n_samples)
            sq_total += float(ctx.step(tf.constant(samples[idx].toarray()), tf.constant(share)))
        self._store(*ctx.kept)
        return sq_total / max(1, ctx.X_train.nnz)

    def _snapshot(self):
        # _store makes new arrays every epoch: references are enough
        return self.coefs_, self.intercepts_

    def _restore(self, snapshot):
        self.coefs_, self.intercepts_ = snapshot

    def _finish_fit(self, ctx):
        if self.kind == "item":
            # the codes of the kept weights, computed once (not every epoch)
            self.item_codes_ = self._encode_np(ctx.samples).astype(np.float64)
            self._set_user_prior()

    def _validation_label(self):
        return "val_neg_rmse"

    def _validation_score(self, ctx):
        """Minus the RMSE of the held-out ratings, from the training representation."""
        # rows of W.T are contiguous: gathering them is much cheaper than columns of W
        Wt, b = np.ascontiguousarray(self.coefs_[1].T), self.intercepts_[1]
        if self.kind == "item":
            # each training user's own decoder row on the item codes
            codes = self._encode_np(ctx.samples).astype(np.float64)
            return -heldout_rmse(ctx.X_val_out, lambda rows, cols: np.einsum(
                "ij,ij->i", codes[cols], Wt[rows]) + b[rows], self.rating_range_)
        codes = self._encode_np(ctx.X_train)
        return -heldout_rmse(ctx.X_val_out, lambda rows, cols: np.einsum(
            "ij,ij->i", codes[rows], Wt[cols]) + b[cols], self.rating_range_)

    def _set_user_prior(self):
        """Gaussian prior of a user's (bias, decoder row), from the training users'.

        The fold-in is the MAP ``theta = (b_u, w_u)`` under ``N(mean, cov)`` of
        the trained ones (empirical Bayes): with ``cov = C C^T`` and
        ``theta = mean + C z``, it is a ridge on ``z`` with codes
        ``[1, H] C`` and offsets ``[1, H] mean``, solved by
        ``ridge_rows_sweep``. The bias is in the prior, not free, so a user
        with few ratings is shrunk towards the typical user in both. The small
        ridge on ``cov`` keeps it definite when there are fewer training users
        than hidden units.
        """
        theta = np.vstack([self.intercepts_[1][None, :], self.coefs_[1]]).astype(np.float64)
        mean = theta.mean(axis=1)
        cov = np.cov(theta) if theta.shape[1] > 1 else np.zeros((len(theta), len(theta)))
        cov[np.diag_indices_from(cov)] += 1e-3 * np.trace(cov) / len(cov) + 1e-12
        codes = np.hstack([np.ones((len(self.item_codes_), 1)), self.item_codes_])
        self.fold_in_codes_ = codes @ np.linalg.cholesky(cov)
        self.fold_in_offsets_ = codes @ mean

    def _tune_fold_in(self, X_train, X_val):
        """Weight of the fold-in's prior with the lowest RMSE on the validation ratings.

        The grid is centred on the MAP value, the training MSE (the noise
        variance); the held-out ratings decide, never test data. Each user's
        system is formed once for the whole grid.
        """
        from ..utils._solvers import ridge_rows_path

        grid = self.fold_in_alpha_ * 2.0 ** np.arange(-4, 4)
        pred = np.empty((len(grid), X_val.nnz), dtype=np.float64)
        ridge_rows_path(X_train.indptr, X_train.indices, X_train.data.astype(np.float64),
                        self.fold_in_codes_, self.fold_in_offsets_, np.maximum(grid, 1e-10),
                        False, X_val.indptr, X_val.indices, pred)
        np.clip(pred, *self.rating_range_, out=pred)
        rmse = np.sqrt(np.mean((pred - X_val.data) ** 2, axis=1))
        return float(grid[int(np.argmin(rmse))])

    def _store(self, V, W, mu, b):
        self.coefs_ = [V.numpy(), W.numpy()]
        self.intercepts_ = [mu.numpy(), b.numpy()]
