"""GRU4Rec: next-item prediction by a recurrent network (Hidasi et al., ICLR 2016; CIKM 2018)."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._autorec import _sigmoid
from ._base import glorot_uniform
from ._sequential import SEQUENTIAL_ENGINE_CONSTRAINTS, SequentialRecommenderBase

__all__ = ["GRU4Rec"]


class GRU4Rec(SequentialRecommenderBase):
    """Recurrent next-item recommender (GRU4Rec).

    Each user's row is read as a sequence: its items ordered by their values
    (timestamps or positions, larger is later; see :ref:`sequences`), the
    ``max_len`` most recent kept. Item embeddings go through one GRU layer
    (Cho et al. 2014) and the score of item ``i`` as the next item is
    ``h @ w_i + b_i`` with a bias ``b_i`` of its own; ``w_i`` is the item's
    input embedding (``tied_embeddings=True``, the reference code's
    ``constrained_embedding``, on by default there and in each of its
    published best settings) or an output weight of its own (Hidasi et al.
    2016). Dropout acts on the embeddings and on the GRU's output during
    training.

    Training predicts every next item of every training sequence from its
    prefix by Adam in TensorFlow, with one of two losses over **all** items
    (no sampling: the catalogues here afford it):

    * ``"cross-entropy"``: the full softmax;
    * ``"bpr-max"``: Hidasi & Karatzoglou's (CIKM 2018) ranking loss,
      ``-log sum_j s_j sigmoid(r_i - r_j) + score_penalty * sum_j s_j r_j^2``
      over the other items ``j``, where ``s`` is the softmax of their scores
      (the negatives that outscore the target weigh most).

    The epoch with the best NDCG@10 of every user's **most recent** item
    (held out of training, predicted from the earlier ones) is kept. Any
    user's scores are a NumPy pass of the GRU over their row: no refit and
    no TensorFlow after ``fit``.

    Parameters
    ----------
    n_components : int, default=100
        Size of the item embeddings and of the GRU's state (GRU4Rec's 100
        hidden units).
    loss : {"cross-entropy", "bpr-max"}, default="cross-entropy"
        Training loss, over all items.
    score_penalty : float, default=1.0
        ``"bpr-max"`` only: weight of the penalty on the negatives' squared
        scores (the reference code's ``bpreg``).
    tied_embeddings : bool, default=True
        Score the next item with the input embeddings instead of output
        weights of their own: about half the item parameters, and each
        item's embedding trains both as an input and as a next item, as in
        the reference code. With the cross-entropy on MovieLens 100K and
        latest-small (leave-last-out; the sequential tables of the
        benchmarks page), tied was ahead when ties in time broke by item
        index and behind with them broken at random; each fit's validation
        NDCG@10 keeps tied on 100K and untied on latest-small: neither is
        settled.
    max_len : int, default=200
        Most recent items of a user read.
    dropout : float, default=0.2
        Dropout rate of the embeddings and of the GRU's output during
        training.
    batch_size : int, default=128
        Users (sequences) per Adam step.
    learning_rate_init : float, default=1e-2
        Adam step size (the reference code's Adagrad steps are 0.05-0.1).
        After 15 epochs on MovieLens 100K (leave-last-out), 1e-3 was still
        at popularity's NDCG@10 (0.026) where 1e-2 reached 0.090.
    max_iter : int, default=200
        Epochs.
    early_stopping : bool, default=True
        Hold out every user's most recent interaction (users with two or
        more), train on the others, select the epoch with the best NDCG@10
        of the held-out items (of at most 5,000 users, evenly spaced) and
        stop after ``n_iter_no_change`` epochs without improvement (the
        protocol of Kang & McAuley). Without it, all interactions train for
        ``max_iter`` epochs.
    n_iter_no_change : int, default=20
        Patience, in epochs.
    tol : float, default=0.0
        Smallest gain of the validation NDCG@10 that resets the patience.
    random_state : int, RandomState instance or None, default=None
        Seed of the weights, batches and dropout.
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more:
        also a line per epoch (loss, validation NDCG@10).

    Attributes
    ----------
    item_embeddings_ : ndarray of shape (n_items + 1, n_components)
        Input embeddings; row ``i + 1`` is item ``i``, row 0 the padding.
        With ``tied_embeddings=True`` also the output weights ``w_i``.
    gru_weights_ : dict of str to ndarray
        ``W`` (input to the update, reset and candidate gates, side by
        side), ``U`` (state to the gates) and ``b``.
    output_embeddings_ : ndarray of shape (n_items, n_components)
        ``w_i``, the output weights of each item
        (``tied_embeddings=False`` only).
    output_bias_ : ndarray of shape (n_items,)
        ``b_i``.
    loss_curve_ : list of float
        Mean training loss per epoch.
    validation_scores_ : list of float or None
        Validation NDCG@10 per epoch.
    best_iteration_ : int
        Epoch whose weights were kept (the last one without early stopping).
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Number of items.

    See Also
    --------
    SASRec : Self-attention over the same sequences.

    References
    ----------
    .. [1] B. Hidasi, A. Karatzoglou, L. Baltrunas and D. Tikk,
       "Session-based Recommendations with Recurrent Neural Networks",
       ICLR 2016.
    .. [2] B. Hidasi and A. Karatzoglou, "Recurrent Neural Networks with
       Top-k Gains for Session-based Recommendations", CIKM 2018.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recsys import GRU4Rec
    >>> X = sp.csr_matrix([[2, 3, 1, 0], [0, 1, 2, 3], [1, 0, 2, 0]])
    >>> model = GRU4Rec(n_components=8, max_iter=2, random_state=0)  # doctest: +SKIP
    >>> model.fit(X).recommend(X, k=1)[0].shape  # doctest: +SKIP
    (3, 1)
    """

    _ranks_users_without_history = True  # its output biases

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions({"cross-entropy", "bpr-max"})],
        "score_penalty": [Interval(Real, 0, None, closed="left")],
        "tied_embeddings": ["boolean"],
        "max_len": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        **SEQUENTIAL_ENGINE_CONSTRAINTS,
    }
    _n_dropout_sites = 2  # embeddings, GRU output

    def __init__(
        self,
        n_components=100,
        *,
        loss="cross-entropy",
        score_penalty=1.0,
        tied_embeddings=True,
        max_len=200,
        dropout=0.2,
        batch_size=128,
        learning_rate_init=1e-2,
        max_iter=200,
        early_stopping=True,
        n_iter_no_change=20,
        tol=0.0,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.loss = loss
        self.score_penalty = score_penalty
        self.tied_embeddings = tied_embeddings
        self.max_len = max_len
        self.dropout = dropout
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    @property
    def _weight_names(self):
        if self.tied_embeddings:
            return ("item_embeddings", "gru_weights", "output_bias")
        return ("item_embeddings", "gru_weights", "output_embeddings", "output_bias")

    def _initial_weights(self, rng, n_items):
        d = self.n_components
        E = glorot_uniform(rng, (n_items + 1, d))
        E[0] = 0.0
        U = np.hstack([np.linalg.qr(rng.standard_normal((d, d)))[0] for _ in range(3)])
        weights = {"item_embeddings": E,
                   "gru_weights": {"W": glorot_uniform(rng, (d, 3 * d)),
                                   "U": U.astype(np.float32),
                                   "b": np.zeros(3 * d, np.float32)},
                   "output_bias": np.zeros(n_items, np.float32)}
        if not self.tied_embeddings:
            weights["output_embeddings"] = glorot_uniform(rng, (n_items, d))
        return weights

    def _init_fit(self, ctx):
        # an earlier untied fit's output weights would outlive a tied fit
        self.__dict__.pop("output_embeddings_", None)
        super()._init_fit(ctx)

    def _empty_history_scores(self):
        # an empty sequence's state is 0: its scores are the trained output
        # biases, a prior of its own (it found new users' first items on
        # MovieLens 100K a little better than popularity)
        return self.output_bias_

    def _output_scores(self, states):
        W = self.item_embeddings_[1:] if self.tied_embeddings else self.output_embeddings_
        return states @ W.T + self.output_bias_

    def _output_scores_tf(self, tf, V, states):
        W = V["item_embeddings"][1:] if self.tied_embeddings else V["output_embeddings"]
        return tf.matmul(states, W, transpose_b=True) + V["output_bias"]

    def _next_item_loss(self, tf, V, states, labels):
        if self.loss == "cross-entropy":
            return super()._next_item_loss(tf, V, states, labels)
        scores = self._output_scores_tf(tf, V, states)
        target = tf.one_hot(labels, tf.shape(scores)[1])
        # softmax over the other items: the target masked out
        weights = tf.nn.softmax(scores - 1e9 * target, axis=1)
        own = tf.reduce_sum(scores * target, axis=1, keepdims=True)
        ranking = -tf.math.log(tf.reduce_sum(weights * tf.sigmoid(own - scores), axis=1)
                               + 1e-24)
        penalty = self.score_penalty * tf.reduce_sum(weights * tf.square(scores), axis=1)
        return tf.reduce_mean(ranking + penalty)

    def _forward(self, xp, V, sequences, dropout=0.0, seeds=None):
        """GRU states of left-padded sequences; padding leaves the state at 0."""
        d = self.n_components
        E, G = V["item_embeddings"], V["gru_weights"]
        if xp is np:
            x = E[sequences] @ G["W"] + G["b"]  # the gates' input parts, all steps at once
            present = (sequences > 0)[:, :, None].astype(np.float32)
            h = np.zeros((len(sequences), d), np.float32)
            out = np.empty(sequences.shape + (d,), np.float32)
            for t in range(sequences.shape[1]):
                h = _gru_step(np, x[:, t], h, G["U"], d, present[:, t])
                out[:, t] = h
            return out
        tf = xp
        emb = tf.gather(E, sequences)
        if dropout:
            emb = tf.nn.experimental.stateless_dropout(emb, rate=dropout, seed=seeds[0])
        x = tf.matmul(emb, G["W"]) + G["b"]
        present = tf.cast(sequences > 0, tf.float32)[:, :, None]
        steps = (tf.transpose(x, (1, 0, 2)), tf.transpose(present, (1, 0, 2)))
        h0 = tf.zeros((tf.shape(sequences)[0], d))
        states = tf.scan(lambda h, s: _gru_step(tf, s[0], h, G["U"], d, s[1]), steps,
                         initializer=h0)
        out = tf.transpose(states, (1, 0, 2))
        if dropout:
            out = tf.nn.experimental.stateless_dropout(out, rate=dropout, seed=seeds[1])
        return out


def _gru_step(xp, x_t, h, U, d, present):
    """One GRU step (update ``z``, reset ``r``, candidate ``n``); ``present`` 0 keeps ``h``."""
    sigmoid = _sigmoid if xp is np else xp.sigmoid
    hu = h @ U[:, :2 * d] if xp is np else xp.matmul(h, U[:, :2 * d])
    z = sigmoid(x_t[:, :d] + hu[:, :d])
    r = sigmoid(x_t[:, d:2 * d] + hu[:, d:])
    rh = r * h
    n = xp.tanh(x_t[:, 2 * d:] + (rh @ U[:, 2 * d:] if xp is np else xp.matmul(rh, U[:, 2 * d:])))
    new = (1.0 - z) * n + z * h
    return present * new + (1.0 - present) * h
