"""Item-based k-nearest-neighbours recommender with shrunk cosine similarity."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval

from ..base import ItemItemMixin, RecommenderMixin

__all__ = ["ItemKNN"]

# Entries of one dense (n_items, block) similarity block (about 64 MB).
_BLOCK_ENTRIES = 8_000_000


def _snapped(block):
    """``block`` rounded to 40 significant bits, so that values equal in exact arithmetic tie.

    On 0/1 data equal cosines are common (``1/sqrt(12)`` and ``3/(3*sqrt(12))``)
    and float64 gives them values an ulp apart: without this the neighbour
    kept at the cut would be decided by rounding, not by the tie rule.
    """
    mantissa, exponent = np.frexp(block)
    mantissa *= 2.0 ** 40
    np.round(mantissa, out=mantissa)
    mantissa /= 2.0 ** 40
    return np.ldexp(mantissa, exponent, out=mantissa)


def _top_per_column(block, n_keep):
    """Mask of the ``n_keep`` largest entries of each column; ties go to the lower row.

    ``argpartition`` leaves the order of tied values to its SIMD kernel, which differs
    between CPUs (AVX-512 or not), so the neighbours kept at a tie at the cut, and every
    score built on them, would depend on the machine. A column whose cut is 0 has all its
    zeros in the mask (the caller keeps positive similarities only).
    """
    kth = -np.partition(-block, n_keep - 1, axis=0)[n_keep - 1]
    above = block > kth
    at = block == kth
    keep = above | at
    need = n_keep - above.sum(axis=0)
    # only a column with more ties at a positive cut than places left chooses among
    # them: the lowest indices
    tied = np.flatnonzero((kth > 0) & (at.sum(axis=0) > need))
    if tied.size:
        sub = at[:, tied]
        keep[:, tied] = above[:, tied] | (sub & (np.cumsum(sub, axis=0) <= need[tied]))
    return keep


class ItemKNN(ItemItemMixin, RecommenderMixin, TransformerMixin, BaseEstimator):
    """Item-based collaborative filtering with a cosine neighbourhood.

    The similarity of items ``i`` and ``j`` is the shrunk cosine

    .. math::

        s_{ij} = \\frac{x_i^\\top x_j}{\\lVert x_i \\rVert \\lVert x_j \\rVert + h}

    over their user columns, with shrinkage ``h`` damping similarities built
    on few co-occurrences. Each item keeps its ``n_neighbors`` most similar
    items; a user's score for item ``i`` is ``sum_j x_uj s_ji`` over the
    neighbours ``j`` of ``i`` (Sarwar et al. 2001; Deshpande & Karypis 2004).

    Parameters
    ----------
    n_neighbors : int, default=100
        Neighbours kept per item (fewer if the catalogue is smaller).
    shrinkage : float, default=0.0
        Shrinkage ``h`` added to the cosine denominator.

    Attributes
    ----------
    similarity_ : csr_matrix of shape (n_items, n_items)
        ``similarity_[j, i]`` is ``s_ji`` when ``j`` is among the neighbours
        of ``i``, else 0. The diagonal is 0. :meth:`similar_items` lists an
        item's own neighbours (its column).
    n_features_in_ : int
        Number of items seen during fit.
    feature_names_in_ : ndarray of shape (n_items,)
        Item names, when ``X`` had string column names.

    See Also
    --------
    EASE : Learned (regression) item-item weights.

    Notes
    -----
    The similarity is built in float64 column blocks of about 64 MB, so
    memory stays at a few such blocks (the block, its denominators and the
    selection of the neighbours: about 300 MB at the peak with a full
    block) plus float64 copies of ``X`` by rows and by columns and the kept
    neighbours; no ``(n_items, n_items)`` dense array and no ``(n_users,
    n_items)`` dense array is formed. Similarities equal in exact arithmetic tie at the
    neighbour cut (they are compared to 40 significant bits), and ties go
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
    }

    def __init__(self, n_neighbors=100, *, shrinkage=0.0):
        self.n_neighbors = n_neighbors
        self.shrinkage = shrinkage

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
        del X64  # XT and Xc are copies: the float64 one of a float32 X is not kept
        with np.errstate(over="ignore", under="ignore"):  # reported below
            norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel())
        if ((norms == 0) & (np.diff(Xc.indptr) > 0)).any():
            # squares below the smallest float: every similarity would be 0 / 0 -> 0
            raise FloatingPointError(
                f"ItemKNN: the values of X underflow float64 (squares below "
                f"{np.finfo(np.float64).tiny:.1e}) in the items' norms. Scale the values of X up "
                "(or binarize them with RatingBinarizer).")
        n_keep = min(self.n_neighbors, max(n_items - 1, 1))
        step = max(1, _BLOCK_ENTRIES // max(n_items, 1))
        rows, cols, vals = [], [], []
        for start in range(0, n_items, step):
            stop = min(start + step, n_items)
            block = (XT @ Xc[:, start:stop]).toarray()
            with np.errstate(over="ignore"):
                denom = norms[:, None] * norms[None, start:stop] + self.shrinkage
            if not (np.isfinite(denom).all() and np.isfinite(block).all()):
                # an overflow, not an item without interactions (0 / 0 below): the
                # similarities would be 0 (x / inf) or dropped as non-finite
                raise FloatingPointError(
                    f"ItemKNN: the values of X overflow float64 (above "
                    f"{np.finfo(np.float64).max:.1e}) in the items' norms or dot products. Scale "
                    "the values of X down (e.g. np.log1p or RatingBinarizer).")
            with np.errstate(invalid="ignore", divide="ignore"):
                block /= denom
            del denom
            block[~np.isfinite(block)] = 0
            block[np.arange(start, stop), np.arange(stop - start)] = 0
            keep = block > 0
            if n_keep < n_items:
                keep &= _top_per_column(_snapped(block), n_keep)
            top, col = np.nonzero(keep)
            rows.append(top)
            cols.append(col + start)
            vals.append(block[top, col])
        S = sp.csr_matrix(
            (np.concatenate(vals).astype(dtype), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items),
        )
        S.eliminate_zeros()  # a similarity below the dtype's smallest float
        S.sort_indices()
        self.similarity_ = S

    def _item_item(self):
        return self.similarity_

    def _item_item_rows(self, items):
        # an item's own neighbours are its column (each column keeps its n_neighbors
        # most similar items); its row lists the items that keep it, which may be none
        return self.similarity_[:, items].T.tocsr()

    def _known_items(self):
        """Items that add to some score: a user with none of them has no usable history.

        An item in no item's neighbours (an empty row of ``similarity_``) scores
        nothing, like an item without training interactions: such a user gets the
        popularity fallback, not every score 0 (catalogue order).
        """
        known = super()._known_items()
        if known is None:
            return None
        return known & (np.diff(self.similarity_.indptr) > 0)
