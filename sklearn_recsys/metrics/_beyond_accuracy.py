"""Beyond-accuracy metrics: popularity bias, exposure, novelty, calibration.

The lists are given as in :mod:`._ranking`: ``y_score`` holds dense float
scores ``(n_users, n_items)`` (``-inf`` excludes an item) or integer ranked
item indices ``(n_users, n_ranked)`` padded with ``-1``; the top ``k`` of a
row is that user's list ``L_u``. Lists are read in row batches, so nothing of
size ``(n_users, n_items)`` is created beyond the caller's ``y_score``.

Popularity always comes from the **training** data, passed as
``item_popularity`` (a training interaction matrix, or one value per item):
an item's popularity :math:`\\phi(i)` is its share of the training
interactions (users who interacted with it, divided by all training
interactions). It must never be computed from the held-out users, or a
model would be judged by the very data it is tested on.

The short head is the smallest set of most popular items that holds 80% of
the training interactions, the long tail the rest (Abdollahpouri et al.
2017; Elliot's ``Popularity``): items are sorted by decreasing popularity,
ties by item index, and the item that crosses 80% is still in the head;
items without training interactions are always in the tail.

A user with an empty list (every slot ``-1``, e.g. every item seen) has no
defined value and is left out of the per-user means; if no user has a value
the result is NaN with an ``UndefinedMetricWarning``.
"""

import warnings
from collections.abc import Iterable
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import check_array

from ..utils._topk import iter_row_batches, row_batch_size
from ..utils._validation import (
    _float_before_summing,
    check_column_order,
    check_interaction_matrix,
    check_k,
    is_missing,
)
from ._ranking import (
    _check_y,
    _gains,
    _per_user_ndcg,
    _per_user_recall,
    _ranked,
)

__all__ = [
    "popularity_buckets",
    "arp_at_k",
    "aplt_at_k",
    "long_tail_coverage",
    "gini_index",
    "novelty_at_k",
    "miscalibration_at_k",
    "ndcg_at_k_by_popularity",
    "recall_at_k_by_popularity",
    "ips_ndcg_at_k",
    "ips_recall_at_k",
]

# Steck (2018), Sec. 3: the list's category mix is smoothed with the user's,
# q~ = (1 - alpha) q + alpha p, so that KL(p || q~) stays finite.
STECK_ALPHA = 0.01
# Yang et al. (2018) fit the exponent of their popularity model on each data
# set; on CiteULike-a (the data set of ../shared/data) it lies in 1.55-1.89,
# 1.69 on average (1.87 on Amazon books, 2.69 on Tradesy).
YANG_GAMMA = 1.69
SHORT_HEAD_SHARE = 0.8


# ---------------------------------------------------------------- validation


def _check_item_popularity(item_popularity, n_items, where="y_true"):
    """Training share of each item (float64, sums to 1) from counts, shares or a matrix.

    ``n_items=None`` skips the catalogue-size check.
    """
    if not sp.issparse(item_popularity) and np.ndim(item_popularity) == 2 \
            and np.shape(item_popularity)[0] == 1:
        # one dense row is one value per item (np.asarray((X_train != 0).sum(axis=0))),
        # not a one-user matrix: counting its non-zeros would make every item equal
        item_popularity = np.asarray(item_popularity).ravel()
    if sp.issparse(item_popularity) or np.ndim(item_popularity) == 2:
        X = check_interaction_matrix(item_popularity, input_name="item_popularity")
        # popularity is the number of users who interacted with an item (the
        # count of the literature), not the sum of ratings or play counts
        counts = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
    elif np.ndim(item_popularity) == 1:
        check_column_order(item_popularity, "item_popularity")
        counts = check_array(item_popularity, ensure_2d=False, dtype=np.float64,
                             input_name="item_popularity")
        if (counts < 0).any():
            raise ValueError(
                f"item_popularity has negative values (item {int(np.argmax(counts < 0))} has "
                f"{counts[counts < 0][0]}); a popularity is a count or a share of the "
                "training interactions.")
    else:
        raise ValueError(
            "item_popularity must be the training interaction matrix (n_users, n_items) or "
            f"one value per item (n_items,); got an array of shape {np.shape(item_popularity)}.")
    if n_items is not None and counts.shape[0] != n_items:
        raise ValueError(
            f"item_popularity describes {counts.shape[0]} items but {where} has {n_items} "
            "items (columns); pass the training data of the same catalogue.")
    total = counts.sum()
    if total <= 0:
        raise ValueError(
            "item_popularity has no positive value: the training data holds no "
            "interaction, so no item is more popular than another.")
    return counts / total


def _check_share(value, name):
    if isinstance(value, bool) or not isinstance(value, (Real, np.number)) or not 0 < value < 1:
        raise ValueError(f"{name} must be a share in (0, 1), got {value!r}.")
    return float(value)


def _check_buckets(buckets):
    """Cumulative-share boundaries between popularity buckets, increasing, in (0, 1)."""
    if isinstance(buckets, (Integral, np.integer)) and not isinstance(buckets, bool):
        if buckets < 2:
            raise ValueError(f"buckets must be at least 2 when an int, got {buckets}.")
        return np.arange(1, buckets) / buckets
    try:
        bounds = np.asarray(buckets, dtype=np.float64)
    except (TypeError, ValueError):
        bounds = None
    if (bounds is None or bounds.ndim != 1 or bounds.size == 0
            or not ((bounds > 0) & (bounds < 1)).all() or (np.diff(bounds) <= 0).any()):
        raise ValueError(
            "buckets must be an int n >= 2 (n buckets holding equal shares of the training "
            "interactions) or an increasing sequence of cumulative shares in (0, 1), e.g. "
            f"(0.8,) for the short head and the long tail; got {buckets!r}.")
    return bounds


def _bucket_of(share, bounds):
    """Bucket of each item: how many boundaries the items more popular than it reach."""
    order = np.argsort(-share, kind="stable")  # ties by item index, as Elliot
    before = np.concatenate([[0.0], np.cumsum(share[order])[:-1]])
    bucket = np.empty(len(share), dtype=np.int64)
    # a boundary reached up to the rounding of the cumulative sum is reached (0.1 + 0.7
    # < 0.8 in floating point); an absolute 1e-9 also moved a share 1e-10 short of the
    # boundary past it (more than 1e9 training interactions)
    tol = 1e-12 + len(share) * np.finfo(np.float64).eps
    bucket[order] = np.searchsorted(bounds, before + tol, side="right")
    bucket[share == 0] = len(bounds)
    return bucket


def _is_number_or_missing(value):
    return isinstance(value, (Real, np.number, np.bool_)) or is_missing(value)


def _labels_of(entry):
    """One item's labels: a collection of them, or one label given alone ("drama",
    not its characters); missing ones (None, NaN) left out."""
    if is_missing(entry):
        return []
    if isinstance(entry, np.ndarray) and entry.ndim == 0:
        return [entry.item()]
    if isinstance(entry, (str, bytes)) or not isinstance(entry, Iterable):
        return [entry]
    return [label for label in entry if not is_missing(label)]


def _category_matrix(categories):
    """``categories`` as a sparse (n_items, n_categories) matrix of memberships."""
    if sp.issparse(categories):
        # duplicates summed as X's are (not in uint8, not as 1 + 1 for booleans)
        return check_array(_float_before_summing(categories, (np.float64,)),
                           accept_sparse="csr", dtype=np.float64, input_name="categories")
    try:
        arr = np.asarray(categories)
    except ValueError:  # lists of labels of different lengths
        arr = None
    if arr is not None and arr.ndim == 2 and arr.dtype == object and all(
            _is_number_or_missing(e) for e in arr.flat):
        # a membership matrix of object dtype (pandas' nullable Int64 or boolean
        # columns): read as one, not as label sets of the values 0 and 1
        arr = np.array([[np.nan if is_missing(e) else float(e) for e in row] for row in arr])
    label_sets = arr is None or (
        arr.ndim == 2 and arr.dtype.kind not in "biuf") or (
        arr.ndim == 1 and arr.dtype == object
        and any(isinstance(e, (list, tuple, set, frozenset)) for e in arr))
    if label_sets:  # e.g. fetch_movielens(...).item_genres
        from sklearn.preprocessing import MultiLabelBinarizer

        # the rows of arr, not of categories (a DataFrame iterates over its column
        # names); a label given alone ("drama" beside ["drama", "romance"]) is one label,
        # not the characters of a string
        rows = [_labels_of(e) for e in (categories if arr is None else arr)]
        return sp.csr_matrix(MultiLabelBinarizer(sparse_output=True).fit_transform(rows),
                             dtype=np.float64)
    if arr.ndim == 1:  # one label per item; a missing one (None, NaN, NA): no category
        if arr.dtype.kind == "f":
            missing = np.isnan(arr)
        elif arr.dtype == object:
            missing = np.array([is_missing(e) for e in arr], dtype=bool)
        else:
            missing = np.zeros(len(arr), dtype=bool)
        try:
            labels, codes = np.unique(arr[~missing], return_inverse=True)
        except TypeError as exc:
            raise ValueError(
                "categories as a 1-D array must hold one label per item, all of one "
                f"comparable type (str or int), or None for an item without one; {exc}"
            ) from None
        items = np.flatnonzero(~missing)
        return sp.csr_matrix((np.ones(len(items)), (items, codes.ravel())),
                             shape=(len(arr), len(labels)))
    if arr.ndim == 2:
        if (isinstance(categories, (list, tuple)) and arr.dtype.kind in "iu"
                and arr.size and not np.isin(arr, (0, 1)).all()):
            # [[3], [1], [3]] (a genre id per item) would be one column of weights
            raise ValueError(
                "categories is a list of lists of integers that are not all 0 or 1: as a "
                "membership matrix they would be weights, but they look like label ids. "
                "Pass each item's labels as a set ({3}, {1, 2}, set() for none), or a "
                "membership matrix of weights as a NumPy array.")
        return sp.csr_matrix(check_array(arr, dtype=np.float64, input_name="categories"))
    raise ValueError(
        "categories must be an (n_items, n_categories) membership matrix, one label per "
        "item (n_items,), or one list of labels per item; got an array of shape "
        f"{arr.shape}.")


def _check_categories(categories, n_items, where="y_true"):
    """Category distribution of each item, p(g | i): a row-normalized CSR matrix.

    Items without a category keep an all-zero row.
    """
    if categories is None:
        raise ValueError("miscalibration needs categories: one label, list of labels or "
                         "row of memberships per item (e.g. MovieLens genres).")
    check_column_order(categories, "categories")
    C = _category_matrix(categories)
    if n_items is not None and C.shape[0] != n_items:
        raise ValueError(
            f"categories describes {C.shape[0]} items but {where} has {n_items} items "
            "(columns); pass one label (1-D), list of labels or row of memberships "
            "(2-D) per item, in column order.")
    if C.nnz and C.data.min() < 0:
        raise ValueError("categories has negative memberships; use 0/1 flags or "
                         "non-negative weights.")
    mass = np.asarray(C.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        # an item of several categories counts as a share of each (Steck's p(g|i))
        return sp.csr_matrix(sp.diags(np.where(mass > 0, 1.0 / mass, 0.0)) @ C)


def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, (Real, np.number)) or not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}; Steck (2018) uses 0.01.")
    return float(alpha)


def _check_gamma(gamma):
    if (isinstance(gamma, bool) or not isinstance(gamma, (Real, np.number))
            or not np.isfinite(gamma)):
        raise ValueError(f"gamma must be a finite number, got {gamma!r}.")
    return float(gamma)


# ------------------------------------------------------ per-batch accumulation


def _mean_over_users(values, name, undefined):
    values = np.concatenate(values) if values else np.empty(0)
    if values.size == 0 or np.isnan(values).all():
        warnings.warn(f"{name} is undefined: {undefined}. Returning NaN.",
                      UndefinedMetricWarning, stacklevel=4)
        return float("nan")
    return float(np.nanmean(values))


class _UserMean:
    """Mean over users of ``per_user(y_true_batch, idx)``; NaN users are left out."""

    def __init__(self, per_user, name, undefined):
        self.per_user, self.name, self.undefined = per_user, name, undefined
        self.values = []

    def add(self, y_true, idx):
        self.values.append(self.per_user(y_true, idx))

    def result(self):
        return _mean_over_users(self.values, self.name, self.undefined)


class _Exposure:
    """How often each item is recommended over all lists, summarized at the end."""

    def __init__(self, summary, n_items):
        self.summary = summary
        self.counts = np.zeros(n_items, dtype=np.int64)

    def add(self, y_true, idx):
        self.counts += np.bincount(idx[idx >= 0], minlength=len(self.counts))

    def result(self):
        return self.summary(self.counts)


class _ByBucket:
    """A top-k accuracy metric on the held-out items of each popularity bucket."""

    def __init__(self, per_user, name, k, bucket_of, wanted):
        self.per_user, self.name, self.k = per_user, name, k
        self.bucket_of, self.wanted = bucket_of, wanted
        self.values = {b: [] for b in wanted}

    def add(self, y_true, idx):
        bucket = self.bucket_of[y_true.indices]
        for b in self.wanted:
            self.values[b].append(self.per_user(_keep(y_true, bucket == b), idx, self.k))

    def result(self):
        return np.array([
            _mean_over_users(self.values[b], f"{self.name} of popularity bucket {b}",
                             "no user has a held-out item in that bucket")
            for b in self.wanted])


def _keep(y, mask):
    """``y`` keeping only the stored entries where ``mask`` (over ``y.data``) holds."""
    y = y.copy()
    y.data[~mask] = 0
    y.eliminate_zeros()
    return y


def _list_mean(item_values):
    """Per user, the mean of ``item_values`` over the items of the list."""
    def per_user(y_true, idx):
        valid = idx >= 0
        total = np.where(valid, item_values[np.where(valid, idx, 0)], 0.0).sum(axis=1)
        n = valid.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / n, np.nan)
    return per_user


def _gini(counts):
    total = counts.sum()
    if total == 0:
        warnings.warn("gini_index is undefined: no list holds an item. Returning NaN.",
                      UndefinedMetricWarning, stacklevel=4)
        return float("nan")
    n = len(counts)
    if n == 1:
        return 0.0
    rank = np.arange(1, n + 1)
    return float((2 * rank - n - 1) @ (np.sort(counts) / total) / (n - 1))


def _tail_coverage(tail):
    def summary(counts):
        if not tail.any():
            warnings.warn("long_tail_coverage is undefined: the training data has no "
                          "long-tail item. Returning NaN.", UndefinedMetricWarning,
                          stacklevel=4)
            return float("nan")
        return float((counts[tail] > 0).mean())
    return summary


def _self_information(share):
    """``-log2`` of each item's training share; an unseen item counts as the rarest seen one.

    Its self-information would be infinite and one such item would make the
    mean infinite; clipping to the smallest positive share keeps the mean
    finite and changes no item that was seen in training.
    """
    return -np.log2(np.maximum(share, share[share > 0].min()))


def _category_mix(M, C):
    """Category distribution of each row's items (uniform weights) and its total mass."""
    mass = np.asarray((M @ C).todense())
    total = mass.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total[:, None] > 0, mass / total[:, None], 0.0), total


def _miscalibration(C, alpha):
    def per_user(history, idx):
        # p, q, p / q, the logs and the masks are about eight dense arrays as wide as the
        # categories, not the items the batch was sized by (tags can outnumber them)
        step = row_batch_size(8 * C.shape[1])
        if idx.shape[0] > step:
            return np.concatenate([per_user(history[rows], idx[rows])
                                   for rows in iter_row_batches(idx.shape[0], step)])
        valid = idx >= 0
        # every item of the history counts once, whatever its value (Steck's
        # uniform weights): a rating of 2 is still a movie the user watched
        seen = sp.csr_matrix((np.ones(history.nnz), history.indices, history.indptr),
                             shape=history.shape)
        p, p_mass = _category_mix(seen, C)
        rows = np.repeat(np.arange(idx.shape[0]), valid.sum(axis=1))
        listed = sp.csr_matrix((np.ones(rows.size), (rows, idx[valid])), shape=history.shape)
        # a list of uncategorized items only has q = 0: the largest KL, -log(alpha)
        q, _ = _category_mix(listed, C)
        q = (1 - alpha) * q + alpha * p
        with np.errstate(invalid="ignore", divide="ignore"):
            kl = np.where(p > 0, p * np.log(p / q), 0.0).sum(axis=1)
        return np.where((p_mass > 0) & valid.any(axis=1), kl, np.nan)
    return per_user


def _ips_weights(share, gamma):
    """Inverse propensity of each item, 0 for items without training interactions.

    Yang et al. (2018): the propensity of an observed interaction with item
    ``i`` is proportional to ``n_i ** ((gamma + 1) / 2)``. Only ratios of
    weights enter the per-user values, so shares serve as well as counts.
    """
    w = np.zeros_like(share)
    seen = share > 0
    # in logs, scaled by the largest weight: a large gamma must not overflow;
    # and floored at the smallest normal float: the most popular items' weights
    # must not underflow to 0, which would drop them as if never trained on
    log_w = -(gamma + 1) / 2 * np.log(share[seen])
    w[seen] = np.maximum(np.exp(log_w - log_w.max()), np.finfo(np.float64).tiny)
    return w


def _weighted(y, w):
    """``y`` with each held-out item's value replaced by ``w``; weight-0 items dropped."""
    y = y.copy()
    y.data = w[y.indices]
    y.eliminate_zeros()
    return y


def _per_user_ips_recall(y_w, idx, k):
    # the weight of the hits over the best weight a list of this length holds:
    # with equal weights, hits / min(k, |T_u|) as recall_at_k
    hit = _gains(y_w, idx).sum(axis=1)
    row = np.repeat(np.arange(y_w.shape[0]), np.diff(y_w.indptr))
    order = np.lexsort((-y_w.data, row))
    rank = np.empty(y_w.nnz, dtype=np.int64)
    rank[order] = np.arange(y_w.nnz) - y_w.indptr[row[order]]
    ideal = np.bincount(row, weights=np.where(rank < idx.shape[1], y_w.data, 0.0),
                        minlength=y_w.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ideal > 0, hit / ideal, np.nan)


def _check_bucket(bucket, n_buckets):
    """Index of the bucket a scorer returns: an int (negative from the end), "head" or "tail"."""
    if bucket == "head":
        return 0
    if bucket == "tail":
        return n_buckets - 1
    if (isinstance(bucket, bool) or not isinstance(bucket, (Integral, np.integer))
            or not -n_buckets <= bucket < n_buckets):
        raise ValueError(f"bucket must be 'head', 'tail' or an int in [{-n_buckets}, "
                         f"{n_buckets}) for {n_buckets} popularity buckets, got {bucket!r}.")
    return int(bucket) % n_buckets


# metric -> whether it reads the training popularity
NEEDS_POPULARITY = {
    "arp": True, "aplt": True, "long_tail_coverage": True, "gini_index": False,
    "novelty": True, "miscalibration": False, "ndcg_by_popularity": True,
    "recall_by_popularity": True, "ips_ndcg": True, "ips_recall": True,
}


def _accumulator(metric, n_items, k, *, item_popularity=None, where="y_true",
                 short_head_share=SHORT_HEAD_SHARE, categories=None, alpha=STECK_ALPHA,
                 buckets=(SHORT_HEAD_SHARE,), bucket=None, gamma=YANG_GAMMA):
    """Validated running state of ``metric``: ``add(y_true_batch, idx)``, then ``result()``.

    ``bucket=None`` makes the by-popularity metrics return every bucket.
    """
    share = None
    if NEEDS_POPULARITY[metric]:
        share = _check_item_popularity(item_popularity, n_items, where)
    empty = "every list is empty"
    if metric == "arp":
        return _UserMean(_list_mean(share), f"arp@{k}", empty)
    if metric == "novelty":
        return _UserMean(_list_mean(_self_information(share)), f"novelty@{k}", empty)
    if metric in ("aplt", "long_tail_coverage"):
        share_head = _check_share(short_head_share, "short_head_share")
        tail = _bucket_of(share, np.array([share_head])) == 1
        if metric == "aplt":
            return _UserMean(_list_mean(tail.astype(np.float64)), f"aplt@{k}", empty)
        return _Exposure(_tail_coverage(tail), n_items)
    if metric == "gini_index":
        return _Exposure(_gini, n_items)
    if metric == "miscalibration":
        C = _check_categories(categories, n_items, where)
        return _UserMean(_miscalibration(C, _check_alpha(alpha)), f"miscalibration@{k}",
                         "no user has both a non-empty list and a history item with a "
                         "category")
    if metric in ("ips_ndcg", "ips_recall"):
        w = _ips_weights(share, _check_gamma(gamma))
        if metric == "ips_ndcg":
            def per_user(y, idx):
                return _per_user_ndcg(_weighted(y, w), idx, k, gain="graded")
        else:
            def per_user(y, idx):
                return _per_user_ips_recall(_weighted(y, w), idx, k)
        return _UserMean(per_user, f"{metric}@{k}",
                         "no user has a held-out item with training interactions")
    # ndcg_by_popularity, recall_by_popularity
    bounds = _check_buckets(buckets)
    bucket_of = _bucket_of(share, bounds)
    n_buckets = len(bounds) + 1
    wanted = range(n_buckets) if bucket is None else [_check_bucket(bucket, n_buckets)]
    per_user = _per_user_ndcg if metric == "ndcg_by_popularity" else _per_user_recall
    return _ByBucket(per_user, f"{metric.split('_')[0]}@{k}", k, bucket_of, wanted)


def _evaluate(metric, y_true, y_score, k, batch_size, relevance_threshold=None, **options):
    """Run ``metric`` over the row batches of ``y_true`` and ``y_score``."""
    k = check_k(k)
    y_true, y_score, is_indices = _check_y(y_true, y_score, relevance_threshold)
    n_items = y_true.shape[1]
    acc = _accumulator(metric, n_items, k, **options)
    for rows in iter_row_batches(y_true.shape[0], row_batch_size(n_items, batch_size)):
        acc.add(y_true[rows], _ranked(y_score[rows], k, is_indices, n_items, rows.start))
    return acc.result()


# ------------------------------------------------------------ public metrics

_DOCS = {
    "y_true_shape": """y_true : {array-like, sparse matrix} of shape (n_users, n_items)
        Only its shape is used (the catalogue and the users): every user's
        list counts, whether or not the user has held-out items.""",
    "y_true_heldout": """y_true : {array-like, sparse matrix} of shape (n_users, n_items)
        Held-out interactions; a non-zero marks a relevant item.""",
    "y_score": """y_score : ndarray of shape (n_users, n_items) or (n_users, n_ranked)
        Float scores (higher is better; ``-inf`` excludes an item), or integer
        ranked item indices, best first, padded with ``-1``.""",
    "item_popularity": """item_popularity : {array-like, sparse matrix} of shape \
(n_train_users, n_items) or (n_items,)
        Popularity in the **training** data: the training interaction matrix
        (an item's popularity is the number of users who interacted with
        it), or one non-negative count or share per item (also as one dense
        row, such as ``np.asarray((X_train != 0).sum(axis=0))``: the users of
        each item, where ``X_train.sum(axis=0)`` would add ratings or play
        counts; a sparse matrix is always read as users' interactions). Only shares
        matter (it is divided by its sum). Never the held-out data.""",
    "k": """k : int, default=10
        Rank cut-off: the list of a user is the top ``k``.""",
    "short_head_share": """short_head_share : float, default=0.8
        Share of the training interactions held by the short head; the
        other items are the long tail.""",
    "threshold": """relevance_threshold : float, default=None
        Held-out values below it are not relevant: they stay candidates but
        are never hits. None: every held-out interaction is relevant.""",
    "batch_size": """batch_size : int, default=None
        Users per batch; by default chosen to bound memory.""",
}


def popularity_buckets(item_popularity, *, buckets=(SHORT_HEAD_SHARE,)):
    """Popularity bucket of each item, 0 for the most popular.

    Items are sorted by decreasing training popularity (ties by item index)
    and cut where the running share of the training interactions of the
    items before an item reaches each boundary: the default ``(0.8,)`` gives
    the short head (bucket 0, the items holding 80% of the interactions,
    the one that crosses 80% included) and the long tail (bucket 1), as in
    Abdollahpouri et al. (2017) and Elliot. Items without training
    interactions are in the last bucket.

    Parameters
    ----------
    %(item_popularity)s
    buckets : int or array-like of float, default=(0.8,)
        Increasing cumulative shares in (0, 1) that close each bucket but
        the last, or an int ``n``: ``n`` buckets holding ``1 / n`` of the
        training interactions each. A bucket can be empty when one item
        holds more than a bucket's share.

    Returns
    -------
    bucket : ndarray of shape (n_items,), dtype int64
        In ``[0, n_buckets)``.

    Examples
    --------
    >>> from sklearn_recsys.metrics import popularity_buckets
    >>> popularity_buckets([50, 30, 10, 6, 4, 0])
    array([0, 0, 1, 1, 1, 1])
    >>> popularity_buckets([50, 30, 10, 6, 4, 0], buckets=(0.5, 0.9))
    array([0, 1, 1, 2, 2, 2])
    """
    return _bucket_of(_check_item_popularity(item_popularity, None), _check_buckets(buckets))


def arp_at_k(y_true, y_score, *, item_popularity, k=10, batch_size=None):
    r"""Average recommendation popularity: the mean training share of the listed items.

    .. math::

        \mathrm{ARP@k} = \frac{1}{|U|} \sum_{u \in U} \frac{1}{|L_u|}
        \sum_{i \in L_u} \phi(i)

    where :math:`\phi(i)` is item :math:`i`'s share of the training
    interactions (Abdollahpouri et al. 2019 use the count; the share is the
    count divided by the number of training interactions, so values of
    training sets of different sizes, such as cross-validation folds,
    compare). Lower means less popularity bias. Users with an empty list
    are left out of the mean.

    Parameters
    ----------
    %(list_params)s
    %(batch_size)s

    Returns
    -------
    score : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import arp_at_k
    >>> X_train = sp.csr_matrix([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 0], [1, 1, 0, 1]])
    >>> lists = np.array([[0, 1], [2, 3]])  # e.g. model.recommend(X_test, k=2)[0]
    >>> arp_at_k(sp.csr_matrix((2, 4)), lists, item_popularity=X_train, k=2)
    0.25
    """
    return _evaluate("arp", y_true, y_score, k, batch_size, item_popularity=item_popularity)


def aplt_at_k(y_true, y_score, *, item_popularity, k=10, short_head_share=SHORT_HEAD_SHARE,
              batch_size=None):
    r"""Average percentage of long-tail items: the long tail's share of each list.

    .. math::

        \mathrm{APLT@k} = \frac{1}{|U|} \sum_{u \in U} \frac{|L_u \cap \Gamma|}{|L_u|}

    where :math:`\Gamma` is the long tail: the items outside the short head,
    the most popular items holding ``short_head_share`` of the training
    interactions (Abdollahpouri et al. 2019; see :func:`popularity_buckets`).
    Higher means more exposure of the long tail. Users with an empty list
    are left out of the mean.

    Parameters
    ----------
    %(list_params)s
    %(short_head_share)s
    %(batch_size)s

    Returns
    -------
    score : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import aplt_at_k
    >>> popularity = [50, 30, 10, 6, 4]  # items 2, 3 and 4 are the long tail
    >>> aplt_at_k(sp.csr_matrix((2, 5)), np.array([[0, 2], [3, 4]]),
    ...           item_popularity=popularity, k=2)
    0.75
    """
    return _evaluate("aplt", y_true, y_score, k, batch_size, item_popularity=item_popularity,
                     short_head_share=short_head_share)


def long_tail_coverage(y_true, y_score, *, item_popularity, k=10,
                       short_head_share=SHORT_HEAD_SHARE, batch_size=None):
    r"""Share of the long-tail items recommended to at least one user in the top ``k``.

    .. math::

        \mathrm{LTC@k} = \frac{|\bigcup_u L_u \cap \Gamma|}{|\Gamma|}

    with the long tail :math:`\Gamma` as in :func:`aplt_at_k`
    (Abdollahpouri et al. 2017). Every user's list counts. NaN with a
    warning if the training data has no long-tail item.

    Parameters
    ----------
    %(list_params)s
    %(short_head_share)s
    %(batch_size)s

    Returns
    -------
    coverage : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import long_tail_coverage
    >>> long_tail_coverage(sp.csr_matrix((2, 5)), np.array([[0, 2], [0, 1]]),
    ...                    item_popularity=[50, 30, 10, 6, 4], k=2)
    0.3333333333333333
    """
    return _evaluate("long_tail_coverage", y_true, y_score, k, batch_size,
                     item_popularity=item_popularity, short_head_share=short_head_share)


def gini_index(y_true, y_score, *, k=10, batch_size=None):
    r"""Gini index of item exposure: how unequally the top-``k`` slots go to items.

    .. math::

        \mathrm{Gini@k} = \frac{1}{n - 1} \sum_{j=1}^{n} (2j - n - 1)\, p(i_j)

    where :math:`p(i)` is item :math:`i`'s share of all recommendation
    slots over every user's list, the :math:`n` items of the catalogue sorted
    by increasing :math:`p` (Castells et al. 2015). 0: every item is
    recommended equally often; 1: one item takes every slot. Lower means
    fairer exposure (some libraries report ``1 - Gini`` as a diversity
    index under the same name: compare with care). NaN with a warning if
    every list is empty.

    Parameters
    ----------
    %(y_true_shape)s
    %(y_score)s
    %(k)s
    %(batch_size)s

    Returns
    -------
    gini : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import gini_index
    >>> round(gini_index(sp.csr_matrix((3, 4)), np.array([[0, 1], [0, 2], [0, 1]]), k=2), 4)
    0.5556
    """
    return _evaluate("gini_index", y_true, y_score, k, batch_size)


def novelty_at_k(y_true, y_score, *, item_popularity, k=10, batch_size=None):
    r"""Novelty: the mean self-information of the listed items, in bits.

    .. math::

        \mathrm{Novelty@k} = \frac{1}{|U|} \sum_{u \in U} \frac{1}{|L_u|}
        \sum_{i \in L_u} -\log_2 \phi(i)

    with :math:`\phi(i)` the item's share of the training interactions
    (Zhou et al. 2010 use the share of users, which shifts every value by
    the same constant). An item without training interactions would have
    infinite self-information; it counts as the rarest training item (its
    share is clipped to the smallest positive share), which keeps the mean
    finite and changes no other item. Higher means less popular, more
    novel lists. Users with an empty list are left out of the mean.

    Parameters
    ----------
    %(list_params)s
    %(batch_size)s

    Returns
    -------
    novelty : float
        Non-negative, in bits.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import novelty_at_k
    >>> novelty_at_k(sp.csr_matrix((1, 4)), np.array([[0, 3]]),
    ...              item_popularity=[4, 2, 1, 1], k=2)
    2.0
    """
    return _evaluate("novelty", y_true, y_score, k, batch_size, item_popularity=item_popularity)


def miscalibration_at_k(y_true, y_score, *, categories, k=10, alpha=STECK_ALPHA,
                        batch_size=None):
    r"""Miscalibration: KL divergence from a user's category mix to the list's (Steck 2018).

    .. math::

        C_{KL}(u) = \sum_g p(g|u) \log \frac{p(g|u)}{\tilde q(g|u)},\qquad
        \tilde q(g|u) = (1 - \alpha)\, q(g|u) + \alpha\, p(g|u)

    where :math:`p(g|u)` is the category distribution of the user's history
    ``y_true`` and :math:`q(g|u)` that of the list, each the mean over the
    categorized items of :math:`p(g|i)` (an item of several categories
    counts as an equal share of each; every history item counts once,
    whatever its value; an item without a category is left out of the mean,
    so a list of one drama and one uncategorized item has :math:`q = 1` on
    drama). The natural logarithm is used. 0: the list mixes categories
    exactly as the history; lower is better. A list of uncategorized items
    only has :math:`q = 0`, the largest value :math:`-\log \alpha`. Users
    without a categorized history item, or with an empty list, are left out
    of the mean.

    Parameters
    ----------
    y_true : {array-like, sparse matrix} of shape (n_users, n_items)
        The users' histories, whose category mix each list should match
        (the interactions the lists were made from; the scorers use the
        fold-in rows ``X``).
    %(y_score)s
    categories : {array-like, sparse matrix} of shape (n_items, n_categories) or (n_items,)
        Categories of each item: a membership matrix (0/1 flags, such as
        MovieLens genres, or non-negative weights), one label per item, or
        one list of labels per item (such as ``fetch_movielens(...).item_genres``;
        lists of numbers all of one length read as a membership matrix, and
        as one refused unless they are 0/1 flags, so pass numeric labels as
        sets). A missing label (None, NaN or pandas' NA) of the one-label form
        marks an item without a category.
    %(k)s
    alpha : float, default=0.01
        Smoothing of the list's distribution with the user's (Steck's
        value), which keeps the divergence finite; in (0, 1].
    %(batch_size)s

    Returns
    -------
    score : float
        Mean :math:`C_{KL}` in :math:`[0, -\log \alpha]`.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import miscalibration_at_k
    >>> genres = ["drama", "drama", "comedy", "comedy"]
    >>> history = sp.csr_matrix([[1, 0, 1, 0]])  # half drama, half comedy
    >>> miscalibration_at_k(history, np.array([[1, 3]]), categories=genres, k=2)
    0.0
    >>> round(miscalibration_at_k(history, np.array([[1]]), categories=genres, k=2), 4)
    1.9585
    """
    return _evaluate("miscalibration", y_true, y_score, k, batch_size, categories=categories,
                     alpha=alpha)


def ndcg_at_k_by_popularity(y_true, y_score, *, item_popularity, k=10,
                            buckets=(SHORT_HEAD_SHARE,), relevance_threshold=None,
                            batch_size=None):
    r"""NDCG@k on the held-out items of each popularity bucket.

    For each bucket :math:`B` of :func:`popularity_buckets`, NDCG@k as in
    :func:`ndcg_at_k` with only the held-out items of :math:`B` relevant:
    the ranking is unchanged (the other held-out items stay candidates but
    are no hits) and the ideal DCG is over :math:`\min(k, |\mathcal{T}_u
    \cap B|)` items. A model whose accuracy comes only from the head scores
    well in bucket 0 and near 0 in the tail. Users without held-out items
    in a bucket are left out of that bucket's mean.

    Parameters
    ----------
    %(heldout_params)s
    buckets : int or array-like of float, default=(0.8,)
        As in :func:`popularity_buckets`: by default the short head and the
        long tail.
    %(threshold)s
    %(batch_size)s

    Returns
    -------
    scores : ndarray of shape (n_buckets,)
        NDCG@k of each bucket, most popular first (NaN, with a warning, for
        a bucket without held-out items).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import ndcg_at_k_by_popularity
    >>> y_true = sp.csr_matrix([[1, 0, 1, 0, 0]])  # one head and one tail item
    >>> ndcg_at_k_by_popularity(y_true, np.array([[0, 1, 2]]),
    ...                         item_popularity=[50, 30, 10, 6, 4], k=3)
    array([1. , 0.5])
    """
    return _evaluate("ndcg_by_popularity", y_true, y_score, k, batch_size, relevance_threshold,
                     item_popularity=item_popularity, buckets=buckets)


def recall_at_k_by_popularity(y_true, y_score, *, item_popularity, k=10,
                              buckets=(SHORT_HEAD_SHARE,), relevance_threshold=None,
                              batch_size=None):
    r"""Recall@k on the held-out items of each popularity bucket.

    For each bucket :math:`B` of :func:`popularity_buckets`,
    :math:`|L_u \cap \mathcal{T}_u \cap B| / \min(k, |\mathcal{T}_u \cap B|)`
    as in :func:`recall_at_k`, the ranking unchanged. Users without
    held-out items in a bucket are left out of that bucket's mean.

    Parameters
    ----------
    %(heldout_params)s
    buckets : int or array-like of float, default=(0.8,)
        As in :func:`popularity_buckets`: by default the short head and the
        long tail.
    %(threshold)s
    %(batch_size)s

    Returns
    -------
    scores : ndarray of shape (n_buckets,)
        Recall@k of each bucket, most popular first.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import recall_at_k_by_popularity
    >>> y_true = sp.csr_matrix([[1, 0, 1, 1, 0]])
    >>> recall_at_k_by_popularity(y_true, np.array([[0, 2]]),
    ...                           item_popularity=[50, 30, 10, 6, 4], k=2)
    array([1. , 0.5])
    """
    return _evaluate("recall_by_popularity", y_true, y_score, k, batch_size,
                     relevance_threshold, item_popularity=item_popularity, buckets=buckets)


_IPS_DOC = r"""

    The held-out items are weighted by their inverse propensity
    :math:`w_i = 1 / P_i` with :math:`P_i \propto n_i^{(\gamma + 1)/2}`, where
    :math:`n_i` is the item's training popularity (Yang et al. 2018), which
    corrects for popular items being observed, and so held out, more often.
    Held-out items without training interactions (zero propensity) are left
    out, as in the authors' code; they stay candidates. The per-user value
    is normalized by the best value a ranking of the user's weighted
    held-out items reaches at ``k`` (self-normalized, as Yang et al.'s
    SNIPS estimator, which divides by :math:`\sum_{i \in \mathcal{T}_u} w_i`;
    for recall the two agree when :math:`|\mathcal{T}_u| \le k`, for NDCG
    the best value is the weighted ideal DCG, which discounts the weights by
    rank), so ``gamma=-1`` (equal weights) gives back the unweighted metric.
    Users without such held-out items are left out of the mean."""


def ips_ndcg_at_k(y_true, y_score, *, item_popularity, k=10, gamma=YANG_GAMMA,
                  relevance_threshold=None, batch_size=None):
    r"""NDCG@k with held-out items weighted by inverse propensity (Yang et al. 2018).

    .. math::

        \mathrm{NDCG}_{IPS}@k(u) = \frac{\sum_{j \le k} w_{r_j}
        [r_j \in \mathcal{T}_u] / \log_2(j + 1)}{\mathrm{IDCG}_w@k(u)}

    where the ideal DCG ranks the user's held-out weights in decreasing
    order: the graded NDCG of :func:`ndcg_at_k` with gains :math:`w_i`.%(ips)s

    Parameters
    ----------
    %(heldout_params)s
    gamma : float, default=1.69
        Exponent of Yang et al.'s popularity model: propensity
        :math:`\propto n_i^{(\gamma + 1)/2}`. The default is the mean of their
        fits on CiteULike-a (1.55 to 1.89; 1.87 on Amazon books, 2.69 on
        Tradesy); ``-1`` gives equal weights.
    %(threshold)s
    %(batch_size)s

    Returns
    -------
    score : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import ips_ndcg_at_k
    >>> y_true = sp.csr_matrix([[1, 0, 0, 1]])  # a popular and a rare held-out item
    >>> popularity = [16, 8, 4, 1]
    >>> round(ips_ndcg_at_k(y_true, np.array([[3, 1]]), item_popularity=popularity,
    ...                     k=2, gamma=1.0), 4)  # the rare one first: weights 1/16, 1
    0.9621
    """
    return _evaluate("ips_ndcg", y_true, y_score, k, batch_size, relevance_threshold,
                     item_popularity=item_popularity, gamma=gamma)


def ips_recall_at_k(y_true, y_score, *, item_popularity, k=10, gamma=YANG_GAMMA,
                    relevance_threshold=None, batch_size=None):
    r"""Recall@k with held-out items weighted by inverse propensity (Yang et al. 2018).

    .. math::

        \mathrm{Recall}_{IPS}@k(u) = \frac{\sum_{i \in L_u \cap \mathcal{T}_u} w_i}
        {\max_{|S| = \min(k, |\mathcal{T}_u|),\, S \subseteq \mathcal{T}_u} \sum_{i \in S} w_i}

    the weight of the hits over the weight of the user's ``min(k,
    |T_u|)`` heaviest held-out items.%(ips)s

    Parameters
    ----------
    %(heldout_params)s
    gamma : float, default=1.69
        Exponent of Yang et al.'s popularity model, as in :func:`ips_ndcg_at_k`.
    %(threshold)s
    %(batch_size)s

    Returns
    -------
    score : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from sklearn_recsys.metrics import ips_recall_at_k
    >>> y_true = sp.csr_matrix([[1, 0, 0, 1]])
    >>> ips_recall_at_k(y_true, np.array([[3, 1]]), item_popularity=[16, 8, 4, 1],
    ...                 k=2, gamma=1.0)  # the rare item: 1 / (1 + 1/16)
    0.9411764705882353
    """
    return _evaluate("ips_recall", y_true, y_score, k, batch_size, relevance_threshold,
                     item_popularity=item_popularity, gamma=gamma)


_COMPOSITE_DOCS = {
    name: "\n    ".join(_DOCS[part] for part in (first, "y_score", "item_popularity", "k"))
    for name, first in [("list_params", "y_true_shape"), ("heldout_params", "y_true_heldout")]
}
for _f in (popularity_buckets, arp_at_k, aplt_at_k, long_tail_coverage, gini_index,
           novelty_at_k, miscalibration_at_k, ndcg_at_k_by_popularity,
           recall_at_k_by_popularity, ips_ndcg_at_k, ips_recall_at_k):
    for _name, _text in dict(_DOCS, ips=_IPS_DOC, **_COMPOSITE_DOCS).items():
        _f.__doc__ = _f.__doc__.replace(f"%({_name})s", _text)
del _f, _name, _text
