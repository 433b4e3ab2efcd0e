"""HybridMF: implicit ALS whose factors are regressed on user and item side features."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _get_feature_names, check_array

from ..base import rows_without_known_items
from ..utils._solvers import (
    UNWEIGHTED_PRIOR,
    als_cg_sweep,
    fold_in_contributions,
    implicit_loss,
    prior_cg_sweep,
    prior_ls_sweep,
)
from ..utils._validation import (
    _float_before_summing,
    check_column_order,
    check_k,
    check_row_order,
)
from ._base import MatrixFactorizationBase

__all__ = ["HybridMF"]

# above this many features (and rows), the feature regression is solved by
# conjugate gradient instead of one Cholesky factorisation per fit
_EXACT_RIDGE_MAX = 4096


def check_side_features(features, n_rows, name, what):
    """Validated side features: float64 CSR ``(n_rows, n_features)`` with finite values.

    Parameters
    ----------
    features : {array-like, sparse matrix}
    n_rows : int
        Rows expected: one per item (``item_features``) or per user row of
        ``X`` (``user_features``).
    name : str
        The argument's name, for the error messages.
    what : str
        What a row is ("item (column of X)" or "user (row of X)").
    """
    # duplicates of a COO or boolean matrix summed as X's are (not in uint8, not as 1 + 1)
    F = check_array(_float_before_summing(features, (np.float64,)), accept_sparse="csr",
                    dtype=np.float64, input_name=name,
                    ensure_min_features=1, ensure_min_samples=0)
    F = sp.csr_matrix(F)
    if F.shape[0] != n_rows:
        raise ValueError(
            f"{name} has {F.shape[0]} rows but X has {n_rows}: pass one row of features "
            f"per {what}, in the same order.")
    return F


def _feature_names(features):
    """String column names of a DataFrame, else None (mixed types too, as before)."""
    try:
        return _get_feature_names(features)
    except TypeError:  # names of str and int mixed: scikit-learn refuses them for X
        return None


def check_feature_names(fitted, features, name, estimator):
    """Refuse side features whose column names are not those of ``fit``, in order.

    Side features are read by position, so the same columns in another order
    would give each feature the others' weights, silently. Names are
    compared as scikit-learn compares ``X``'s (where both have string column
    names); a warning says when fit had names and these features have none.
    Names given to a model fitted without them are not warned of: the
    encoder's ``recommend`` needs a DataFrame (indexed by user id) whatever
    fit had.

    Parameters
    ----------
    fitted : ndarray of str or None
        The names seen in ``fit`` (None without).
    features : {array-like, sparse matrix}
        The features given now.
    name : str
        The argument's name, for the messages.
    estimator : str
        The model's class name, for the messages.
    """
    if fitted is None:
        return
    given = _feature_names(features)
    if given is None:
        warnings.warn(f"{name} has no column names, but {estimator} was fitted with named "
                      f"{name}: they are read by position, in fit's order.", UserWarning)
        return
    if len(given) != len(fitted):
        return  # the count check says what is wrong
    differ = np.flatnonzero(given != fitted)
    if differ.size:
        i = differ[0]
        raise ValueError(
            f"The columns of {name} are not those of fit, in their order: column {i} is "
            f"{given[i]!r}, in fit it was {fitted[i]!r}. Select them in fit's order "
            f"({name}[model.{name[:-1]}_names_in_]).")


def _with_intercept(F):
    """``[F, 1]``: a constant feature, so the regression has an intercept."""
    return sp.hstack([F, np.ones((F.shape[0], 1))], format="csr")


def _finite_factors(factors, dtype, name):
    """``factors`` in ``dtype``; ValueError naming the features if a value overflows it."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(factors, dtype=dtype)
    if not np.isfinite(out).all():
        raise ValueError(
            f"The factors predicted from {name} overflow {np.dtype(dtype).name} (the "
            f"largest is {np.max(np.abs(factors)):.3g} in absolute value): "
            f"scale {name} as in fit (e.g. StandardScaler fitted on the training users' or "
            "items' features).")
    return out


class _Ridge:
    """``W = argmin ||Y - F W||^2 + reg ||W||^2`` for a fixed ``F``, refitted every sweep.

    With few features or rows, ``F^T F + reg I`` (or ``F F^T + reg I``, the
    dual) is factorised once per fit; beyond ``_EXACT_RIDGE_MAX`` of both,
    each refit runs warm-started conjugate-gradient steps.
    """

    def __init__(self, F, reg, cg_steps=10):
        self.F, self.reg, self.cg_steps = F, reg, cg_steps
        n, d = F.shape
        self.dual = n < d
        if min(n, d) <= _EXACT_RIDGE_MAX:
            A = (F @ F.T if self.dual else F.T @ F).toarray()
            A[np.diag_indices_from(A)] += reg
            self.chol = np.linalg.cholesky(A)
        else:
            self.chol = None
        self.W = None

    def _solve_chol(self, B):
        from scipy.linalg import solve_triangular

        z = solve_triangular(self.chol, B, lower=True)
        return solve_triangular(self.chol.T, z, lower=False)

    def fit(self, Y):
        F = self.F
        Y = np.asarray(Y, dtype=np.float64)
        if self.chol is not None:
            self.W = (F.T @ self._solve_chol(Y)) if self.dual else self._solve_chol(F.T @ Y)
            return self.W
        W = np.zeros((F.shape[1], Y.shape[1])) if self.W is None else self.W
        # conjugate gradient on each column of (F^T F + reg I) W = F^T Y
        R = F.T @ Y - (F.T @ (F @ W) + self.reg * W)
        P, rs = R.copy(), (R * R).sum(axis=0)
        for _ in range(self.cg_steps):
            AP = F.T @ (F @ P) + self.reg * P
            step = rs / np.maximum((P * AP).sum(axis=0), 1e-300)
            W = W + step * P
            R = R - step * AP
            rs_new = (R * R).sum(axis=0)
            P = R + (rs_new / np.maximum(rs, 1e-300)) * P
            rs = rs_new
        self.W = W
        return W


class HybridMF(MatrixFactorizationBase):
    """Implicit-feedback factorization with user and item side features.

    Implicit ALS (Hu, Koren & Volinsky 2008) in which each factor vector has
    a Gaussian prior centred on a linear map of its side features, the
    regression-based latent factor model of Agarwal & Chen (2009):

    .. math::

        \\sum_{u,i} c_{ui} (p_{ui} - x_u^\\top y_i)^2
        + \\alpha \\sum_i \\|y_i - W^\\top f_i\\|^2
        + \\alpha \\sum_u \\|x_u - D^\\top g_u\\|^2
        + \\alpha\\,\\text{alpha_features} (\\|W\\|^2 + \\|D\\|^2),

    the first sum over the items with interactions in ``fit`` (below), with
    item features :math:`f_i`, user features :math:`g_u` (both with a
    constant feature appended), preference :math:`p_{ui} = 1` on the
    interactions and confidence :math:`c_{ui} = 1 + \\text{confidence_scale}
    \\cdot r_{ui}` (1 elsewhere). Each sweep solves the items given the users
    (least squares pulled towards :math:`W^\\top f_i`), refits the ridge
    regression :math:`W` of the item factors on the item features, then the
    same for the users.

    Features matter most where interactions are few. An item without
    interactions in ``fit`` (a new item) takes :math:`W^\\top f_i` as its
    factors, so it is scored and recommended from its features alone, and it
    is not counted as a negative of every user; likewise a user row without
    interactions scored with ``user_features`` gets :math:`D^\\top g_u`.
    Without side features the model is :class:`ImplicitALS`.

    **Where the features go.** Item features describe columns, so they are a
    constructor parameter (one row per item of ``X``), which
    :class:`~sklearn.model_selection.GridSearchCV` never slices. User
    features describe rows, so they travel with the users' rows as a
    row-aligned argument of :meth:`fit`, :meth:`decision_function`,
    :meth:`recommend`, :meth:`transform` and the package's scorers; model
    selection tools slice them with the rows through scikit-learn's metadata
    routing (``set_fit_request(user_features=True)`` on the model and
    ``set_score_request(user_features=True)`` on the scorer; see
    :ref:`side-features`). A user scored without features gets the plain
    ALS fold-in (prior mean 0).

    Parameters
    ----------
    n_components : int, default=64
        Number of latent factors.
    item_features : {array-like, sparse matrix}, default=None
        Side features of every item (column of ``X``), shape ``(n_items,
        n_item_features)``, e.g. one-hot genres or tag counts; None for none.
    alpha : float, default=1.0
        Strength of the factors' priors (the L2 penalty of ALS around the
        features' prediction), > 0.
    alpha_features : float, default=1.0
        Ridge penalty of the feature maps ``W`` and ``D``, relative to
        ``alpha``.
    confidence_scale : float, default=10.0
        ``c = 1 + confidence_scale * value`` on the interactions.
    max_iter : int, default=15
        Sweeps.
    cg_steps : int, default=3
        Conjugate-gradient steps per row and sweep.
    early_stopping : bool, default=False
        Hold out ``validation_holdout`` of each user's interactions, watch
        NDCG@20 on them and keep the best sweep.
    validation_holdout : float, default=0.1
        Share of each user's interactions held out when ``early_stopping``.
    n_iter_no_change : int, default=3
        Patience, in sweeps.
    tol : float, default=0.0
        Smallest gain of the validation score that resets the patience.
    dtype : {np.float32, np.float64}, default=np.float32
        Dtype of the factors.
    n_jobs : int, default=None
        Threads of the numba kernels; None keeps numba's setting, -1 all.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial factors (and of the validation split).
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more: also a line per sweep.

    Attributes
    ----------
    item_factors_ : ndarray of shape (n_items, n_components)
    user_factors_ : ndarray of shape (n_users, n_components)
        Factors of the training users.
    item_feature_weights_ : ndarray of shape (n_item_features + 1, n_components) or None
        ``W`` (the last row is the intercept); None without item features.
    user_feature_weights_ : ndarray of shape (n_user_features + 1, n_components) or None
        ``D``; None when ``fit`` had no ``user_features``.
    cold_items_ : ndarray of int
        Items without interactions in ``fit``'s training part (with
        ``early_stopping``, an item whose only interactions were held out for
        validation is one); their factors are ``W^T f_i``.
    n_user_features_in_ : int
        Number of user features seen in ``fit`` (0 without).
    user_feature_names_in_ : ndarray of shape (n_user_features,)
        Column names of ``fit``'s ``user_features``; defined only when they
        were all strings (a DataFrame's). Features given later must have
        them, in this order, or no names (read by position, with a warning).
    item_feature_names_in_ : ndarray of shape (n_item_features,)
        The same for ``item_features``, checked by
        :meth:`item_factors_from_features`.
    loss_curve_ : list of float
        Objective after each sweep: ImplicitALS's weighted squared error plus
        ``alpha`` times the factors' squared distances to their features'
        prediction (their norms without features), plus ``alpha *
        alpha_features`` times the feature maps' squared norms.
    validation_scores_ : list of float or None
        Validation NDCG@20 after each sweep when ``early_stopping``.
    best_iteration_ : int
        Sweep whose factors were kept (the last one without early stopping).
    n_iter_ : int
    n_features_in_ : int
        Number of items.

    See Also
    --------
    ImplicitALS : The same model without side features.
    sklearn_recsys.ConvMF : Item factors pulled towards a text CNN.

    References
    ----------
    .. [1] D. Agarwal and B.-C. Chen, "Regression-based Latent Factor
       Models", KDD 2009.
    .. [2] Y. Hu, Y. Koren and C. Volinsky, "Collaborative Filtering for
       Implicit Feedback Datasets", ICDM 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import HybridMF, make_interactions
    >>> X = make_interactions(200, 60, density=0.1, random_state=0)
    >>> genres = np.random.RandomState(0).randint(0, 2, size=(60, 5))
    >>> model = HybridMF(n_components=8, item_features=genres, random_state=0).fit(X)
    >>> model.item_feature_weights_.shape
    (6, 8)
    >>> ages = np.random.RandomState(1).rand(200, 1)
    >>> model = HybridMF(n_components=8, random_state=0).fit(X, user_features=ages)
    >>> model.recommend(X[:2], k=3, user_features=ages[:2])[0].shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        **MatrixFactorizationBase._parameter_constraints,
        "item_features": ["array-like", "sparse matrix", None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "alpha_features": [Interval(Real, 0, None, closed="neither")],
        "confidence_scale": [Interval(Real, 0, None, closed="left")],
        "cg_steps": [Interval(Integral, 1, None, closed="left")],
    }
    _state_names = ("user_factors_", "item_factors_", "item_feature_weights_",
                    "user_feature_weights_")

    # the features are mapped by fit (the fitted map): None slims a fitted model
    _params_only_read_by_fit = frozenset({"item_features"})

    def __init__(
        self,
        n_components=64,
        *,
        item_features=None,
        alpha=1.0,
        alpha_features=1.0,
        confidence_scale=10.0,
        max_iter=15,
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
        self.item_features = item_features
        self.alpha = alpha
        self.alpha_features = alpha_features
        self.confidence_scale = confidence_scale
        self.max_iter = max_iter
        self.cg_steps = cg_steps
        self.early_stopping = early_stopping
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # -- fit ----------------------------------------------------------------

    def fit(self, X, y=None, X_val=None, *, user_features=None):
        """Fit the factors and the feature maps.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions (0 = none).
        y : None
            Ignored.
        X_val : sparse matrix of shape (n_users, n_items), default=None
            Held-out interactions of the same users, as in
            :meth:`ImplicitALS.fit`.
        user_features : {array-like, sparse matrix}, default=None
            Side features of the users (rows of ``X``, in their order), shape
            ``(n_users, n_user_features)``.

        Returns
        -------
        self : object
            Fitted model.
        """
        return self._fit_checked(X, X_val, user_features=user_features)

    def fit_transform(self, X, y=None, X_val=None, *, user_features=None):
        """Fit, then return the user factors of ``X`` folded in with ``user_features``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions (0 = none).
        y : None
            Ignored.
        X_val : sparse matrix of shape (n_users, n_items), default=None
            Held-out interactions of the same users, as in :meth:`fit`.
        user_features : {array-like, sparse matrix}, default=None
            Side features of the users, given to both :meth:`fit` and
            :meth:`transform` (scikit-learn's default ``fit_transform`` would
            pass them to ``fit`` only).

        Returns
        -------
        user_factors : ndarray of shape (n_users, n_components)
        """
        return self.fit(X, y, X_val, user_features=user_features).transform(
            X, user_features=user_features)

    def _check_fit_data(self, X, user_features=None):
        names = None
        if user_features is not None:
            check_row_order(user_features, "user_features")
            names = _feature_names(user_features)
            user_features = check_side_features(user_features, X.shape[0], "user_features",
                                                "user (row of X)")
        return {"user_features": user_features, "user_feature_names": names}

    def _init_fit(self, ctx):
        rng = ctx.rng
        n_users, n_items = ctx.X_train.shape
        k, dtype = self.n_components, self.dtype
        self.user_factors_ = (rng.standard_normal((n_users, k)) * 0.01).astype(dtype)
        self.item_factors_ = (rng.standard_normal((n_items, k)) * 0.01).astype(dtype)
        self.cold_items_ = np.flatnonzero(np.diff(ctx.Xt.indptr) == 0)
        ctx.warm_items = np.diff(ctx.Xt.indptr) > 0
        ctx.warm_users = np.diff(ctx.X_train.indptr) > 0
        ctx.item_ridge = ctx.user_ridge = None
        self.item_feature_weights_ = self.user_feature_weights_ = None
        item_names = None
        if self.item_features is not None:
            check_column_order(self.item_features, "item_features")
            item_names = _feature_names(self.item_features)
            F = _with_intercept(check_side_features(
                self.item_features, n_items, "item_features", "item (column of X)"))
            ctx.F_items = F
            ctx.item_ridge = _Ridge(F[ctx.warm_items], self.alpha_features)
            self.item_feature_weights_ = np.zeros((F.shape[1], k), dtype=dtype)
        G = ctx.fit_data["user_features"]
        self.n_user_features_in_ = 0 if G is None else G.shape[1]
        # present only where fit's features had string column names, as feature_names_in_
        for attribute, names in (("item_feature_names_in_", item_names),
                                 ("user_feature_names_in_", ctx.fit_data["user_feature_names"])):
            if names is not None:
                setattr(self, attribute, names)
            elif hasattr(self, attribute):
                delattr(self, attribute)
        if G is not None:
            # the validation split holds out interactions, never rows: G stays aligned
            G = _with_intercept(G)
            ctx.G_users = G
            ctx.user_ridge = _Ridge(G[ctx.warm_users], self.alpha_features)
            self.user_feature_weights_ = np.zeros((G.shape[1], k), dtype=dtype)

    def _gram(self, Y):
        G = Y.T @ Y
        G[np.diag_indices_from(G)] += self.alpha
        return np.ascontiguousarray(G, dtype=Y.dtype)

    def _item_factors_for_users(self):
        """Item factors with the new items zeroed: new is not disliked."""
        V = self.item_factors_
        if len(self.cold_items_):
            V = V.copy()
            V[self.cold_items_] = 0
        return V

    def _side(self, A, X, Y, ridge, features, warm, weights_name, iteration):
        """One sweep of one side: rows of ``X`` pulled to the features' prediction, then the map."""
        scale, steps = float(self.confidence_scale), int(self.cg_steps)
        no_pref = np.empty(0, dtype=X.dtype)
        if ridge is None:
            als_cg_sweep(A.indptr, A.indices, A.data, X, Y, self._gram(Y), scale, steps, no_pref)
            return
        prior = np.ascontiguousarray(features @ getattr(self, weights_name), dtype=X.dtype)
        prior_cg_sweep(A.indptr, A.indices, A.data, X, Y, self._gram(Y), prior,
                       float(self.alpha), scale, False, steps, UNWEIGHTED_PRIOR)
        # the map's solver refuses non-finite factors with SciPy's message: the
        # engine's names the fix (and a float32 fit is redone in float64)
        if not np.isfinite(X).all():
            self._raise_diverged(f"the {weights_name.split('_')[0]} factors hold non-finite "
                                 "values", iteration)
        W = ridge.fit(X[warm]).astype(X.dtype)
        setattr(self, weights_name, W)
        # rows without interactions are their features' prediction, under the new map
        X[~warm] = features[~warm] @ W

    def _iterate(self, ctx):
        X = ctx.X_train
        self._side(ctx.Xt, self.item_factors_, self.user_factors_, ctx.item_ridge,
                   getattr(ctx, "F_items", None), ctx.warm_items, "item_feature_weights_",
                   ctx.iteration)
        V = self._item_factors_for_users()
        self._side(X, self.user_factors_, V, ctx.user_ridge, getattr(ctx, "G_users", None),
                   ctx.warm_users, "user_feature_weights_", ctx.iteration)
        U = self.user_factors_
        loss = implicit_loss(X.indptr, X.indices, X.data, U, V, V.T @ V,
                             float(self.confidence_scale), np.empty(0, dtype=V.dtype))
        # the priors' penalties: distance to the features' prediction, and the maps' ridge
        penalty = 0.0
        for factors, features, weights in (
                (self.item_factors_, getattr(ctx, "F_items", None), self.item_feature_weights_),
                (U, getattr(ctx, "G_users", None), self.user_feature_weights_)):
            if weights is None:
                penalty += float((factors.astype(np.float64) ** 2).sum())
                continue
            deviation = factors - features @ weights
            penalty += float((deviation.astype(np.float64) ** 2).sum())
            penalty += self.alpha_features * float((weights.astype(np.float64) ** 2).sum())
        return float(loss + self.alpha * penalty)

    # -- scoring ------------------------------------------------------------

    def _user_prior(self, X, user_features):
        k = self.item_factors_.shape[1]
        if user_features is None or self.user_feature_weights_ is None:
            return np.zeros((X.shape[0], k), dtype=self.item_factors_.dtype)
        return _finite_factors(_with_intercept(user_features) @ self.user_feature_weights_,
                               self.item_factors_.dtype, "user_features")

    def _fold_in(self, X, user_features=None):
        # the copy without the new items, like its Gram, once per scoring call
        V = self._memoized("for_users", self.item_factors_,
                           lambda _: self._item_factors_for_users())
        X = X.astype(V.dtype, copy=False)
        U = np.zeros((X.shape[0], V.shape[1]), dtype=V.dtype)
        prior = self._user_prior(X, user_features)
        prior_ls_sweep(X.indptr, X.indices, X.data, U, V, self._item_gram(V), prior,
                       float(self.alpha), float(self.confidence_scale), False, UNWEIGHTED_PRIOR)
        # a row without interactions on known items is a new user, as in fit: its
        # features' prediction, not that prediction shrunk by every item as a negative
        known = np.ones(X.shape[1], dtype=bool)
        known[self.cold_items_] = False
        new = rows_without_known_items(X, known)
        U[new] = prior[new]
        return U

    def _score_batch(self, X, user_features=None):
        return self._fold_in(X, user_features) @ self.item_factors_.T

    def _check_user_features(self, X, user_features):
        if user_features is None:
            return None
        if self.user_feature_weights_ is None:
            raise ValueError(
                "user_features were given, but this HybridMF was fitted without them: pass "
                "user_features to fit as well (or leave them out here).")
        check_row_order(user_features, "user_features")
        G = check_side_features(user_features, X.shape[0], "user_features", "user (row of X)")
        check_feature_names(getattr(self, "user_feature_names_in_", None), user_features,
                            "user_features", type(self).__name__)
        if G.shape[1] != self.n_user_features_in_:
            raise ValueError(
                f"user_features has {G.shape[1]} columns but fit had "
                f"{self.n_user_features_in_}: pass the same features, in the same order.")
        return G

    def decision_function(self, X, *, user_features=None):
        """Relevance score of every item for every user.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history of the users to score.
        user_features : {array-like, sparse matrix}, default=None
            Side features of these users (rows of ``X``), shape ``(n_users,
            n_user_features)``, when ``fit`` had them.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
        """
        X = self._validate_for_scoring(X)
        return self._all_scores(X, user_features=self._check_user_features(X, user_features))

    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None,
                  user_features=None):
        """Top-``k`` items for each user, best first.

        As :meth:`ImplicitALS.recommend`, with the users' side features.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history of the users; row ``u`` is user ``u``.
        k : int, default=10
            Number of items to return per user (``min(k, n_items)`` columns;
            lists with fewer candidates left are padded).
        exclude_seen : bool, default=True
            Never return an item the user has interacted with.
        exclude : {array-like, sparse matrix} of shape (n_users, n_items), default=None
            Further items never to return: the non-zeros of row ``u`` for
            user ``u``.
        candidates : array-like of int, default=None
            Item indices to choose from; ``None`` means the whole catalogue.
        user_features : {array-like, sparse matrix}, default=None
            Side features of these users, when ``fit`` had them.

        Returns
        -------
        indices : ndarray of shape (n_users, min(k, n_items)), dtype int64
            Recommended item indices, best first, padded with ``-1``.
        scores : ndarray of shape (n_users, min(k, n_items))
            Their scores, padded with ``-inf``.
        """
        check_k(k)
        X = self._validate_for_scoring(X)
        return self._top_k(X, k, exclude_seen, exclude, candidates,
                           user_features=self._check_user_features(X, user_features))

    def transform(self, X, *, user_features=None):
        """User factors of any users, folded in with their side features.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
        user_features : {array-like, sparse matrix}, default=None
            Side features of these users, when ``fit`` had them.

        Returns
        -------
        user_factors : ndarray of shape (n_users, n_components)
        """
        X = self._validate_for_scoring(X)
        return self._fold_in_all(X, user_features=self._check_user_features(X, user_features))

    def item_factors_from_features(self, item_features):
        """Factors of any items from their side features alone: ``W^T f``.

        Parameters
        ----------
        item_features : {array-like, sparse matrix} of shape (n_new_items, n_item_features)

        Returns
        -------
        factors : ndarray of shape (n_new_items, n_components)
        """
        self._check_fitted()
        if self.item_feature_weights_ is None:
            raise ValueError("This HybridMF was fitted without item_features: set "
                             "item_features=... before fit to score items from features.")
        n = item_features.shape[0] if hasattr(item_features, "shape") else len(item_features)
        F = check_side_features(item_features, n, "item_features", "new item")
        check_feature_names(getattr(self, "item_feature_names_in_", None), item_features,
                            "item_features", type(self).__name__)
        if F.shape[1] != self.item_feature_weights_.shape[0] - 1:
            raise ValueError(
                f"item_features has {F.shape[1]} columns but fit had "
                f"{self.item_feature_weights_.shape[0] - 1}: pass the same features.")
        return _finite_factors(_with_intercept(F) @ self.item_feature_weights_,
                               self.item_factors_.dtype, "item_features")

    def explain(self, x_row, item):
        """Exact contribution of each of the user's items to one item's score.

        The fold-in is ImplicitALS's with the new items left out, so the score
        decomposes as in :meth:`ImplicitALS.explain`: item ``j`` contributes
        ``c_uj y_item^T W y_j`` with ``W = (Y^T C^u Y + alpha I)^{-1}``. The
        contributions sum to ``decision_function(x_row)[0, item]`` (scored
        without user features; with them, their prior adds
        ``alpha y_item^T W D^T g_u``, the part of the score the features explain,
        and is all of ``y_item^T D^T g_u`` for a user without interactions on
        known items).

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
        """
        x, item = self._validate_explain(x_row, item)
        # the fold-in solves against the warm items; the explained item keeps
        # its own factors (W^T f for a new item)
        return fold_in_contributions(self._item_factors_for_users(), x,
                                     self.item_factors_[item], self.alpha, self.confidence_scale)

    def _needs_interactions_for_similarity(self):
        # fitted with item features, a new item has factors from its features (the
        # fitted map, not the parameter, which set_params may have changed since)
        return self.item_feature_weights_ is None
