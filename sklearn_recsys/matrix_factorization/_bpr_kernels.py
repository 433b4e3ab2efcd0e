"""Numba kernel of one BPR epoch, parallel and reproducible (stratified SGD).

Plain parallel SGD for BPR (Hogwild, as the ``implicit`` package runs it)
lets threads race on shared factors, so two runs with the same seed differ.
Here an epoch is stratified as in DSGD (Gemulla et al. 2011): users are cut
into ``n_blocks`` contiguous blocks and items into ``n_blocks`` random blocks
(a new partition every epoch). In sub-epoch ``s`` the task of user block
``t`` samples its positives among items of block ``(t + s) % n_blocks`` and
its negatives from the same item block, so concurrent tasks never touch the
same factors. Each task has its own random stream, seeded from the model's
``random_state``, so the result does not depend on how tasks are spread over
threads. Because the item partition is redrawn every epoch, every (positive,
negative) pair is equally likely to meet, and the expected update is that of
uniform BPR sampling.
"""

import numpy as np
from numba import njit, prange

from ..utils._parallel import parallel_kernel

__all__ = ["bpr_epoch", "bpr_fold_in"]


@njit(cache=True, nogil=True, error_model="numpy")
def _next(state):
    """splitmix64 step; returns a 64-bit unsigned pseudo-random integer."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True, error_model="numpy")
def _randint(state, n):
    return np.int64(_next(state) % np.uint64(n))


@njit(cache=True, nogil=True, error_model="numpy")
def _has_item(indices, start, end, j):
    lo, hi = start, end
    while lo < hi:
        mid = (lo + hi) // 2
        if indices[mid] < j:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and indices[lo] == j


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _sgd_task(entries, e_start, e_end, nnz_user, indptr, indices, block_items, b_start,
              b_end, U, V, bias, consts, state):
    """``e_end - e_start`` BPR steps on positives ``entries[e_start:e_end]`` (with replacement)."""
    k = U.shape[1]
    lr, reg, one = consts[0], consts[1], consts[2]
    n_entries = e_end - e_start
    n_block = b_end - b_start
    skipped = 0
    total = consts[3]
    for _ in range(n_entries):
        idx = entries[e_start + _randint(state, n_entries)]
        u = nnz_user[idx]
        i = indices[idx]
        j = -1
        for _try in range(10):
            cand = block_items[b_start + _randint(state, n_block)]
            if not _has_item(indices, indptr[u], indptr[u + 1], cand):
                j = cand
                break
        if j < 0:
            skipped += 1
            continue
        x = bias[i] - bias[j]
        for f in range(k):
            x += U[u, f] * (V[i, f] - V[j, f])
        z = one / (one + np.exp(x))
        total += z
        for f in range(k):
            uf = U[u, f]
            U[u, f] += lr * (z * (V[i, f] - V[j, f]) - reg * uf)
            V[i, f] += lr * (z * uf - reg * V[i, f])
            V[j, f] += lr * (-z * uf - reg * V[j, f])
        bias[i] += lr * (z - reg * bias[i])
        bias[j] += lr * (-z - reg * bias[j])
    return skipped, total


@parallel_kernel(rows=lambda args: args[5])  # its n_blocks strata run in parallel
def bpr_epoch(indptr, indices, nnz_user, user_block_ptr, item_block, n_blocks, U, V, bias,
              lr, reg, seeds):
    """One epoch of stratified BPR-SGD, in place on ``U``, ``V`` and ``bias``.

    Parameters
    ----------
    indptr, indices : CSR structure of the training matrix (sorted indices).
    nnz_user : int array (nnz,), the row of each stored entry.
    user_block_ptr : int array (n_blocks + 1,), user blocks as row ranges.
    item_block : int array (n_items,), this epoch's block of each item.
    seeds : uint64 array (n_blocks, n_blocks), one stream per task.

    Returns
    -------
    skipped : number of samples whose user had (almost) every item of the block.
    mean_z : mean of sigmoid(-x_uij) over the steps taken (falls as ranking improves).
    """
    n_items = V.shape[0]
    consts = np.zeros(4, dtype=U.dtype)
    consts[0] = lr
    consts[1] = reg
    consts[2] = 1.0
    # items grouped by block
    block_ptr = np.zeros(n_blocks + 1, dtype=np.int64)
    for i in range(n_items):
        block_ptr[item_block[i] + 1] += 1
    for b in range(n_blocks):
        block_ptr[b + 1] += block_ptr[b]
    block_items = np.empty(n_items, dtype=indices.dtype)
    fill = block_ptr[:-1].copy()
    for i in range(n_items):
        block_items[fill[item_block[i]]] = i
        fill[item_block[i]] += 1
    # entries of each user block grouped by item block (counting sort per user block)
    nnz = indices.shape[0]
    # positions of stored entries: the CSR's own index dtype (int32 unless huge)
    entries = np.empty(nnz, dtype=indptr.dtype)
    bucket_ptr = np.zeros((n_blocks, n_blocks + 1), dtype=np.int64)
    for t in prange(n_blocks):
        lo, hi = indptr[user_block_ptr[t]], indptr[user_block_ptr[t + 1]]
        counts = np.zeros(n_blocks + 1, dtype=np.int64)
        for idx in range(lo, hi):
            counts[item_block[indices[idx]] + 1] += 1
        counts[0] = lo
        for b in range(n_blocks):
            counts[b + 1] += counts[b]
        bucket_ptr[t] = counts
        pos = counts[:-1].copy()
        for idx in range(lo, hi):
            b = item_block[indices[idx]]
            entries[pos[b]] = idx
            pos[b] += 1
    skipped = np.zeros(n_blocks, dtype=np.int64)
    zsum = np.zeros(n_blocks, dtype=np.float64)
    for s in range(n_blocks):
        for t in prange(n_blocks):
            b = (t + s) % n_blocks
            e_start, e_end = bucket_ptr[t, b], bucket_ptr[t, b + 1]
            if e_end == e_start or block_ptr[b + 1] == block_ptr[b]:
                continue
            state = np.empty(1, dtype=np.uint64)
            state[0] = seeds[t, b]
            sk, zt = _sgd_task(entries, e_start, e_end, nnz_user, indptr, indices,
                               block_items, block_ptr[b], block_ptr[b + 1], U, V, bias,
                               consts, state)
            skipped[t] += sk
            zsum[t] += zt
    n_steps = nnz - skipped.sum()
    return skipped.sum(), zsum.sum() / max(n_steps, 1)


@parallel_kernel(fastmath=True)
def bpr_fold_in(indptr, indices, V, bias, lr, reg, n_epochs, seed, U):
    """Fit the factors of each row of a CSR batch by BPR-SGD on fixed item factors.

    Row ``u`` starts at zero and takes ``n_epochs * nnz_u`` steps with its
    own random stream seeded by ``seed`` alone, so its result depends only on
    its row (batch equals row by row).
    """
    n, k = U.shape
    n_items = V.shape[0]
    consts = np.zeros(3, dtype=U.dtype)
    consts[0] = lr
    consts[1] = reg
    consts[2] = 1.0
    for u in prange(n):
        start, end = indptr[u], indptr[u + 1]
        for f in range(k):
            U[u, f] = 0.0
        if end == start or end - start == n_items:
            continue
        state = np.empty(1, dtype=np.uint64)
        state[0] = seed
        _fold_in_row(start, end, indices, V, bias, consts, n_epochs, state, U[u])


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _fold_in_row(start, end, indices, V, bias, consts, n_epochs, state, x):
    k = x.shape[0]
    n_items = V.shape[0]
    lr, reg, one = consts[0], consts[1], consts[2]
    for _ in range(n_epochs * (end - start)):
        i = indices[start + _randint(state, end - start)]
        j = _randint(state, n_items)
        if _has_item(indices, start, end, j):
            continue
        d = bias[i] - bias[j]
        for f in range(k):
            d += x[f] * (V[i, f] - V[j, f])
        z = one / (one + np.exp(d))
        for f in range(k):
            x[f] += lr * (z * (V[i, f] - V[j, f]) - reg * x[f])
