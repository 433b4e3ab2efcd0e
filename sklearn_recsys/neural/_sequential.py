"""Shared base of the sequential (next-item) models: rows read as time-ordered sequences.

A sequential model takes the library's ``(n_users, n_items)`` matrix whose
stored values are order keys (timestamps or positions; see
:mod:`sklearn_recsys.utils._sequences`), reads each row as the sequence of its
items from oldest to most recent (the ``max_len`` most recent), and scores
the next item as the inner product of the sequence's final hidden state with
the item embeddings. Training runs on the engine with validation users whose
**most recent** interaction is held out and predicted from the others (NDCG@10),
and serving is a NumPy forward pass, as for the other neural models.
"""

import warnings
from abc import abstractmethod

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin

from .._engine import ENGINE_CONSTRAINTS, USERS_SPLIT_CONSTRAINTS
from ..utils._holdout import split_by_rank
from ..utils._sequences import row_sequences, values_carry_no_order
from ..utils._topk import iter_row_batches
from ._base import NeuralRecommenderBase
from ._tf import import_tensorflow

__all__ = ["SequentialRecommenderBase", "SEQUENTIAL_ENGINE_CONSTRAINTS"]

# validation_holdout does not apply: a validation user's last interaction is held out
SEQUENTIAL_ENGINE_CONSTRAINTS = {
    **{k: v for k, v in ENGINE_CONSTRAINTS.items() if k != "validation_holdout"},
    **USERS_SPLIT_CONSTRAINTS,
}

# users per NumPy forward pass: bounds the (users, heads, len, len) attention block
_ENCODE_BATCH = 256


class SequentialRecommenderBase(ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                                NeuralRecommenderBase):
    """Base class of the sequential recommenders (not an estimator on its own).

    Subclasses implement :meth:`_encode_sequences` (NumPy, serving) and the
    engine's training hooks; this class supplies reading rows as sequences,
    the last-item validation split, scoring and ``transform``.
    """

    _validation_split = "users"
    _validation_k = 10

    @property
    def _n_features_out(self):
        return self.n_components

    def _fit(self, X):
        if values_carry_no_order(X):
            warnings.warn(
                f"{type(self).__name__} reads the values of X as the order of each user's "
                "interactions (a larger value is later), but every value of X is equal, so "
                "the order used is the item index. Pass timestamps or positions 1, 2, ... "
                "(InteractionEncoder.transform_timestamps, or fetch_movielens().timestamps).",
                UserWarning)
        # the order keys stay float64: timestamps rounded to float32 would tie
        ctx = self._make_context(X.astype(np.float64))
        ctx.tf = import_tensorflow()
        self._run_training(ctx)
        return self

    def _hold_out(self, X, rng):
        """Each validation user's most recent interaction held out (users with two or more)."""
        counts = np.diff(X.indptr)
        return split_by_rank(X, X.data, np.where(counts >= 2, 1, 0))

    def _training_sequences(self, ctx):
        """Sequences of the training users, ``max_len + 1`` long (inputs and next items)."""
        X = ctx.X if ctx.train_rows is None else ctx.X[ctx.train_rows]
        return row_sequences(X, self.max_len + 1)

    @staticmethod
    def _trimmed(sequences):
        """The columns of left-padded ``sequences`` that hold an item in some row."""
        longest = int((sequences > 0).sum(axis=1).max(initial=0))
        return sequences[:, sequences.shape[1] - max(longest, 1):]

    @abstractmethod
    def _encode_sequences(self, sequences):
        """Final hidden state (n, n_components) of left-padded sequences, NumPy only."""

    def _encode_np(self, X):
        sequences = row_sequences(X, self.max_len)
        out = np.empty((X.shape[0], self.n_components), dtype=np.float32)
        for rows in iter_row_batches(X.shape[0], _ENCODE_BATCH):
            out[rows] = self._encode_sequences(self._trimmed(sequences[rows]))
        return out

    def _score_batch(self, X):
        return self._encode_np(X) @ self.item_embeddings_[1:].T

    def transform(self, X):
        """Representation of each user's sequence: the final hidden state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions whose values order them (a forward pass: no refit).

        Returns
        -------
        states : ndarray of shape (n_users, n_components)
            The state after the user's most recent item; the next item's
            score is its inner product with the item's embedding.
        """
        X = self._validate_for_scoring(X)
        return self._encode_np(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
