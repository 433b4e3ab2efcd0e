"""Multi-behaviour EASE: closed-form item-item model from all behaviours to the target one."""

from numbers import Real

import numpy as np
from numba import prange
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval

from ..base import ItemScoresTransformMixin, RecommenderMixin
from ..utils._behaviors import (
    MultiBehaviorMixin,
    as_pattern_codes,
    behavior_block,
    check_weights,
)
from ..utils._parallel import parallel_kernel
from ..utils._sparse_dense import add_csr_dense_product, csr_dense_product
from ._ease import penalized_gram_inverse

__all__ = ["MultiBehaviorEASE"]


def weighted_blocks(X, n_items, weights):
    """``sum_b weights[b] * X_b`` over the ``(n_users, n_items)`` blocks of CSR ``X``, in
    ``X``'s dtype (blocks of weight 0 left out; all 0: a zero matrix)."""
    Z = None
    for b, w in enumerate(weights):
        if w == 0:
            continue
        block = behavior_block(X, n_items, b) * w
        Z = block if Z is None else Z + block
    if Z is None:  # every weight 0: no input
        Z = behavior_block(X, n_items, 0) * 0.0
    return Z.astype(X.dtype).tocsr()


_TILE = 64


@parallel_kernel(rows=lambda args: -(-args[0].shape[0] // _TILE))
def _cross_weights_inplace(WT, gamma, P):
    """``P = (WT - gamma[:, None] * P)^T`` in place, for symmetric ``P``, by tiles (a
    transposing pass over a large array touches one cache line per entry otherwise).

    The pair of entries ``(r, c)`` and ``(c, r)``, ``r <= c``, is read and written by the
    tile of row ``r`` alone: ``P`` holds the same value at both, so neither is read after
    it is written, and no second ``(n, n)`` array of ``P``'s dtype is needed.
    """
    tile = _TILE
    n = P.shape[0]
    for t in prange((n + tile - 1) // tile):
        r0 = t * tile
        r1 = min(r0 + tile, n)
        for c0 in range(r0, n, tile):
            c1 = min(c0 + tile, n)
            for r in range(r0, r1):
                for c in range(max(c0, r), c1):
                    p = P[r, c]
                    below = WT[r, c] - gamma[r] * p  # the result's entry (c, r)
                    P[r, c] = WT[c, r] - gamma[c] * p
                    P[c, r] = below


def target_input_product(Y, Z, P, chunk_size=2 ** 24):
    """``Y^T Z P`` for CSR ``Y`` and ``Z`` of the same users and dense ``P``, in float64.

    Computed as ``Y^T (Z P)`` over chunks of users (at most ``chunk_size`` entries of ``Z P``
    at a time; users without a target interaction skipped): ``(nnz(Z) + nnz(Y)) * n``
    multiply-adds, against ``nnz(Y^T Z) * n`` for ``(Y^T Z) P``, since a user's target items
    times their input items outnumber the two together (six times on Taobao's split).
    The users' rows of ``Z P`` are in ``P``'s dtype; their sum over the users is taken in
    float64 whatever that dtype: in float32 it drifted with the number of users (3M users
    of equal terms: 1.15% off) and stopped growing at 2**24. For float32 ``P`` the result
    takes twice its memory.
    """
    n = P.shape[1]
    out = np.zeros((Y.shape[1], n), dtype=np.float64)
    users = np.flatnonzero(np.diff(Y.indptr))
    step = max(1, chunk_size // max(n, 1))
    for start in range(0, len(users), step):
        chunk = users[start:start + step]
        Zc, Yt = Z[chunk], Y[chunk].T.tocsr()
        ZP = np.zeros((len(chunk), n), dtype=P.dtype)
        add_csr_dense_product(Zc.indptr, Zc.indices, Zc.data.astype(P.dtype, copy=False), P, ZP)
        add_csr_dense_product(Yt.indptr, Yt.indices, Yt.data.astype(np.float64, copy=False),
                              ZP, out)
    return out


def cross_item_item(Z, Y, alpha, dtype):
    """EASE's solution from ``Z`` to ``Y``: ``argmin ||Y - Z W||^2 + alpha ||W||^2`` s.t.
    ``diag(W) = 0``, dense ``(n_items, n_items)`` of ``dtype``."""
    P = penalized_gram_inverse(Z, alpha, name="Z")
    # W = P Z^T Y with P symmetric is (Y^T Z P)^T; the constraint subtracts P gamma
    WT = target_input_product(Y, Z, P)  # float64
    gamma = np.diag(WT) / np.diag(P)
    _cross_weights_inplace(WT, gamma, P)  # P becomes W: no third (n, n) array
    del WT
    P[np.diag_indices_from(P)] = 0.0
    return P.astype(dtype, copy=False)


class MultiBehaviorEASE(MultiBehaviorMixin, ItemScoresTransformMixin, RecommenderMixin,
                        TransformerMixin, BaseEstimator):
    """Linear multi-behaviour recommender: conversion rates plus a cross-behaviour EASE.

    ``X`` stacks one ``(n_users, n_items)`` block per behaviour (e.g. views,
    carts, purchases; see :ref:`multi-behavior`) and the model scores the
    **target** behaviour. The score of item ``i`` for user ``u`` is the sum
    of two closed-form linear terms:

    * a *conversion* term for the user's own item: for the set ``p`` of
      auxiliary behaviours the user showed on ``i`` (viewed only, carted
      only, both...), ``c[p, i]``, the rate at which that pattern on item
      ``i`` led to the target behaviour in the training data, shrunk toward
      the pattern's rate over all items: ``c[p, i] = (t[p, i] + smoothing *
      r[p]) / (n[p, i] + smoothing)``, with ``n`` the users showing ``p`` on
      ``i`` and ``t`` those of them with the target. It is the ridge
      solution of a diagonal least-squares model on the pattern indicators;
    * a *cross* term ``cross_weight * (z_u @ W)[i]``: ``z_u = sum_b w_b
      x_{u,b}`` weighs the user's behaviours, and ``W`` (zero diagonal) is
      the EASE solution (Steck 2019) from ``Z`` to the target block ``Y``,
      ``argmin ||Y - Z W||^2 + alpha ||W||^2`` s.t. ``diag(W) = 0``: items
      bought by users who viewed or carted the user's items.

    With one behaviour the conversion term is empty and, with weight 1, the
    cross term is exactly :class:`EASE`.

    The fit costs EASE's (the Gram matrix of ``Z`` and its inverse ``P``,
    cubic in the number of items) plus the product ``P Z^T Y``, computed
    as ``Y^T (Z P)`` by chunks of users on every core, linear in the
    interactions: on Taobao's split about 1.6 times EASE's fit (see
    "Several behaviours" in the benchmarks' page).

    Parameters
    ----------
    behaviors : sequence of str, default=None
        Name of each column block of ``X``, in block order, e.g.
        ``("view", "cart", "buy")``. None: ``X`` is a single behaviour (the
        model is then EASE with ``cross_weight`` scaling its scores).
    target : str, default=None
        The behaviour to recommend (one of ``behaviors``); None means the
        last block. ``recommend`` and ``decision_function`` score it over
        ``n_items`` columns, and ``exclude_seen`` masks its history only (a
        viewed or carted item is a good candidate for purchase).
    alpha : float, default=200.0
        L2 penalty of the cross term (EASE's lambda, added to the diagonal
        of ``Z^T Z``).
    behavior_weights : sequence of float, default=None
        Weight ``w_b`` of each behaviour in the input ``Z`` of the cross
        term, one per block; None gives every behaviour 1. At least one is
        positive (``cross_weight=0`` is how to drop the cross term).
    cross_weight : float, default=1.0
        Scale of the cross term against the conversion term: 0 ranks only
        the user's own viewed/carted items, by their conversion rates; the
        other items then tie at 0 and follow in catalogue order. Settable
        after ``fit`` (read only when scoring).
    smoothing : float, default=5.0
        Pseudo-count of the conversion rates: an item seen with a pattern by
        few users gets about the pattern's overall rate.

    Attributes
    ----------
    behaviors_ : tuple of str
        Names of the blocks.
    target_ : str
        The target behaviour.
    target_index_ : int
        Its block.
    n_items_ : int
        Items per block (columns of the scores).
    conversion_ : ndarray of shape (2 ** n_auxiliary - 1, n_items)
        ``c[p - 1, i]``: rate of the pattern with bitmask ``p`` over the
        auxiliary behaviours (the non-target blocks in order; bit ``k`` set
        when the ``k``-th auxiliary behaviour is present) on item ``i``.
        Empty with one behaviour.
    coef_ : ndarray of shape (n_items, n_items)
        ``W``, the cross term's item-item matrix, zero diagonal.
    behavior_weights_ : ndarray of shape (n_behaviors,)
        The weights used.
    n_features_in_ : int
        Columns of ``X``: ``n_behaviors * n_items``.

    See Also
    --------
    EASE : The single-behaviour model.

    Notes
    -----
    ``fit`` costs EASE's (one ``(n_items, n_items)`` Gram matrix and
    Cholesky inverse) plus one sparse-dense product and a pass over the
    non-zeros for the conversion rates.

    References
    ----------
    .. [1] H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
       The Web Conference (WWW), 2019.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from sklearn_recsys import MultiBehaviorEASE
    >>> view = sp.csr_matrix([[1, 1, 0], [1, 1, 1], [0, 1, 1]])
    >>> buy = sp.csr_matrix([[1, 0, 0], [1, 0, 1], [0, 0, 1]])
    >>> X = sp.hstack([view, buy], format="csr")
    >>> model = MultiBehaviorEASE(behaviors=("view", "buy"), alpha=1.0).fit(X)
    >>> model.decision_function(X).shape
    (3, 3)
    """

    _parameter_constraints = {
        "behaviors": ["array-like", None],
        "target": [str, None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "behavior_weights": ["array-like", None],
        "cross_weight": [Interval(Real, 0, None, closed="left")],
        "smoothing": [Interval(Real, 0, None, closed="neither")],
    }

    # patterns of auxiliary behaviours are bitmasks; 8 auxiliary behaviours
    # give 255 patterns, each with one rate per item
    _max_behaviors = 9

    # W and the rates do not depend on it: it weighs the cross term at scoring
    _params_settable_after_fit = frozenset({"cross_weight"})

    def __init__(self, behaviors=None, target=None, *, alpha=200.0, behavior_weights=None,
                 cross_weight=1.0, smoothing=5.0):
        self.behaviors = behaviors
        self.target = target
        self.alpha = alpha
        self.behavior_weights = behavior_weights
        self.cross_weight = cross_weight
        self.smoothing = smoothing

    # -- fit ---------------------------------------------------------------

    def _fit(self, X):
        self._set_layout(X)
        self.behavior_weights_ = check_weights(self.behavior_weights, self.behaviors_,
                                               "behavior_weights", "the cross term")
        Y = self._target_history(X)
        Z = self._weighted_input(X)
        self.conversion_ = self._conversion_rates(X, Y)
        self.coef_ = cross_item_item(Z, Y, self.alpha, X.dtype)

    def _weighted_input(self, X):
        return weighted_blocks(X, self.n_items_, self.behavior_weights_)

    def _conversion_rates(self, X, Y):
        aux = self._auxiliary()
        n = self.n_items_
        n_patterns = 2 ** len(aux) - 1
        if not aux:
            return np.zeros((0, n))
        codes = as_pattern_codes(X, n, aux).tocoo()
        has_target = np.asarray(Y[codes.row, codes.col]).ravel() != 0
        key = (codes.data.astype(np.int64) - 1) * n + codes.col
        shown = np.bincount(key, minlength=n_patterns * n).reshape(n_patterns, n)
        converted = np.bincount(key[has_target], minlength=n_patterns * n).reshape(n_patterns, n)
        overall = converted.sum(axis=1) / np.maximum(shown.sum(axis=1), 1)
        return (converted + self.smoothing * overall[:, None]) / (shown + self.smoothing)

    # -- scoring -----------------------------------------------------------

    def _items_with_interactions(self):
        """Mask of the items with training interactions in some behaviour (None: unknown,
        a model pickled before it was recorded)."""
        trained = self._trained_columns()
        if trained is None:
            return None
        return trained.reshape(len(self.behaviors_), self.n_items_).any(axis=0)

    def _score_batch(self, X):
        scores = csr_dense_product(self._weighted_input(X), self.coef_) * self.cross_weight
        if self.conversion_.size:
            codes = as_pattern_codes(X, self.n_items_, self._auxiliary()).tocoo()
            rows, cols, patterns = codes.row, codes.col, codes.data.astype(np.int64)
            known = self._items_with_interactions()
            if known is not None:
                # an item without any training interaction has only the prior rate: a row
                # of such items only is a user without history (popularity), not that
                # prior followed by every other item in catalogue order
                keep = known[cols]
                rows, cols, patterns = rows[keep], cols[keep], patterns[keep]
            scores[rows, cols] += self.conversion_[patterns - 1, cols].astype(scores.dtype)
        return scores

    def explain(self, x_row, item):
        """Exact contribution of each of the user's (behaviour, item) entries to one item's score.

        The contributions sum to ``decision_function(x_row)[0, item]`` (for
        a user with interactions). Entry ``j`` of the row (column ``j`` of
        the stacked ``X``: behaviour ``j // n_items_``, item ``j % n_items_``)
        contributes ``cross_weight * w_b * x_j * W[j % n_items_, item]``; when
        ``j`` is the explained item itself in an auxiliary behaviour, it also
        gets an equal share of the item's conversion rate for the user's
        pattern.

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_behaviors * n_items)
            One user's interactions, all behaviours.
        item : int
            The item (column of the scores, in ``[0, n_items_)``) explained.

        Returns
        -------
        columns : ndarray of shape (n_user_entries,), dtype int64
            Columns of ``x_row`` (behaviour block times ``n_items_`` plus
            item), largest contribution first.
        contributions : ndarray of shape (n_user_entries,)
        """
        x, item = self._validate_explain(x_row, item)
        n = self.n_items_
        blocks, items = x.indices // n, x.indices % n
        contrib = (self.cross_weight * self.behavior_weights_[blocks] * x.data
                   * self.coef_[items, item]).astype(np.float64)
        aux = self._auxiliary()
        own = (items == item) & np.isin(blocks, aux) & (x.data != 0)
        known = self._items_with_interactions()
        if own.any() and (known is None or known[item]):  # as _score_batch
            code = sum(2 ** aux.index(b) for b in blocks[own])
            contrib[own] += self.conversion_[code - 1, item] / own.sum()
        order = np.argsort(-contrib, kind="stable")
        return x.indices[order].astype(np.int64), contrib[order]
