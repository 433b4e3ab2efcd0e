"""SparseEASE: EASE for large catalogues through a sparse approximate inverse (SANSA)."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval

from ..base import ItemItemMixin, RecommenderMixin, items_with_co_occurrence
from ..utils._parallel import numba_threads
from ..utils._sparse_dense import add_csr_csr_product, with_float64_values
from ._ease import check_gram_finite, check_scores_not_underflowed
from ._sparse_inverse import sparse_inverse_factor

__all__ = ["SparseEASE"]


def _checked_gram(X):
    """``X^T X`` in CSC and float64, FloatingPointError if it overflows X's dtype.

    Summed in float64 (a float32 sum over more than 2**24 users stopped growing) and kept
    so: the factorization works in float64, and a Gram rounded to float32 first broke it
    down where float64 values did not (counts of 1e6 against ``alpha=1``)."""
    X64 = with_float64_values(X.tocsr())
    gram = (X64.T @ X64).tocsc()
    check_gram_finite(gram.diagonal(), X.dtype)
    return gram


class SparseEASE(ItemItemMixin, RecommenderMixin, TransformerMixin, BaseEstimator):
    """EASE with a sparse approximate inverse, for catalogues too large for a dense one.

    :class:`EASE` needs the dense inverse ``P = (X^T X + alpha I)^{-1}``
    (``n_items^2`` numbers: 2.5 GB at 17,600 items in float64, 40 GB at
    100,000 in float32). Following SANSA (Spisak et al., RecSys 2023), this
    model approximates ``P ~ W^T W`` with a sparse ``W``: an incomplete
    ``LDL^T`` factorization of the (Jacobi-scaled, reordered) sparse Gram
    matrix that keeps at most ``cap`` entries below the diagonal per column
    (``cap = max(2, round(density * n_items))``, at most ``n_items - 1``),
    then a sparse approximate inverse ``K ~ L^{-1}`` pruned to the same count,
    and ``W = D^{-1/2} K S P`` (``S`` the scaling, ``P`` the ordering). The
    item-item matrix of EASE, ``B = I - P diag(P)^{-1}``, is never formed:
    users are scored by ``X - (X W^T) W diag(d)^{-1}`` with ``d`` the
    diagonal of ``W^T W``, so ``diag(B) = 0`` holds (up to rounding) and
    memory stays at the ``W`` of at most ``n_items * (cap + 1)`` entries plus
    the sparse Gram matrix.

    Parameters
    ----------
    alpha : float, default=500.0
        L2 penalty added to the diagonal of the Gram matrix, as in
        :class:`EASE`; > 0.
    density : float, default=0.01
        Share of ``n_items`` kept per column of the factors: the memory (and
        accuracy) knob. ``W`` holds at most ``n_items * (cap + 1)`` entries,
        ``cap = max(2, round(density * n_items))``, so about ``density *
        n_items^2``; at a fixed density, fit time grows as ``n_items^3 *
        density^2``: lower it for larger catalogues. 1 keeps every entry
        (EASE itself, once ``inverse_steps`` reach about 20). Accuracy and
        memory against dense EASE: ``benchmarks/bench_sparse_ease.py``
        (docs: benchmarks).
    inverse_steps : int, default=2
        Minimal-residual refinement steps of the approximate inverse factor.
        More steps approach the exact inverse of the incomplete factor
        (about 20 reach it at ``density=1``), but below full density the
        pruning after each step limits the gain: on Last.fm at
        ``density=0.01``, 2 steps ranked as well as 6 in a third of the time.

    Attributes
    ----------
    components_ : csc_matrix of shape (n_items, n_items)
        The sparse factor ``W`` with ``P ~ W^T W`` (computed in float64, kept
        in the dtype of the training data, float32 or float64).
    inverse_diagonal_ : ndarray of shape (n_items,)
        ``d = diag(W^T W)``, the approximate diagonal of ``P``.
    n_features_in_ : int
        Number of items seen during fit.
    feature_names_in_ : ndarray of shape (n_items,)
        Item names, when ``X`` had string column names.

    See Also
    --------
    EASE : The dense, exact model.

    Notes
    -----
    ``fit`` costs the sparse Gram product, the incomplete factorization (at
    most ``n_items * cap^2`` flops for ``cap = density * n_items``) and two
    sparse products per ``inverse_steps`` (``L K`` and ``L D``, ``D`` the
    residual's largest entries), in blocks of columns so that no
    intermediate product holds more than about 2 million entries (unless
    one column alone does, at a very large ``cap``). :meth:`explain` is
    exact for the approximate ``B``. The fill-reducing ordering is the items
    by ascending number of Gram neighbours (a cheap stand-in for minimum
    degree), ties broken by the items' Gram diagonal and column sum, not by
    their column index: relabelling the items relabels the model (up to
    rounding; items that these keys cannot tell apart go by index).

    References
    ----------
    .. [1] M. Spisak, R. Bartyzal, A. Hoskovec, L. Peska and M. Tuma,
       "Scalable Approximate NonSymmetric Autoencoder for Collaborative
       Filtering", RecSys 2023.
    .. [2] H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
       The Web Conference (WWW), 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import SparseEASE
    >>> X = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 1, 1, 1]])
    >>> model = SparseEASE(alpha=1.0, density=1.0).fit(X)
    >>> indices, scores = model.recommend([[1, 0, 0, 0]], k=2)
    >>> indices
    array([[1, 2]])
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "density": [Interval(Real, 0, 1, closed="right")],
        "inverse_steps": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, alpha=500.0, *, density=0.01, inverse_steps=2):
        self.alpha = alpha
        self.density = density
        self.inverse_steps = inverse_steps

    def _fit(self, X):
        n_items = X.shape[1]
        cap = max(2, int(round(self.density * n_items)))
        # the Gram matrix is passed, not kept: the factorization releases it
        W = sparse_inverse_factor(_checked_gram(X), float(self.alpha), min(cap, n_items - 1),
                                  int(self.inverse_steps))
        self.inverse_diagonal_ = np.asarray(W.multiply(W).sum(axis=0)).ravel().astype(X.dtype)
        # computed in float64; kept in the dtype of X (float32 halves the memory)
        self.components_ = W.astype(X.dtype)
        self._linked_items = items_with_co_occurrence(X)
        check_scores_not_underflowed(self, X)

    def _score_batch(self, X):
        W = self.components_
        dtype = np.result_type(X.dtype, W.dtype)  # as SciPy's product of the two
        Z = (X @ W.T).tocsr()  # W is CSC, so W.T is CSR: no conversion
        # rows of -W / d, for the scatter below (a copy of W: small next to a
        # block of dense scores)
        W_rows = W.tocsr().astype(dtype)
        W_rows.data /= -self.inverse_diagonal_[W_rows.indices]
        scores = X.toarray().astype(dtype, copy=False)
        # scores += Z (-W / d), each nonzero of Z adding a sparse row of W
        # straight into the dense block: SciPy's sparse product would first
        # build the (nearly dense) sparse result
        with numba_threads(None):
            add_csr_csr_product(Z.indptr, Z.indices, Z.data.astype(dtype, copy=False),
                                W_rows.indptr, W_rows.indices, W_rows.data, scores)
        return scores

    def _item_item_rows(self, items):
        # row j of B = e_j - (W[:, j]^T W) / d
        rows = (self.components_[:, items].T @ self.components_).toarray()
        rows /= -self.inverse_diagonal_
        rows[np.arange(len(items)), items] = 0.0  # 1 - d_j / d_j
        return rows

    def _item_item_entries(self, rows, item):
        W = self.components_
        col = -(W[:, rows].T @ W[:, [item]]).toarray().ravel() / self.inverse_diagonal_[item]
        col[np.asarray(rows) == item] = 0.0
        return col
