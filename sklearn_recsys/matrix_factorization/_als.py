"""ImplicitALS: weighted matrix factorization for implicit feedback (Hu, Koren & Volinsky 2008)."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils._propensity import (PROPENSITY_REFERENCE_DOC, PROPENSITY_REFERENCES,
                                 exposure_propensity)
from ..utils._solvers import (
    als_cg_sweep,
    als_cholesky_sweep,
    fold_in_contributions,
    implicit_loss,
)
from ._base import MatrixFactorizationBase

__all__ = ["ImplicitALS"]

# penalties this large are usually implicit's confidence weight passed as alpha
_IMPLAUSIBLE_PENALTY = 10.0


class ImplicitALS(MatrixFactorizationBase):
    """Implicit-feedback matrix factorization by alternating least squares.

    .. note:: ``alpha`` is the **L2 penalty** (scikit-learn's meaning, the
       ``regularization`` of the ``implicit`` library). The confidence weight
       that ``implicit`` and Hu et al. call alpha is ``confidence_scale``
       here: ``implicit``'s ``alpha=40`` is ``confidence_scale=40``. An
       ``alpha`` above 10 warns, since it is most likely that mistake.

    Minimizes the weighted squared error of Hu, Koren & Volinsky (2008) over
    *every* user-item cell,

    .. math::

        \\sum_{u,i} c_{ui} (p_{ui} - x_u^\\top y_i)^2
        + \\alpha \\Big(\\sum_u \\|x_u\\|^2 + \\sum_i \\|y_i\\|^2\\Big),

    with preference :math:`p_{ui} = 1` where the user interacted with the
    item and 0 elsewhere, and confidence
    :math:`c_{ui} = 1 + \\text{confidence_scale} \\cdot r_{ui}` (1 on the zeros).
    Each sweep solves for all items given the users, then all users given
    the items, by a few warm-started conjugate-gradient steps (Takacs, Pilaszy &
    Tikk 2011; cost linear in the non-zeros) or by exact Cholesky solves.
    Kernels are compiled with numba and run in parallel over rows; each row
    is solved in an order fixed by the data alone, so the number of threads
    does not change the results.

    A user not seen in ``fit`` is folded in exactly: one least-squares step on
    the fixed item factors, the same equation the fit solves for its users.

    Parameters
    ----------
    n_components : int, default=64
        Number of latent factors.
    alpha : float, default=1.0
        L2 penalty on the user and item factors (Hu et al.'s lambda), > 0.
    confidence_scale : float, default=10.0
        Scale of the confidence given to observed interactions,
        ``c = 1 + confidence_scale * value`` (Hu et al.'s alpha; named
        differently here because ``alpha`` is the penalty in scikit-learn).
    propensity_power : float, default=0.0
        Propensity weighting against popularity bias (Rel-MF, Saito et al.
        2020 [3]_): an observed interaction with item ``i`` is exposure times
        relevance, the exposure propensity is ``theta_i = (n_i / max_j
        n_j) ** propensity_power`` (``n_i``: training interactions of ``i``,
        clipped below at 0.1, a fixed floor where Saito et al.'s clipped
        variant tunes it), and an observed interaction's squared-error term
        ``c (1 - s)^2`` becomes Rel-MF's ``c (1 - s)^2 / theta_i + (1 - 1 /
        theta_i) s^2``: the unbiased estimate of the loss on relevance (a
        relevant item's optimum is 1 whatever its exposure), which lifts the
        long tail. 0 (the default) is Hu et al.'s model; Saito et al. use
        0.5. Another ``n_ref`` than ``max_j n_j`` with
        ``propensity_reference``.
    %(propensity_reference)s
    max_iter : int, default=15
        Number of sweeps (items then users).
    solver : {"cg", "cholesky"}, default="cg"
        "cg": ``cg_steps`` conjugate-gradient steps per row, warm-started
        from the previous sweep. "cholesky": the exact solution of each row's
        normal equations (slower: cubic in ``n_components`` per row).
    cg_steps : int, default=3
        Conjugate-gradient steps per row and sweep with ``solver="cg"``.
    early_stopping : bool, default=False
        Hold out ``validation_holdout`` of each user's interactions, measure
        NDCG@20 on them after each sweep, stop after ``n_iter_no_change``
        sweeps without improvement and keep the best sweep's factors.
    validation_holdout : float, default=0.1
        Share of each user's interactions held out when ``early_stopping``.
    n_iter_no_change : int, default=3
        Sweeps without improvement of the validation NDCG before stopping.
    tol : float, default=0.0
        Smallest gain of the validation score that resets the patience of
        ``n_iter_no_change`` (the best iteration is kept whatever the gain).
    dtype : {np.float32, np.float64}, default=np.float32
        Dtype of the factors.
    n_jobs : int, default=None
        Threads of the numba kernels; None keeps numba's setting (all
        cores unless ``NUMBA_NUM_THREADS`` says otherwise), -1 all.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial factors (and of the validation split).
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more:
        also a line per sweep (loss, validation NDCG).

    Attributes
    ----------
    item_factors_ : ndarray of shape (n_items, n_components)
        Item factors ``Y``.
    propensity_ : ndarray of shape (n_items,) or None
        The exposure propensities ``theta_i`` of ``propensity_power``
        (None when it is 0).
    user_factors_ : ndarray of shape (n_users, n_components)
        Factors of the training users.
    loss_curve_ : list of float
        Objective (weighted squared error plus penalty) after each sweep.
    validation_scores_ : list of float or None
        Validation NDCG@20 after each sweep when ``early_stopping``.
    best_iteration_ : int
        Sweep whose factors were kept (the last one without early stopping).
    n_iter_ : int
        Sweeps run.
    n_features_in_ : int
        Number of items.

    See Also
    --------
    BPR : Pairwise ranking factorization.
    sklearn_recsys.EASE : Closed-form item-item model.

    References
    ----------
    .. [1] Y. Hu, Y. Koren and C. Volinsky, "Collaborative Filtering for
       Implicit Feedback Datasets", ICDM 2008.
    .. [2] G. Takacs, I. Pilaszy and D. Tikk, "Applications of the conjugate
       gradient method for implicit feedback collaborative filtering",
       RecSys 2011.
    .. [3] Y. Saito, S. Yaginuma, Y. Nishino, H. Sakata and K. Nakata,
       "Unbiased Recommender Learning from Missing-Not-At-Random Implicit
       Feedback", WSDM 2020.

    Examples
    --------
    >>> from sklearn_recsys import ImplicitALS, make_interactions
    >>> X = make_interactions(300, 100, density=0.05, random_state=0)
    >>> model = ImplicitALS(n_components=8, random_state=0).fit(X)
    >>> model.item_factors_.shape
    (100, 8)
    >>> indices, scores = model.recommend(X[:2], k=3)
    >>> indices.shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        **MatrixFactorizationBase._parameter_constraints,
        # 0 would leave the normal equations singular when n_components > n_items
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "confidence_scale": [Interval(Real, 0, None, closed="left")],
        "propensity_power": [Interval(Real, 0, None, closed="left")],
        "propensity_reference": [StrOptions(set(PROPENSITY_REFERENCES))],
        "solver": [StrOptions({"cg", "cholesky"})],
        "cg_steps": [Interval(Integral, 1, None, closed="left")],
    }
    _state_names = ("user_factors_", "item_factors_")

    def __init__(
        self,
        n_components=64,
        *,
        alpha=1.0,
        confidence_scale=10.0,
        propensity_power=0.0,
        propensity_reference="max",
        max_iter=15,
        solver="cg",
        cg_steps=3,
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
        self.confidence_scale = confidence_scale
        self.propensity_power = propensity_power
        self.propensity_reference = propensity_reference
        self.max_iter = max_iter
        self.solver = solver
        self.cg_steps = cg_steps
        self.early_stopping = early_stopping
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _init_fit(self, ctx):
        if self.alpha > _IMPLAUSIBLE_PENALTY:
            warnings.warn(
                f"ImplicitALS(alpha={self.alpha!r}): alpha is the L2 penalty, not the "
                "confidence weight that the implicit library and Hu et al. call alpha. "
                f"For that, pass confidence_scale={self.alpha!r} (and alpha around 0.01-1). "
                "If you meant this strong a penalty, silence this UserWarning.",
                UserWarning)
        rng = ctx.rng
        n_users, n_items = ctx.X_train.shape
        scale = 0.01
        self.user_factors_ = (rng.standard_normal((n_users, self.n_components)) * scale).astype(
            self.dtype
        )
        self.item_factors_ = (rng.standard_normal((n_items, self.n_components)) * scale).astype(
            self.dtype
        )
        self.propensity_ = None
        ctx.pref_users = ctx.pref_items = np.empty(0, dtype=self.dtype)
        if self.propensity_power:
            self.propensity_ = exposure_propensity(ctx.X_train, self.propensity_power,
                                                   self.propensity_reference)
            inverse = (1.0 / self.propensity_).astype(self.dtype)
            # preference of each stored entry, in each sweep's own entry order
            ctx.pref_users = inverse[ctx.X_train.indices]
            ctx.pref_items = np.repeat(inverse, np.diff(ctx.Xt.indptr))

    def _gram(self, Y):
        G = Y.T @ Y
        G[np.diag_indices_from(G)] += self.alpha
        return np.ascontiguousarray(G, dtype=Y.dtype)

    def _solve(self, A, X, Y, pref):
        if self.solver == "cg":
            als_cg_sweep(A.indptr, A.indices, A.data, X, Y, self._gram(Y),
                         float(self.confidence_scale), int(self.cg_steps), pref)
        else:
            als_cholesky_sweep(A.indptr, A.indices, A.data, X, Y, self._gram(Y),
                               float(self.confidence_scale), pref)

    def _preferences(self, X):
        """Preference of each stored entry of user rows ``X`` (empty: all 1)."""
        if getattr(self, "propensity_", None) is None:
            return np.empty(0, dtype=self.item_factors_.dtype)
        return (1.0 / self.propensity_[X.indices]).astype(self.item_factors_.dtype)

    def _iterate(self, ctx):
        X = ctx.X_train
        # items first, users last: the stored user factors are then exactly
        # (cholesky) the fold-in of the training rows on the final items
        self._solve(ctx.Xt, self.item_factors_, self.user_factors_, ctx.pref_items)
        self._solve(X, self.user_factors_, self.item_factors_, ctx.pref_users)
        U, V = self.user_factors_, self.item_factors_
        loss = implicit_loss(X.indptr, X.indices, X.data, U, V, V.T @ V,
                             float(self.confidence_scale), ctx.pref_users)
        return float(loss + self.alpha * ((U * U).sum() + (V * V).sum()))

    def _fold_in(self, X):
        V = self.item_factors_
        X = X.astype(V.dtype, copy=False)
        U = np.zeros((X.shape[0], V.shape[1]), dtype=V.dtype)
        als_cholesky_sweep(X.indptr, X.indices, X.data, U, V, self._item_gram(V),
                           float(self.confidence_scale), self._preferences(X))
        return U

    def explain(self, x_row, item):
        """Exact contribution of each of the user's items to one item's score.

        As in Hu et al. (2008), section 5: with
        :math:`W = (Y^\\top C^u Y + \\alpha I)^{-1}` the score is
        :math:`\\hat p_{ui} = \\sum_j s^u_{ij} c_{uj} p_{uj}` (preference
        :math:`p_{uj} = 1`, or :math:`1 / \\theta_j` with ``propensity_power``,
        which also scales the confidences above 1 by it) with
        :math:`s^u_{ij} = y_i^\\top W y_j`, summed over the user's items ``j``;
        the contributions sum exactly to ``decision_function(x_row)[0, item]``
        for a user with interactions on trained items (one without any gets
        the popularity fallback of ``decision_function`` and no contributions;
        one whose items all had no training interactions gets that fallback
        too, and its items come back with contributions of 0). They are
        computed in float64; the served score of a float32 model comes from a
        float32 solve of the same system, so the sum matches it up to that
        solve's rounding (about the system's condition number times float32's
        epsilon: within 1e-4 relative on MovieLens, up to 5e-3 for Last.fm's
        heaviest listeners at ``confidence_scale=40``), and to 1e-12 with
        ``dtype=np.float64``.

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
            ``c_uj * p_uj * y_item^T W y_j`` for each of them.
        """
        x, item = self._validate_explain(x_row, item)
        preference = (None if getattr(self, "propensity_", None) is None
                      else 1.0 / self.propensity_[x.indices])
        return fold_in_contributions(self.item_factors_, x, self.item_factors_[item],
                                     self.alpha, self.confidence_scale, preference=preference)


ImplicitALS.__doc__ = ImplicitALS.__doc__.replace(
    "    %(propensity_reference)s\n", PROPENSITY_REFERENCE_DOC)
