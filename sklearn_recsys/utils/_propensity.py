"""Exposure propensities of items from their training popularity (Rel-MF, Saito et al. 2020)."""

import numpy as np

__all__ = ["exposure_propensity"]

# small propensities are clipped: their inverse weights would make the
# unbiased loss estimate's variance explode (Saito et al.'s clipped estimator)
MIN_PROPENSITY = 0.1


def exposure_propensity(X, power):
    """``theta_i = max((n_i / max_j n_j) ** power, 0.1)`` for the items of a training matrix.

    Parameters
    ----------
    X : csr_matrix of shape (n_users, n_items)
        Training interactions; ``n_i`` is the number of users of item ``i``.
    power : float
        Exponent (Saito et al. use 0.5); larger values discount popular
        items' observed interactions more.

    Returns
    -------
    propensity : ndarray of shape (n_items,), float64
        In ``[0.1, 1]``; observed interactions are weighted by its inverse.
    """
    counts = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
    return np.maximum((counts / max(counts.max(), 1.0)) ** power, MIN_PROPENSITY)
