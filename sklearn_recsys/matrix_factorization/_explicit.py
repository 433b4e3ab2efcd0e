"""ExplicitMF: biased matrix factorization of explicit ratings, fitted on the observed entries."""

from numbers import Integral, Real

import numpy as np
from scipy.stats import wishart
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils._solvers import explicit_als_sweep, gaussian_posterior_sweep
from ..base import RatingPredictionMixin
from ..utils._holdout import heldout_rmse
from ..utils._parallel import numba_threads
from ..utils._validation import check_rating_values, rating_range
from ._base import MatrixFactorizationBase

__all__ = ["ExplicitMF"]

# Candidate factor penalties (per rating) of alpha="auto", weakest first; inf
# is the bias-only model (factors held at 0).
_ALPHA_GRID = (0.06, 0.09, 0.12, 0.18, 0.27, np.inf)
# without ratings to validate on: the value chosen on MovieLens 100K
_FALLBACK_ALPHA = 0.12
# sweeps when max_iter=None
_DEFAULT_SWEEPS = {"als": 15, "gibbs": 200}
# factors when n_components=None
_DEFAULT_COMPONENTS = {"als": 50, "gibbs": 20}
# fitted by the sampler only
_SAMPLER_ATTRIBUTES = ("item_bias_samples_", "user_prior_mean_", "user_prior_precision_",
                       "noise_precision_")


class ExplicitMF(RatingPredictionMixin, MatrixFactorizationBase):
    """Biased matrix factorization for explicit ratings: Bayesian (Gibbs) or penalised (ALS).

    Models :math:`r_{ui} = \\mu + b_u + b_i + x_u^\\top y_i + \\varepsilon`
    (global mean, user and item biases, factors; Koren, Bell & Volinsky 2009)
    on the **observed** ratings only (a 0 in ``X`` is a missing rating, not a
    rating of 0). Two ways to fit it (``solver``):

    - ``"gibbs"``: Bayesian MF (Salakhutdinov & Mnih 2008) with biases.
      ``(b_u, x_u)`` and ``(b_i, y_i)`` have Gaussian priors whose means and
      precisions have Normal-Wishart hyperpriors, the noise precision a
      Gamma one; a Gibbs sampler draws all of them, and predictions are the
      average over ``thin``-spaced samples after ``burn_in`` sweeps. Every
      penalty is learned from the data, so nothing needs tuning, and the
      average over the posterior beats any single penalised fit (MovieLens
      100K u1: RMSE 0.905 against 0.924; see the benchmarks).
    - ``"als"``: the maximum a posteriori fit, minimising

      .. math::

          \\sum_{(u,i) \\text{ observed}} (r_{ui} - \\hat r_{ui})^2
          + \\alpha \\sum_u n_u \\|x_u\\|^2 + \\alpha \\sum_i n_i \\|y_i\\|^2
          + \\alpha_b \\Big(\\sum_u b_u^2 + \\sum_i b_i^2\\Big)

      by alternating least squares (penalties growing with each user's and
      item's number of ratings ``n_u``, ``n_i``: the weighted-lambda
      regularization of Zhou et al. 2008). One set of factors, about 5x
      faster than the sampler; the penalty ``alpha`` is set or chosen on a
      validation split.

    ``solver="auto"`` is ``"gibbs"`` when ``alpha="auto"`` (the default:
    the sampler learns its penalties) and ``"als"`` when ``alpha`` is a
    number (a fixed penalty is the penalised fit) or ``early_stopping=True``
    (an average over samples has no best sweep to stop at). Before sampling it checks
    the sampler against the bias-only model on ``validation_holdout`` of
    each user's ratings (the burn-in and a quarter of the remaining sweeps,
    about a third more time) and fits the biases alone where they predict
    those ratings better (``solver_="als"``, ``alpha_=inf``): where factors
    have nothing to learn, the sampler's factors absorb some of the noise.

    A user's factors and bias are recomputed from the ratings given to
    :meth:`predict_ratings`, :meth:`transform` and :meth:`decision_function`
    (fold-in, so new users need no refit): the exact user step of ALS, or,
    for the sampler, each kept sample's posterior mean of the user given that
    sample's items, priors and noise, averaged over the samples. For the
    training users it reproduces the fitted ``user_factors_`` exactly.
    An item without training ratings has factors and bias 0 with ALS (its
    prediction is the global mean plus the user's bias); with the sampler,
    each kept sample holds it at that sample's item prior mean (its
    expectation under the sample, rather than a draw from the prior, which
    averaged over a few dozen samples stayed noise).

    Parameters
    ----------
    n_components : int or None, default=None
        Number of latent factors (of each sample, with ``"gibbs"``); None is
        20 for ``"gibbs"`` and 50 for ``"als"`` (the sampler's average needs
        fewer factors per sample; ALS at 20 is 0.007 RMSE worse on MovieLens
        100K u1). The value used is ``n_components_``.
    alpha : float or "auto", default="auto"
        Penalty on the factors, per rating (> 0); ``np.inf`` is the bias-only
        model (factors held at 0). A number means ``solver="als"``.
        ``"auto"``: with ``"gibbs"`` the prior precisions are learned; with
        ``"als"`` the penalty is chosen among 0.06, 0.09, 0.12, 0.18, 0.27
        and ``inf`` by the RMSE of ``validation_holdout`` of each user's
        ratings held out (one warm-started path, about three fits), so it
        adapts to the data's size and sparsity and, on data too sparse for
        factors, falls back to the biases. The value used is ``alpha_``.
    alpha_bias : float, default=3.0
        ``"als"`` only: penalty on each user's and item's bias (a constant,
        not per rating: a bias estimated from few ratings is shrunk towards
        0, as in Koren's baseline predictors). Chosen on the validation
        ratings of MovieLens 100K u1..u5 and latest-small (3 every time from
        0.3 to 30).
    solver : {"auto", "gibbs", "als"}, default="auto"
        How to fit (see above). ``"gibbs"`` needs ``alpha="auto"`` and
        ``early_stopping=False``, and always samples (no check against the
        biases).
    max_iter : int or None, default=None
        Number of sweeps; None is 200 for ``"gibbs"`` and 15 for ``"als"``.
    burn_in : int, default=20
        ``"gibbs"`` only: sweeps discarded before samples are kept.
    thin : int, default=5
        ``"gibbs"`` only: one sample kept every ``thin`` sweeps after
        ``burn_in`` (the defaults keep 36). Scoring costs one fold-in per kept
        sample; keeping every sweep gains little, as neighbouring samples are
        alike.
    early_stopping : bool, default=False
        ``"als"`` only: hold out ``validation_holdout`` of each user's ratings
        and stop when their RMSE has not improved for ``n_iter_no_change``
        sweeps (an average over samples has no best sweep to stop at).
    validation_holdout : float, default=0.1
        Share of each user's ratings held out when ``early_stopping`` or
        ``alpha="auto"`` with ``"als"``.
    n_iter_no_change : int, default=3
        Sweeps without improvement before stopping.
    tol : float, default=0.0
        Smallest gain of the validation score that resets the patience of
        ``n_iter_no_change`` (the best iteration is kept whatever the gain).
    dtype : {np.float32, np.float64}, default=np.float32
        Dtype of the factors (the sampler draws in float64).
    n_jobs : int, default=None
        Threads of the numba kernels; None keeps numba's setting, -1 all.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial factors and of the sampler's draws.
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more:
        also a line per sweep (training RMSE).

    Attributes
    ----------
    solver_ : {"gibbs", "als"}
        The solver used.
    n_components_ : int
        Number of latent factors (of each sample).
    alpha_ : float or None
        The factor penalty used (``alpha``, or the one ``"auto"`` chose);
        None with ``"gibbs"``.
    global_mean_ : float
        Mean of the observed training ratings.
    rating_range_ : tuple of float
        Smallest and largest rating given to ``fit`` (validation hold-outs
        included); :meth:`predict_ratings` clips
        to it.
    user_bias_ : ndarray of shape (n_users,)
    item_bias_ : ndarray of shape (n_items,)
        Item biases (the :meth:`decision_function` adds them; the global
        mean and the user bias do not change a ranking but are added too,
        so that scores are predicted ratings). With ``"gibbs"``, the average
        over the kept samples.
    user_factors_ : ndarray of shape (n_users, n_factors)
    item_factors_ : ndarray of shape (n_items, n_factors)
        ``n_factors`` is ``n_components_`` with ``"als"``. With ``"gibbs"``
        the kept samples side by side (``n_components_ * n_samples_kept``
        columns; the user factors divided by ``n_samples_kept``), so that
        ``user_factors_ @ item_factors_.T`` is the average over the samples,
        as :meth:`transform` and :meth:`decision_function` compute it.
    n_samples_kept_ : int
        Samples averaged (1 with ``"als"``).
    item_bias_samples_ : ndarray of shape (n_samples_kept, n_items)
    user_prior_mean_ : ndarray of shape (n_samples_kept, k + 1)
    user_prior_precision_ : ndarray of shape (n_samples_kept, k + 1, k + 1)
    noise_precision_ : ndarray of shape (n_samples_kept,)
        ``"gibbs"`` only: what each kept sample's fold-in needs beside its
        item factors (the prior of ``(b_u, x_u)``, ``k`` being
        ``n_components_``, and the noise precision).
    loss_curve_ : list of float
        Training RMSE after each sweep (of the current sample with
        ``"gibbs"``).
    validation_scores_ : list of float or None
        Minus the validation RMSE after each sweep (with ``early_stopping``
        or ``X_val``; with ``"gibbs"``, of the average of the draws after
        ``burn_in`` so far, every sweep's rather than only the kept ones).
    best_iteration_ : int
        Sweep whose factors were kept (the last with ``"gibbs"``).
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
    .. [3] R. Salakhutdinov and A. Mnih, "Bayesian Probabilistic Matrix
       Factorization using Markov Chain Monte Carlo", ICML 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import ExplicitMF
    >>> X = np.array([[5., 4., 0., 1.], [4., 5., 1., 0.], [1., 0., 5., 4.]])
    >>> model = ExplicitMF(n_components=2, random_state=0).fit(X)
    >>> model.solver_
    'gibbs'
    >>> model.predict_ratings(X, items=[2, 3]).round(1)  # three users: much shrinkage
    array([[2.6, 2.3],
           [2.3, 2.8],
           [3.9, 3.8]])
    >>> ExplicitMF(n_components=2, alpha=0.1, random_state=0).fit(X).solver_
    'als'
    """

    _ranks_users_without_history = True  # its biases

    _parameter_constraints: dict = {
        **MatrixFactorizationBase._parameter_constraints,
        # 0 would leave a user with fewer ratings than factors a singular system
        "alpha": [Interval(Real, 0, np.inf, closed="right"), StrOptions({"auto"})],
        "alpha_bias": [Interval(Real, 0, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "solver": [StrOptions({"auto", "gibbs", "als"})],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "thin": [Interval(Integral, 1, None, closed="left")],
    }
    _state_names = ("user_factors_", "item_factors_", "user_bias_", "item_bias_")

    def __init__(
        self,
        n_components=None,
        *,
        alpha="auto",
        alpha_bias=3.0,
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
        self.alpha = alpha
        self.alpha_bias = alpha_bias
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
        factors = getattr(self, "item_factors_", None)
        if factors is not None:
            return factors.shape[1]
        return self.n_components or _DEFAULT_COMPONENTS["gibbs"]

    def _resolve_solver(self):
        solver = self.solver
        if solver == "auto":
            # a fixed penalty, or a best sweep to stop at: the penalised fit
            solver = "gibbs" if self.alpha == "auto" and not self.early_stopping else "als"
        if solver == "gibbs" and self.alpha != "auto":
            raise ValueError(
                f"ExplicitMF(solver='gibbs') learns the penalties from the data, so alpha must "
                f"be 'auto' (got alpha={self.alpha!r}). Pass solver='als' to fit with a fixed "
                "penalty.")
        if solver == "gibbs" and self.early_stopping:
            raise ValueError(
                "ExplicitMF(solver='gibbs') averages samples and has no best sweep to stop at: "
                "set early_stopping=False (and max_iter for the number of sweeps), or pass "
                "solver='als'.")
        return solver

    def _fit(self, X, X_val=None):
        check_rating_values(self, X)
        self.solver_ = self._resolve_solver()
        self.n_components_ = self.n_components or _DEFAULT_COMPONENTS[self.solver_]
        self.alpha_ = None if self.solver_ == "gibbs" else self.alpha
        if self.solver == "auto" and self.solver_ == "gibbs" and self._biases_beat_the_sampler(X):
            self.solver_, self.alpha_ = "als", np.inf
            self.n_components_ = self.n_components or _DEFAULT_COMPONENTS["als"]
        elif self.alpha_ == "auto":
            self.alpha_ = self._choose_alpha(X)
        if self.solver_ == "gibbs":  # the sampler kept, not the bias-only fit chosen over it
            self._warn_if_burn_in_covers(self.max_iter or _DEFAULT_SWEEPS["gibbs"])
        for name in _SAMPLER_ATTRIBUTES:  # of an earlier fit, or of the check's trial run
            vars(self).pop(name, None)
        return super()._fit(X, X_val)

    def _biases_beat_the_sampler(self, X):
        """Whether the bias-only model predicts held-out ratings better than the sampler.

        ``validation_holdout`` of each user's ratings are held out; the
        sampler runs its burn-in and a quarter of its remaining sweeps on the
        rest (its average is still improving then, so a close call goes to
        the biases, which are as good there), and the bias-only ALS fit runs
        on the same ratings. Where factors have nothing to learn, the
        sampler's factors absorb some noise (0.009 RMSE worse than the biases
        on such synthetic data, tests/matrix_factorization/test_explicit.py);
        this keeps the default never worse than its own bias-only part.
        """
        ctx = self._make_context(X.astype(self.dtype, copy=False), validate=True, warn=False)
        if ctx.split is None:  # too few ratings to hold any out
            return False
        ctx.Xt = ctx.X_train.T.tocsr()
        sweeps = self.max_iter or _DEFAULT_SWEEPS["gibbs"]
        with numba_threads(self.n_jobs):
            ctx.label = "ExplicitMF (trial: the sampler)"
            self._run_training(ctx, max_iter=min(sweeps, self.burn_in + max(
                1, (sweeps - self.burn_in) // 4)))
            sampler = self._validation_rmse(ctx)
            ctx.val_sum = None
            self.solver_, self.alpha_ = "als", np.inf
            ctx.label = "ExplicitMF (trial: biases only)"
            self._run_training(ctx, max_iter=_DEFAULT_SWEEPS["als"])
            biases = self._validation_rmse(ctx)
        self.solver_, self.alpha_ = "gibbs", None
        return biases < sampler

    def _run_training(self, ctx, max_iter=None):
        if max_iter is None and self.max_iter is None:
            max_iter = _DEFAULT_SWEEPS[self.solver_]
        return super()._run_training(ctx, max_iter)

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
                sweeps = self.max_iter or _DEFAULT_SWEEPS["als"]
                ctx.label = f"ExplicitMF (trial: alpha={alpha:g})"
                self._run_training(ctx, max_iter=sweeps if step == 0 else max(2, sweeps // 3))
                errors.append(self._validation_rmse(ctx))
        return _ALPHA_GRID[int(np.argmin(errors))]

    def _validation_rmse(self, ctx):
        if getattr(ctx, "val_sum", None) is not None and ctx.n_val:
            # the sampler's prediction: the average of the draws after the burn-in
            pred = np.clip(ctx.val_sum / ctx.n_val, *self.rating_range_)
            return float(np.sqrt(np.mean((pred - ctx.X_val_out.data) ** 2)))
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
        k = self.n_components_
        self.global_mean_ = float(X.data.mean()) if X.nnz else 0.0
        self.rating_range_ = rating_range(ctx.X)
        self.user_factors_ = (rng.standard_normal((n_users, k)) * 0.1).astype(self.dtype)
        self.item_factors_ = (rng.standard_normal((n_items, k)) * 0.1).astype(self.dtype)
        if self.alpha_ == np.inf:  # the bias-only model
            self.user_factors_[:] = 0.0
            self.item_factors_[:] = 0.0
        self.user_bias_ = np.zeros(n_users, dtype=self.dtype)
        self.item_bias_ = np.zeros(n_items, dtype=self.dtype)
        if self.solver_ == "gibbs":
            self._init_sampler(ctx)

    def _init_sampler(self, ctx):
        """Float64 state of the Gibbs sampler; samples are kept in ``ctx.kept``."""
        for name in self._state_names:
            setattr(self, name, getattr(self, name).astype(np.float64))
        ctx.X64 = ctx.X_train.astype(np.float64)
        ctx.Xt64 = ctx.Xt.astype(np.float64)
        ctx.tau = 2.0  # noise precision until the first draw (BPMF's fixed value)
        ctx.kept = []
        ctx.items_without_ratings = np.diff(ctx.Xt.indptr) == 0
        ctx.n_val = 0
        ctx.val_sum = None
        if ctx.split is not None:
            X_out = ctx.X_val_out
            ctx.val_pairs = (np.repeat(np.arange(X_out.shape[0]), np.diff(X_out.indptr)),
                             X_out.indices)
            ctx.val_sum = np.zeros(X_out.nnz)

    def _gibbs_sweep(self, ctx):
        """One sweep of the sampler: item side, user side, then the noise precision."""
        rng, X, Xt = ctx.rng, ctx.X64, ctx.Xt64
        K = self.n_components_ + 1
        for A, F, bias, G, bias_g, side in (
                (Xt, self.item_factors_, self.item_bias_, self.user_factors_, self.user_bias_,
                 "item"),
                (X, self.user_factors_, self.user_bias_, self.item_factors_, self.item_bias_,
                 "user")):
            mean, precision = _sample_normal_wishart(np.column_stack([bias, F]), rng)
            if side == "item":
                ctx.item_prior_mean = mean
            noise = rng.standard_normal((F.shape[0], K))
            gaussian_posterior_sweep(A.indptr, A.indices, A.data, F, bias, G, bias_g,
                                     self.global_mean_, mean, precision, ctx.tau, noise, True)
        ctx.user_prior = (mean, precision, ctx.tau)  # the last user draw's conditional
        it = ctx.iteration
        if it > self.burn_in and (it - self.burn_in - 1) % self.thin == 0:
            # the user side's prior and the noise precision of this draw: what
            # folding a user in against this sample's items needs
            ctx.kept.append((*self._kept_items(ctx), mean, precision, ctx.tau))
        if it > self.burn_in and ctx.val_sum is not None:
            # every draw after the burn-in: a steadier estimate of the average
            # than the thinned ones, at no cost
            ctx.val_sum += self._predict_pairs(self.user_factors_, self.user_bias_,
                                               *ctx.val_pairs)
            ctx.n_val += 1
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        sse = float(np.sum((X.data - self._predict_pairs(
            self.user_factors_, self.user_bias_, rows, X.indices)) ** 2))
        # Gamma(1, 1) prior on the noise precision
        ctx.tau = rng.gamma(1.0 + X.nnz / 2.0, 1.0 / (1.0 + sse / 2.0))
        return np.sqrt(sse / max(X.nnz, 1))

    def _kept_items(self, ctx):
        """Copies of this draw's item factors and biases to keep, those of the items
        without training ratings at their prior mean.

        Such an item's draw is a draw from the prior alone: averaged over a few
        dozen samples it stays noise (two such items a quarter of a star apart,
        moving with the seed); its expectation given the draw's hyperparameters is
        the prior mean, which the samples then average (Rao-Blackwellised).
        """
        factors, bias = self.item_factors_.copy(), self.item_bias_.copy()
        cold = ctx.items_without_ratings
        if cold.any():
            bias[cold] = ctx.item_prior_mean[0]
            factors[cold] = ctx.item_prior_mean[1:]
        return factors, bias

    def _finish_fit(self, ctx):
        if self.solver_ != "gibbs":
            self.n_samples_kept_ = 1
            return
        if not ctx.kept:  # max_iter <= burn_in (fit warned): the last draw stands alone
            ctx.kept.append((*self._kept_items(ctx), *ctx.user_prior))
        V, bias, means, precisions, taus = zip(*ctx.kept)
        self.n_samples_kept_ = len(V)
        self.item_factors_ = np.hstack(V).astype(self.dtype)
        self.item_bias_samples_ = np.array(bias)
        self.item_bias_ = self.item_bias_samples_.mean(axis=0).astype(self.dtype)
        self.user_prior_mean_ = np.array(means)
        self.user_prior_precision_ = np.array(precisions)
        self.noise_precision_ = np.array(taus)
        # the ratings the sampler learned from (in the check's trial run, not the
        # held-out ones it is judged on)
        U, bu = self._fold_in_biased(ctx.X_train)
        self.user_factors_, self.user_bias_ = U, bu

    def _sweep(self, A, X, Y, bias_x, bias_y):
        # factors: a penalty per rating (ALS-WR); biases: a constant one, which
        # shrinks the bias of a user or item with few ratings towards 0
        # alpha=inf: the factors are 0 and stay 0 under any finite penalty
        alpha = float(self.alpha_) if np.isfinite(self.alpha_) else 1.0
        explicit_als_sweep(A.indptr, A.indices, A.data, X, Y, bias_x, bias_y,
                           self.global_mean_, alpha, float(self.alpha_bias), True, False)

    def _iterate(self, ctx):
        if self.solver_ == "gibbs":
            try:
                return self._gibbs_sweep(ctx)
            except np.linalg.LinAlgError:
                # a hyperprior scale from factors of huge ratings (values of about 1e10)
                # is singular in float64: SciPy's Cholesky of the Wishart draw fails
                self._raise_diverged("the sampler's hyperprior is singular", ctx.iteration)
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
        if self.solver_ == "gibbs":
            return self._fold_in_samples(X, dtype)
        X = X.astype(dtype, copy=False)
        U = np.zeros((X.shape[0], self.n_components_), dtype=dtype)
        bu = np.zeros(X.shape[0], dtype=dtype)
        self._sweep(X, U, self.item_factors_, bu, self.item_bias_)
        return U, bu

    def _fold_in_samples(self, X, dtype):
        """Each kept sample's posterior mean of the users, side by side, divided by their number."""
        X = X.astype(np.float64)
        k, S = self.n_components_, self.n_samples_kept_
        U = np.zeros((X.shape[0], k * S))
        bu = np.zeros(X.shape[0])
        Us, bs = np.empty((X.shape[0], k)), np.empty(X.shape[0])
        for s, V in enumerate(self._item_factor_samples()):
            gaussian_posterior_sweep(
                X.indptr, X.indices, X.data, Us, bs, V, self.item_bias_samples_[s],
                self.global_mean_, self.user_prior_mean_[s], self.user_prior_precision_[s],
                self.noise_precision_[s], np.zeros((0, k + 1)), False)
            U[:, s * k:(s + 1) * k] = Us
            bu += bs
        return (U / S).astype(dtype), (bu / S).astype(dtype)

    def _item_factor_samples(self, items=slice(None)):
        """The kept samples' factors of ``items`` (all by default), float64."""
        k = self.n_components_
        V = self.item_factors_[items].astype(np.float64)
        return [V[:, s * k:(s + 1) * k] for s in range(self.n_samples_kept_)]

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

        With ``solver="gibbs"`` each kept sample ``s`` folds the user in
        under its prior ``N(m_s, P_s^-1)`` and noise precision ``tau_s``:
        ``z = m_s + A_s^-1 tau_s sum_j w_j (t_j - w_j^T m_s)`` with
        ``A_s = P_s + tau_s sum_j w_j w_j^T``, so the contribution of rating
        ``j`` is ``tau_s (w_item^T A_s^{-1} w_j)(t_j - w_j^T m_s)``, averaged
        over the samples; the same identity holds.

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
        if self.solver_ == "gibbs":
            contrib = self._sample_contributions(x, item)
        else:
            contrib = self._penalised_contributions(x, item)
        order = np.argsort(-contrib, kind="stable")
        return x.indices[order].astype(np.int64), contrib[order]

    def _penalised_contributions(self, x, item):
        """Contribution of each rating of ``x`` to ``item``'s score under the ALS fold-in."""
        # float64 of the rows read, not of the catalogue's factors on every call
        V = self.item_factors_[np.append(x.indices, item)].astype(np.float64)
        W = np.column_stack([np.ones(x.nnz), V[:-1]])
        t = (x.data.astype(np.float64) - self.global_mean_
             - self.item_bias_[x.indices].astype(np.float64))
        # the penalties of the fold-in step (_sweep): per rating on the
        # factors, constant on the bias
        alpha = float(self.alpha_) if np.isfinite(self.alpha_) else 1.0
        A = W.T @ W
        A[0, 0] += float(self.alpha_bias)
        A[np.arange(1, A.shape[0]), np.arange(1, A.shape[0])] += alpha * x.nnz
        w_item = np.concatenate([[1.0], V[-1]])
        return (W @ np.linalg.solve(A, w_item)) * t

    def _sample_contributions(self, x, item):
        """Contribution of each rating of ``x`` to ``item``'s score, averaged over the samples."""
        contrib = np.zeros(x.nnz)
        values = x.data.astype(np.float64)
        # the rows read, cast to float64 (casting every item's samples on each call
        # was two thirds of explain's time)
        for s, V in enumerate(self._item_factor_samples(np.append(x.indices, item))):
            W = np.column_stack([np.ones(x.nnz), V[:-1]])
            t = values - self.global_mean_ - self.item_bias_samples_[s][x.indices]
            m, P, tau = (self.user_prior_mean_[s], self.user_prior_precision_[s],
                         self.noise_precision_[s])
            w_item = np.concatenate([[1.0], V[-1]])
            weights = np.linalg.solve(P + tau * W.T @ W, w_item)
            contrib += tau * (W @ weights) * (t - W @ m)
        return contrib / self.n_samples_kept_

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


def _sample_normal_wishart(Z, rng):
    """Draw the mean and precision of the Gaussian prior of the rows of ``Z``.

    The conjugate Normal-Wishart hyperprior of Salakhutdinov & Mnih (2008):
    mean 0 with ``beta0 = 2``, Wishart scale ``I`` with ``K`` degrees of
    freedom (``K`` the width of ``Z``), updated by the rows' mean and scatter.
    """
    n, K = Z.shape
    z_bar = Z.mean(axis=0)
    centred = Z - z_bar
    beta = 2.0 + n
    scale_inv = np.eye(K) + centred.T @ centred + (2.0 * n / beta) * np.outer(z_bar, z_bar)
    scale = np.linalg.inv(scale_inv)
    precision = wishart.rvs(df=K + n, scale=(scale + scale.T) / 2.0, random_state=rng)
    precision = np.atleast_2d(precision)
    cov = np.linalg.inv(beta * precision)
    mean = rng.multivariate_normal(n * z_bar / beta, (cov + cov.T) / 2.0)
    return mean, precision
