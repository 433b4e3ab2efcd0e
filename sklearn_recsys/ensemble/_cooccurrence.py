"""Item-item co-occurrence cosine of one behaviour, and its sum and maximum over a user's items.

The ranker features of :class:`~sklearn_recsys.ensemble.StackingRecommender`'s
``similarity_behaviors``: how close a candidate is to what the user viewed,
carted or bought, by how often the same users had both items in one
behaviour (e.g. co-viewed items: substitutes and complements).
"""

import numpy as np
import scipy.sparse as sp
from numba import prange

from ..utils._parallel import numba_threads, parallel_kernel

__all__ = ["cooccurrence_cosine", "similarity_sum_max"]


def cooccurrence_cosine(block):
    """Cosine of the items' binary columns of ``block``, zero on the diagonal.

    ``S[i, j] = n_ij / sqrt(n_i n_j)``, with ``n_ij`` the users who had both
    items and ``n_i`` those who had item ``i``; 0 for an item nobody had.

    Parameters
    ----------
    block : sparse matrix of shape (n_users, n_items)
        One behaviour's interactions; any non-zero counts as one.

    Returns
    -------
    similarity : scipy.sparse.csr_matrix of shape (n_items, n_items), float32
        Symmetric, sorted indices, explicit zeros removed.
    """
    binary = sp.csc_matrix(block, copy=True)
    binary.sum_duplicates()
    # float64 counts: scipy sums the product in its operands' dtype, and a float32 sum
    # stopped at 2**24 users per pair (25M users sharing two items: similarity 2/3, not 1)
    binary.data = (binary.data != 0).astype(np.float64)
    binary.eliminate_zeros()
    counts = np.asarray(binary.sum(axis=0), dtype=np.float64).ravel()
    scale = np.divide(1.0, np.sqrt(counts), out=np.zeros_like(counts), where=counts > 0)
    gram = (binary.T @ binary).tocsr()
    del binary
    gram.setdiag(0.0)
    # scaled in place by blocks of rows: the temporaries stay small
    step = max(1, (1 << 22) // max(1, gram.nnz // max(1, gram.shape[0])))
    for start in range(0, gram.shape[0], step):
        stop = min(start + step, gram.shape[0])
        lo, hi = gram.indptr[start], gram.indptr[stop]
        values = gram.data[lo:hi]
        values *= np.repeat(scale[start:stop], np.diff(gram.indptr[start:stop + 1]))
        values *= scale[gram.indices[lo:hi]]
    gram = gram.astype(np.float32)
    gram.eliminate_zeros()
    gram.sort_indices()
    return gram


def similarity_sum_max(similarity, history, rows, cols):
    """Sum and maximum of ``similarity[cols[p], j]`` over the items ``j`` of row ``rows[p]``.

    Parameters
    ----------
    similarity : csr_matrix of shape (n_items, n_items)
        Symmetric, with sorted indices (:func:`cooccurrence_cosine`).
    history : csr_matrix of shape (n_rows, n_items)
        The users' items (any stored non-zero counts once).
    rows, cols : ndarray of int
        The (user, candidate) pairs.

    Returns
    -------
    total, largest : ndarray of shape (n_pairs,), float64
        0 for a user without items.
    """
    history = sp.csr_matrix(history, copy=True)  # the caller's batch stays as it is
    history.sum_duplicates()
    history.eliminate_zeros()
    if not similarity.has_sorted_indices:  # the kernel's binary search needs sorted rows
        similarity = similarity.sorted_indices()
    total = np.zeros(len(rows))
    largest = np.zeros(len(rows))
    with numba_threads(None):
        # the similarity's arrays as they are: a copy would cost its whole size per batch
        _pair_sum_max(history.indptr, history.indices, similarity.indptr,
                      similarity.indices, similarity.data, np.asarray(rows, dtype=np.int64),
                      np.asarray(cols, dtype=np.int64), total, largest)
    return total, largest


@parallel_kernel(rows=lambda args: args[5].shape[0])
def _pair_sum_max(h_indptr, h_indices, s_indptr, s_indices, s_data, rows, cols, total,
                  largest):
    # row c of a symmetric S holds S[j, c] for every j: a binary search per user's item
    # costs log(row length) where merging the two sorted lists would cost the row's length
    for p in prange(rows.shape[0]):
        r, c = rows[p], cols[p]
        lo, hi = s_indptr[c], s_indptr[c + 1]
        found = s_indices[lo:hi]
        acc, best = 0.0, 0.0
        for q in range(h_indptr[r], h_indptr[r + 1]):
            j = h_indices[q]
            k = np.searchsorted(found, j)
            if k < found.shape[0] and found[k] == j:
                v = s_data[lo + k]
                acc += v
                if v > best:
                    best = v
        total[p] = acc
        largest[p] = best
