"""Shared base of the sequential (next-item) models: rows read as time-ordered sequences.

A sequential model takes the library's ``(n_users, n_items)`` matrix whose
stored values are order keys (timestamps or positions; see
:mod:`sklearn_recsys.utils._sequences`), reads each row as the sequence of its
items from oldest to most recent (the ``max_len`` most recent), and scores
the next item as the inner product of the sequence's final hidden state with
the item embeddings. Training runs on the engine, validated on every user's
**most recent** interaction, held out of training and predicted from the
others (NDCG@10, the protocol of Kang & McAuley), and serving is a NumPy
forward pass, as for the other neural models.
"""

import warnings
from abc import abstractmethod

import numpy as np
import scipy.sparse as sp
from sklearn.base import TransformerMixin

from .._engine import ENGINE_CONSTRAINTS
from ..base import EmbeddingFeaturesOutMixin, item_shares, rows_without_known_items
from ..utils._holdout import split_by_rank
from ..utils._sequences import as_order_keys, row_sequences, values_carry_no_order
from ..utils._topk import iter_row_batches
from ._base import NeuralRecommenderBase
from ._tf import adam

__all__ = ["SequentialRecommenderBase", "SEQUENTIAL_ENGINE_CONSTRAINTS"]

# validation_holdout does not apply: every user's last interaction is held out
SEQUENTIAL_ENGINE_CONSTRAINTS = {
    k: v for k, v in ENGINE_CONSTRAINTS.items() if k != "validation_holdout"}

# users per NumPy forward pass: bounds the (users, heads, len, len) attention block
_ENCODE_BATCH = 256


class SequentialRecommenderBase(EmbeddingFeaturesOutMixin, TransformerMixin,
                                NeuralRecommenderBase):
    """Base class of the sequential recommenders (not an estimator on its own).

    Subclasses implement :meth:`_initial_weights` and :meth:`_forward` (one
    forward pass, run by NumPy to serve and by TensorFlow to train) and may
    replace the output layer and the loss; this class supplies reading rows
    as sequences, the last-item validation split, the training loop, scoring
    and ``transform``.
    """

    # every user's last item (a share of the users is too few one-item targets
    # to tell epochs apart on a few hundred users)
    _validation_split = "interactions"
    _validation_k = 10
    # timestamps rounded to float32 (steps of 128 s near 1.7e9) would tie
    _fit_dtype = np.float64
    # values are times: check_interactions keeps a repeated pair's latest, not the sum
    _values_are_order_keys = True
    _values_scale_training = False  # only their order is read

    @property
    def _n_features_out(self):
        return self.n_components

    def fit(self, X, y=None):
        """Fit the model on interactions whose values order them.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Order keys of the interactions (timestamps or positions from
            1): a larger value is later; 0 is no interaction.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted model.
        """
        # formats whose stored entries are their .data (dok, lil, dia differ); a 0
        # repeating a pair of a later key is not dropped (the pair keeps that key)
        n_zero = 0
        if sp.issparse(X) and X.format in ("csr", "csc", "coo") and not np.all(X.data):
            n_zero = int(np.sum(as_order_keys(X).data == 0))
        if n_zero:
            warnings.warn(
                f"X stores {n_zero} zero value(s): {type(self).__name__} "
                "reads the values as the order of the interactions, and a 0 is no "
                "interaction, so these are dropped. Shift positions to start at 1 (or use "
                "timestamps after the epoch).", UserWarning)
        return super().fit(X, y)

    def _fit(self, X):
        self._check_architecture()
        if values_carry_no_order(X):
            warnings.warn(
                f"{type(self).__name__} reads the values of X as the order of each user's "
                "interactions (a larger value is later), but every value of X is equal, so "
                "the order used is the item index. Pass timestamps or positions 1, 2, ... "
                "(InteractionEncoder.transform_timestamps, or fetch_movielens().timestamps).",
                UserWarning)
        return super()._fit(X)

    def _check_architecture(self):
        """Refuse inconsistent settings before any work (ValueError naming the fix)."""

    def _holdout_description(self):
        return "holding out each user's most recent interaction (a user needs at least 2)"

    def _hold_out(self, X, rng):
        """Each user's most recent interaction held out (users with two or more)."""
        counts = np.diff(X.indptr)
        return split_by_rank(X, X.data, np.where(counts >= 2, 1, 0))

    def _training_sequences(self, ctx):
        """Sequences of the training users, ``max_len + 1`` long (inputs and next items)."""
        return row_sequences(ctx.X_train, self.max_len + 1)

    @staticmethod
    def _trimmed(sequences):
        """The columns of left-padded ``sequences`` that hold an item in some row."""
        longest = int((sequences > 0).sum(axis=1).max(initial=0))
        return sequences[:, sequences.shape[1] - max(longest, 1):]

    # names of the fitted weights (attribute ``name + "_"``): arrays, or lists,
    # tuples and dicts of arrays, mirrored by TensorFlow variables in fit;
    # subclasses also say how many dropout seeds a step draws (_n_dropout_sites)
    _weight_names = ()

    @abstractmethod
    def _initial_weights(self, rng, n_items):
        """``{name: weights}`` for every name of ``_weight_names``, drawn in NumPy from ``rng``."""

    @abstractmethod
    def _forward(self, xp, V, sequences, dropout=0.0, seeds=None):
        """Hidden states ``(n, length, n_components)`` of left-padded sequences.

        ``xp`` is ``numpy`` (serving, ``V`` the fitted arrays) or
        ``tensorflow`` (training, ``V`` the variables, dropout seeded by one
        row of ``seeds`` per site).
        """

    def _weights(self):
        return {name: getattr(self, name + "_") for name in self._weight_names}

    def _encode_sequences(self, sequences):
        """Final hidden state (n, n_components) of left-padded sequences, NumPy only."""
        return self._forward(np, self._weights(), sequences)[:, -1]

    def _encode_np(self, X):
        # an item never read as an input kept its random initial embedding: as the
        # latest item it would make the prediction from noise. Removed before the cut
        # to max_len, it takes no trained item's place
        sequences = row_sequences(self._untrained_removed(X), self.max_len)
        out = np.empty((X.shape[0], self.n_components), dtype=np.float32)
        for rows in iter_row_batches(X.shape[0], _ENCODE_BATCH):
            out[rows] = self._encode_sequences(self._trimmed(sequences[rows]))
        return out

    def _score_batch(self, X):
        scores = self._output_scores(self._encode_np(X))
        known = self._known_items()
        if known is not None:
            # a history of items never read as an input in fit is no history
            # (their input embeddings never trained)
            scores[rows_without_known_items(X, known)] = self._empty_history_scores()
        return scores

    def _validation_row_scores(self, ctx, rows, X_rows):
        # as served: a user without trained items gets the popularity fallback, here
        # that of the training part (the held-out items must not lead it); the constant
        # of _score_batch ranked them in catalogue order, so early stopping measured
        # another model than the one served
        if not hasattr(ctx, "training_shares"):
            train = ctx.X_train if ctx.train_rows is None else ctx.X_train[ctx.train_rows]
            ctx.training_shares = item_shares(
                np.bincount(train.indices, minlength=train.shape[1]).astype(np.float64))
        return self._popularity_for_empty_rows(X_rows, self._score_batch(X_rows),
                                               popularity=ctx.training_shares)

    def _items_trained_on(self, ctx):
        # the inputs of the training sequences: an item seen only as a next item
        # (each user's latest, the validation's held-out one) or before the max_len
        # + 1 most recent never entered the network
        inputs = np.unique(ctx.sequences[:, :-1])
        known = np.zeros(ctx.X.shape[1], dtype=bool)
        known[inputs[inputs > 0] - 1] = True
        return known

    def _empty_history_scores(self):
        """Scores of a user without trained items; a constant is the popularity fallback.

        The network's state of an empty sequence is never read by the loss
        (it reads states after real items; SASRec's would be the final
        LayerNorm's bias), and it ranked new users' first items far below
        popularity on MovieLens 100K.
        """
        return 0.0

    def _entries_read(self, x):
        # the max_len most recent trained items: removing any other entry leaves the
        # sequence the network reads as it is
        sequence = row_sequences(self._untrained_removed(x), self.max_len)[0]
        return np.isin(x.indices, sequence[sequence > 0] - 1)

    def _scores_without_fallback(self, X):
        # explain's leave-one-out: a row emptied by the removal keeps the network's score
        return np.asarray(self._output_scores(self._encode_np(X)), dtype=np.float64)

    def _output_scores(self, states):
        """Next-item scores of final states: inner products with the shared item embeddings."""
        return states @ self.item_embeddings_[1:].T

    def transform(self, X):
        """Representation of each user's sequence: the final hidden state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions whose values order them (a forward pass: no refit).

        Returns
        -------
        states : ndarray of shape (n_users, n_components)
            The state after the user's most recent item, from which the
            output layer scores the next item.
        """
        X = self._validate_for_scoring(X)
        return self._encode_np(X)

    # -- training (the engine's hooks) ------------------------------------

    def _init_fit(self, ctx):
        tf = ctx.tf
        for name, value in self._initial_weights(ctx.rng, ctx.X.shape[1]).items():
            setattr(self, name + "_", value)
        ctx.vars = tf.nest.map_structure(tf.Variable, self._weights())
        variables = tf.nest.flatten(ctx.vars)
        ctx.sequences = self._training_sequences(ctx)
        ctx.n_batches = int(np.ceil(len(ctx.sequences) / self.batch_size))
        signature = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32),
                     tf.TensorSpec([self._n_dropout_sites, 2], tf.int32)]
        ctx.step = self._compile_step(ctx, self._make_step(tf, ctx.vars, variables),
                                      ctx.n_batches, signature)

    def _make_step(self, tf, V, variables):
        """One Adam update predicting every next item of a batch from its prefix."""
        update = adam(tf, variables, self.learning_rate_init)

        def step(inputs, targets, seeds):
            with tf.GradientTape() as tape:
                h = self._forward(tf, V, inputs, dropout=self.dropout, seeds=seeds)
                # a next item predicted from a real item (not from padding; with
                # left padding, the item after a real one is real)
                known = inputs > 0
                loss = self._next_item_loss(tf, V, tf.boolean_mask(h, known),
                                            tf.boolean_mask(targets, known) - 1)
            update(tape.gradient(loss, variables))
            return loss

        return step

    def _next_item_loss(self, tf, V, states, labels):
        """Mean cross-entropy of the full softmax over the items."""
        logits = self._output_scores_tf(tf, V, states)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits))

    def _output_scores_tf(self, tf, V, states):
        return tf.matmul(states, V["item_embeddings"][1:], transpose_b=True)

    def _iterate(self, ctx):
        tf, total, n = ctx.tf, 0.0, 0
        for idx in self._minibatches(ctx.rng, len(ctx.sequences), self.batch_size):
            seeds = ctx.rng.randint(0, np.iinfo(np.int32).max,
                                    size=(self._n_dropout_sites, 2)).astype(np.int32)
            batch = self._trimmed(ctx.sequences[idx])
            if batch.shape[1] < 2:
                continue  # users with one item: nothing to predict
            total += float(ctx.step(tf.constant(batch[:, :-1]), tf.constant(batch[:, 1:]),
                                    tf.constant(seeds)))
            n += 1
        self._store(ctx)
        return total / max(1, n)

    def _store(self, ctx):
        tf = ctx.tf
        for name, value in ctx.vars.items():
            setattr(self, name + "_", tf.nest.map_structure(lambda v: v.numpy(), value))

    def _snapshot(self):
        return self._weights()  # _store makes new arrays every epoch

    def _restore(self, snapshot):
        for name, value in snapshot.items():
            setattr(self, name + "_", value)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
