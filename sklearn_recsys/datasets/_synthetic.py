"""Synthetic implicit-feedback data with planted low-rank structure."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.optimize import brentq
from scipy.special import erfc
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["make_interactions"]

_SIGMA = 1.0  # of the log-normal number of items per user
_MEAN_TOLERANCE = 0.01  # relative error of the mean number of items left uncorrected
_MAX_ROUNDS = 64  # of drawing missing items; users still short then get them exactly
_BLOCK = 1 << 22  # entries per block of the pair-wise work


@validate_params(
    {
        "n_users": [Interval(Integral, 1, None, closed="left")],
        "n_items": [Interval(Integral, 1, None, closed="left")],
        "density": [Interval(Real, 0, 1, closed="right")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "popularity_skew": [Interval(Real, 0, None, closed="left")],
        "noise": [Interval(Real, 0, 1, closed="both")],
        "concentration": [Interval(Real, 0, None, closed="neither")],
        "dtype": "no_validation",
        "return_truth": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_interactions(
    n_users=1000,
    n_items=500,
    *,
    density=0.02,
    n_components=10,
    popularity_skew=1.0,
    noise=0.1,
    concentration=0.1,
    dtype=np.float64,
    return_truth=False,
    random_state=None,
):
    """Generate an implicit-feedback matrix with latent topics and a long tail.

    Each item belongs to one of ``n_components`` latent topics and has a
    Zipf popularity ``rank ** -popularity_skew``. Each user has a topic
    mixture drawn from a symmetric Dirichlet(``concentration``) and a
    log-normally distributed number of items ``n_u`` with mean ``density *
    n_items`` (rounded, at least 1 and at most ``n_items``). Each draw picks,
    with probability ``1 - noise``, a topic from the user's mixture and an
    item of that topic by popularity, and otherwise an item by global
    popularity, so the probability matrix of a user's draws has rank at most
    ``n_components + 1``. A user's items are the first ``n_u`` distinct
    items of their draws (a repeated draw is drawn again): the matrix has
    ``n_u`` interactions in row ``u`` and its density is ``density`` up to
    sampling noise. Values are 1.

    The mean of ``n_u`` is held to ``density * n_items`` within 1%: where
    rounding and clipping would move it further (``density`` within a few
    multiples of ``1 / n_items``, or above about 0.2), the log-normal is
    shifted to compensate. A ``density`` below ``1 / n_items`` cannot be
    reached, since every user has an interaction: the matrix then has one per
    user, with a warning. Users confined by ``noise=0`` (or by a huge
    ``popularity_skew``) to fewer items than their ``n_u`` get all of those,
    with a warning that gives the density reached.

    Generation is vectorized and linear in the number of interactions, so
    1M users x 100k items x 50M interactions take about 25 s and 3 GB on
    2 cores.

    Parameters
    ----------
    n_users : int, default=1000
        Number of users (rows).
    n_items : int, default=500
        Number of items (columns).
    density : float, default=0.02
        Expected share of the matrix that holds an interaction, in (0, 1].
    n_components : int, default=10
        Number of latent topics. With fewer items than topics, the topics
        left without an item draw by global popularity.
    popularity_skew : float, default=1.0
        Zipf exponent of item popularity; 0 gives uniform popularity.
    noise : float, default=0.1
        Share of interactions drawn from global popularity, ignoring topics.
    concentration : float, default=0.1
        Dirichlet parameter of user topic mixtures; small values give users
        focused on few topics.
    dtype : numpy dtype, default=np.float64
        Dtype of the values of ``X``.
    return_truth : bool, default=False
        Also return the generating parameters.
    random_state : int, RandomState instance or None, default=None
        Seed of the generator.

    Returns
    -------
    X : csr_matrix of shape (n_users, n_items)
        Binary interactions.
    truth : :class:`~sklearn.utils.Bunch`
        Only if ``return_truth``: ``user_topics`` (n_users, n_components)
        mixtures, ``item_topic`` (n_items,) topic of each item,
        ``item_popularity`` (n_items,) Zipf weights, and ``probabilities``, a
        callable returning the exact probabilities of one draw
        ``(len(users), n_items)`` of the given user indices (before the
        user's items already drawn are excluded).

    Examples
    --------
    >>> from sklearn_recsys import make_interactions
    >>> X = make_interactions(n_users=100, n_items=50, density=0.1, random_state=0)
    >>> X.shape
    (100, 50)
    """
    rs = check_random_state(random_state)
    rng = np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
    d = n_components

    popularity = np.arange(1, n_items + 1, dtype=np.float64) ** -float(popularity_skew)
    popularity = popularity[rng.permutation(n_items)]
    popularity /= popularity.sum()
    item_topic = rng.integers(0, d, size=n_items)
    # Every topic owns at least one item, if there are enough items.
    item_topic[rng.permutation(n_items)[: min(d, n_items)]] = np.arange(min(d, n_items))

    # Within-topic item distributions, stored as one concatenated CDF in which
    # topic t spans the values (t, t + 1]: one searchsorted serves all topics.
    order = np.lexsort((np.arange(n_items), item_topic))
    topic_sums = np.bincount(item_topic, weights=popularity, minlength=d)
    w = popularity[order] / np.where(topic_sums > 0, topic_sums, 1)[item_topic[order]]
    # Reset the running sum at each topic start, then shift topic t by t.
    topic_sizes = np.bincount(item_topic, minlength=d)
    starts = np.concatenate([[0], np.cumsum(topic_sizes)[:-1]])
    cum = np.cumsum(w)
    before = np.concatenate([[0.0], cum])[starts]
    topic_cdf = cum - np.repeat(before, topic_sizes) + item_topic[order]
    global_cdf = np.cumsum(popularity)
    within = np.zeros(n_items)
    within[order] = w
    # with fewer items than topics, a topic without items has no distribution of
    # its own: its draws follow global popularity (searchsorted would put them
    # all on the next topic's first item)
    empty = topic_sizes == 0

    user_topics = rng.dirichlet(np.full(d, concentration), size=n_users)
    n_u = _activity(rng, n_users, n_items, density)

    def draw(counts, users=None):
        """``counts[i]`` draws of user ``users[i]`` (default: of every user), grouped by user."""
        theta = user_topics if users is None else user_topics[users]
        is_noise = rng.random(int(counts.sum())) < noise
        topic_counts = rng.multinomial(counts, theta)
        topics = np.repeat(np.tile(np.arange(d), len(theta)), topic_counts.ravel())
        pos = np.searchsorted(topic_cdf, topics + rng.random(len(topics)), side="left")
        items = order[np.minimum(pos, n_items - 1)]
        if empty.any():
            untopical = np.flatnonzero(empty[topics])
            items[untopical] = np.minimum(
                np.searchsorted(global_cdf, rng.random(len(untopical)), side="left"),
                n_items - 1)
        noise_items = np.searchsorted(global_cdf, rng.random(int(is_noise.sum())), side="left")
        items[is_noise] = np.minimum(noise_items, n_items - 1)
        return items

    def pair_probabilities(users, items):
        """Probability that a draw of user ``users[i]`` is item ``items[i]`` (broadcasts)."""
        topical = user_topics[users, item_topic[items]] * within[items]
        if empty.any():
            topical = topical + user_topics[users][..., empty].sum(axis=-1) * popularity[items]
        return (1 - noise) * topical + noise * popularity[items]

    # Draws are grouped by user: build CSR directly and let the per-row sort
    # merge repeated pairs (cheaper than a global COO sort).
    indptr = np.concatenate([[0], np.cumsum(n_u)])
    X = sp.csr_matrix(
        (np.ones(indptr[-1], dtype=dtype), draw(n_u), indptr), shape=(n_users, n_items)
    )
    X.sum_duplicates()
    X.data[:] = 1
    # Repeated draws merged: users have fewer distinct items than drawn (a
    # quarter fewer at 1M x 100k, density 5e-4). Draw on until each user has
    # n_u distinct items; without repeats this changes nothing.
    X, shortfall = _top_up(X, n_u, rng, draw, pair_probabilities)
    if shortfall.any():
        warnings.warn(
            f"{np.count_nonzero(shortfall)} user(s) drew more items than have a "
            "non-zero probability for them (noise=0 confines users to their "
            "topics' items; a large popularity_skew underflows the tail): they "
            f"get all of those, {int(shortfall.sum())} interaction(s) in all fewer "
            f"than drawn, density {X.nnz / (n_users * n_items):.4g} instead of "
            f"{density:g}. Raise noise or lower popularity_skew.",
            UserWarning,
            stacklevel=3,
        )
    if not return_truth:
        return X

    def probabilities(user_indices):
        users = np.asarray(user_indices)[:, None]
        return pair_probabilities(users, np.arange(n_items)[None, :])

    truth = Bunch(
        user_topics=user_topics,
        item_topic=item_topic,
        item_popularity=popularity,
        probabilities=probabilities,
    )
    return X, truth


def _activity(rng, n_users, n_items, density):
    """Items per user: log-normal with mean ``density * n_items``, rounded, in [1, n_items]."""
    target = density * n_items
    # the location at which the log-normal itself has mean ``target``
    mu = np.log(max(target, 1.0)) - _SIGMA**2 / 2
    if target < 1:
        warnings.warn(
            f"density={density:g} is below 1 / n_items = {1 / n_items:.3g}: every "
            "user has at least one interaction, so the matrix gets one per user "
            f"(density {1 / n_items:.3g}). Ask for density >= 1 / n_items, or "
            "for more items (n_items) to make a sparser matrix.",
            UserWarning,
            stacklevel=4,  # the caller of make_interactions (behind validate_params)
        )
    if abs(_clipped_mean(mu, n_items) - target) > _MEAN_TOLERANCE * target:
        # rounding and clipping to [1, n_items] move the mean off the target:
        # by +37% for a target of one item, by -19% at density 0.5. Where it
        # is off by more than the tolerance, move the location so that the
        # clipped mean is the target; elsewhere keep it, and so the output
        # of earlier versions for the same seed.
        lo, hi = -40.0, np.log(n_items) + 40.0  # every user 1 / every user n_items
        if target <= 1:
            mu = lo
        elif target >= n_items:
            mu = hi
        else:
            mu = brentq(lambda m: _clipped_mean(m, n_items) - target, lo, hi, xtol=1e-12)
    activity = rng.lognormal(mu, _SIGMA, size=n_users)
    return np.clip(np.rint(activity), 1, n_items).astype(np.int64)


def _clipped_mean(mu, n_items):
    """Mean of ``clip(rint(A), 1, n_items)`` for a log-normal ``A`` (location ``mu``)."""
    # E = 1 + sum over k = 1 .. n_items - 1 of P(A > k + 1/2); beyond 10 sigma
    # on either side the terms are 1 or 0 to double precision
    first = int(np.clip(np.exp(mu - 10 * _SIGMA) - 0.5, 0, n_items - 1))
    last = int(np.clip(np.exp(min(mu + 10 * _SIGMA, 700.0)), first, n_items - 1))
    k = np.arange(first + 1, last + 1, dtype=np.float64)
    tail = 0.5 * erfc((np.log(k + 0.5) - mu) / (_SIGMA * np.sqrt(2.0)))
    return 1.0 + first + tail.sum()


def _top_up(X, n_u, rng, draw, pair_probabilities):
    """Add items to each user of ``X`` until user ``u`` has ``n_u[u]`` distinct ones.

    Each round draws, for every user still short, as many items as the user
    lacks, and keeps the new ones: a user's items are then the first
    ``n_u[u]`` distinct ones of an endless sequence of the user's draws
    (draws without replacement), and since a round never draws more than is
    missing, the order of the draws within a round does not matter. Users
    still short after ``_MAX_ROUNDS`` rounds (their missing items are
    unlikely draws) get them in one pass over the catalogue by Gumbel top-k
    sampling, the same distribution. Returns the completed matrix and each
    user's remaining shortfall, non-zero only where fewer than ``n_u[u]``
    items have a non-zero probability for the user.
    """
    n_users, n_items = X.shape
    deficit = n_u - np.diff(X.indptr)
    if not deficit.any():
        return X, deficit
    rows = np.repeat(np.arange(n_users), np.diff(X.indptr))
    # sorted keys user * n_items + item of the pairs present: X's (CSR order
    # is key order), then those added, one array per round
    present = [rows * np.int64(n_items) + X.indices]
    del rows
    scan = np.zeros(n_users, dtype=bool)  # users left to the pass over the catalogue
    for _ in range(_MAX_ROUNDS):
        users = np.flatnonzero((deficit > 0) & ~scan)
        if not len(users):
            break
        keys = np.repeat(users * np.int64(n_items), deficit[users])
        keys += draw(deficit[users], users)
        keys.sort()  # then drop repeats (np.unique's hashing is slower here)
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
        for known in present:  # sorted needles: numpy's searchsorted is fast on them
            pos = np.minimum(np.searchsorted(known, keys), len(known) - 1)
            keys = keys[known[pos] != keys]
        found = np.bincount(keys // n_items, minlength=n_users)
        # a user whose draws are mostly repeats would need more draws than the
        # catalogue has items: scanning the catalogue is cheaper
        scan[users] = (deficit[users] - found[users]) * deficit[users] > (
            n_items * np.maximum(found[users], 1))
        deficit -= found
        if len(keys):
            present.append(keys)
    users = np.flatnonzero(deficit > 0)
    if len(users):
        # the pairs these users have: X's rows, and those added in the rounds
        short = np.zeros(n_users, dtype=bool)
        short[users] = True
        extra = np.concatenate(present[1:]) if len(present) > 1 else present[0][:0]
        extra = extra[short[extra // n_items]]
        seen = sp.csr_matrix(
            (np.ones(len(extra)), (np.searchsorted(users, extra // n_items), extra % n_items)),
            shape=(len(users), n_items),
        ) + X[users]
        step = max(1, _BLOCK // n_items)
        for lo in range(0, len(users), step):
            block = users[lo:lo + step]
            p = pair_probabilities(block[:, None], np.arange(n_items)[None, :])
            p[seen[lo:lo + step].toarray() != 0] = 0
            # Gumbel top-k: the k largest log p + Gumbel noise are k draws
            # without replacement with probabilities p
            with np.errstate(divide="ignore"):
                scores = np.log(p) - np.log(-np.log(rng.random(p.shape)))
            k = np.minimum(deficit[block], (p > 0).sum(axis=1))
            if not k.any():
                continue  # no item left that these users could draw
            top = np.argpartition(-scores, k.max() - 1, axis=1)[:, :k.max()]
            top = np.take_along_axis(
                top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1), axis=1)
            keep = np.arange(k.max()) < k[:, None]
            present.append(np.sort(np.repeat(block * np.int64(n_items), k) + top[keep]))
            deficit[block] -= k
    return _with_keys(X, present[1:]), deficit


def _with_keys(X, keys):
    """``X`` with 1 at the pairs ``row * n_columns + column`` of sorted key arrays."""
    if not keys:
        return X
    n_rows, n_cols = X.shape
    # concatenated sorted runs: a stable sort merges them in linear time
    keys = np.sort(np.concatenate(keys), kind="stable")
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys // n_cols, minlength=n_rows), out=indptr[1:])
    A = sp.csr_matrix(
        (np.ones(len(keys), dtype=X.dtype), keys % n_cols, indptr), shape=X.shape
    )
    return (X + A).tocsr()
