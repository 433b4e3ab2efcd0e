"""MultiTaskMF: one fit that ranks (which items a user will rate) and predicts ratings."""

import math
from numbers import Integral, Real

import numpy as np
from scipy.special import log_ndtr
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import RatingPredictionMixin, rows_without_known_items
from ..utils._solvers import (als_cholesky_sweep, explicit_als_sweep,
                              gaussian_posterior_sweep, implicit_gaussian_sweep,
                              implicit_loss, joint_user_sweep)
from ..utils._validation import check_rating_values, rating_range
from ._base import MatrixFactorizationBase
from ._explicit import _sample_normal_wishart

__all__ = ["MultiTaskMF"]

# n_components and max_iter when None
_DEFAULT_COMPONENTS = {"als": 64, "gibbs": 32}
_DEFAULT_SWEEPS = {"als": 15, "gibbs": 200}


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
    factors have ``2 * n_components - n_shared_components`` columns. Two
    solvers (``solver``). ``"als"`` minimises the rating loss (ALS-WR
    penalty ``alpha`` per rating on the rating factors, ``alpha_bias`` on
    the biases) plus ``task_weight`` times the ranking loss (penalty
    ``alpha_ranking`` on its factors, as ImplicitALS's ``alpha``); every step
    is an exact least-squares solve, the user step solving both tasks at
    once; with ``n_shared_components=0`` the fit is exactly the two
    single-task models side by side. ``"gibbs"`` (the default) samples the
    Bayesian model with the same two losses as likelihoods, learning the
    penalties and both noise levels from the data, and averages the samples,
    as :class:`ExplicitMF`'s default does for the rating task alone. Shared
    factors let which items a user rated inform the rating predictions (as
    in SVD++) and the ratings inform the ranking; where the two depend on
    unrelated tastes, fewer shared factors serve the ratings better.
    ``decision_function`` and
    ``recommend`` rank by the ranking head, or, with ``rating_threshold``,
    by both heads: the probability that the user rates the item times the
    probability that the rating is above the threshold (which items a user
    will *like*); ``predict_ratings`` gives the ratings. All fold any user in
    from their row of ratings with one joint solve (no refit).

    Parameters
    ----------
    n_components : int or None, default=None
        User factors each task reads (in each sample, with ``"gibbs"``);
        None is 64 for ``"als"`` and 32 for ``"gibbs"``. With ``"gibbs"``,
        64 ranks better by both heads (``rating_threshold``) on MovieLens
        latest-small, where 32 falls just behind :class:`ImplicitALS`, at
        about 3x the fit time (see the multi-task benchmark in the docs).
    n_shared_components : int, default=8
        How many of them both tasks read; a value above ``n_components``
        shares them all.
    task_weight : float, default=1.0
        Weight of the ranking loss against the rating loss (with
        ``"gibbs"``: a factor on the ranking likelihood's learned precision).
    confidence_scale : float, default=0.2
        Confidence of a rated item in the ranking loss: ``1 +
        confidence_scale * r_ui`` (Hu et al.'s alpha).
    alpha : float, default=0.12
        ``"als"`` only: penalty of the rating factors, per rating (ALS-WR),
        as in :class:`ExplicitMF`.
    alpha_bias : float, default=3.0
        ``"als"`` only: penalty of the user and item biases.
    alpha_ranking : float, default=10.0
        ``"als"`` only: penalty of the ranking factors (users' and items'),
        as :class:`ImplicitALS`'s ``alpha``.
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
        0.95); in the units of the ratings. Like ``rating_threshold``, it
        can be set on a fitted model.
    solver : {"auto", "als", "gibbs"}, default="auto"
        ``"auto"`` is ``"gibbs"``, or ``"als"`` with ``early_stopping``.
        ``"als"``: minimise the penalised objective above by alternating
        exact least squares. ``"gibbs"``: the same two losses as the
        likelihoods of a Bayesian model, sampled as :class:`ExplicitMF`'s
        ``"gibbs"`` (Salakhutdinov & Mnih 2008): Gaussian priors on the user
        vectors ``(b_u, p_u)``, the rating item vectors ``(b_i, q_i)`` and the
        ranking item factors ``y_i``, each with a Normal-Wishart hyperprior,
        learn the penalties from the data (``alpha``, ``alpha_bias`` and
        ``alpha_ranking`` are unused); the ratings' noise precision has a
        Gamma(1, 1) prior; the ranking loss is a Gaussian likelihood whose
        precision per unit of confidence (``ranking_precision_``, about the
        inverse of the share of rated cells) has one too, learned as if
        ``task_weight`` were 1 and then multiplied by it (a weight on the
        ranking likelihood, as in the penalised fit). Both heads average
        the kept samples, each sample folding the user in with its own
        posterior mean; this is what makes the rating head as accurate as
        :class:`ExplicitMF`'s Bayesian default. Needs ``early_stopping=False``
        (``X_val`` is still scored: ``validation_scores_`` holds each draw's
        NDCG@20); ``"als"`` is several times faster to fit and to score.
    max_iter : int or None, default=None
        Sweeps (items then users); None is 15 for ``"als"`` and 200 for
        ``"gibbs"``.
    burn_in : int, default=20
        ``"gibbs"`` only: sweeps discarded before samples are kept.
    thin : int, default=5
        ``"gibbs"`` only: one sample kept every ``thin`` sweeps after
        ``burn_in`` (the defaults keep 36). Scoring costs one fold-in per kept
        sample.
    early_stopping : bool, default=False
        ``"als"`` only: keep the sweep with the best validation NDCG@20 of
        the ranking head (``validation_holdout`` of each user's ratings held
        out).
    validation_holdout : float, default=0.1
        Share of each user's ratings held out for early stopping.
    n_iter_no_change : int, default=3
        Patience, in sweeps.
    tol : float, default=0.0
        Smallest gain of the validation score that resets the patience.
    dtype : {np.float32, np.float64}, default=np.float32
        Floating type of the factors.
    n_jobs : int, default=None
        Threads of the numba kernels; None keeps numba's setting (all
        cores unless ``NUMBA_NUM_THREADS`` says otherwise), -1 all.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial factors.
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more: also a line per sweep.

    Attributes
    ----------
    global_mean_ : float
    rating_range_ : tuple of float
        Smallest and largest rating given to ``fit``, validation hold-outs
        included (``predict_ratings`` clips to it).
    solver_ : {"als", "gibbs"}
        The solver used.
    n_components_ : int
        ``n_components`` or its solver's default.
    n_shared_ : int
        User factors both tasks read: ``min(n_shared_components, n_components_)``.
    n_samples_kept_ : int
        Samples averaged (1 with ``"als"``).
    user_factors_ : ndarray of shape (n_users, n_samples_kept * (2 * n_components - n_shared))
        Shared factors first, then the rating task's own, then the ranking
        task's own (``n_components``, ``n_shared``, ``n_samples_kept``: the
        fitted ``n_components_``, ``n_shared_``, ``n_samples_kept_``).
        With ``"gibbs"``, one such block per kept sample, side by side and
        divided by their number (so the heads' inner products average the
        samples' predictions); ``transform`` gives the same.
    user_bias_ : ndarray of shape (n_users,)
    item_factors_ : ndarray of shape (n_items, n_samples_kept * n_components)
        The ranking item factors ``y_i`` (shared part first; one block per
        kept sample with ``"gibbs"``); the ranking head's scores and
        ``similar_items`` use them.
    rating_factors_ : ndarray of shape (n_items, n_samples_kept * n_components)
        The rating item factors ``q_i`` (shared part first), laid out alike.
    item_bias_ : ndarray of shape (n_items,)
        Rating item biases (their average over the samples with ``"gibbs"``).
    item_bias_samples_ : ndarray of shape (n_samples_kept, n_items)
        ``"gibbs"`` only: each kept sample's item biases.
    user_prior_mean_, user_prior_precision_ : ndarray
        ``"gibbs"`` only: each kept sample's prior of the users' ``(b_u, p_u)``.
    noise_precision_, ranking_precision_ : ndarray of shape (n_samples_kept,)
        ``"gibbs"`` only: each kept sample's precision of the ratings and of
        the ranking loss (before ``task_weight``).
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
    .. [3] R. Salakhutdinov and A. Mnih, "Bayesian Probabilistic Matrix
       Factorization using Markov Chain Monte Carlo", ICML 2008.

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
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "n_shared_components": [Interval(Integral, 0, None, closed="left")],
        "solver": [StrOptions({"auto", "als", "gibbs"})],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "thin": [Interval(Integral, 1, None, closed="left")],
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

    # scoring options: "can be set on a fitted model"
    _params_settable_after_fit = frozenset({"rating_threshold", "rating_noise"})

    def __init__(
        self,
        n_components=None,
        *,
        n_shared_components=8,
        task_weight=1.0,
        confidence_scale=0.2,
        alpha=0.12,
        alpha_bias=3.0,
        alpha_ranking=10.0,
        rating_threshold=None,
        rating_noise=1.0,
        solver="auto",
        max_iter=None,
        burn_in=20,
        thin=5,
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
        self.solver = solver
        self.max_iter = max_iter
        self.burn_in = burn_in
        self.thin = thin
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
        return self._n_columns() * getattr(self, "n_samples_kept_", 1)

    def _n_components(self):
        fitted = self.__dict__.get("n_components_")
        return fitted or self.n_components or _DEFAULT_COMPONENTS[self._resolve_solver()]

    def _resolve_solver(self):
        if self.solver == "auto":
            return "als" if self.early_stopping else "gibbs"
        return self.solver

    def _n_shared(self):
        fitted = self.__dict__.get("n_shared_")
        return min(self.n_shared_components, self._n_components()) if fitted is None else fitted

    def _n_columns(self):
        """User-factor columns of one sample."""
        return 2 * self._n_components() - self._n_shared()

    def _task_columns(self):
        """User-factor columns of the rating task and of the ranking task (one sample)."""
        k, s = self._n_components(), self._n_shared()
        rating = np.arange(k)
        ranking = np.r_[np.arange(s), np.arange(k, 2 * k - s)]
        return rating, ranking

    def _columns(self):
        """The same in the fitted layout: one block of columns per kept sample."""
        offsets = np.arange(getattr(self, "n_samples_kept_", 1))[:, None] * self._n_columns()
        return tuple((offsets + cols).ravel() for cols in self._task_columns())

    def _fit(self, X, X_val=None):
        check_rating_values(self, X)
        if self.solver == "gibbs" and self.early_stopping:
            raise ValueError(
                "MultiTaskMF(solver='gibbs') averages samples and has no best sweep to stop at: "
                "set early_stopping=False (pass X_val to watch the validation score), or use "
                "solver='als'.")
        if self._resolve_solver() == "gibbs":
            self._warn_if_burn_in_covers(self.max_iter or _DEFAULT_SWEEPS["gibbs"])
        return super()._fit(X, X_val)

    def _run_training(self, ctx, max_iter=None):
        if max_iter is None and self.max_iter is None:
            max_iter = _DEFAULT_SWEEPS[self._resolve_solver()]
        return super()._run_training(ctx, max_iter)

    def _init_fit(self, ctx):
        X, rng = ctx.X_train, ctx.rng
        n_users, n_items = X.shape
        self.solver_ = self._resolve_solver()
        self.n_components_ = self.n_shared_ = None
        self.n_components_ = k = self._n_components()
        self.n_shared_ = self._n_shared()
        self.n_samples_kept_ = 1  # until _finish_fit places the sampler's side by side
        self.global_mean_ = float(X.data.mean()) if X.nnz else 0.0
        self.rating_range_ = rating_range(ctx.X)
        self.user_factors_ = (rng.standard_normal((n_users, self._n_columns()))
                              * 0.1).astype(self.dtype)
        self.rating_factors_ = (rng.standard_normal((n_items, k)) * 0.1).astype(self.dtype)
        self.item_factors_ = (rng.standard_normal((n_items, k)) * 0.1).astype(self.dtype)
        self.user_bias_ = np.zeros(n_users, dtype=self.dtype)
        self.item_bias_ = np.zeros(n_items, dtype=self.dtype)
        for name in ("item_bias_samples_", "user_prior_mean_", "user_prior_precision_",
                     "noise_precision_", "ranking_precision_"):
            self.__dict__.pop(name, None)
        if self.solver_ == "gibbs":
            # the sampler runs in float64 whatever dtype says (as ExplicitMF's)
            for name in self._state_names:
                setattr(self, name, getattr(self, name).astype(np.float64))
            ctx.X64, ctx.Xt64 = X.astype(np.float64), ctx.Xt.astype(np.float64)
            ctx.tau = 2.0  # noise precision until the first draw (BPMF's fixed value)
            ctx.ranking_tau = 1.0
            ctx.kept = []

    def _item_blocks(self, dtype, Q=None, Y=None, gram=True):
        """The item factors of both tasks placed in the joint user space, and Y's Gram."""
        Q = self.rating_factors_ if Q is None else Q
        Y = self.item_factors_ if Y is None else Y
        rating, ranking = self._task_columns()
        Q_joint = np.zeros((Q.shape[0], self._n_columns()), dtype=dtype)
        Q_joint[:, rating] = Q
        Y_joint = np.zeros_like(Q_joint)
        Y_joint[:, ranking] = Y
        if not gram:
            return Q_joint, Y_joint
        return Q_joint, Y_joint, Y_joint.T @ Y_joint

    def _user_step(self, X, P, bu, item_blocks=None, bias_q=None, prior=None, noise=None):
        """Joint rating-and-ranking step of every user: penalised (ALS) or Bayesian (``prior``).

        ``prior``: ``(mean, precision, tau, ranking_tau)`` of one Gibbs
        sample (no per-rating penalties; the ranking loss weighted by
        ``task_weight * ranking_tau``); with ``noise`` the users are drawn,
        else set to their posterior mean (a fold-in).
        """
        rating, ranking = self._task_columns()
        Q, Y, YtY = self._item_blocks(P.dtype) if item_blocks is None else item_blocks
        n_cols = P.shape[1]
        pen_n = np.zeros(n_cols, dtype=P.dtype)
        weight = float(self.task_weight)
        if prior is None:
            pen_n[rating] = float(self.alpha)
            precision = np.zeros(n_cols + 1, dtype=P.dtype)
            precision[0] = float(self.alpha_bias)
            precision[1 + ranking] = float(self.task_weight) * float(self.alpha_ranking)
            mean, precision, tau = np.zeros(n_cols + 1, dtype=P.dtype), np.diag(precision), 1.0
        else:
            mean, precision, tau, ranking_tau = prior
            weight *= float(ranking_tau)
        sample = noise is not None
        if not sample:
            noise = np.zeros((0, n_cols + 1), dtype=P.dtype)
        joint_user_sweep(X.indptr, X.indices, X.data, P, bu, Q,
                         self.item_bias_ if bias_q is None else bias_q, Y, YtY,
                         self.global_mean_, pen_n, weight, float(self.confidence_scale), mean,
                         precision, float(tau), noise, sample)

    def _iterate(self, ctx):
        if self.solver_ == "gibbs":
            return self._gibbs_sweep(ctx)
        X, Xt = ctx.X_train, ctx.Xt
        P, bu = self.user_factors_, self.user_bias_
        rating, ranking = self._task_columns()
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
        return self._training_rmse(X)

    def _training_rmse(self, X):
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        pred = self._predict_pairs(self.user_factors_, self.user_bias_, rows, X.indices)
        return float(np.sqrt(np.mean((X.data - pred) ** 2))) if X.nnz else 0.0

    def _gibbs_sweep(self, ctx):
        """One sweep of the sampler: rating items, ranking items, users, the noise precisions."""
        rng, X, Xt = ctx.rng, ctx.X64, ctx.Xt64
        P, bu = self.user_factors_, self.user_bias_
        Q, bi, Y = self.rating_factors_, self.item_bias_, self.item_factors_
        rating, ranking = self._task_columns()
        mean, precision = _sample_normal_wishart(np.column_stack([bi, Q]), rng)
        ctx.rating_prior_mean = mean
        gaussian_posterior_sweep(Xt.indptr, Xt.indices, Xt.data, Q, bi,
                                 np.ascontiguousarray(P[:, rating]), bu, self.global_mean_,
                                 mean, precision, ctx.tau,
                                 rng.standard_normal((Q.shape[0], Q.shape[1] + 1)), True)
        mean, precision = _sample_normal_wishart(Y, rng)
        G = np.ascontiguousarray(P[:, ranking])
        implicit_gaussian_sweep(Xt.indptr, Xt.indices, Xt.data, Y, G, G.T @ G,
                                float(self.confidence_scale),
                                float(self.task_weight) * ctx.ranking_tau, mean, precision,
                                rng.standard_normal(Y.shape))
        mean, precision = _sample_normal_wishart(np.column_stack([bu, P]), rng)
        self._user_step(X, P, bu, prior=(mean, precision, ctx.tau, ctx.ranking_tau),
                        noise=rng.standard_normal((P.shape[0], P.shape[1] + 1)))
        # what folding a user in against this sample's items needs
        ctx.user_prior = (mean, precision, ctx.tau, ctx.ranking_tau)
        it = ctx.iteration
        if it > self.burn_in and (it - self.burn_in - 1) % self.thin == 0:
            ctx.kept.append((*self._kept_rating_items(ctx), Y.copy(), *ctx.user_prior))
        rmse = self._training_rmse(X)
        # Gamma(1, 1) priors on both noise precisions; the ranking one is per
        # unit of confidence over every cell (about the inverse of the share
        # of rated cells: sparser data, sharper ranking likelihood)
        ctx.tau = rng.gamma(1.0 + X.nnz / 2.0, 1.0 / (1.0 + X.nnz * rmse ** 2 / 2.0))
        G = np.ascontiguousarray(P[:, ranking])
        sse = implicit_loss(X.indptr, X.indices, X.data, G, Y, Y.T @ Y,
                            float(self.confidence_scale), np.empty(0))
        ctx.ranking_tau = rng.gamma(1.0 + X.shape[0] * X.shape[1] / 2.0, 1.0 / (1.0 + sse / 2.0))
        return rmse

    def _kept_rating_items(self, ctx):
        """Copies of this draw's rating factors and item biases, those of the items
        without training ratings at the draw's prior mean (as ExplicitMF keeps them).

        Their rating part is a draw from the prior alone, which a few dozen
        samples average into noise (0.09 stars of spread from seed to seed,
        against 0.05 for rated items); the ranking factors of such an item are
        not: its zeros in every user's row are data.
        """
        factors, bias = self.rating_factors_.copy(), self.item_bias_.copy()
        cold = np.diff(ctx.Xt64.indptr) == 0
        if cold.any() and getattr(ctx, "rating_prior_mean", None) is not None:
            bias[cold] = ctx.rating_prior_mean[0]
            factors[cold] = ctx.rating_prior_mean[1:]
        return factors, bias

    def _finish_fit(self, ctx):
        if self.solver_ != "gibbs":
            return
        if not ctx.kept:  # max_iter <= burn_in (fit warned): the last draw stands alone
            ctx.kept.append((*self._kept_rating_items(ctx), self.item_factors_.copy(),
                             *ctx.user_prior))
        Q, bias, Y, means, precisions, taus, ranking_taus = zip(*ctx.kept)
        self.n_samples_kept_ = len(Q)
        self.rating_factors_ = np.hstack(Q).astype(self.dtype)
        self.item_factors_ = np.hstack(Y).astype(self.dtype)
        self.item_bias_samples_ = np.array(bias)
        self.item_bias_ = self.item_bias_samples_.mean(axis=0).astype(self.dtype)
        self.user_prior_mean_ = np.array(means)
        self.user_prior_precision_ = np.array(precisions)
        self.noise_precision_ = np.array(taus)
        self.ranking_precision_ = np.array(ranking_taus)
        self.user_factors_, self.user_bias_ = self._fold_in_biased(ctx.X_train)

    def _predict_pairs(self, P, bu, rows, cols):
        rating, _ = self._task_columns()  # while fitting: one sample
        return (self.global_mean_ + bu[rows] + self.item_bias_[cols]
                + np.einsum("ij,ij->i", P[:, rating][rows], self.rating_factors_[cols]))

    def _fold_in_biased(self, X):
        dtype = self.item_factors_.dtype
        if self.solver_ == "gibbs":
            return self._fold_in_samples(X, dtype)
        X = X.astype(dtype, copy=False)
        P = np.zeros((X.shape[0], self._n_features_out), dtype=dtype)
        bu = np.zeros(X.shape[0], dtype=dtype)
        # once per scoring call (never while fitting: the factors change)
        blocks = self._memoized("item_blocks", self.item_factors_,
                                lambda _: self._item_blocks(dtype))
        self._user_step(X, P, bu, blocks)
        return P, bu

    def _fold_in_samples(self, X, dtype):
        """Each kept sample's posterior mean of the users, side by side, divided by their number."""
        X = X.astype(np.float64)
        S, n = self.n_samples_kept_, self._n_columns()
        P, bu = np.zeros((X.shape[0], n * S)), np.zeros(X.shape[0])
        P_s, bu_s = np.empty((X.shape[0], n)), np.empty(X.shape[0])
        # the small Grams once per scoring call; the joint item matrices, mostly
        # zeros, one sample at a time
        grams = self._memoized("sample_grams", self.item_factors_, self._sample_grams)
        for s in range(S):
            Q, Y = self._item_blocks(np.float64, *self._sample_factors(s), gram=False)
            self._user_step(X, P_s, bu_s, (Q, Y, grams[s]), self.item_bias_samples_[s],
                            prior=(self.user_prior_mean_[s], self.user_prior_precision_[s],
                                   self.noise_precision_[s], self.ranking_precision_[s]))
            P[:, s * n:(s + 1) * n] = P_s
            bu += bu_s
        return (P / S).astype(dtype), (bu / S).astype(dtype)

    def _sample_factors(self, s):
        """Sample ``s``'s rating and ranking item factors, float64."""
        cols = slice(s * self.n_components_, (s + 1) * self.n_components_)
        return (self.rating_factors_[:, cols].astype(np.float64),
                self.item_factors_[:, cols].astype(np.float64))

    def _sample_grams(self, _):
        """Each sample's ``Y^T Y`` in the joint user space."""
        ranking = self._task_columns()[1]
        grams = np.zeros((self.n_samples_kept_, self._n_columns(), self._n_columns()))
        for s in range(self.n_samples_kept_):
            Y = self._sample_factors(s)[1]
            grams[s][np.ix_(ranking, ranking)] = Y.T @ Y
        return grams

    def _fold_in(self, X):
        return self._fold_in_biased(X)[0]

    def _train_scores(self, rows):
        # early stopping watches the ranking head whatever rating_threshold says
        return self.user_factors_[rows][:, self._columns()[1]] @ self.item_factors_.T

    def _score_batch(self, X):
        scores = self._fold_in_scores(X)
        # constant rows: users without ratings (or rated only on items without
        # training ratings) get decision_function's popularity fallback (the
        # fold-in gives them its prior mean's or the rating biases' scores)
        scores[rows_without_known_items(X, self._known_items())] = 0.0
        return scores

    def _scores_without_fallback(self, X):
        # explain's leave-one-out: a row emptied by the removal keeps its fold-in's score
        return np.asarray(self._fold_in_scores(X), dtype=np.float64)

    def _fold_in_scores(self, X):
        """The scores of the rows' fold-in, empty rows included."""
        P, bu = self._fold_in_biased(X)
        scores = P[:, self._columns()[1]] @ self.item_factors_.T
        if self.rating_threshold is None:
            return scores
        # settable on a fitted model: validated here, not only by fit
        self._validate_params()
        low, high = self.rating_range_
        reach = max(abs(self.rating_threshold - low), abs(self.rating_threshold - high))
        z = reach / self.rating_noise
        # log Phi(z) is about -z**2 / 2: beyond this the scores overflow the float type
        if z > math.sqrt(np.finfo(scores.dtype).max):
            raise ValueError(
                f"(rating - rating_threshold) / rating_noise reaches {z:.3g} (rating_threshold="
                f"{self.rating_threshold:g}, training ratings in [{low:g}, {high:g}], "
                f"rating_noise={self.rating_noise:g}): log Phi overflows "
                f"{np.dtype(scores.dtype).name}. Pass a threshold within the ratings' range "
                "and a rating_noise in their units (held-out RMSEs, about 0.9 on 1-5 stars).")
        ratings = np.clip(self._ratings_of(P, bu, None), *self.rating_range_)
        # logs: in float32 Phi is exactly 0 below about -13 sd, where items would tie
        return np.log(np.maximum(scores, 1e-6)) + log_ndtr(
            ((ratings - self.rating_threshold) / self.rating_noise).astype(scores.dtype))

    # absent with rating_threshold (a product of two heads): what ApproximateRecommender checks
    @available_if(lambda self: self.rating_threshold is None)
    def _inner_product_form(self, X):
        # the ranking task's factors; item_bias_ belongs to the rating task
        self._check_fitted_params()  # a wrapper calls it on a model it did not fit
        return self._fold_in(X)[:, self._columns()[1]], self.item_factors_

    def _ratings_batch(self, X, items):
        return self._ratings_of(*self._fold_in_biased(X), items)

    def _ratings_of(self, P, bu, items):
        Q, bi = self.rating_factors_, self.item_bias_
        if items is not None:
            Q, bi = Q[items], bi[items]
        return self.global_mean_ + bu[:, None] + bi + P[:, self._columns()[0]] @ Q.T
