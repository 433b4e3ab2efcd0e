"""Item-based k-nearest-neighbours recommender with shrunk cosine similarity."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from numba import prange
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import ItemItemMixin, RecommenderMixin
from ..utils._parallel import parallel_kernel

__all__ = ["ItemKNN"]

# Entries of one block of similarity rows, if dense (stored: about 100 MB with indices).
_BLOCK_ENTRIES = 8_000_000


def _snapped(values):
    """``values`` rounded to 40 significant bits, so that values equal in exact arithmetic tie.

    On 0/1 data equal cosines are common (``1/sqrt(12)`` and ``3/(3*sqrt(12))``)
    and float64 gives them values an ulp apart: without this the neighbour
    kept at the cut would be decided by rounding, not by the tie rule.
    """
    mantissa, exponent = np.frexp(values)
    mantissa *= 2.0 ** 40
    np.round(mantissa, out=mantissa)
    mantissa /= 2.0 ** 40
    return np.ldexp(mantissa, exponent, out=mantissa)


@parallel_kernel
def _top_per_row(indptr, snapped, n_keep, keep):
    """``keep[p]``: entry ``p`` of its CSR row is positive and among the row's ``n_keep``
    largest; ties at the cut go to the lower column (the row's indices are sorted).

    A tie rule of its own, not ``argpartition``'s order of ties, which its SIMD
    kernels leave to the CPU (AVX-512 or not): the neighbours kept at a tie,
    and every score built on them, would depend on the machine.
    """
    for r in prange(indptr.shape[0] - 1):
        start, end = indptr[r], indptr[r + 1]
        n_positive = 0
        for p in range(start, end):
            if snapped[p] > 0:
                n_positive += 1
        if n_positive <= n_keep:
            for p in range(start, end):
                keep[p] = snapped[p] > 0
            continue
        negated = np.empty(n_positive)
        q = 0
        for p in range(start, end):
            if snapped[p] > 0:
                negated[q] = -snapped[p]
                q += 1
        kth = -np.partition(negated, n_keep - 1)[n_keep - 1]
        places = n_keep
        for p in range(start, end):
            if snapped[p] > kth:
                places -= 1
        for p in range(start, end):
            if snapped[p] > kth:
                keep[p] = True
            elif snapped[p] == kth and places > 0:
                keep[p] = True
                places -= 1
            else:
                keep[p] = False


def _overflow_error():
    return FloatingPointError(
        f"ItemKNN: the values of X overflow float64 (above {np.finfo(np.float64).max:.1e}) "
        "in the items' norms or dot products. Scale the values of X down (e.g. np.log1p or "
        "RatingBinarizer).")


class ItemKNN(ItemItemMixin, RecommenderMixin, TransformerMixin, BaseEstimator):
    """Item-based collaborative filtering with a cosine neighbourhood.

    The similarity of items ``i`` and ``j`` is the shrunk cosine

    .. math::

        s_{ij} = \\frac{x_i^\\top x_j}{\\lVert x_i \\rVert \\lVert x_j \\rVert + h}

    over their user columns, with shrinkage ``h`` damping similarities built
    on few co-occurrences. Each item keeps its ``n_neighbors`` most similar
    items, and a user's score for item ``i`` is ``sum_j x_uj w_ji``. With
    ``neighborhood="scored"`` (Sarwar et al. 2001), ``w_ji = s_ji`` when ``j``
    is among the neighbours of the scored item ``i``; with
    ``neighborhood="history"`` (Deshpande & Karypis 2004), when ``i`` is among
    the neighbours of the history item ``j``. ``normalize=True`` scales each
    kept neighbourhood to sum 1, so that an item whose similarities are all
    large (a rare item: cosines on few users are large) does not outweigh the
    others (Deshpande & Karypis 2004).

    Parameters
    ----------
    n_neighbors : int, default=100
        Neighbours kept per item (fewer if the catalogue is smaller).
    shrinkage : float, default=0.0
        Shrinkage ``h`` added to the cosine denominator.
    neighborhood : {"scored", "history"}, default="scored"
        Whose neighbours a score sums over: those of the scored item, or
        those of each item in the user's history.
    normalize : bool, default=False
        Scale each item's kept similarities to sum 1 (after the cut to
        ``n_neighbors``).

    Attributes
    ----------
    similarity_ : csr_matrix of shape (n_items, n_items)
        The weights ``w``: ``similarity_[j, i]`` is how much an interaction
        with item ``j`` adds to the score of item ``i``, ``s_ji`` (divided by
        the neighbourhood's sum with ``normalize=True``) when the pair is kept,
        else 0. The diagonal is 0. An item's own neighbours are its column
        with ``neighborhood="scored"``, its row with ``"history"``;
        :meth:`similar_items` lists them.
    n_features_in_ : int
        Number of items seen during fit.
    feature_names_in_ : ndarray of shape (n_items,)
        Item names, when ``X`` had string column names.

    See Also
    --------
    EASE : Learned (regression) item-item weights.

    Notes
    -----
    The similarity is built in float64 blocks of item rows, each the sparse
    product of those items' user columns with ``X`` (only co-occurring pairs
    are stored: 0.9% of Last.fm 2K's, 28% of MovieLens latest-small's),
    so memory stays at one such block (at most about 8 million pairs, with
    their similarities, denominators and selection: about 300 MB at the peak
    with a full block) plus float64 copies of ``X`` by rows and by columns
    and the kept neighbours; no ``(n_items, n_items)`` dense array and no
    ``(n_users, n_items)`` dense array is formed. Similarities equal in
    exact arithmetic tie at the neighbour cut (they are compared to 40
    significant bits), and ties go
    to the lower item index, so float32 and float64 fits of the same values
    (those float32 holds exactly, such as counts) keep the same neighbours;
    ``similarity_`` is stored in ``X``'s dtype.

    References
    ----------
    .. [1] B. Sarwar, G. Karypis, J. Konstan and J. Riedl, "Item-based
       collaborative filtering recommendation algorithms", WWW 2001.
    .. [2] M. Deshpande and G. Karypis, "Item-based top-N recommendation
       algorithms", ACM TOIS 22(1), 2004.

    Examples
    --------
    >>> from sklearn_recsys import ItemKNN
    >>> X = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 1]]
    >>> ItemKNN(n_neighbors=2).fit(X).recommend([[1, 0, 0, 0]], k=1)[0]
    array([[1]])
    """

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "shrinkage": [Interval(Real, 0, None, closed="left")],
        "neighborhood": [StrOptions({"scored", "history"})],
        "normalize": ["boolean"],
    }

    def __init__(self, n_neighbors=100, *, shrinkage=0.0, neighborhood="scored",
                 normalize=False):
        self.n_neighbors = n_neighbors
        self.shrinkage = shrinkage
        self.neighborhood = neighborhood
        self.normalize = normalize

    def _fit(self, X):
        n_items = X.shape[1]
        dtype = X.dtype
        with np.errstate(over="ignore"):
            if not np.isfinite(dtype.type(self.shrinkage)):
                raise ValueError(
                    f"shrinkage={self.shrinkage!r} overflows the {dtype.name} of X: every "
                    "similarity would be 0. Use a shrinkage on the scale of the items' "
                    "co-occurrence counts (tens to hundreds).")
        # similarities are computed in float64 whatever X's dtype and stored in it:
        # a float32 fit keeps the neighbours of a float64 one (ties at the cut included)
        X64 = X.astype(np.float64, copy=False)
        XT = X64.T.tocsr()
        Xc = X64.tocsc()
        with np.errstate(over="ignore", under="ignore"):  # reported below
            norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel())
        del Xc
        if ((norms == 0) & (np.diff(XT.indptr) > 0)).any():
            # squares below the smallest float: every similarity would be 0 / 0 -> 0
            raise FloatingPointError(
                f"ItemKNN: the values of X underflow float64 (squares below "
                f"{np.finfo(np.float64).tiny:.1e}) in the items' norms. Scale the values of X up "
                "(or binarize them with RatingBinarizer).")
        if not np.isfinite(norms).all():
            raise _overflow_error()
        n_keep = min(self.n_neighbors, max(n_items - 1, 1))
        # item j's neighbours (column j of similarity_, or row j with "history") are
        # computed as row j of a block of X^T X kept sparse: co-occurrence is sparse
        # (0.9% of Last.fm's pairs), and dense blocks took 48x longer there; each dot
        # product sums the users in order
        rows, cols, vals = [], [], []
        step = max(1, _BLOCK_ENTRIES // max(n_items, 1))  # a row holds n_items at most
        for start in range(0, n_items, step):
            stop = min(start + step, n_items)
            block = XT[start:stop] @ X64
            block.sort_indices()  # ties at the cut go to the lower item
            item = np.repeat(np.arange(start, stop), np.diff(block.indptr))
            with np.errstate(over="ignore"):
                denom = norms[item] * norms[block.indices] + self.shrinkage
            if not (np.isfinite(denom).all() and np.isfinite(block.data).all()):
                # an overflow, not an item without interactions (0 / 0 below): the
                # similarities would be 0 (x / inf) or dropped as non-finite
                raise _overflow_error()
            with np.errstate(invalid="ignore", divide="ignore"):
                sim = block.data / denom
            del denom
            sim[~np.isfinite(sim)] = 0
            sim[block.indices == item] = 0  # an item is not its own neighbour
            keep = sim > 0
            if n_keep < n_items:
                _top_per_row(block.indptr, _snapped(sim), n_keep, keep)
            kept_item, neighbour, kept_sim = item[keep], block.indices[keep], sim[keep]
            if self.normalize:
                # a block row is a whole neighbourhood: its sum is complete here
                sums = np.bincount(kept_item - start, weights=kept_sim,
                                   minlength=stop - start)
                kept_sim /= sums[kept_item - start]
            if self.neighborhood == "scored":
                rows.append(neighbour)
                cols.append(kept_item)
            else:
                rows.append(kept_item)
                cols.append(neighbour)
            vals.append(kept_sim)
            del block, item, sim, keep, kept_item, neighbour, kept_sim
        vals = np.concatenate(vals)
        if vals.size and vals.max() < np.finfo(dtype).tiny:
            # with shrinkage, tiny values give similarities far below 1: stored in
            # float32 they would all be subnormal or 0, and every list catalogue order
            # or the popularity fallback, silently (one tiny similarity among others,
            # from values of mixed scales, is only a weak neighbour: kept or dropped)
            raise FloatingPointError(
                f"ItemKNN: every similarity is at most {vals.max():.1e} (shrinkage="
                f"{self.shrinkage!r} against the items' norms), below the smallest normal "
                f"{np.dtype(dtype).name} ({np.finfo(dtype).tiny:.1e}). Scale the values of X "
                "up (or binarize them with RatingBinarizer), or fit X in float64.")
        S = sp.csr_matrix(
            (vals.astype(dtype), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items),
        )
        S.eliminate_zeros()
        S.sort_indices()
        self.similarity_ = S

    def _item_item(self):
        return self.similarity_

    def _item_item_rows(self, items):
        # with "scored", an item's own neighbours are its column (each column keeps
        # its n_neighbors most similar items); its row lists the items that keep it,
        # which may be none. With "history" they are its row.
        if self.neighborhood == "history":
            return self.similarity_[items]
        return self.similarity_[:, items].T.tocsr()

    def _known_items(self):
        """Items that add to some score: a user with none of them has no usable history.

        An item with an empty row of ``similarity_`` (in no item's neighbours, or
        with ``neighborhood="history"`` without neighbours) scores nothing, like an
        item without training interactions: such a user gets the popularity
        fallback, not every score 0 (catalogue order).
        """
        known = super()._known_items()
        if known is None:
            return None
        return known & (np.diff(self.similarity_.indptr) > 0)
