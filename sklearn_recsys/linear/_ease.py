"""EASE: the closed-form linear item-item autoencoder of Steck (2019)."""

import contextlib
import warnings
from numbers import Real

import numpy as np
import scipy.sparse as sp
from scipy.linalg import get_lapack_funcs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from threadpoolctl import threadpool_info, threadpool_limits

from ..base import ItemItemMixin, RecommenderMixin, items_with_co_occurrence
from ..utils._sparse_dense import with_float64_values
from ..utils._topk import iter_row_batches, row_batch_size

__all__ = ["EASE"]

# From this many rows, potrf runs on one BLAS thread where OpenBLAS serves it:
# OpenBLAS 0.3.30/0.3.31 (the builds in scipy's and numpy's wheels) segfault in
# the threaded Cholesky of a float64 matrix from about 16,000 rows on (measured
# on AMD EPYC, 2 threads: 15,000 passes, 16,383 crashes, also through
# numpy.linalg.cholesky), which is a 17,617-artist Last.fm catalogue; float32
# passed at 23,171. The margin covers both dtypes. The inverse (potri) stays
# threaded. threadpool_limits is process-wide: concurrent fits in threads of
# one process may briefly share the limit.
_SERIAL_CHOLESKY_ROWS = 12_000


def _openblas_loaded():
    return any(i["internal_api"] == "openblas" for i in threadpool_info()
               if i["user_api"] == "blas")


def _spd_inverse_inplace(G, check_rank=False, name=None):
    """Inverse of a symmetric positive-definite matrix by Cholesky, in place.

    LAPACK ``potrf`` + ``potri`` take about half the flops of the LU-based
    ``numpy.linalg.inv`` and keep one ``(n, n)`` buffer. ``G`` must be
    symmetric; its transpose is passed so LAPACK works on it without a copy.

    ``check_rank``: also refuse a factorization whose smallest pivot is at
    the rounding level of ``G``'s largest diagonal entry (``n * eps``
    relative, as ``numpy.linalg.matrix_rank``'s tolerance): a singular ``G``
    (an exact copy of a column, without a penalty) often factors through
    rounding, into an arbitrary inverse.

    ``name``: warn when ``G`` is too ill-conditioned for its dtype. Each
    squared pivot is at least the smallest eigenvalue, so
    ``max_i G_ii / pivot_i**2`` is a lower bound of the condition number
    of ``G`` scaled to a unit diagonal (the one Cholesky's accuracy depends
    on: a column of large counts alone does not harm it). Times ``eps`` it
    tracks the relative error of the inverse: on Last.fm's play counts with
    alpha=500 in float32 it is 0.022 and ``B`` is 3.3% off (a user's scores
    up to 30%; audit 58c), at alpha=1e4 0.0014 for 0.17%; it warns from 0.01.

    Returns the inverse and ``info`` (> 0 when ``G`` is not positive definite).
    """
    Gf = G.T  # Fortran-contiguous view of the same (symmetric) data
    # potrf overwrites G, its diagonal included
    diagonal = np.diagonal(G).astype(np.float64)
    largest = float(diagonal.max(initial=0.0))
    potrf, potri = get_lapack_funcs(("potrf", "potri"), (Gf,))
    serial = G.shape[0] >= _SERIAL_CHOLESKY_ROWS and _openblas_loaded()
    with threadpool_limits(1, user_api="blas") if serial else contextlib.nullcontext():
        c, info = potrf(Gf, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        return None, info
    eps = np.finfo(G.dtype).eps
    pivots = np.diagonal(c).astype(np.float64) ** 2
    if check_rank and G.shape[0]:
        if pivots.min() <= G.shape[0] * eps * largest:
            return None, int(np.argmin(pivots)) + 1
    if name is not None and G.shape[0]:
        loss = float(np.max(diagonal / pivots)) * eps
        if loss >= 0.01:
            warnings.warn(
                f"{name}^T {name} + alpha * I is too ill-conditioned for "
                f"{np.dtype(G.dtype).name}: its inverse, and the item-item weights from it, "
                f"may be off by a relative error of the order of {loss:.0%} (an estimate "
                f"from the Cholesky pivots). Pass {name} as float64, raise alpha, or scale "
                "the values down (log1p of counts, BM25Weighting).",
                UserWarning, stacklevel=4)
    P, info = potri(c, lower=False, overwrite_c=True)
    if info != 0:
        return None, info
    # potri fills the upper triangle only; mirror it block by block so no
    # second (n, n) buffer is needed.
    n = P.shape[0]
    step = max(1, 4_000_000 // max(n, 1))
    for i in range(0, n, step):
        j = min(i + step, n)
        P[i:j, :i] = P[:i, i:j].T
        diag_block = P[i:j, i:j]
        diag_block[...] = np.triu(diag_block) + np.triu(diag_block, 1).T
    return P, 0


def check_gram_finite(gram_diagonal, dtype, name="X"):
    """FloatingPointError if the Gram matrix of ``name`` overflowed its dtype.

    Its largest entries are on its diagonal (``|G_ij| <= max(G_ii, G_jj)``),
    so a finite diagonal is a finite matrix; an infinite one made the solve
    NaN (or its factorization break down, whatever ``alpha``). A diagonal summed
    in float64 is compared with ``dtype``'s largest number.
    """
    if not (np.abs(gram_diagonal) <= np.finfo(dtype).max).all():
        raise FloatingPointError(
            f"The values of {name} overflow {np.dtype(dtype).name} in {name}^T {name} (sums of "
            f"squares above {np.finfo(dtype).max:.1e}): the item-item solution would be NaN. "
            "Scale the values down (e.g. np.log1p or RatingBinarizer), or pass them as "
            "float64.")


def check_scores_not_underflowed(model, X):
    """FloatingPointError if the training rows' scores came out 0 (catalogue order).

    Checked on up to 16 training rows with two or more items (fewer for a
    catalogue whose dense scores would pass ``working_memory``): with any
    co-occurrence, an item-item model scores some item above 0 for them
    unless the values are so small that the products underflow the dtype,
    or so small against ``alpha`` that the item-item weights are lost in the
    dtype's rounding (``SparseEASE`` in float32 subtracts them from ``X``).
    """
    # a few rows tell (the values' scale is the data's): 16 at most, and no more than
    # working_memory's share of dense scores
    rows = np.flatnonzero(np.diff(X.indptr) >= 2)[:min(16, row_batch_size(X.shape[1]))]
    if rows.size == 0:
        return
    scores = model._score_batch(X[rows])
    if not np.any(scores):
        raise FloatingPointError(
            f"{type(model).__name__}: every training user's scores are 0 in {X.dtype.name}, so "
            f"every list would be catalogue order: the values of X (up to "
            f"{np.abs(X.data).max():.3g}) underflow the dtype, or are too small against "
            f"alpha={model.alpha!r} for its precision. Scale the values of X up (or binarize "
            "them with RatingBinarizer), lower alpha, or pass float64.")


def sparse_gram(Z):
    """``Z^T Z`` of sparse ``Z`` as a dense C-ordered array of its dtype, by row blocks.

    The whole sparse product held every co-occurrence (26M entries on
    MovieLens latest-small) beside the dense matrix it becomes: 1.45 GB at
    the peak. Each block of rows is written straight into the result, and a
    block holds at most an eighth of ``working_memory``'s dense entries
    (each stored with its index: under a fifth of it; a quarter for float32
    ``Z``, below), so the peak is the dense matrix plus that (0.8 GB there,
    with the default 1 GiB). Each row is summed in the same order (the same
    floats). The sums are taken in float64 whatever ``Z``'s dtype, then
    rounded to it: a float32 running sum of a column's equal values drifts
    (1.4% off for 1M users of a TF-IDF column, 3.7% for 4M) and stops growing
    at 2**24 (25M users sharing an item weighed as 16.8M). For float32 ``Z``
    that costs a float64 copy of its values, and each block's product is held
    in float64 beside its values rounded to float32.
    """
    n = Z.shape[1]
    Z64 = with_float64_values(Z.tocsr())
    Zt = Z64.T.tocsr()
    G = np.empty((n, n), dtype=Z.dtype)
    for rows in iter_row_batches(n, max(1, row_batch_size(n) // 8)):
        block = Zt[rows] @ Z64
        if block.dtype != G.dtype:  # the sums rounded to G's dtype, sharing the indices
            with np.errstate(over="ignore"):  # to inf: check_gram_finite reports it
                data = block.data.astype(G.dtype)
            block = sp.csr_matrix((data, block.indices, block.indptr), shape=block.shape)
        # into G's rows, no dense temporary (toarray zeroes them first)
        block.toarray(out=G[rows])
    return G


def penalized_gram_inverse(Z, alpha, name="X"):
    """``(Z^T Z + alpha I)^{-1}`` of sparse ``Z`` (its dtype, C order); ValueError if singular."""
    G = sparse_gram(Z)
    check_gram_finite(np.diagonal(G), Z.dtype, name)
    G[np.diag_indices_from(G)] += alpha
    # alpha > 0 makes G positive definite (its pivots are at least alpha); without
    # it a singular G may factor through rounding
    P, info = _spd_inverse_inplace(G, check_rank=alpha == 0, name=name)
    if info != 0:
        if alpha > 0:  # positive definite in exact arithmetic: the dtype's rounding broke it
            raise ValueError(
                f"{name}^T {name} + alpha * I could not be factorized in "
                f"{np.dtype(G.dtype).name} (alpha={alpha}): it is too ill-conditioned for "
                f"that type. Pass {name} as float64, raise alpha, or scale the values down "
                "(log1p of counts, BM25Weighting).")
        raise ValueError(
            f"{name}^T {name} + alpha * I is not positive definite (some items have no "
            "interactions or are exact copies of others), so the model has no "
            f"unique solution with alpha={alpha}. Use alpha > 0."
        )
    # P is symmetric and Fortran-ordered; its transpose is the same matrix
    # in C order, which the sparse-dense products of scoring want.
    return P.T


def ease_item_item(X, alpha, name="X"):
    """EASE's ``B`` of sparse ``X`` (its dtype): ``B_ij = -P_ij / P_jj``, ``B_jj = 0``,
    with ``P = (X^T X + alpha I)^{-1}`` (Steck 2019)."""
    P = penalized_gram_inverse(X, alpha, name)
    P /= -np.diag(P).copy()[np.newaxis, :]
    P[np.diag_indices_from(P)] = 0.0
    return P


class EASE(ItemItemMixin, RecommenderMixin, TransformerMixin, BaseEstimator):
    """Embarrassingly shallow autoencoder (EASE) for implicit feedback.

    Learns the item-item matrix ``B`` minimizing
    ``||X - X B||_F^2 + alpha ||B||_F^2`` subject to ``diag(B) = 0``, in
    closed form: with ``P = (X^T X + alpha I)^{-1}``,
    ``B_ij = -P_ij / P_jj`` and ``B_jj = 0`` (Steck 2019). Users are scored
    by ``X @ B``, so any user, seen in ``fit`` or not, is scored from their
    row alone.

    Parameters
    ----------
    alpha : float, default=500.0
        L2 penalty added to the diagonal of the Gram matrix ``X^T X``
        (Steck's lambda). Larger values shrink ``B`` towards zero; tune it on
        validation users (it grows with the number of users).
    popularity_penalty : float, default=0.0
        Exponent ``beta`` of a popularity penalty against the imbalance of
        the data (a few popular items hold most interactions, so they are
        recommended to everyone): column ``i`` of ``B`` is divided by
        ``(n_i + 1) ** beta``, with ``n_i`` the number of training users who
        interacted with the item (not the sum of their values), so every
        score of a popular item shrinks more towards 0. EASE's scores can be
        negative, and a negative score shrunk towards 0 rises: among the
        items a user's row scores below 0 (deep in long lists, or for short
        histories) the penalty favours the popular ones. 0 (the
        default) is plain EASE; tune it with an accuracy and an exposure
        scorer together (e.g. NDCG and APLT, ``refit=`` the one to keep).
        :meth:`explain` stays exact (the contributions use the penalized
        ``B``). Users without history still get the unpenalized popularity
        fallback.

    Attributes
    ----------
    coef_ : ndarray of shape (n_items, n_items)
        The item-item matrix ``B`` with zero diagonal (columns divided by the
        popularity penalty, if any), in the dtype of the training data
        (float32 or float64).
    n_features_in_ : int
        Number of items seen during fit.
    feature_names_in_ : ndarray of shape (n_items,)
        Item names, when ``X`` had string column names.

    See Also
    --------
    ItemKNN : Neighbourhood item-item model.

    Notes
    -----
    ``fit`` costs one sparse Gram product and one Cholesky inverse, about
    ``n_items^3`` flops (``potrf`` then ``potri``) and one dense ``(n_items,
    n_items)`` buffer, and works in the dtype of ``X``: pass float32 data to
    halve time and memory. float32 holds about seven digits: where
    ``X^T X + alpha I`` is ill-conditioned (raw play counts with near-copies
    of items, a small ``alpha``) its inverse loses them, which ``fit`` warns
    of (Last.fm's counts at ``alpha=500``: ``B`` 3.3% off); pass float64 or
    raise ``alpha`` there.

    References
    ----------
    .. [1] H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
       The Web Conference (WWW), 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import EASE
    >>> X = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 1, 1, 1]])
    >>> model = EASE(alpha=1.0).fit(X)
    >>> indices, scores = model.recommend([[1, 0, 0, 0]], k=2)
    >>> indices
    array([[1, 2]])
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "popularity_penalty": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, alpha=500.0, *, popularity_penalty=0.0):
        self.alpha = alpha
        self.popularity_penalty = popularity_penalty

    def _fit(self, X):
        P = ease_item_item(X, self.alpha)
        if self.popularity_penalty:
            counts = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
            shrink = (counts + 1.0) ** -self.popularity_penalty
            # below the dtype's range the popular columns would be 0, their items tied
            if shrink.min() < np.finfo(P.dtype).tiny:
                raise ValueError(
                    f"popularity_penalty={self.popularity_penalty:g} divides the most popular "
                    f"item's column by {counts.max() + 1:g} ** {self.popularity_penalty:g}, "
                    f"beyond {P.dtype.name}'s range: its scores would be 0 for every user. "
                    "Lower popularity_penalty (values up to about 1 trade accuracy for "
                    "exposure).")
            P *= shrink.astype(P.dtype)[np.newaxis, :]
        self.coef_ = P
        self._linked_items = items_with_co_occurrence(X)
        check_scores_not_underflowed(self, X)

    def _item_item(self):
        return self.coef_
