"""MultiTaskMF: one fit that ranks (which items a user will rate) and predicts ratings."""

from numbers import Integral, Real

import numpy as np
from scipy.special import log_ndtr
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval

from ..base import RatingPredictionMixin
from ..utils._solvers import als_cholesky_sweep, explicit_als_sweep, joint_user_sweep
from ..utils._validation import check_rating_values
from ._base import MatrixFactorizationBase

__all__ = ["MultiTaskMF"]


class MultiTaskMF(RatingPredictionMixin, MatrixFactorizationBase):
    """Multi-task matrix factorization of explicit ratings: ranking and rating in one fit.

    Two tasks share part of each user's factors:

    * **rating** (regression): :math:`\\hat r_{ui} = \\mu + b_u + b_i + p_u^\\top q_i`,
      fitted on the observed ratings only, as :class:`ExplicitMF`;
    * **ranking** ("which items will the user rate"): :math:`\\hat s_{ui} =
      p_u^\\top y_i`, fitted as :class:`ImplicitALS` on the ratings:
      ``s_ui = 1`` for the rated items, with confidence ``1 +
      confidence_scale * r_ui`` (more for higher ratings), and 1 elsewhere.

    Each task reads ``n_components`` of the user's factors, of which
    ``n_shared_components`` are read by both (the rest are the task's own: a
    linear counterpart of shared and task-specific experts), so the user
    factors have ``2 * n_components - n_shared_components`` columns. The
    objective is the rating loss (ALS-WR penalty ``alpha`` per rating on the
    rating factors, ``alpha_bias`` on the biases) plus ``task_weight`` times
    the ranking loss (penalty ``alpha_ranking`` on its factors, as
    ImplicitALS's ``alpha``); every step is an exact least-squares solve, the
    user step solving both tasks at once. With ``n_shared_components=0`` the
    fit is exactly the two single-task models side by side; shared factors
    let which items a user rated inform the rating predictions (as in
    SVD++) and the ratings inform the ranking. ``decision_function`` and
    ``recommend`` rank by the ranking head, or, with ``rating_threshold``,
    by both heads: the probability that the user rates the item times the
    probability that the rating is above the threshold (which items a user
    will *like*); ``predict_ratings`` gives the ratings. All fold any user in
    from their row of ratings with one joint solve (no refit).

    Parameters
    ----------
    n_components : int, default=64
        User factors each task reads.
    n_shared_components : int, default=8
        How many of them both tasks read; a value above ``n_components``
        shares them all.
    task_weight : float, default=1.0
        Weight of the ranking loss against the rating loss.
    confidence_scale : float, default=0.2
        Confidence of a rated item in the ranking loss: ``1 +
        confidence_scale * r_ui`` (Hu et al.'s alpha).
    alpha : float, default=0.12
        Penalty of the rating factors, per rating (ALS-WR), as in
        :class:`ExplicitMF`.
    alpha_bias : float, default=3.0
        Penalty of the user and item biases.
    alpha_ranking : float, default=10.0
        Penalty of the ranking factors (users' and items'), as
        :class:`ImplicitALS`'s ``alpha``.
    rating_threshold : float or None, default=None
        None: ``decision_function`` is the ranking head :math:`\\hat s_{ui}`
        (which items the user will rate). A rating value ``t``: it is
        :math:`\\log \\max(\\hat s_{ui}, 10^{-6}) + \\log \\Phi((\\hat r_{ui} -
        t) / \\sigma)`, the log of the ranking head's estimate of the
        probability that the user rates the item times the probability that
        the rating is above ``t`` if ratings fall normally around the rating
        head's prediction :math:`\\hat r_{ui}` (clipped to the training
        range) with standard deviation :math:`\\sigma` = ``rating_noise``; for
        example 3.5 on a 1-5 scale to recommend what a user will rate 4 or 5.
        The floor keeps items the ranking head scores at or below zero
        ordered by their ratings, the logarithm keeps the order of items very
        unlikely to be liked. A user without ratings gets the popularity
        fallback as with None. Only scoring changes (early stopping still
        watches the ranking head), so it can be set on a fitted model. The
        score is not an inner product:
        :class:`~sklearn_recsys.neighbors.ApproximateRecommender` refuses it.
    rating_noise : float, default=1.0
        :math:`\\sigma` of ``rating_threshold``: how far a rating falls from
        its prediction (held-out RMSEs on MovieLens' 1-5 stars are 0.85 to
        0.95); in the units of the ratings.
    max_iter : int, default=15
        Sweeps (items then users).
    early_stopping : bool, default=False
        Keep the sweep with the best validation NDCG@20 of the ranking head
        (``validation_holdout`` of each user's ratings held out).
    validation_holdout : float, default=0.1
        Share of each user's ratings held out for early stopping.
    n_iter_no_change : int, default=3
        Patience, in sweeps.
    tol : float, default=0.0
        Smallest gain of the validation score that resets the patience.
    dtype : {np.float32, np.float64}, default=np.float32
        Floating type of the factors.
    n_jobs : int, default=None
        numba threads (None: all).
    random_state : int, RandomState instance or None, default=None
        Seed of the initial factors.
    verbose : int, default=0
        Print a progress line per sweep.

    Attributes
    ----------
    global_mean_ : float
    rating_range_ : tuple of float
        Smallest and largest training rating (``predict_ratings`` clips to it).
    user_factors_ : ndarray of shape (n_users, 2 * n_components - n_shared_components)
        Shared factors first, then the rating task's own, then the ranking
        task's own.
    user_bias_ : ndarray of shape (n_users,)
    item_factors_ : ndarray of shape (n_items, n_components)
        The ranking item factors ``y_i`` (shared part first); the ranking head's scores and
        ``similar_items`` use them.
    rating_factors_ : ndarray of shape (n_items, n_components)
        The rating item factors ``q_i`` (shared part first).
    item_bias_ : ndarray of shape (n_items,)
        Rating item biases.
    loss_curve_ : list of float
        Training RMSE of the ratings after each sweep.
    validation_scores_ : list of float or None
    best_iteration_ : int
    n_iter_ : int
    n_features_in_ : int

    See Also
    --------
    ExplicitMF : The rating task alone.
    ImplicitALS : The ranking task alone.

    References
    ----------
    .. [1] Y. Koren, "Factorization Meets the Neighborhood", KDD 2008 (which
       items were rated improves the ratings).
    .. [2] Y. Hu, Y. Koren and C. Volinsky, "Collaborative Filtering for
       Implicit Feedback Datasets", ICDM 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import MultiTaskMF
    >>> X = np.array([[5., 4., 0., 1.], [4., 5., 1., 0.], [1., 0., 5., 4.]])
    >>> model = MultiTaskMF(n_components=2, n_shared_components=1, random_state=0).fit(X)
    >>> model.recommend(X, k=1)[0].shape, model.predict_ratings(X).shape
    ((3, 1), (3, 4))
    """

    _parameter_constraints: dict = {
        **MatrixFactorizationBase._parameter_constraints,
        "n_shared_components": [Interval(Integral, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "task_weight": [Interval(Real, 0, None, closed="neither")],
        "confidence_scale": [Interval(Real, 0, None, closed="left")],
        "alpha_bias": [Interval(Real, 0, None, closed="left")],
        "alpha_ranking": [Interval(Real, 0, None, closed="neither")],
        "rating_threshold": [Interval(Real, None, None, closed="neither"), None],
        "rating_noise": [Interval(Real, 0, None, closed="neither")],
    }
    _state_names = ("user_factors_", "item_factors_", "rating_factors_", "user_bias_",
                    "item_bias_")

    def __init__(
        self,
        n_components=64,
        *,
        n_shared_components=8,
        task_weight=1.0,
        confidence_scale=0.2,
        alpha=0.12,
        alpha_bias=3.0,
        alpha_ranking=10.0,
        rating_threshold=None,
        rating_noise=1.0,
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
        self.n_shared_components = n_shared_components
        self.task_weight = task_weight
        self.confidence_scale = confidence_scale
        self.alpha = alpha
        self.alpha_bias = alpha_bias
        self.alpha_ranking = alpha_ranking
        self.rating_threshold = rating_threshold
        self.rating_noise = rating_noise
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @property
    def _n_features_out(self):
        return 2 * self.n_components - self._n_shared()

    def _n_shared(self):
        return min(self.n_shared_components, self.n_components)

    def _columns(self):
        """User-factor columns of the rating task and of the ranking task."""
        k, s = self.n_components, self._n_shared()
        rating = np.arange(k)
        ranking = np.r_[np.arange(s), np.arange(k, 2 * k - s)]
        return rating, ranking

    def _fit(self, X, X_val=None):
        check_rating_values(self, X)
        return super()._fit(X, X_val)

    def _init_fit(self, ctx):
        X, rng = ctx.X_train, ctx.rng
        n_users, n_items = X.shape
        k = self.n_components
        self.global_mean_ = float(X.data.mean()) if X.nnz else 0.0
        self.rating_range_ = (float(X.data.min()), float(X.data.max())) if X.nnz else (0.0, 0.0)
        self.user_factors_ = (rng.standard_normal((n_users, self._n_features_out))
                              * 0.1).astype(self.dtype)
        self.rating_factors_ = (rng.standard_normal((n_items, k)) * 0.1).astype(self.dtype)
        self.item_factors_ = (rng.standard_normal((n_items, k)) * 0.1).astype(self.dtype)
        self.user_bias_ = np.zeros(n_users, dtype=self.dtype)
        self.item_bias_ = np.zeros(n_items, dtype=self.dtype)

    def _item_blocks(self, dtype):
        """The item factors of both tasks placed in the joint user space, and Y's Gram."""
        rating, ranking = self._columns()
        Q = np.zeros((self.rating_factors_.shape[0], self._n_features_out), dtype=dtype)
        Q[:, rating] = self.rating_factors_
        Y = np.zeros_like(Q)
        Y[:, ranking] = self.item_factors_
        return Q, Y, Y.T @ Y

    def _user_step(self, X, P, bu, item_blocks=None):
        rating, ranking = self._columns()
        n_cols = self._n_features_out
        Q, Y, YtY = self._item_blocks(P.dtype) if item_blocks is None else item_blocks
        w = float(self.task_weight)
        pen_n = np.zeros(n_cols, dtype=P.dtype)
        pen_n[rating] = float(self.alpha)
        pen_c = np.zeros(n_cols, dtype=P.dtype)
        pen_c[ranking] = w * float(self.alpha_ranking)
        joint_user_sweep(X.indptr, X.indices, X.data, P, bu, Q, self.item_bias_, Y, YtY,
                         self.global_mean_, pen_n, pen_c, float(self.alpha_bias), w,
                         float(self.confidence_scale))

    def _iterate(self, ctx):
        X, Xt = ctx.X_train, ctx.Xt
        P, bu = self.user_factors_, self.user_bias_
        rating, ranking = self._columns()
        P_rating = np.ascontiguousarray(P[:, rating])
        explicit_als_sweep(Xt.indptr, Xt.indices, Xt.data, self.rating_factors_, P_rating,
                           self.item_bias_, bu, self.global_mean_, float(self.alpha),
                           float(self.alpha_bias), True, False)
        P_ranking = np.ascontiguousarray(P[:, ranking])
        G = P_ranking.T @ P_ranking
        G[np.diag_indices_from(G)] += float(self.alpha_ranking)
        als_cholesky_sweep(Xt.indptr, Xt.indices, Xt.data, self.item_factors_,
                           P_ranking, G, float(self.confidence_scale), np.empty(0, P.dtype))
        self._user_step(X, P, bu)
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        pred = self._predict_pairs(P, bu, rows, X.indices)
        return float(np.sqrt(np.mean((X.data - pred) ** 2))) if X.nnz else 0.0

    def _predict_pairs(self, P, bu, rows, cols):
        rating, _ = self._columns()
        return (self.global_mean_ + bu[rows] + self.item_bias_[cols]
                + np.einsum("ij,ij->i", P[:, rating][rows], self.rating_factors_[cols]))

    def _fold_in_biased(self, X):
        dtype = self.item_factors_.dtype
        X = X.astype(dtype, copy=False)
        P = np.zeros((X.shape[0], self._n_features_out), dtype=dtype)
        bu = np.zeros(X.shape[0], dtype=dtype)
        # once per scoring call (never while fitting: the factors change)
        blocks = self._memoized("item_blocks", self.item_factors_,
                                lambda _: self._item_blocks(dtype))
        self._user_step(X, P, bu, blocks)
        return P, bu

    def _fold_in(self, X):
        return self._fold_in_biased(X)[0]

    def _train_scores(self, rows):
        # early stopping watches the ranking head whatever rating_threshold says
        return self.user_factors_[rows][:, self._columns()[1]] @ self.item_factors_.T

    def _score_batch(self, X):
        P, bu = self._fold_in_biased(X)
        scores = P[:, self._columns()[1]] @ self.item_factors_.T
        if self.rating_threshold is None:
            return scores
        # settable on a fitted model: validated here, not only by fit
        self._validate_params()
        ratings = np.clip(self._ratings_of(P, bu, None), *self.rating_range_)
        # logs: in float32 Phi is exactly 0 below about -13 sd, where items would tie
        scores = np.log(np.maximum(scores, 1e-6)) + log_ndtr(
            ((ratings - self.rating_threshold) / self.rating_noise).astype(scores.dtype))
        # constant rows: users without ratings keep decision_function's popularity fallback
        scores[np.diff(X.indptr) == 0] = 0.0
        return scores

    # absent with rating_threshold (a product of two heads): what ApproximateRecommender checks
    @available_if(lambda self: self.rating_threshold is None)
    def _inner_product_form(self, X):
        # the ranking task's factors; item_bias_ belongs to the rating task
        return self._fold_in(X)[:, self._columns()[1]], self.item_factors_

    def _ratings_batch(self, X, items):
        return self._ratings_of(*self._fold_in_biased(X), items)

    def _ratings_of(self, P, bu, items):
        Q, bi = self.rating_factors_, self.item_bias_
        if items is not None:
            Q, bi = Q[items], bi[items]
        return self.global_mean_ + bu[:, None] + bi + P[:, self._columns()[0]] @ Q.T
