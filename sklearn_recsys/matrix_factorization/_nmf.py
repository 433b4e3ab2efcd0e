"""NMF: non-negative matrix factorization of ratings (observed entries) or of implicit feedback."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import randomized_svd

from ..base import RatingPredictionMixin
from ..utils._topk import iter_row_batches, row_batch_size
from ..utils._validation import check_rating_values, rating_range
from ._base import MatrixFactorizationBase
from ._nmf_kernels import nmf_dense_steps, nmf_observed_sweep, stored_entry_predictions

__all__ = ["NMF"]

# below this many rows the implicit updates run in a numba kernel: NumPy's calls cost more
# than their arithmetic (one row's 50 fold-in steps at 64 factors: 0.1 ms in the kernel,
# 0.5 ms in NumPy; the two meet between 6 and 10 rows on 2 cores)
FEW_ROWS = 8


def _nndsvd(X, n_components, fill, random_state):
    """Non-negative starting factors from the leading singular triplets of ``X``.

    NNDSVD (Boutsidis & Gallopoulos 2008): the first triplet gives its absolute
    values; each later one ``(u, s, v)`` its positive parts or its negative
    parts, whichever pair spans more of ``s``, scaled to keep that share.
    Zeros become ``fill`` ("NNDSVDa"), so that multiplicative updates, which
    never move a 0, can use every entry.
    """
    U, S, Vt = randomized_svd(X, n_components, random_state=random_state)
    W = np.empty((X.shape[0], n_components))
    H = np.empty((X.shape[1], n_components))
    W[:, 0] = np.sqrt(S[0]) * np.abs(U[:, 0])
    H[:, 0] = np.sqrt(S[0]) * np.abs(Vt[0])
    for j in range(1, n_components):
        u, v = U[:, j], Vt[j]
        best = None
        for a, b in ((np.maximum(u, 0), np.maximum(v, 0)), (np.maximum(-u, 0), np.maximum(-v, 0))):
            na, nb = np.linalg.norm(a), np.linalg.norm(b)
            if best is None or na * nb > best[0]:
                best = (na * nb, a, b, na, nb)
        share, a, b, na, nb = best
        if share == 0:  # both parts empty on one side: no direction to keep
            W[:, j] = H[:, j] = 0.0
            continue
        scale = np.sqrt(S[j] * share)
        W[:, j] = scale * a / na
        H[:, j] = scale * b / nb
    W[W == 0] = fill
    H[H == 0] = fill
    return W, H


class NMF(RatingPredictionMixin, MatrixFactorizationBase):
    """Non-negative matrix factorization for recommendation, by multiplicative updates.

    Learns non-negative user factors ``W`` and item factors ``H`` with
    :math:`\\hat r_{ui} = w_u^\\top h_i`. Non-negativity makes each factor an
    additive "part" of a user's taste, interpretable as in Lee & Seung
    (1999). Two losses, chosen by ``feedback``:

    * ``feedback="explicit"`` (explicit ratings): squared error over the
      observed entries only, a 0 in ``X`` is an unknown rating, with
      penalties proportional to each user's and item's number of ratings
      (Zhang, Wang, Ford & Makedon 2006; the NMF of the Surprise library);
      :meth:`predict_ratings` predicts unknown ratings.
    * ``feedback="implicit"`` (implicit feedback): plain NMF of the whole matrix,
      zeros included, the Frobenius loss of Lee & Seung (2001) with an L2
      penalty; the non-zeros are ranked against zeros, as with
      :class:`sklearn.decomposition.NMF`, but with sparse input kept sparse
      (the zeros enter through ``H^T H`` only).

    The factors start from the leading singular vectors of ``X`` (NNDSVDa,
    Boutsidis & Gallopoulos 2008, scikit-learn's default) or at random,
    by ``init``. Each sweep applies ``inner_steps`` multiplicative updates to
    every item, then to every user (ratings: in parallel, numba; implicit
    feedback: dense products of a block of rows at once, BLAS). A user's factors for
    scoring are folded in by ``fold_in_iter`` multiplicative updates of their
    row from a fixed positive start with ``H`` fixed, so they depend only on
    the row.

    Parameters
    ----------
    n_components : int, default=30
        Number of latent factors.
    alpha : float, default=0.1
        L2 penalty (per rating with ``feedback="explicit"``).
    feedback : {"explicit", "implicit"}, default="explicit"
        Whether zeros of ``X`` are unknown ratings or data.
    max_iter : int, default=100
        Number of sweeps.
    inner_steps : int, default=1
        Multiplicative updates of one side per sweep.
    fold_in_iter : int, default=50
        Multiplicative updates of a scored user's factors. Settable after
        ``fit``.
    init : {"auto", "nndsvda", "random"}, default="auto"
        Starting factors. "nndsvda": from the ``n_components`` leading
        singular triplets of ``X`` (zeros as values), their zero entries set
        to the mean of ``X``; "random": uniform around the scale of the
        data's mean. "auto": "nndsvda" with ``feedback="implicit"`` (on
        Last.fm 2K it closes most of the gap to scikit-learn's NMF that
        "random" leaves; see the benchmarks), "random" with
        ``feedback="explicit"``, whose zeros are unknown ratings, not values.
        "nndsvda" needs ``n_components <= min(n_users, n_items)``; "auto"
        falls back to "random" otherwise.
    early_stopping : bool, default=False
        Hold out ``validation_holdout`` of each user's interactions and stop
        when their NDCG@20 has not improved for ``n_iter_no_change`` sweeps.
    validation_holdout : float, default=0.1
        Share held out when ``early_stopping``.
    n_iter_no_change : int, default=5
        Sweeps without improvement before stopping.
    tol : float, default=0.0
        Smallest gain of the validation score that resets the patience of
        ``n_iter_no_change`` (the best iteration is kept whatever the gain).
    dtype : {np.float32, np.float64}, default=np.float32
        Dtype of the factors.
    n_jobs : int, default=None
        Threads of the numba kernels (the updates of fit and fold-in with
        ``feedback="explicit"``); None keeps numba's setting, -1 all. With
        ``feedback="implicit"`` the updates run on BLAS's threads.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial factors.
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more: also a line per sweep.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, n_components)
        Non-negative factors ``W`` of the training users.
    fold_in_start_ : float
        Every factor of a folded-in user starts at this value (products at
        the scale of the data's mean).
    item_factors_ : ndarray of shape (n_items, n_components)
        Non-negative item factors ``H^T``. With ``feedback="explicit"`` an
        item without training ratings gets the mean of the others (its
        rating is unknown, not 0: a user's typical rating is predicted).
    typical_user_factors_ : ndarray of shape (n_components,) or None
        With ``feedback="explicit"``: the mean factors of the training users,
        given to a scored user without any rating (None otherwise).
    rating_range_ : tuple of float
        Smallest and largest value given to ``fit`` (validation hold-outs
        included); :meth:`predict_ratings` clips to it.
    loss_curve_ : list of float
        The objective (half the squared error plus half the penalty) after
        each sweep.
    validation_scores_ : list of float or None
        Validation NDCG@20 after each sweep when ``early_stopping``.
    best_iteration_ : int
        Sweep whose factors were kept (the last one without early stopping).
    n_iter_ : int
    n_features_in_ : int

    References
    ----------
    .. [1] D. D. Lee and H. S. Seung, "Algorithms for Non-negative Matrix
       Factorization", NIPS 2001.
    .. [2] S. Zhang, W. Wang, J. Ford and F. Makedon, "Learning from
       Incomplete Ratings Using Non-negative Matrix Factorization", SDM 2006.
    .. [3] C. Boutsidis and E. Gallopoulos, "SVD based initialization: A head
       start for nonnegative matrix factorization", Pattern Recognition 41(4),
       2008.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import NMF
    >>> X = np.array([[5., 4., 0., 1.], [4., 5., 1., 0.], [1., 0., 5., 4.]])
    >>> model = NMF(n_components=2, random_state=0).fit(X)
    >>> bool((model.item_factors_ >= 0).all())
    True
    >>> model.predict_ratings(X, items=[2, 3]).shape
    (3, 2)
    """

    @property
    def _ranks_users_without_history(self):
        # explicit: the predicted ratings of a user without any (biases)
        return self.feedback == "explicit"

    _parameter_constraints: dict = {
        **MatrixFactorizationBase._parameter_constraints,
        "feedback": [StrOptions({"explicit", "implicit"})],
        "inner_steps": [Interval(Integral, 1, None, closed="left")],
        "fold_in_iter": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"auto", "nndsvda", "random"})],
    }
    _state_names = ("user_factors_", "item_factors_")

    # the fold-in's budget of steps, read at scoring
    _params_settable_after_fit = frozenset({"fold_in_iter"})

    def __init__(
        self,
        n_components=30,
        *,
        alpha=0.1,
        feedback="explicit",
        max_iter=100,
        inner_steps=1,
        fold_in_iter=50,
        init="auto",
        early_stopping=False,
        validation_holdout=0.1,
        n_iter_no_change=5,
        tol=0.0,
        dtype=np.float32,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.feedback = feedback
        self.max_iter = max_iter
        self.inner_steps = inner_steps
        self.fold_in_iter = fold_in_iter
        self.init = init
        self.early_stopping = early_stopping
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _start(self, X):
        # factors whose products start at the scale of the data's mean
        mean = float(X.data.mean()) if X.nnz else 1.0
        if self.feedback == "implicit":
            mean *= X.nnz / max(1, X.shape[0] * X.shape[1])
        return np.sqrt(max(mean, 1e-12) / self.n_components)

    def _init_fit(self, ctx):
        X, rng = ctx.X_train, ctx.rng
        n_users, n_items = X.shape
        if self.feedback == "explicit":
            check_rating_values(self, ctx.X)
        k, s = self.n_components, self._start(X)
        self.fold_in_start_ = s
        self.rating_range_ = rating_range(ctx.X)
        fits_svd = k <= min(n_users, n_items)
        if self.init == "nndsvda" and not fits_svd:
            raise ValueError(
                f"init='nndsvda' takes n_components={k} singular vectors of X, which has "
                f"only {min(n_users, n_items)} (shape {X.shape}). Use n_components <= "
                f"{min(n_users, n_items)} or init='random'.")
        if self.init == "nndsvda" or (self.init == "auto" and self.feedback == "implicit"
                                      and fits_svd):
            X64 = X.astype(np.float64)
            W, H = _nndsvd(X64, k, float(X64.sum()) / (n_users * n_items), rng)
            self.user_factors_, self.item_factors_ = W.astype(self.dtype), H.astype(self.dtype)
            return
        self.user_factors_ = (s * rng.uniform(0.5, 1.5, (n_users, k))).astype(self.dtype)
        self.item_factors_ = (s * rng.uniform(0.5, 1.5, (n_items, k))).astype(self.dtype)

    @staticmethod
    def _factor_gram(H):
        # in float64: a float32 product of large factors overflows before the cast
        H = np.asarray(H, dtype=np.float64)
        return H.T @ H

    def _update(self, A, W, H, n_steps, HtH=None):
        """``n_steps`` multiplicative updates of every row of ``W`` in place, ``H`` fixed.

        Returns ``sum(W * (A @ H))`` after the updates with ``feedback="implicit"`` (the
        cross term of the recorded loss), None with ``"explicit"``.
        """
        # an update below the smallest normal float is stored as 0: multiplicative updates
        # drive many factors towards 0, and subnormal floats take the processor's slow path
        # in every later product (Last.fm 2K: 13-17% of the factors after 300 sweeps, each
        # sweep several times slower). A NaN is kept, for the engine's divergence check.
        smallest = float(np.finfo(W.dtype).tiny)
        if self.feedback == "explicit":
            nmf_observed_sweep(A.indptr, A.indices, A.data, W, H, float(self.alpha),
                               int(n_steps), smallest)
            return None
        # zeros are data (Lee & Seung): the denominator of every row is ``w_u H^T H``, one
        # dense product for a block of rows, and the numerator does not change between
        # steps. scipy's one-thread sparse product, not numba's parallel one: BLAS right
        # after a numba parallel region waits for its spinning threads (8 ms instead of 0.07
        # for MovieLens 100K's denominator on 2 cores)
        H64 = H.astype(np.float64)
        if HtH is None:
            HtH = self._factor_gram(H64)
        # four float64 (rows, k) arrays per block, within scikit-learn's working_memory
        step = row_batch_size(4 * H.shape[1])
        cross = 0.0
        for rows in iter_row_batches(A.shape[0], step):
            num = np.asarray(A[rows] @ H64)
            W64 = W[rows].astype(np.float64)
            if W64.shape[0] < FEW_ROWS:
                nmf_dense_steps(W64, num, HtH, float(self.alpha), int(n_steps), smallest)
            else:
                den, ratio = np.empty_like(num), np.empty_like(num)
                for _ in range(n_steps):
                    np.matmul(W64, HtH, out=den)
                    den += self.alpha * W64
                    ratio.fill(0.0)  # a row at 0 with nothing to explain stays at 0
                    # a NaN denominator gives a NaN ratio, for the divergence check
                    np.divide(num, den, out=ratio, where=~(den <= 0))
                    W64 *= ratio
                    W64[W64 < smallest] = 0.0
            W[rows] = W64
            cross += float(np.sum(W[rows] * num))
        return cross

    def _iterate(self, ctx):
        X = ctx.X_train
        self._update(ctx.Xt, self.item_factors_, self.user_factors_, self.inner_steps)
        cross = self._update(X, self.user_factors_, self.item_factors_, self.inner_steps)
        return self._loss(X, cross)

    def _loss(self, X, cross):
        """Objective after a sweep: squared error (observed cells or all) plus penalty.

        ``cross``: ``sum(W * (X @ H))`` (implicit feedback), from the sweep's last update;
        None with ratings.
        """
        W, H = self.user_factors_.astype(np.float64), self.item_factors_.astype(np.float64)
        if self.feedback == "explicit":
            pred = np.empty(X.nnz)
            stored_entry_predictions(X.indptr, X.indices, self.user_factors_,
                                     self.item_factors_, pred)
            error = float(np.sum((X.data - pred) ** 2))
            n_u, n_i = np.diff(X.indptr), np.bincount(X.indices, minlength=X.shape[1])
            penalty = (n_u @ (W * W).sum(axis=1)) + (n_i @ (H * H).sum(axis=1))
        else:
            # ||X - W H^T||^2 without forming W H^T: sum_u x_u . (w_u H^T) = sum(W * (X H))
            error = float(np.sum(X.data.astype(np.float64) ** 2) - 2 * cross
                          + np.sum((W.T @ W) * (H.T @ H)))
            penalty = (W * W).sum() + (H * H).sum()
        return 0.5 * error + 0.5 * self.alpha * float(penalty)

    def _finish_fit(self, ctx):
        self.typical_user_factors_ = None
        if self.feedback != "explicit":
            return  # zeros are data: an item nobody chose has earned its 0 factors
        # ratings: an item without training ratings is unknown, not rated 0, so
        # it gets the mean item factors (a user's typical rating), and a user
        # without ratings the mean user factors
        cold = np.bincount(ctx.X_train.indices, minlength=ctx.X_train.shape[1]) == 0
        if cold.any() and not cold.all():
            self.item_factors_[cold] = self.item_factors_[~cold].mean(axis=0)
        warm_users = np.diff(ctx.X_train.indptr) > 0
        if warm_users.any():
            self.typical_user_factors_ = self.user_factors_[warm_users].mean(axis=0)

    def _fold_in(self, X):
        dtype = self.item_factors_.dtype  # float64 after a float64 refit
        X = X.astype(dtype, copy=False)
        W = np.full((X.shape[0], self.item_factors_.shape[1]), self.fold_in_start_,
                    dtype=dtype)
        # implicit feedback: the item Gram once per scoring call (never while fitting: H
        # changes); ratings read the stored entries only
        HtH = (None if self.feedback == "explicit" else
               self._memoized("gram", self.item_factors_, self._factor_gram))
        self._update(X, W, self.item_factors_, self.fold_in_iter, HtH)
        if getattr(self, "typical_user_factors_", None) is not None:
            W[np.diff(X.indptr) == 0] = self.typical_user_factors_
        return W

    def _check_can_predict_ratings(self):
        if self.feedback != "explicit":
            raise ValueError(
                "predict_ratings needs feedback='explicit' (zeros as unknown "
                "ratings); with feedback='implicit' the model predicts 0 for unknown "
                "cells by design. Rank with decision_function instead."
            )

    def _ratings_batch(self, X, items):
        H = self.item_factors_ if items is None else self.item_factors_[items]
        return self._fold_in(X) @ H.T
