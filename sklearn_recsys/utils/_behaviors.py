"""The layout of several behaviours in one matrix: one column block per behaviour.

A multi-behaviour ``X`` is the horizontal stack of one ``(n_users, n_items)``
block per behaviour (views, carts, purchases...), so a user's behaviours stay
in one row and every tool that splits rows keeps them together. The helpers
here name the blocks, check a matrix against them and find the layout of a
fitted estimator (or of the recommender that ends a pipeline).
"""

from collections.abc import Mapping
from collections.abc import Set as AbstractSet

import numpy as np
import scipy.sparse as sp

__all__ = ["MultiBehaviorMixin", "check_behaviors", "behavior_block", "behavior_layout"]


def check_behaviors(behaviors, target):
    """Names of the behaviours and the index of the target one.

    Parameters
    ----------
    behaviors : sequence of str or None
        One name per column block, in block order; None means one behaviour.
    target : str or None
        The behaviour to recommend; None means the last one.

    Returns
    -------
    names : tuple of str
    target_index : int
    """
    if behaviors is None:
        if target is not None:
            raise ValueError(
                f"target={target!r} names a behaviour, but behaviors is None (one "
                "behaviour): pass behaviors=(...) with one name per column block of X.")
        return ("interaction",), 0
    if isinstance(behaviors, str):
        raise TypeError(f"behaviors must be a sequence of names, got the string "
                        f"{behaviors!r}; write behaviors=({behaviors!r},).")
    if isinstance(behaviors, AbstractSet) or not hasattr(behaviors, "__len__"):
        # a set's order is its hash order, which changes from one process to the next:
        # the names would go to other blocks (and another target) on every run
        raise TypeError(
            f"behaviors must be an ordered sequence (a tuple or list) of names, one per column "
            f"block of X in block order; got a {type(behaviors).__name__}, whose order is not "
            "the blocks'.")
    if isinstance(behaviors, Mapping):
        raise TypeError(
            f"behaviors must be a sequence of names, one per column block of X in block "
            f"order, not a mapping; got {behaviors!r}: pass tuple(...) of the names.")
    names = tuple(behaviors)
    if not names or not all(isinstance(b, str) for b in names):
        raise ValueError(f"behaviors must be a non-empty sequence of str, got {behaviors!r}.")
    if len(set(names)) != len(names):
        raise ValueError(f"behaviors has a repeated name: {names!r}.")
    if target is None:
        return names, len(names) - 1
    if target not in names:
        raise ValueError(f"target={target!r} is not one of behaviors={names!r}.")
    return names, names.index(target)


def n_items_of(n_columns, names):
    """Items per block of a matrix with ``n_columns`` columns; ValueError if they do not divide."""
    if n_columns % len(names):
        raise ValueError(
            f"X has {n_columns} columns, which is not {len(names)} blocks of equal width "
            f"(one (n_users, n_items) block per behaviour of {names!r}): stack one block per "
            "behaviour, e.g. scipy.sparse.hstack([X_view, X_cart, X_buy]) or "
            "InteractionEncoder(behavior_col=...).")
    return n_columns // len(names)


def behavior_block(X, n_items, index):
    """Columns ``[index * n_items, (index + 1) * n_items)`` of CSR ``X``, as CSR."""
    if X.shape[1] == n_items:
        return X
    return X[:, index * n_items:(index + 1) * n_items].tocsr()


def behavior_layout(estimator):
    """``(n_items, target_index)`` of a fitted multi-behaviour recommender, else None.

    Looks through a pipeline, a wrapper or a fitted search to the model that
    scores (:func:`~sklearn_recsys.utils._scoring_path.scoring_model`). A model
    with one behaviour (or no layout) gives None: its ``X`` is its own target.
    """
    from ._scoring_path import scoring_model

    estimator = scoring_model(estimator)
    n_items = getattr(estimator, "n_items_", None)
    index = getattr(estimator, "target_index_", None)
    n_features = getattr(estimator, "n_features_in_", None)
    if n_items is None or index is None or n_features is None or n_features == n_items:
        return None
    return int(n_items), int(index)


def target_history(X, layout):
    """The target block of CSR ``X`` under ``layout`` (``X`` itself when None)."""
    if layout is None:
        return X
    n_items, index = layout
    return behavior_block(X, n_items, index)


def as_pattern_codes(X, n_items, indices):
    """Bitmask of the behaviours ``indices`` present for each stored (user, item) pair.

    Returns a CSR matrix of shape ``(n_users, n_items)`` whose value at a pair
    is ``sum(2 ** p for the p-th behaviour of indices present there)`` (an
    integer-valued float; absent pairs are not stored).
    """
    code = None
    for p, b in enumerate(indices):
        block = behavior_block(X, n_items, b).copy()
        block.data = np.where(block.data != 0, float(2 ** p), 0.0)
        code = block if code is None else code + block
    code.eliminate_zeros()
    return code.tocsr()


def with_block(X, n_items, index, block):
    """CSR ``X`` with its block ``index`` replaced by ``block`` (same shape as the block)."""
    if X.shape[1] == n_items:
        return block.tocsr()
    blocks = [block if b == index else behavior_block(X, n_items, b)
              for b in range(X.shape[1] // n_items)]
    return sp.hstack(blocks, format="csr")


def check_weights(weights, names, what, reader=None):
    """One finite non-negative weight per behaviour (all 1 when None), as float64.

    ``reader`` names what the weights feed (``"the cross term"``): all of them 0
    would feed it nothing, which is refused rather than fitted silently.
    """
    if weights is None:
        return np.ones(len(names))
    try:
        out = np.asarray(weights, dtype=np.float64).ravel()
    except (TypeError, ValueError):  # a mapping, strings: not a sequence of numbers
        out = None
    if out is None or out.shape != (len(names),) or not np.all(np.isfinite(out)) \
            or out.min() < 0:
        raise ValueError(f"{what} must hold {len(names)} finite non-negative numbers, one per "
                         f"behaviour of {names!r}, in that order; got {weights!r}.")
    if reader is not None and not out.any():
        raise ValueError(
            f"{what}={weights!r} are all 0: {reader} would read nothing. Give a positive "
            f"weight to at least one behaviour, or {what}=None for the default.")
    return out


class MultiBehaviorMixin:
    """The layout side of a recommender whose ``X`` stacks one block per behaviour.

    The model has ``behaviors`` and ``target`` parameters; ``_set_layout(X)``
    in ``fit`` records ``behaviors_``, ``target_``, ``target_index_`` and
    ``n_items_``. Scores then have ``n_items_`` columns (the target
    behaviour), ``exclude_seen`` masks the target block, and users without
    history get the target behaviour's popularity. Put it before
    :class:`~sklearn_recsys.base.RecommenderMixin` in the bases.
    """

    _max_behaviors = None

    # the public methods again, for their documented shapes: X stacks one block per
    # behaviour, scores have one column per item of the target behaviour

    def fit(self, X, y=None):
        """Fit the recommender on the stacked behaviours.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_behaviors * n_items)
            One ``(n_users, n_items)`` block per behaviour of ``behaviors``,
            in that order; 0 means "no interaction".
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted recommender.
        """
        return super().fit(X, y)

    def decision_function(self, X):
        """Relevance score of every item of the target behaviour for every user.

        Row ``u`` depends only on row ``u`` of ``X``; a user without any
        interaction (or only on (behaviour, item) columns without training
        interactions) gets the target behaviour's popularity, unless the model
        ranks such users itself (``MultiTaskDAE``'s network does).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_behaviors * n_items)
            The users' behaviours, stacked as in ``fit``.

        Returns
        -------
        scores : ndarray of shape (n_users, n_items)
            Higher means more likely to be the target behaviour next (e.g.
            bought). Nothing is masked; see :meth:`recommend`.
        """
        return super().decision_function(X)

    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        """Top-``k`` items of the target behaviour for each user, best first.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_behaviors * n_items)
            The users' behaviours, stacked as in ``fit``.
        k : int, default=10
            Number of items per user.
        exclude_seen : bool, default=True
            Never return an item of the user's **target** history (a viewed
            or carted item stays a candidate for purchase).
        exclude : {array-like, sparse matrix} of shape (n_users, n_items), default=None
            Further items never to return: the non-zeros of row ``u``.
        candidates : array-like of int, default=None
            Item indices (``0 .. n_items - 1``) to choose from; None means all.

        Returns
        -------
        indices : ndarray of shape (n_users, min(k, n_items)), dtype int64
            Item indices, best first, padded with ``-1``.
        scores : ndarray of shape (n_users, min(k, n_items))
            Their scores, padded with ``-inf``.
        """
        return super().recommend(X, k, exclude_seen=exclude_seen, exclude=exclude,
                                 candidates=candidates)

    def explain(self, x_row, item):
        """Contribution of each of the user's stacked entries to one item's score.

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_behaviors * n_items)
            One user's behaviours, stacked as in ``fit``.
        item : int
            The item (``0 .. n_items - 1``) whose target score is explained.

        Returns
        -------
        columns : ndarray of shape (n_user_entries,), dtype int64
            Columns of the stacked row (``b * n_items + j`` for item ``j`` of
            behaviour ``b``), largest contribution first.
        contributions : ndarray of shape (n_user_entries,)
            Their contributions, as the model's explanation defines them
            (leave-one-out unless the model overrides it).
        """
        return super().explain(x_row, item)

    # documents the stacked row only: explain_contrast looks through it to what it runs
    explain._runs_inherited = True

    def _layout(self, n_columns):
        """``(names, target_index, n_items)`` of a matrix with ``n_columns`` columns."""
        names, index = check_behaviors(self.behaviors, self.target)
        if self._max_behaviors is not None and len(names) > self._max_behaviors:
            raise ValueError(f"{type(self).__name__} takes at most {self._max_behaviors} "
                             f"behaviours, got {len(names)}.")
        return names, index, n_items_of(n_columns, names)

    def _set_layout(self, X, *, require_target=True):
        """Record the layout of ``X``; ``require_target``: refuse an empty target block
        (``fit``'s data; a ``partial_fit`` chunk may hold none)."""
        names, index, n_items = self._layout(X.shape[1])
        if require_target and len(names) > 1 and behavior_block(X, n_items, index).nnz == 0:
            # every score would be 0 (or the conversion of nothing): catalogue order
            raise ValueError(
                f"{type(self).__name__}.fit got no interaction of the target behaviour "
                f"{names[index]!r} (block {index} of X, of behaviors={names!r}), so there is "
                "nothing to learn it from. Check target= and that behaviors= names the "
                "blocks in their order (an InteractionEncoder's behaviors_).")
        self.behaviors_, self.target_, self.target_index_ = names, names[index], index
        self.n_items_ = n_items

    def _n_items(self):
        return self.n_items_

    def _target_history(self, X):
        return behavior_block(X, self.n_items_, self.target_index_)

    def _auxiliary(self):
        """Block indices of the behaviours other than the target, in order."""
        return [b for b in range(len(self.behaviors_)) if b != self.target_index_]

    def _set_popularity(self, counts):
        _, index, n_items = self._layout(len(counts))
        super()._set_popularity(counts[index * n_items:(index + 1) * n_items])
        self._columns_with_interactions = np.asarray(counts) > 0

    def _trained_columns(self):
        """Mask of the (behaviour, item) columns of ``X`` with training interactions: a row
        with entries on none of them is a user without history (popularity fallback)."""
        return getattr(self, "_columns_with_interactions", None)
