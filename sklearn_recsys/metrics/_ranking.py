"""Top-k ranking metrics over sparse held-out interactions.

Every metric takes ``y_true``, a sparse matrix ``(n_users, n_items)`` whose
non-zeros are the held-out (relevant) items, and ``y_score``: either dense
float scores ``(n_users, n_items)`` or integer ranked item indices
``(n_users, n_ranked)`` as returned by ``recommend`` (``-1`` marks an empty
slot). Items scored ``-inf`` are never ranked. Users are processed in row
batches, so nothing of size ``(n_users, n_items)`` is created beyond the
caller's own ``y_score``.

A user with no held-out item has no defined value and is left out of the
mean; if no user has a held-out item the result is NaN with a warning.
"""

import warnings
from numbers import Real

import numpy as np
import scipy.sparse as sp
from numba import prange
from sklearn.exceptions import UndefinedMetricWarning

from ..utils._parallel import parallel_kernel
from ..utils._topk import iter_row_batches, row_batch_size, top_k
from ..utils._validation import check_interaction_matrix, check_k, threshold_in_precision

__all__ = [
    "ndcg_at_k",
    "recall_at_k",
    "precision_at_k",
    "map_at_k",
    "mrr_at_k",
    "hit_rate_at_k",
    "auc",
    "catalog_coverage",
]


# ---------------------------------------------------------------- validation


def _check_y_true(y_true):
    return check_interaction_matrix(y_true, input_name="y_true")


def _relevant(y_true, relevance_threshold):
    """``y_true`` keeping only the values ``>= relevance_threshold`` (all when None).

    Held-out items below the threshold stay candidates of the ranking; they
    just are not hits (a movie rated 1 star is not a success to recommend).
    """
    if relevance_threshold is None:
        return y_true
    if isinstance(relevance_threshold, bool) or not isinstance(relevance_threshold,
                                                               (Real, np.number)):
        raise TypeError(f"relevance_threshold must be a number or None, got "
                        f"{relevance_threshold!r}.")
    if np.isnan(relevance_threshold):  # every comparison with NaN is False: all relevant
        raise ValueError("relevance_threshold is NaN; pass a number, or None to count every "
                         "held-out interaction as relevant.")
    y_true = y_true.copy()
    # in y's precision, as RatingBinarizer compares: a float32 0.7 equals the threshold
    # 0.7 whether it came as a Python or a NumPy float
    y_true.data[y_true.data < threshold_in_precision(relevance_threshold, y_true.dtype)] = 0
    y_true.eliminate_zeros()
    return y_true


def _check_y(y_true, y_score, relevance_threshold=None):
    """``(y_true, y_score, is_indices)``: the held-out items (those relevant at the
    threshold) and the scores or ranked indices, checked against each other."""
    checked_true = _relevant(_check_y_true(y_true), relevance_threshold)
    checked_score, is_indices = _check_y_score(y_score, checked_true)
    true_columns, score_columns = (getattr(y, "columns", None) for y in (y_true, y_score))
    if (not is_indices and true_columns is not None and score_columns is not None
            and list(true_columns) != list(score_columns)
            and set(true_columns) == set(score_columns)):
        # read by position, the scores would be compared with other items' held-out
        # values (reversed columns turned NDCG 1.0 into 0.0)
        raise ValueError(
            "y_true and y_score are DataFrames naming the same items in another order; "
            "the metrics read columns by position. Align them first, e.g. "
            "y_score[y_true.columns].")
    return checked_true, checked_score, is_indices


def _check_y_score(y_score, y_true):
    """Return ``(y_score, is_indices)`` after shape checks."""
    if sp.issparse(y_score):
        raise TypeError(
            "y_score must be a dense array of scores (n_users, n_items) or of "
            "ranked item indices (n_users, k); got a sparse matrix. Use "
            "estimator.decision_function(X) or estimator.recommend(X, k)[0]."
        )
    y_score = np.asarray(y_score)
    if y_score.dtype.kind not in "biuf":
        raise TypeError(f"y_score must hold numbers (float scores or integer ranked indices), "
                        f"got dtype {y_score.dtype}. Convert it, e.g. y_score.astype(float).")
    if y_score.ndim != 2:
        raise ValueError(f"y_score must be 2-D, got shape {y_score.shape}.")
    if y_score.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"y_true and y_score must have the same number of users (rows); got "
            f"{y_true.shape[0]} and {y_score.shape[0]}."
        )
    is_indices = np.issubdtype(y_score.dtype, np.integer)
    n_items = y_true.shape[1]
    if is_indices:
        if y_score.size and (y_score.max() >= n_items or y_score.min() < -1):
            raise ValueError(
                "Integer y_score is read as ranked item indices and must lie in "
                f"[-1, {n_items}); got values from {y_score.min()} to "
                f"{y_score.max()}. Pass float scores for a score matrix."
            )
    elif y_score.shape[1] != n_items:
        raise ValueError(
            f"y_score holds scores for {y_score.shape[1]} items but y_true has "
            f"{n_items} items (columns)."
        )
    elif _has_nan(y_score):
        raise ValueError("y_score contains NaN; score every item or use -inf to exclude it.")
    return y_score, is_indices


def _has_nan(y_score):
    """Whether float scores hold a NaN, without a mask the size of ``y_score``."""
    # a sum is NaN only if a term is (or +inf meets -inf): the exact check is then
    # made a block of rows at a time
    if not np.isnan(np.sum(y_score)):
        return False
    step = row_batch_size(y_score.shape[1])
    return any(np.isnan(y_score[rows]).any() for rows in iter_row_batches(len(y_score), step))


# ------------------------------------------------------ per-user computation


def _ranked(y_score_b, k, is_indices, n_items, first_row=0):
    """Ranked item indices, ``min(k, n_items)`` columns padded with -1.

    A list cannot hold more than ``n_items`` distinct items, so a cutoff
    beyond the catalogue changes no metric but precision (which divides by
    ``k`` itself) and must not cost memory. ``first_row`` is the batch's
    first row, for error messages.
    """
    width = min(k, n_items)
    if is_indices:
        # whole rows, not only the top k: integer scores (counts, ratings) repeat
        # values past the cut-off, and must not be silently read as item indices
        _check_no_repeats(y_score_b, first_row)
        idx = y_score_b[:, :width].astype(np.int64)
        if idx.shape[1] < width:
            pad = np.full((idx.shape[0], width - idx.shape[1]), -1, dtype=np.int64)
            idx = np.hstack([idx, pad])
        return idx
    return top_k(y_score_b, width)[0]


def _check_no_repeats(idx, first_row=0):
    """Ranked lists must not repeat an item: a repeat would count one hit twice."""
    if idx.shape[1] < 2:
        return
    ordered = np.sort(idx, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if repeated.any():
        row = int(np.flatnonzero(repeated.any(axis=1))[0])
        item = int(ordered[row, 1:][repeated[row]][0])
        raise ValueError(
            f"Ranked item indices repeat an item (row {first_row + row} lists item {item} "
            "more than once), which would count one hit several times. Pass each user's "
            "ranked list without duplicates, e.g. from estimator.recommend(X, k)[0], or "
            "integer scores as floats (y_score.astype(float))."
        )


def _gains(y_true_b, idx):
    """``y_true_b[u, idx[u, j]]`` for every slot, 0 for empty slots."""
    valid = idx >= 0
    safe = np.where(valid, idx, 0)
    rows = np.broadcast_to(np.arange(idx.shape[0])[:, None], idx.shape)
    g = np.asarray(y_true_b[rows.ravel(), safe.ravel()]).reshape(idx.shape)
    return np.where(valid, g, 0.0)


def _discounts(k):
    return 1.0 / np.log2(np.arange(2, k + 2))


def _per_user_ndcg(y_true_b, idx, k, gain="binary"):
    g = _gains(y_true_b, idx)
    n_rel = np.diff(y_true_b.indptr)
    width = idx.shape[1]  # min(k, n_items) >= min(k, n_rel)
    disc = _discounts(width)
    if gain == "binary":
        dcg = (g > 0) @ disc
        ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_rel, width)]
    else:
        dcg = g @ disc
        # ideal DCG: each user's held-out values in decreasing order, first k
        row = np.repeat(np.arange(len(n_rel)), n_rel)
        order = np.lexsort((-y_true_b.data, row))
        rank = np.arange(y_true_b.nnz) - y_true_b.indptr[row[order]]
        top = rank < width
        ideal = np.bincount(
            row[order][top],
            weights=y_true_b.data[order][top] * disc[rank[top]],
            minlength=len(n_rel),
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, dcg / ideal, np.nan)


def _per_user_recall(y_true_b, idx, k):
    hits = (_gains(y_true_b, idx) > 0).sum(axis=1)
    n_rel = np.diff(y_true_b.indptr)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, hits / np.minimum(n_rel, idx.shape[1]), np.nan)


def _per_user_precision(y_true_b, idx, k):
    hits = (_gains(y_true_b, idx) > 0).sum(axis=1)
    n_rel = np.diff(y_true_b.indptr)
    return np.where(n_rel > 0, hits / float(k), np.nan)


def _per_user_map(y_true_b, idx, k):
    rel = (_gains(y_true_b, idx) > 0).astype(np.float64)
    prec_at_i = np.cumsum(rel, axis=1) / np.arange(1, idx.shape[1] + 1)
    n_rel = np.diff(y_true_b.indptr)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (prec_at_i * rel).sum(axis=1) / np.minimum(n_rel, idx.shape[1])
        return np.where(n_rel > 0, ap, np.nan)


def _per_user_mrr(y_true_b, idx, k):
    rel = _gains(y_true_b, idx) > 0
    first = np.argmax(rel, axis=1)
    rr = np.where(rel.any(axis=1), 1.0 / (first + 1), 0.0)
    return np.where(np.diff(y_true_b.indptr) > 0, rr, np.nan)


def _per_user_hit_rate(y_true_b, idx, k):
    hit = (_gains(y_true_b, idx) > 0).any(axis=1).astype(np.float64)
    return np.where(np.diff(y_true_b.indptr) > 0, hit, np.nan)


def _per_user_auc(y_true_b, scores_b):
    scores_b = np.asarray(scores_b)
    if scores_b.dtype not in (np.float32, np.float64):  # bool, float16: not the kernel's
        scores_b = scores_b.astype(np.float64)
    n_rows = y_true_b.shape[0]
    out = np.empty(n_rows, dtype=np.float64)
    if n_rows:
        _auc_rows(y_true_b.indptr, y_true_b.indices, scores_b, out)
    return out


@parallel_kernel
def _auc_rows(indptr, indices, scores, out):
    """Each row's AUC from its held-out items' average ranks among the candidates.

    Held-out items scored -inf stay candidates, ranked below every other
    candidate; other -inf items are not candidates. A held-out item's rank
    needs the candidates scored below it and tied with it: one pass over the
    row places each score among the sorted held-out scores by binary search
    (n_items log n_held_out; an argsort of the rows cost n_items log n_items
    and held eight arrays the size of a block). Ranks are half-integers, so
    the sums are exact and the result does not depend on their order. Rows in
    parallel.
    """
    lowest = -np.finfo(np.float64).max
    n_items = scores.shape[1]
    for r in prange(out.shape[0]):
        start, stop = indptr[r], indptr[r + 1]
        n_pos = stop - start
        if n_pos == 0:
            out[r] = np.nan
            continue
        held = np.empty(n_pos, dtype=np.float64)
        n_held_inf = 0
        for p in range(start, stop):
            v = np.float64(scores[r, indices[p]])
            if v == -np.inf:
                n_held_inf += 1
                v = lowest
            held[p - start] = v
        held.sort()
        # below[t] (as a prefix sum of `greater`): candidates scored below held[t];
        # tied[t] (prefix sum of `ties`): candidates scored held[t], itself included
        greater = np.zeros(n_pos + 1, dtype=np.int64)
        ties = np.zeros(n_pos + 1, dtype=np.int64)
        n_inf = 0
        for j in range(n_items):
            v = np.float64(scores[r, j])
            if v == -np.inf:
                n_inf += 1  # not a candidate, or a held-out one: added as `lowest` below
                continue
            if v < held[0]:
                greater[0] += 1
                continue
            hi = np.searchsorted(held, v, side="right")
            greater[hi] += 1
            if held[hi - 1] == v:  # hi > 0 since v >= held[0]
                ties[np.searchsorted(held, v, side="left")] += 1
                ties[hi] -= 1
        if n_held_inf:
            hi = np.searchsorted(held, lowest, side="right")
            greater[hi] += n_held_inf
            ties[0] += n_held_inf
            ties[hi] -= n_held_inf
        rank_sum = 0.0
        below = 0
        tied = 0
        for t in range(n_pos):
            below += greater[t]
            tied += ties[t]
            rank_sum += below + (tied + 1) / 2.0
        n_neg = n_items - (n_inf - n_held_inf) - n_pos
        if n_neg > 0:
            out[r] = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        else:
            out[r] = np.nan


_TOP_K_METRICS = {
    "ndcg": _per_user_ndcg,
    "recall": _per_user_recall,
    "precision": _per_user_precision,
    "map": _per_user_map,
    "mrr": _per_user_mrr,
    "hit_rate": _per_user_hit_rate,
}


def _nanmean(values, name, why="no user has a held-out item in y_true"):
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.isnan(values).all():
        warnings.warn(
            f"{name} is undefined: {why}. Returning NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return float("nan")
    return float(np.nanmean(values))


def _top_k_metric(name, y_true, y_score, k, batch_size, relevance_threshold, **kwargs):
    k = check_k(k)
    y_true, y_score, is_indices = _check_y(y_true, y_score, relevance_threshold)
    fn = _TOP_K_METRICS[name]
    step = row_batch_size(y_true.shape[1], batch_size)
    values = [
        fn(y_true[rows], _ranked(y_score[rows], k, is_indices, y_true.shape[1], rows.start),
           k, **kwargs)
        for rows in iter_row_batches(y_true.shape[0], step)
    ]
    return _nanmean(np.concatenate(values) if values else [], f"{name}@{k}")


# ------------------------------------------------------------ public metrics

_PARAMS_DOC = """
    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_users, n_items)
        Held-out interactions; a non-zero marks a relevant item.
    y_score : ndarray of shape (n_users, n_items) or (n_users, n_ranked)
        Float scores (higher is better; ``-inf`` excludes an item; equal
        scores are ranked by item index, as in ``recommend``), or integer
        ranked item indices, best first, padded with ``-1``. The user's
        history is not known here: mask it with ``-inf`` (a model's
        ``decision_function`` ranks it first), or pass ``recommend``'s
        indices.
    k : int, default=10
        Rank cut-off.%(threshold)s
    batch_size : int, default=None
        Users per batch; by default chosen to bound memory.
"""
_THRESHOLD_DOC = """
    relevance_threshold : float, default=None
        Held-out values below it are not relevant: they stay candidates but
        are never hits (e.g. ``4`` on a 1-5 scale counts only ratings of 4
        and 5). Compared in the precision of float ``y_true`` (a float32
        rating of 0.7 reaches a threshold of 0.7, given as a Python or a NumPy
        float, as in :class:`~sklearn_recsys.preprocessing.RatingBinarizer`).
        None: every held-out interaction is relevant."""


def ndcg_at_k(y_true, y_score, *, k=10, relevance_threshold=None, batch_size=None,
              gain="binary"):
    r"""Normalized discounted cumulative gain at rank ``k``, averaged over users.

    .. math::

        \mathrm{DCG@k}(u) = \sum_{i=1}^{k} \frac{g_u(r_i)}{\log_2(i + 1)},\qquad
        \mathrm{NDCG@k}(u) = \frac{\mathrm{DCG@k}(u)}{\mathrm{IDCG@k}(u)}

    where :math:`r_i` is the item ranked :math:`i`-th. With ``gain="binary"``
    :math:`g_u(j) = 1` for a held-out item and the ideal DCG sums the first
    :math:`\min(k, |\mathcal{T}_u|)` discounts (Liang et al. 2018). With
    ``gain="graded"`` the gain is the value of ``y_true`` (e.g. a rating) and
    the ideal DCG ranks the user's held-out values in decreasing order.
    Users without held-out items are left out of the mean.
    %(params)s
    gain : {"binary", "graded"}, default="binary"
        Gain of a relevant item.

    Returns
    -------
    score : float
        Mean NDCG@k in [0, 1] over users with at least one held-out item.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import ndcg_at_k
    >>> y_true = sp.csr_matrix([[0, 1, 0, 1]])
    >>> y_score = np.array([[0.9, 0.8, 0.1, 0.2]])
    >>> round(ndcg_at_k(y_true, y_score, k=2), 4)
    0.3869
    """
    if gain not in ("binary", "graded"):
        raise ValueError(f"gain must be 'binary' or 'graded', got {gain!r}.")
    return _top_k_metric("ndcg", y_true, y_score, k, batch_size, relevance_threshold,
                         gain=gain)


def recall_at_k(y_true, y_score, *, k=10, relevance_threshold=None, batch_size=None):
    r"""Recall at rank ``k`` normalized by :math:`\min(k, |\mathcal{T}_u|)`.

    .. math::

        \mathrm{Recall@k}(u) = \frac{|\{r_1..r_k\} \cap \mathcal{T}_u|}{\min(k, |\mathcal{T}_u|)}

    as in Liang et al. (2018), so a perfect ranking scores 1 even when the
    user has more than ``k`` held-out items. Users without held-out items
    are left out of the mean.
    %(params)s
    Returns
    -------
    score : float
        Mean Recall@k in [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import recall_at_k
    >>> recall_at_k(sp.csr_matrix([[0, 1, 0, 1]]), np.array([[0.9, 0.8, 0.1, 0.2]]), k=2)
    0.5
    """
    return _top_k_metric("recall", y_true, y_score, k, batch_size, relevance_threshold)


def precision_at_k(y_true, y_score, *, k=10, relevance_threshold=None, batch_size=None):
    r"""Precision at rank ``k``: the share of the top ``k`` that is held out.

    .. math::

        \mathrm{Precision@k}(u) = \frac{|\{r_1..r_k\} \cap \mathcal{T}_u|}{k}

    Empty slots (fewer than ``k`` candidates) count as misses. Users without
    held-out items are left out of the mean.
    %(params)s
    Returns
    -------
    score : float
        Mean Precision@k in [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import precision_at_k
    >>> precision_at_k(sp.csr_matrix([[0, 1, 0, 1]]), np.array([[0.9, 0.8, 0.1, 0.2]]), k=2)
    0.5
    """
    return _top_k_metric("precision", y_true, y_score, k, batch_size, relevance_threshold)


def map_at_k(y_true, y_score, *, k=10, relevance_threshold=None, batch_size=None):
    r"""Mean average precision at rank ``k``.

    .. math::

        \mathrm{AP@k}(u) = \frac{1}{\min(k, |\mathcal{T}_u|)}
        \sum_{i=1}^{k} \mathrm{Precision@i}(u)\,[r_i \in \mathcal{T}_u]

    averaged over users with at least one held-out item.
    %(params)s
    Returns
    -------
    score : float
        MAP@k in [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import map_at_k
    >>> map_at_k(sp.csr_matrix([[0, 1, 0, 1]]), np.array([[0.9, 0.8, 0.1, 0.2]]), k=3)
    0.5833333333333333
    """
    return _top_k_metric("map", y_true, y_score, k, batch_size, relevance_threshold)


def mrr_at_k(y_true, y_score, *, k=10, relevance_threshold=None, batch_size=None):
    r"""Mean reciprocal rank of the first held-out item within the top ``k``.

    .. math::

        \mathrm{RR@k}(u) = \frac{1}{\min\{i \le k : r_i \in \mathcal{T}_u\}}

    and 0 when no held-out item is in the top ``k``. Pass ``k=n_items`` for
    the uncut MRR. Users without held-out items are left out of the mean.
    %(params)s
    Returns
    -------
    score : float
        MRR@k in [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import mrr_at_k
    >>> mrr_at_k(sp.csr_matrix([[0, 1, 0, 1]]), np.array([[0.9, 0.8, 0.1, 0.2]]), k=3)
    0.5
    """
    return _top_k_metric("mrr", y_true, y_score, k, batch_size, relevance_threshold)


def hit_rate_at_k(y_true, y_score, *, k=10, relevance_threshold=None, batch_size=None):
    r"""Share of users with at least one held-out item in their top ``k``.

    .. math::

        \mathrm{HR@k}(u) = [\{r_1..r_k\} \cap \mathcal{T}_u \neq \emptyset]

    Users without held-out items are left out of the mean.
    %(params)s
    Returns
    -------
    score : float
        HitRate@k in [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import hit_rate_at_k
    >>> hit_rate_at_k(sp.csr_matrix([[0, 1, 0, 1]]), np.array([[0.9, 0.8, 0.1, 0.2]]), k=1)
    0.0
    """
    return _top_k_metric("hit_rate", y_true, y_score, k, batch_size, relevance_threshold)


def auc(y_true, y_score, *, relevance_threshold=None, batch_size=None):
    r"""Area under the ROC curve of each user's ranking, averaged over users.

    .. math::

        \mathrm{AUC}(u) = \frac{1}{|\mathcal{T}_u|\,|\mathcal{N}_u|}
        \sum_{i \in \mathcal{T}_u} \sum_{j \in \mathcal{N}_u}
        \left([s_{ui} > s_{uj}] + \tfrac12 [s_{ui} = s_{uj}]\right)

    where the negatives :math:`\mathcal{N}_u` are the items with a finite
    score that are not held out (items scored ``-inf``, such as the user's
    fold-in items, are not candidates). Users without held-out items, or
    without negatives, are left out of the mean.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_users, n_items)
        Held-out interactions.
    y_score : ndarray of shape (n_users, n_items)
        Float scores.
    relevance_threshold : float, default=None
        Held-out values below it are not relevant (they count as negatives);
        None: every held-out interaction is relevant.
    batch_size : int, default=None
        Users per batch.

    Returns
    -------
    score : float
        Mean per-user AUC in [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import auc
    >>> auc(sp.csr_matrix([[0, 1, 0, 1]]), np.array([[0.9, 0.8, 0.1, 0.2]]))
    0.5
    """
    y_true, y_score, is_indices = _check_y(y_true, y_score, relevance_threshold)
    if is_indices:
        raise ValueError("auc needs float scores for every item, not ranked indices.")
    step = row_batch_size(y_true.shape[1], batch_size)
    values = [
        _per_user_auc(y_true[rows], y_score[rows])
        for rows in iter_row_batches(y_true.shape[0], step)
    ]
    # a user whose every candidate is held out has no pair to compare either
    return _nanmean(np.concatenate(values) if values else [], "auc",
                    "no user has both a held-out item in y_true and a candidate that is "
                    "not held out (nor excluded by -inf) to rank it against")


def catalog_coverage(y_true, y_score, *, k=10, batch_size=None):
    r"""Share of the catalogue recommended to at least one user in the top ``k``.

    .. math::

        \mathrm{Coverage@k} = \frac{|\bigcup_u \{r_1(u)..r_k(u)\}|}{n_{items}}

    Every user (row) counts, whether or not it has held-out items; ``y_true``
    only gives the catalogue size.
    %(params)s
    Returns
    -------
    coverage : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import catalog_coverage
    >>> catalog_coverage(sp.csr_matrix((2, 4)), np.array([[0.9, 0.8, 0.1, 0.2],
    ...                                                  [0.1, 0.8, 0.9, 0.2]]), k=1)
    0.5
    """
    k = check_k(k)
    y_true, y_score, is_indices = _check_y(y_true, y_score)
    seen = np.zeros(y_true.shape[1], dtype=bool)
    step = row_batch_size(y_true.shape[1], batch_size)
    for rows in iter_row_batches(y_true.shape[0], step):
        idx = _ranked(y_score[rows], k, is_indices, y_true.shape[1], rows.start)
        seen[idx[idx >= 0]] = True
    return float(seen.mean())


for _f in (ndcg_at_k, recall_at_k, precision_at_k, map_at_k, mrr_at_k,
           hit_rate_at_k, catalog_coverage):
    _doc = _PARAMS_DOC % {"threshold": "" if _f is catalog_coverage else _THRESHOLD_DOC}
    _f.__doc__ = _f.__doc__.replace("    %(params)s\n", "\n" + _doc.strip("\n") + "\n\n")
del _f, _doc
