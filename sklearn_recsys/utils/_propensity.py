"""Exposure propensities of items from their training popularity (Rel-MF, Saito et al. 2020)."""

import numpy as np

__all__ = ["exposure_propensity", "PROPENSITY_REFERENCES", "PROPENSITY_REFERENCE_DOC"]

# small propensities are clipped: their inverse weights would make the
# unbiased loss estimate's variance explode (Saito et al.'s clipped estimator)
MIN_PROPENSITY = 0.1

# the count at which an item is taken as exposed to every user (theta = 1)
PROPENSITY_REFERENCES = ("max", "short_head")

# the ``propensity_reference`` entry of the docstrings of the estimators that take it
PROPENSITY_REFERENCE_DOC = """\
    propensity_reference : {"max", "short_head"}, default="max"
        The count ``n_ref`` of ``propensity_power``'s ``theta_i = (n_i /
        n_ref) ** propensity_power`` (clipped to ``[0.1, 1]``): an item at
        least that popular is taken as exposed to every user. ``"max"``: the
        most popular item's count (Saito et al.), less popular items
        discounted. ``"short_head"``: the smallest count in the short head
        (the most popular items holding 80% of the training interactions,
        as in APLT; counted on the interactions the model trains on, those
        held out for validation excluded): every short-head item has
        ``theta_i = 1``, and only less popular items are weighted up, by
        how far below the head's edge they are. An item without training
        interactions has ``theta_i = 1`` under either reference.
"""


def exposure_propensity(X, power, reference="max"):
    """``theta_i = clip((n_i / n_ref) ** power, 0.1, 1)`` for the items of a training matrix.

    Parameters
    ----------
    X : csr_matrix of shape (n_users, n_items)
        Training interactions; ``n_i`` is the number of users of item ``i``.
    power : float
        Exponent (Saito et al. use 0.5); larger values discount popular
        items' observed interactions more.
    reference : {"max", "short_head"}, default="max"
        The count ``n_ref`` from which an item is taken as exposed to every
        user. ``"max"``: the most popular item's (Saito et al.), so that
        every less popular item is discounted. ``"short_head"``: the
        smallest count among the short head (the most popular items holding
        80% of the interactions, the head of
        :func:`~sklearn_recsys.metrics.popularity_buckets` and of APLT), so
        that every short-head item has ``theta_i = 1`` and only long-tail
        items are weighted up, by their popularity relative to the head's
        edge.

    Returns
    -------
    propensity : ndarray of shape (n_items,), float64
        In ``[0.1, 1]``; observed interactions are weighted by its inverse.
        An item without training interactions has ``theta_i = 1``: there is
        no interaction of it to reweight, and a clipped 0.1 would give the
        item of least evidence the largest offset (``log 0.1`` in a softmax
        or logistic loss that the served scores do not have).
    """
    if reference not in PROPENSITY_REFERENCES:
        raise ValueError(f"reference must be one of {PROPENSITY_REFERENCES}, got {reference!r}.")
    counts = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
    if reference == "short_head" and counts.any():
        from ..metrics._beyond_accuracy import popularity_buckets

        n_ref = counts[popularity_buckets(counts) == 0].min()
    else:
        n_ref = max(counts.max(), 1.0)
    theta = np.clip((counts / n_ref) ** power, MIN_PROPENSITY, 1.0)
    theta[counts == 0] = 1.0
    return theta
