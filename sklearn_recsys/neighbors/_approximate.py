"""Approximate top-k for factorization models: an inverted file or HNSW graph of the item factors.

A factorization model scores item ``i`` for a user as an inner product
``u @ v_i`` (plus biases that a column of the vectors carries). Ranking all
items costs ``n_items`` inner products per user. Two faiss indexes find the
largest ones while scoring a small share of the items: an inverted file
(``IndexIVFFlat``: the items clustered by k-means, a user scanning only the
items of the ``n_probe`` clusters nearest to them) and a hierarchical
navigable small-world graph (``IndexHNSWFlat``, Malkov & Yashunin 2018).
Either is built once in ``fit`` and stores the vectors uncompressed, so the
scores of the items it returns are exact, and so is their order (the items
found are ranked by those scores); only the set can miss items.
"""

import contextlib
from numbers import Integral

import numpy as np
from numba import njit
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..base import RecommenderMixin, _WrappedFlag, _inner_explains, rows_without_known_items
from ..utils._parallel import foreign_openmp
from ..utils._topk import iter_row_batches, row_batch_size
from ..utils._validation import check_exclude, check_exclude_seen, check_k

__all__ = ["ApproximateRecommender"]


def _faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "ApproximateRecommender needs faiss, which is not installed: pip install "
            'faiss-cpu (or, from a checkout of sklearn_recsys, pip install ".[ann]").'
        ) from exc
    return faiss


def _unit_scale(V, rows=True):
    """``V`` (float64) scaled by powers of two: each row to a norm in [0.5, 1), or
    (``rows=False``) the whole of ``V`` by one factor, its largest norm there.

    faiss sums squares and distances in float32: squared norms past about
    1.8e19 overflowed (its k-means aborted the process, the search returned
    noise), inner products below 1e-38 vanished, and in the lifted space a
    query far shorter than the items lost ``u.v`` in the rounding of
    ``|u|^2 + R^2`` (the exact top 10 for 1-4% of users). A positive factor
    per query and one for all the items keep every ranking by inner product
    or by the lifted distance, and a power of two is exact. Zero rows stay.
    """
    norms = np.sqrt(np.einsum("ij,ij->i", V, V))
    if rows:
        return np.ldexp(V, -np.frexp(norms)[1][:, None])
    return np.ldexp(V, -np.frexp(norms.max(initial=0.0))[1])


def _build(faiss, V, space, algorithm, n_links, ef_construction, n_lists):
    """An index of the item vectors ``V`` in ``space``: inverted file or HNSW graph."""
    V = _unit_scale(np.asarray(V, dtype=np.float64), rows=False)
    if space == "lifted_l2":
        # nearest in L2 = largest inner product (Bachrach et al. 2014): with
        # v' = (v, sqrt(R^2 - |v|^2)) and u' = (u, 0), |u' - v'|^2 = |u|^2 + R^2 - 2 u.v
        norms = np.einsum("ij,ij->i", V, V)
        V = np.column_stack([V, np.sqrt(np.maximum(norms.max(initial=0.0) - norms, 0.0))])
        metric = faiss.METRIC_L2
    else:
        metric = faiss.METRIC_INNER_PRODUCT
    V = np.ascontiguousarray(V, dtype=np.float32)
    dim = V.shape[1]
    if algorithm == "hnsw":
        index = faiss.IndexHNSWFlat(dim, int(n_links), metric)
        index.hnsw.efConstruction = int(ef_construction)
    else:
        quantizer = (faiss.IndexFlatL2(dim) if metric == faiss.METRIC_L2
                     else faiss.IndexFlatIP(dim))
        index = faiss.IndexIVFFlat(quantizer, dim, int(n_lists), metric)
        # k-means from faiss's fixed seed: the same items give the same lists
        index.cp.seed = 1234
        with foreign_openmp():
            index.train(V)
    with foreign_openmp():
        index.add(V)
    return index


def _resolve_n_lists(n_lists, n_items):
    """The number of k-means lists: ``n_lists``, or about sqrt(n_items) for "auto"."""
    if n_lists == "auto":
        # sqrt(n) lists of sqrt(n) items; at most n / 39 so that k-means has the
        # 39 points per centroid below which faiss warns
        return int(max(1, min(round(np.sqrt(n_items)), n_items // 39)))
    if n_lists > n_items:
        raise ValueError(
            f"ApproximateRecommender: n_lists={n_lists} exceeds the {n_items} items to "
            "cluster; pass n_lists <= n_items (or n_lists='auto', about sqrt(n_items)).")
    return int(n_lists)


@njit(cache=True, nogil=True)
def _forbidden_mask(found, indptr, indices):
    """``found[u, j]`` is among the sorted column indices of row ``u`` of a CSR matrix."""
    hit = np.zeros(found.shape, dtype=np.bool_)
    for u in range(found.shape[0]):
        row = indices[indptr[u]:indptr[u + 1]]
        if row.size == 0:
            continue
        for j in range(found.shape[1]):
            at = np.searchsorted(row, found[u, j])
            hit[u, j] = at < row.size and row[at] == found[u, j]
    return hit


# (user, item) pairs scored exactly at once: a (pairs, n_components) float64 block
_PAIRS_PER_CHUNK = 16384


def _recall(found, exact):
    """Mean share of each row's exact items (not -1) that ``found`` holds."""
    shares = [np.intersect1d(f[f >= 0], e[e >= 0]).size / max(1, int((e >= 0).sum()))
              for f, e in zip(found, exact)]
    return float(np.mean(shares)) if shares else 1.0


class ApproximateRecommender(MetaEstimatorMixin, RecommenderMixin, BaseEstimator):
    """Top-k of a factorization model from an approximate inner-product index.

    Wraps a factorization model (:class:`~sklearn_recsys.ImplicitALS`,
    :class:`~sklearn_recsys.BPR`, :class:`~sklearn_recsys.ExplicitMF`,
    :class:`~sklearn_recsys.NMF`, :class:`~sklearn_recsys.HybridMF`,
    :class:`~sklearn_recsys.MultiTaskMF` without ``rating_threshold``,
    :class:`~sklearn_recsys.ConvMF`):
    ``fit`` fits it and indexes its item vectors (faiss): in an inverted
    file by default (the items clustered by k-means into ``n_lists`` lists;
    a user's search scores the items of the ``n_probe`` lists nearest to
    them), or in an HNSW graph (``algorithm="hnsw"``). :meth:`recommend`
    folds each user in as the model does and asks the index for the largest
    inner products instead of scoring every item. The items returned carry
    their exact inner products, in their order (equal scores by item index,
    as the exact model ranks them); the approximation is which items are found,
    controlled by ``n_probe`` (inverted file) or ``ef_search`` (graph):
    larger is closer to the exact list and slower.

    Seen and excluded items are removed as by every recommender: the index
    is asked for ``k`` plus as many items as the user may not get, and a
    user for whom fewer than ``k`` allowed items come back (or who asks for
    ``candidates``) is served by the exact model. :meth:`decision_function`,
    :meth:`score` and the scorers of :mod:`sklearn_recsys.metrics` are the
    exact model's (a dense score matrix is what the index avoids); measure
    the approximation with the recall of the exact list, as
    ``benchmarks/bench_ann.py`` does.

    Parameters
    ----------
    estimator : recommender
        A factorization model of the package (one with an inner-product
        form), cloned and fitted in :meth:`fit`; its parameters are tunable
        as ``estimator__<name>``. To index a model fitted elsewhere, pass
        ``sklearn.frozen.FrozenEstimator(model)``.
    algorithm : {"ivf", "hnsw"}, default="ivf"
        The index: an inverted file (faiss's ``IndexIVFFlat``; built in
        seconds, and its search costs the same however many items a user
        asks for) or an HNSW graph (``IndexHNSWFlat``; minutes to build on
        a million items, and its search breadth grows with ``k`` plus the
        user's seen items). Both keep the vectors in float32.
    n_lists : int or "auto", default="auto"
        Inverted file: the number of k-means lists the items are split
        into; ``"auto"`` takes about ``sqrt(n_items)`` (at most
        ``n_items / 39``, the points per centroid faiss asks of k-means).
    n_probe : int, default=16
        Inverted file: lists scanned per user, the speed/recall trade-off
        (about ``n_probe / n_lists`` of the items scored), settable after
        ``fit``.
    n_links : int, default=32
        HNSW: links per node of the graph (HNSW's ``M``): more links, better
        recall and a larger index (about ``8 * n_links`` bytes of links per
        item, beside the item's vector in float32).
    ef_construction : int, default=200
        HNSW: breadth of the search that inserts each item while building.
    ef_search : int, default=128
        HNSW: breadth of the search per user (at least the number of items
        asked for): the speed/recall trade-off, settable after ``fit``.
    space : {"auto", "inner_product", "lifted_l2"}, default="auto"
        The space indexed: the item vectors with the inner product, or L2
        over the vectors lifted by one coordinate to a common norm, whose
        nearest neighbours are the largest inner products (Bachrach et al.
        2014). Which one finds more of the exact list depends on the
        factors' geometry; ``"auto"`` builds both and keeps the one with the
        higher recall of the exact top-10 on up to 256 training users.

    Attributes
    ----------
    estimator_ : estimator
        The fitted factorization model.
    index_ : faiss.IndexIVFFlat or faiss.IndexHNSWFlat
        The index of the item vectors (pickled as faiss's serialized bytes).
    space_ : str
        The space kept (``space``, or the better one with ``"auto"``).
    n_lists_ : int
        The number of lists of the inverted file (``algorithm="ivf"`` only).
    recall_estimate_ : dict
        Recall of the exact top-10 of up to 256 evenly spaced training users
        for each space indexed (at fit's ``n_probe`` or ``ef_search``, seen
        items excluded; not refreshed when either is set after ``fit``, which
        changes the recall but not the space kept).
    n_features_in_ : int
        Number of items seen during fit.

    See Also
    --------
    sklearn_recsys.ImplicitALS.recommend : The exact top-k.

    References
    ----------
    .. [1] Y. A. Malkov and D. A. Yashunin, "Efficient and robust approximate
       nearest neighbor search using Hierarchical Navigable Small World
       graphs", IEEE TPAMI, 2018.
    .. [2] Y. Bachrach et al., "Speeding up the Xbox recommender system using a
       Euclidean transformation for inner-product spaces", RecSys 2014.
    .. [3] J. Johnson, M. Douze and H. Jegou, "Billion-scale similarity search
       with GPUs", IEEE Transactions on Big Data, 2019 (faiss).
    .. [4] J. Sivic and A. Zisserman, "Video Google: a text retrieval approach
       to object matching in videos", ICCV 2003 (the inverted file).

    Examples
    --------
    >>> from sklearn_recsys import ImplicitALS, make_interactions
    >>> from sklearn_recsys.neighbors import ApproximateRecommender
    >>> X = make_interactions(n_users=300, n_items=500, random_state=0)
    >>> model = ApproximateRecommender(ImplicitALS(n_components=8, random_state=0)).fit(X)
    >>> items, scores = model.recommend(X[:2], k=5)
    >>> items.shape
    (2, 5)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "decision_function"])],
        "algorithm": [StrOptions({"ivf", "hnsw"})],
        "n_lists": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "n_probe": [Interval(Integral, 1, None, closed="left")],
        "n_links": [Interval(Integral, 2, None, closed="left")],
        "ef_construction": [Interval(Integral, 1, None, closed="left")],
        "ef_search": [Interval(Integral, 1, None, closed="left")],
        "space": [StrOptions({"auto", "inner_product", "lifted_l2"})],
    }

    # the search breadth, "settable after fit"
    _params_settable_after_fit = frozenset({"n_probe", "ef_search"})

    def __init__(self, estimator, *, algorithm="ivf", n_lists="auto", n_probe=16, n_links=32,
                 ef_construction=200, ef_search=128, space="auto"):
        self.estimator = estimator
        self.algorithm = algorithm
        self.n_lists = n_lists
        self.n_probe = n_probe
        self.space = space
        self.n_links = n_links
        self.ef_construction = ef_construction
        self.ef_search = ef_search

    def _fit(self, X):
        faiss = _faiss()
        if not hasattr(self.estimator, "_inner_product_form"):
            raise TypeError(
                f"ApproximateRecommender indexes the item vectors of a factorization model "
                f"(ImplicitALS, BPR, ExplicitMF, NMF, HybridMF, MultiTaskMF with "
                f"rating_threshold=None, ConvMF); {type(self.estimator).__name__} does not "
                "score by an inner product.")
        if self.algorithm == "ivf":
            n_lists = _resolve_n_lists(self.n_lists, X.shape[1])  # before the long fit
        # y passed explicitly: FrozenEstimator.fit requires it
        self.estimator_ = clone(self.estimator).fit(X, None)
        _, V = self.estimator_._inner_product_form(X[:1])
        if V.shape[0] != X.shape[1]:
            raise ValueError(
                f"ApproximateRecommender: the inner {type(self.estimator_).__name__} has "
                f"{V.shape[0]} item vectors but X has {X.shape[1]} columns; a frozen model "
                "must have been fitted on the same items.")
        # Neither space wins everywhere: on ImplicitALS factors (20,000 items, norms
        # 17x apart) the inner-product graph found 0.985 of the exact top-10 at
        # ef_search 128 and the lifted L2 graph 0.69; on BPR's (100,000 items, with
        # the bias column) 0.60 and 1.00; the inverted file on ALS factors of
        # 100,000 items (512 lists, 16 probed) found 0.82 with the inner product
        # and 0.95 lifted. "auto" measures both on training users.
        spaces = ["inner_product", "lifted_l2"] if self.space == "auto" else [self.space]
        if self.algorithm == "ivf":
            self.n_lists_ = n_lists
        elif hasattr(self, "n_lists_"):
            del self.n_lists_
        indexes = {space: _build(faiss, V, space, self.algorithm, self.n_links,
                                 self.ef_construction, getattr(self, "n_lists_", None))
                   for space in spaces}
        sample = np.unique(np.linspace(0, X.shape[0] - 1, min(X.shape[0], 256)).astype(int))
        exact = self.estimator_.recommend(X[sample], k=10)[0]
        self.recall_estimate_ = {}
        for space, index in indexes.items():
            self.space_, self.index_ = space, index
            found = self._search(X[sample], X[sample], min(10, X.shape[1]), True, None,
                                 fallback=False)[0]
            self.recall_estimate_[space] = _recall(found, exact)
        self.space_ = max(spaces, key=lambda s: self.recall_estimate_[s])  # ties: first
        self.index_ = indexes[self.space_]

    # a pipeline ending here ranks through recommend (the index), not dense scores
    _ranks_without_scores = True
    # users without history get the wrapped model's list
    _ranks_users_without_history = _WrappedFlag()

    def __getstate__(self):
        state = super().__getstate__()
        if "index_" in state:
            state = {**state, "index_": _faiss().serialize_index(state["index_"])}
        return state

    def __setstate__(self, state):
        if isinstance(state.get("index_"), np.ndarray):
            state = {**state, "index_": _faiss().deserialize_index(state["index_"])}
        super().__setstate__(state)

    def _score_batch(self, X_batch):
        return np.asarray(self.estimator_.decision_function(X_batch))

    def decision_function(self, X):
        """The exact scores of the wrapped model (the index serves :meth:`recommend` only).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history of the users to score.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
            ``estimator_.decision_function(X)``.
        """
        # the inner model's fold-in state shared across the blocks of the call
        shared = getattr(getattr(self, "estimator_", None), "_shared_fold_in",
                         contextlib.nullcontext)
        with shared():
            return super().decision_function(X)

    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        """Approximate top-``k`` items for each user, best first.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history of the users; row ``u`` is user ``u``.
        k : int, default=10
            Number of items to return per user.
        exclude_seen : bool, default=True
            Never return an item the user has interacted with.
        exclude : {array-like, sparse matrix} of shape (n_users, n_items), default=None
            Further items never to return: the non-zeros of row ``u``.
        candidates : array-like of int, default=None
            Item indices to choose from; with candidates the exact model
            ranks them (the index covers the whole catalogue).

        Returns
        -------
        indices : ndarray of shape (n_users, min(k, n_items)), dtype int64
            Recommended item indices, best first, padded with ``-1``.
        scores : ndarray of shape (n_users, min(k, n_items))
            Their inner products ``u @ v_i`` (the model's scores up to a
            constant per user: its global and user biases), padded with
            ``-inf``; from the exact model for users it served.
        """
        check_k(k)
        X = self._validate_for_scoring(X)
        exclude_seen = check_exclude_seen(exclude_seen)
        exclude = check_exclude(exclude, X.shape[0], self.n_features_in_, self)
        if candidates is not None:
            return self.estimator_.recommend(X, k, exclude_seen=exclude_seen, exclude=exclude,
                                             candidates=candidates)
        width = min(k, self.n_features_in_)
        items = np.full((X.shape[0], width), -1, dtype=np.int64)
        scores = np.full((X.shape[0], width), -np.inf)
        # no dense block of scores here: per user, the items asked of the index
        # (at most twice k plus the user's excluded items, a few arrays of them)
        # and the vectors of the k kept (float32 and float64 copies)
        most = np.diff(X.indptr).max(initial=0) if exclude_seen else 0
        if exclude is not None:
            most += np.diff(exclude.indptr).max(initial=0)
        asked = min(self.n_features_in_, 2 * (width + int(most)))
        step = row_batch_size(3 * asked + 2 * width * (self.index_.d + 1))
        shared = getattr(self.estimator_, "_shared_fold_in", contextlib.nullcontext)
        with shared():  # the fold-in's item Gram once per call, as in the model's own
            for rows in iter_row_batches(X.shape[0], step):
                forbidden = X[rows] if exclude_seen else None
                if exclude is not None:
                    forbidden = exclude[rows] if forbidden is None else forbidden + exclude[rows]
                items[rows], scores[rows] = self._search(
                    X[rows], forbidden, width, exclude_seen,
                    None if exclude is None else exclude[rows])
        return items, scores

    def _search(self, X_batch, forbidden, width, exclude_seen, exclude_batch, fallback=True):
        """Top-``width`` allowed items of a batch from the index; exact for short rows."""
        n_rows = X_batch.shape[0]
        n_forbidden = (np.zeros(n_rows, dtype=np.int64) if forbidden is None
                       else np.diff(forbidden.tocsr().indptr))
        # each user asks for width + their forbidden items, rounded up to a power
        # of two: the search breadth depends on the user's row only, never on
        # which other users share the batch
        need = np.minimum(width + n_forbidden, self.n_features_in_)
        bucket = np.minimum(2 ** np.ceil(np.log2(np.maximum(need, 1))).astype(np.int64),
                            self.n_features_in_)
        asked = int(bucket.max(initial=1))
        U, V = self.estimator_._inner_product_form(X_batch)
        query = np.zeros((n_rows, U.shape[1] + (self.space_ == "lifted_l2")), dtype=np.float32)
        U = np.asarray(U, dtype=np.float64)
        # each query on the items' scale (see _unit_scale); U itself scores exactly below
        query[:, :U.shape[1]] = _unit_scale(U)
        found = np.full((n_rows, asked), -1, dtype=np.int64)
        faiss = _faiss()
        for size in np.unique(bucket):
            rows = np.flatnonzero(bucket == size)
            # per call, not on the shared index: threads may recommend at once
            if isinstance(self.index_, faiss.IndexIVF):
                params = faiss.SearchParametersIVF(nprobe=min(int(self.n_probe),
                                                              int(self.index_.nlist)))
            else:
                params = faiss.SearchParametersHNSW(efSearch=max(int(self.ef_search),
                                                                 int(size)))
            with foreign_openmp():
                found[rows, :size] = self.index_.search(query[rows], int(size),
                                                        params=params)[1]
        allowed = found >= 0
        if forbidden is not None and forbidden.nnz:
            forbidden = forbidden.tocsr(copy=True)
            forbidden.eliminate_zeros()  # a stored zero is no interaction
            forbidden.sort_indices()
            allowed &= ~_forbidden_mask(found, forbidden.indptr, forbidden.indices)
        # every allowed item the index found (the set it found), ranked by its
        # exact inner product, then cut to width: the index's order is that of
        # float32 distances (in the lifted space, |u|^2 + R^2 - 2 u.v), which
        # swaps near-ties, so cutting in its order dropped found top items;
        # equal scores by item index, as the exact model ranks
        items = np.where(allowed, found, -1)
        exact = np.full(found.shape, -np.inf)
        pair_rows, pair_cols = np.nonzero(allowed)
        for start in range(0, pair_rows.size, _PAIRS_PER_CHUNK):
            r = pair_rows[start:start + _PAIRS_PER_CHUNK]
            c = pair_cols[start:start + _PAIRS_PER_CHUNK]
            exact[r, c] = np.einsum("ij,ij->i", U[r], V[found[r, c]].astype(np.float64))
        order = np.lexsort((np.where(items < 0, np.iinfo(np.int64).max, items), -exact),
                           axis=1)[:, :width]
        items = np.take_along_axis(items, order, 1)
        scores = np.take_along_axis(exact, order, 1)
        expected = np.minimum(width, self.n_features_in_ - n_forbidden)
        # users without history (or with only items that had no training
        # interactions) fold in to zero vectors, for which the index ranks
        # arbitrarily: the exact model gives them its own fallback (popularity)
        known = getattr(self.estimator_, "_known_items", lambda: None)()
        empty = np.diff(X_batch.indptr) == 0
        if known is not None and len(known) == X_batch.shape[1]:
            empty[rows_without_known_items(X_batch, known)] = True
        short = np.flatnonzero(((items >= 0).sum(axis=1) < expected) | empty)
        if short.size and fallback:
            exact = self.estimator_.recommend(
                X_batch[short], width, exclude_seen=exclude_seen,
                exclude=None if exclude_batch is None else exclude_batch[short])
            items[short], scores[short] = exact
        return items, scores.astype(np.float64)

    @available_if(_inner_explains)
    def explain(self, x_row, item):
        """The wrapped model's explanation of one item's score (see its ``explain``).

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
            Their contributions.
        """
        self._check_fitted()
        self._validate_explain(x_row, item)
        return self.estimator_.explain(x_row, item)

    @available_if(_inner_explains)
    def explain_contrast(self, x_row, item, against=10):
        """The wrapped model's explanation of one item's lead over others (see its
        ``explain_contrast``: an int ``against`` follows its exact list).

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's interactions.
        item : int
            The item (column) whose lead is explained.
        against : int or array-like of int, default=10
            The number of items that follow ``item`` in the wrapped model's
            list, or the item indices to compare it with.

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
            The user's items, largest contribution first.
        contributions : ndarray of shape (n_user_items,)
            Their contributions.
        """
        self._check_fitted()
        self._validate_explain(x_row, item)
        return self.estimator_.explain_contrast(x_row, item, against)
