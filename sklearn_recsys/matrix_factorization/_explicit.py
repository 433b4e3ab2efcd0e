"""ExplicitMF: biased matrix factorization of explicit ratings, fitted on the observed entries."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils._solvers import explicit_als_sweep
from ..base import RatingPredictionMixin
from ..utils._holdout import heldout_rmse
from ..utils._parallel import numba_threads
from ..utils._validation import check_rating_values
from ._base import MatrixFactorizationBase

__all__ = ["ExplicitMF"]

# Candidate factor penalties (per rating) of alpha="auto", weakest first; inf
# is the bias-only model (factors held at 0).
_ALPHA_GRID = (0.06, 0.09, 0.12, 0.18, 0.27, np.inf)
# without ratings to validate on: the value chosen on MovieLens 100K
_FALLBACK_ALPHA = 0.12


class ExplicitMF(RatingPredictionMixin, MatrixFactorizationBase):
    """Biased matrix factorization for explicit ratings, by alternating least squares.

    Predicts :math:`\\hat r_{ui} = \\mu + b_u + b_i + x_u^\\top y_i` (global
    mean, user and item biases, factors; Koren, Bell & Volinsky 2009) and
    minimizes the squared error on the **observed** ratings only (a 0 in
    ``X`` is a missing rating, not a rating of 0),

    .. math::

        \\sum_{(u,i) \\text{ observed}} (r_{ui} - \\hat r_{ui})^2
        + \\alpha \\sum_u n_u \\|x_u\\|^2 + \\alpha \\sum_i n_i \\|y_i\\|^2
        + \\alpha_b \\Big(\\sum_u n_u b_u^2 + \\sum_i n_i b_i^2\\Big),

    where the penalties grow with each user's and item's number of ratings
    ``n_u``, ``n_i`` (the weighted-lambda regularization of Zhou et al.
    2008). Each sweep solves exactly, in parallel, for every item's
    ``(b_i, y_i)`` given the users, then for every user's ``(b_u, x_u)``
    given the items.

    A user's factors and bias are recomputed from the ratings given to
    :meth:`predict_ratings`, :meth:`transform` and :meth:`decision_function`
    (fold-in: the same exact user step), so new users need no refit; for the
    training users it reproduces the fitted ``user_factors_`` exactly.

    Parameters
    ----------
    n_components : int, default=50
        Number of latent factors.
    alpha : float or "auto", default="auto"
        Penalty on the factors, per rating (> 0); ``np.inf`` is the bias-only
        model (factors held at 0). ``"auto"`` chooses it among 0.06, 0.09,
        0.12, 0.18, 0.27 and ``inf`` by the RMSE of ``validation_holdout`` of
        each user's ratings held out (one warm-started path, about three
        fits), so the default adapts to the data's size and sparsity and,
        on data too sparse for factors, falls back to the biases. The value
        used is ``alpha_``.
    alpha_bias : float, default=3.0
        Penalty on each user's and item's bias (a constant, not per rating:
        a bias estimated from few ratings is shrunk towards 0, as in Koren's
        baseline predictors). Chosen on the validation ratings of MovieLens
        100K u1..u5 and latest-small (3 every time from 0.3 to 30).
    max_iter : int, default=15
        Number of sweeps.
    early_stopping : bool, default=False
        Hold out ``validation_holdout`` of each user's ratings and stop when
        their RMSE has not improved for ``n_iter_no_change`` sweeps.
    validation_holdout : float, default=0.1
        Share of each user's ratings held out when ``early_stopping`` or
        ``alpha="auto"``.
    n_iter_no_change : int, default=3
        Sweeps without improvement before stopping.
    tol : float, default=0.0
        Smallest gain of the validation score that resets the patience of
        ``n_iter_no_change`` (the best iteration is kept whatever the gain).
    dtype : {np.float32, np.float64}, default=np.float32
        Dtype of the factors.
    n_jobs : int, default=None
        Threads of the numba kernels; None keeps numba's setting, -1 all.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial factors.
    verbose : int, default=0
        Print a progress line per sweep (training RMSE) when > 0.

    Attributes
    ----------
    alpha_ : float
        The factor penalty used (``alpha``, or the one ``"auto"`` chose).
    global_mean_ : float
        Mean of the observed training ratings.
    rating_range_ : tuple of float
        Smallest and largest training rating; :meth:`predict_ratings` clips
        to it.
    user_bias_ : ndarray of shape (n_users,)
    item_bias_ : ndarray of shape (n_items,)
        Item biases (the :meth:`decision_function` adds them; the global
        mean and the user bias do not change a ranking but are added too,
        so that scores are predicted ratings).
    user_factors_ : ndarray of shape (n_users, n_components)
    item_factors_ : ndarray of shape (n_items, n_components)
    loss_curve_ : list of float
        Training RMSE after each sweep.
    validation_scores_ : list of float or None
        Minus the validation RMSE after each sweep (with ``early_stopping``).
    best_iteration_ : int
        Sweep whose factors were kept.
    n_iter_ : int
    n_features_in_ : int

    See Also
    --------
    sklearn_recsys.metrics.make_rating_scorer : RMSE / MAE of
        :meth:`predict_ratings` on held-out ratings, for ``GridSearchCV``.

    References
    ----------
    .. [1] Y. Koren, R. Bell and C. Volinsky, "Matrix Factorization Techniques
       for Recommender Systems", IEEE Computer 42(8), 2009.
    .. [2] Y. Zhou, D. Wilkinson, R. Schreiber and R. Pan, "Large-scale
       Parallel Collaborative Filtering for the Netflix Prize", AAIM 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import ExplicitMF
    >>> X = np.array([[5., 4., 0., 1.], [4., 5., 1., 0.], [1., 0., 5., 4.]])
    >>> model = ExplicitMF(n_components=2, random_state=0).fit(X)
    >>> model.predict_ratings(X, items=[2, 3]).round(1)
    array([[2.6, 1.3],
           [1.2, 3.4],
           [4.9, 4.1]])
    """

    _parameter_constraints: dict = {
        **MatrixFactorizationBase._parameter_constraints,
        # 0 would leave a user with fewer ratings than factors a singular system
        "alpha": [Interval(Real, 0, np.inf, closed="right"), StrOptions({"auto"})],
        "alpha_bias": [Interval(Real, 0, None, closed="left")],
    }
    _state_names = ("user_factors_", "item_factors_", "user_bias_", "item_bias_")

    def __init__(
        self,
        n_components=50,
        *,
        alpha="auto",
        alpha_bias=3.0,
        max_iter=15,
        early_stopping=False,
        validation_holdout=0.1,
        n_iter_no_change=3,
        tol=0.0,
        dtype=np.float32,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.alpha_bias = alpha_bias
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, X, X_val=None):
        check_rating_values(self, X)
        self.alpha_ = self.alpha
        if self.alpha == "auto":
            self.alpha_ = self._choose_alpha(X)
        return super()._fit(X, X_val)

    def _zero_factors_by_design(self):
        return self.alpha_ == np.inf  # the bias-only model

    def _choose_alpha(self, X):
        """The factor penalty of ``_ALPHA_GRID`` with the lowest validation RMSE.

        ``validation_holdout`` of each user's ratings are held out; one
        warm-started path runs through the grid from the weakest penalty
        (``max_iter`` sweeps, then a third of that per step), so the choice
        costs about three fits. The last candidate is the bias-only model, so
        the choice is never worse than it on the validation ratings.
        """
        ctx = self._make_context(X.astype(self.dtype, copy=False), validate=True, warn=False)
        if ctx.split is None:  # too few ratings to hold any out
            return _FALLBACK_ALPHA
        ctx.Xt = ctx.X_train.T.tocsr()
        errors = []
        with numba_threads(self.n_jobs):
            for step, alpha in enumerate(_ALPHA_GRID):
                self.alpha_ = alpha
                ctx.warm = step > 0
                if not np.isfinite(alpha):
                    self.user_factors_[:] = 0.0
                    self.item_factors_[:] = 0.0
                self._run_training(ctx, max_iter=self.max_iter if step == 0
                                   else max(2, self.max_iter // 3))
                errors.append(self._validation_rmse(ctx))
        return _ALPHA_GRID[int(np.argmin(errors))]

    def _validation_rmse(self, ctx):
        return heldout_rmse(ctx.X_val_out, lambda rows, cols: self._predict_pairs(
            self.user_factors_, self.user_bias_, rows, cols), self.rating_range_)

    def _validation_label(self):
        return "val_neg_rmse"

    def _validation_score(self, ctx):
        return -self._validation_rmse(ctx)

    def _init_fit(self, ctx):
        if getattr(ctx, "warm", False):  # the penalty path continues from the last factors
            return
        X, rng = ctx.X_train, ctx.rng
        n_users, n_items = X.shape
        k = self.n_components
        self.global_mean_ = float(X.data.mean()) if X.nnz else 0.0
        self.rating_range_ = (float(X.data.min()), float(X.data.max())) if X.nnz else (0.0, 0.0)
        self.user_factors_ = (rng.standard_normal((n_users, k)) * 0.1).astype(self.dtype)
        self.item_factors_ = (rng.standard_normal((n_items, k)) * 0.1).astype(self.dtype)
        if not np.isfinite(self.alpha_):  # the bias-only model
            self.user_factors_[:] = 0.0
            self.item_factors_[:] = 0.0
        self.user_bias_ = np.zeros(n_users, dtype=self.dtype)
        self.item_bias_ = np.zeros(n_items, dtype=self.dtype)

    def _sweep(self, A, X, Y, bias_x, bias_y):
        # factors: a penalty per rating (ALS-WR); biases: a constant one, which
        # shrinks the bias of a user or item with few ratings towards 0
        # alpha=inf: the factors are 0 and stay 0 under any finite penalty
        alpha = float(self.alpha_) if np.isfinite(self.alpha_) else 1.0
        explicit_als_sweep(A.indptr, A.indices, A.data, X, Y, bias_x, bias_y,
                           self.global_mean_, alpha, float(self.alpha_bias), True, False)

    def _iterate(self, ctx):
        X = ctx.X_train
        self._sweep(ctx.Xt, self.item_factors_, self.user_factors_, self.item_bias_,
                    self.user_bias_)
        self._sweep(X, self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_)
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        pred = self._predict_pairs(self.user_factors_, self.user_bias_, rows, X.indices)
        return float(np.sqrt(np.mean((X.data - pred) ** 2)))

    def _predict_pairs(self, U, bu, rows, cols):
        V = self.item_factors_
        return (self.global_mean_ + bu[rows] + self.item_bias_[cols]
                + np.einsum("ij,ij->i", U[rows], V[cols]))

    def _fold_in_biased(self, X):
        dtype = self.item_factors_.dtype  # float64 after a float64 refit
        X = X.astype(dtype, copy=False)
        U = np.zeros((X.shape[0], self.n_components), dtype=dtype)
        bu = np.zeros(X.shape[0], dtype=dtype)
        self._sweep(X, U, self.item_factors_, bu, self.item_bias_)
        return U, bu

    def _fold_in(self, X):
        return self._fold_in_biased(X)[0]

    def explain(self, x_row, item):
        """Exact contribution of each of the user's ratings to one item's predicted rating.

        The fold-in is linear in the ratings: the user's ``z = (b_u, x_u)``
        solves ``A z = sum_j t_j w_j`` with ``w_j = (1, y_j)``, the residual
        ``t_j = r_uj - mu - b_j`` and ``A = sum_j w_j w_j^T`` plus the
        penalties, so the prediction is
        ``mu + b_i + sum_j (w_i^T A^{-1} w_j) t_j``. The contributions are
        the terms of that sum: they add up to the prediction minus the
        prediction for a user without ratings (``mu + b_i``), i.e.
        ``decision_function(x_row)[0, item] - decision_function(empty)[0, item]``.

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's ratings.
        item : int
            The item (column) whose predicted rating is explained.

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
            The user's rated items, largest contribution first.
        contributions : ndarray of shape (n_user_items,)
            ``(w_item^T A^{-1} w_j) t_j`` for each of them (can be negative:
            a low rating of a similar item lowers the prediction).
        """
        x, item = self._validate_explain(x_row, item)
        if x.nnz == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        V = self.item_factors_.astype(np.float64)
        W = np.column_stack([np.ones(x.nnz), V[x.indices]])
        t = (x.data.astype(np.float64) - self.global_mean_
             - self.item_bias_[x.indices].astype(np.float64))
        # the penalties of the fold-in step (_sweep): per rating on the
        # factors, constant on the bias
        alpha = float(self.alpha_) if np.isfinite(self.alpha_) else 1.0
        A = W.T @ W
        A[0, 0] += float(self.alpha_bias)
        A[np.arange(1, A.shape[0]), np.arange(1, A.shape[0])] += alpha * x.nnz
        w_item = np.concatenate([[1.0], V[item]])
        contrib = (W @ np.linalg.solve(A, w_item)) * t
        order = np.argsort(-contrib, kind="stable")
        return x.indices[order].astype(np.int64), contrib[order]

    def _train_scores(self, rows):
        return self._ratings(self.user_factors_[rows], self.user_bias_[rows])

    def _ratings(self, U, bu, items=None):
        V, bi = self.item_factors_, self.item_bias_
        if items is not None:
            V, bi = V[items], bi[items]
        return self.global_mean_ + bu[:, None] + bi + U @ V.T

    def _score_batch(self, X):
        return self._ratings(*self._fold_in_biased(X))

    def _ratings_batch(self, X, items):
        return self._ratings(*self._fold_in_biased(X), items)
