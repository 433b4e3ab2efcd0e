"""SASRec: next-item prediction by causal self-attention (Kang & McAuley, ICDM 2018)."""

import itertools
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import _softmax, glorot_uniform
from ._sequential import SEQUENTIAL_ENGINE_CONSTRAINTS, SequentialRecommenderBase

__all__ = ["SASRec"]

# the reference code's layer-norm epsilon
_EPS = 1e-8
# logit of a masked attention entry: finite, so an all-padding query row stays finite
_MASKED = -1e9


class SASRec(SequentialRecommenderBase):
    """Self-attentive sequential recommendation (SASRec).

    Each user's row is read as a sequence: its items ordered by their values
    (timestamps or positions, larger is later; see :ref:`sequences`), the
    ``max_len`` most recent kept. The items' embeddings (scaled by
    ``sqrt(n_components)``) plus learned position embeddings go through
    ``n_blocks`` blocks of causal self-attention and a position-wise
    feed-forward layer (layer normalisation before each, residual
    connections, dropout), as in the reference code of Kang & McAuley
    (2018). The score of item ``i`` as the user's next item is the inner
    product of the final state with ``i``'s embedding (the input and output
    embeddings are shared).

    Training predicts every next item of every training sequence from its
    prefix, with a full softmax over the catalogue (cross-entropy), by Adam
    in TensorFlow; the paper's one sampled negative per positive (binary
    cross-entropy) makes the scores over-confident (Petrov & Macdonald,
    RecSys 2023). The logits of a batch take ``batch_size * max_len *
    n_items`` floats (1 GB at 128 x 200 x 10,000, and a few times that
    for the softmax and its gradient): lower ``batch_size`` or ``max_len``
    for larger catalogues. The epoch with the best NDCG@10 of every user's **most
    recent** item (held out of training, predicted from the earlier ones)
    is kept. Any
    user's scores, seen in ``fit`` or not, are a NumPy forward pass of their
    row: no refit and no TensorFlow after ``fit``.

    Parameters
    ----------
    n_components : int, default=50
        Size of the embeddings and hidden states (the paper's ``d``). Use
        at least 2: a layer normalisation of one value is its bias, the
        same state for every user (``fit`` warns).
    n_blocks : int, default=2
        Self-attention blocks.
    n_heads : int, default=1
        Attention heads per block; must divide ``n_components``.
    max_len : int, default=200
        Most recent items of a user read (the paper's ``n``; 200 for
        MovieLens 1M). Longer histories keep their ``max_len`` most recent
        items.
    dropout : float, default=0.2
        Dropout rate of the embeddings, attention weights and feed-forward
        outputs during training.
    batch_size : int, default=128
        Users (sequences) per Adam step.
    learning_rate_init : float, default=5e-3
        Adam step size. The paper's 1e-3 suits MovieLens 1M's 6,040 users
        (47 steps per epoch); on a thousand users, eight steps per epoch, it
        converged far more slowly on MovieLens 100K.
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
        Seed of the weights, batches and dropout. The caller's global NumPy
        and TensorFlow generators are not touched.
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more:
        also a line per epoch (loss, validation NDCG@10).

    Attributes
    ----------
    item_embeddings_ : ndarray of shape (n_items + 1, n_components)
        Row ``i + 1`` embeds item ``i`` (input and output); row 0 is the
        padding.
    position_embeddings_ : ndarray of shape (max_len, n_components)
        Row ``max_len - 1`` is the most recent item's position.
    block_weights_ : list of dict of str to ndarray
        Each block's layer norms, attention projections (``Wq``, ``Wk``,
        ``Wv`` and biases) and feed-forward layers (``W1``, ``W2``).
    final_norm_ : tuple of ndarray
        Gain and bias of the last layer normalisation.
    loss_curve_ : list of float
        Mean training cross-entropy per epoch.
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
    MultVAE : Ranks from the set of a user's items, without their order.

    References
    ----------
    .. [1] W.-C. Kang and J. McAuley, "Self-Attentive Sequential
       Recommendation", ICDM 2018.
    .. [2] A. Petrov and C. Macdonald, "gSASRec: Reducing Overconfidence in
       Sequential Recommendation Trained with Negative Sampling", RecSys 2023.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recsys import SASRec
    >>> # values are positions: user 0 saw items 2, 0, 1 in that order
    >>> X = sp.csr_matrix([[2, 3, 1, 0], [0, 1, 2, 3], [1, 0, 2, 0]])
    >>> model = SASRec(n_components=8, max_iter=2, random_state=0)  # doctest: +SKIP
    >>> model.fit(X).recommend(X, k=1)[0].shape  # doctest: +SKIP
    (3, 1)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "max_len": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        **SEQUENTIAL_ENGINE_CONSTRAINTS,
    }

    def __init__(
        self,
        n_components=50,
        *,
        n_blocks=2,
        n_heads=1,
        max_len=200,
        dropout=0.2,
        batch_size=128,
        learning_rate_init=5e-3,
        max_iter=200,
        early_stopping=True,
        n_iter_no_change=20,
        tol=0.0,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.n_blocks = n_blocks
        self.n_heads = n_heads
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

    _weight_names = ("item_embeddings", "position_embeddings", "block_weights", "final_norm")

    @property
    def _n_dropout_sites(self):
        return 1 + 3 * self.n_blocks  # the embeddings, then per block attention and FFN x2

    def _check_architecture(self):
        if self.n_components == 1:
            # accepted (scikit-learn's common checks fit with n_components=1), but useless
            warnings.warn(
                "SASRec(n_components=1) gives every user the same scores: the layer "
                "normalisation of a single value outputs its bias. Use n_components >= 2.",
                UserWarning)
        if self.n_components % self.n_heads:
            raise ValueError(
                f"n_heads={self.n_heads} must divide n_components={self.n_components}: each "
                "head attends in n_components / n_heads dimensions. Choose n_heads among "
                "the divisors of n_components.")

    def _initial_weights(self, rng, n_items):
        d = self.n_components
        E = glorot_uniform(rng, (n_items + 1, d))
        E[0] = 0.0
        return {"item_embeddings": E,
                "position_embeddings": glorot_uniform(rng, (self.max_len, d)),
                "block_weights": [_init_block(rng, d) for _ in range(self.n_blocks)],
                "final_norm": (np.ones(d, np.float32), np.zeros(d, np.float32))}

    def _forward(self, xp, V, sequences, dropout=0.0, seeds=None):
        return _forward(xp, V, sequences, self.n_heads, dropout=dropout, seeds=seeds)


def _init_block(rng, d):
    ones, zeros = (lambda: np.ones(d, np.float32)), (lambda: np.zeros(d, np.float32))
    return {"norm1_gamma": ones(), "norm1_beta": zeros(),
            "Wq": glorot_uniform(rng, (d, d)), "bq": zeros(),
            "Wk": glorot_uniform(rng, (d, d)), "bk": zeros(),
            "Wv": glorot_uniform(rng, (d, d)), "bv": zeros(),
            "norm2_gamma": ones(), "norm2_beta": zeros(),
            "W1": glorot_uniform(rng, (d, d)), "b1": zeros(),
            "W2": glorot_uniform(rng, (d, d)), "b2": zeros()}


class _Ops:
    """The few array operations of the forward pass, in NumPy or TensorFlow."""

    def __init__(self, xp):
        self.xp, self.np = xp, xp is np

    def cast(self, a):
        return a.astype(np.float32) if self.np else self.xp.cast(a, self.xp.float32)

    def gather(self, table, idx):
        return table[idx] if self.np else self.xp.gather(table, idx)

    def matmul(self, a, b):
        return a @ b if self.np else self.xp.matmul(a, b)

    def transpose(self, a, axes):
        return a.transpose(axes) if self.np else self.xp.transpose(a, axes)

    def reshape(self, a, shape):
        return a.reshape(shape) if self.np else self.xp.reshape(a, shape)

    def where(self, cond, a, b):
        return np.where(cond, a, b) if self.np else self.xp.where(cond, a, b)

    def softmax(self, a):
        return _softmax(a) if self.np else self.xp.nn.softmax(a, axis=-1)

    def relu(self, a):
        return np.maximum(a, 0) if self.np else self.xp.nn.relu(a)

    def layer_norm(self, a, gamma, beta):
        if self.np:
            mean = a.mean(axis=-1, keepdims=True)
            var = ((a - mean) ** 2).mean(axis=-1, keepdims=True)
        else:
            mean, var = self.xp.nn.moments(a, axes=[-1], keepdims=True)
        return (a - mean) / (var + _EPS) ** 0.5 * gamma + beta


def _forward(xp, V, seqs, n_heads, dropout=0.0, seeds=None):
    """Hidden states ``(n, length, d)`` of left-padded sequences, in NumPy or TensorFlow.

    The reference architecture: scaled item embeddings plus position
    embeddings (the last column at position ``max_len - 1``), then per block
    ``q = LN(h)``, ``h = attention(q, h, h) + q``, ``f = LN(h)``,
    ``h = FFN(f) + f``, padding positions zeroed; a final LN. Attention is
    causal and ignores padding keys. ``dropout`` with ``seeds`` (one
    stateless seed per dropout site) is for TensorFlow training only.
    """
    ops = _Ops(xp)
    E, P = V["item_embeddings"], V["position_embeddings"]
    d = E.shape[1]
    length = seqs.shape[1] if ops.np else xp.shape(seqs)[1]
    max_len = P.shape[0]
    present = seqs > 0
    mask = ops.cast(present)[:, :, None]
    site = itertools.count()

    def drop(a):
        if not dropout:
            return a
        return xp.nn.experimental.stateless_dropout(a, rate=dropout, seed=seeds[next(site)])

    h = ops.gather(E, seqs) * np.float32(np.sqrt(d)) + P[max_len - length:]
    h = drop(h) * mask
    if ops.np:
        causal = np.tril(np.ones((length, length), dtype=bool))
    else:
        causal = xp.cast(xp.linalg.band_part(xp.ones((length, length)), -1, 0), xp.bool)
    allowed = causal[None, None, :, :] & present[:, None, None, :]
    d_head = d // n_heads

    def heads(a):  # (n, length, d) -> (n, heads, length, d_head)
        return ops.transpose(ops.reshape(a, (-1, length, n_heads, d_head)), (0, 2, 1, 3))

    for blk in V["block_weights"]:
        q = ops.layer_norm(h, blk["norm1_gamma"], blk["norm1_beta"])
        Q = heads(ops.matmul(q, blk["Wq"]) + blk["bq"])
        K = heads(ops.matmul(h, blk["Wk"]) + blk["bk"])
        Vv = heads(ops.matmul(h, blk["Wv"]) + blk["bv"])
        logits = ops.matmul(Q, ops.transpose(K, (0, 1, 3, 2))) / np.float32(np.sqrt(d_head))
        att = ops.softmax(ops.where(allowed, logits, np.float32(_MASKED)))
        att = drop(att * mask[:, None, :, :])
        out = ops.reshape(ops.transpose(ops.matmul(att, Vv), (0, 2, 1, 3)), (-1, length, d))
        h = out + q
        f = ops.layer_norm(h, blk["norm2_gamma"], blk["norm2_beta"])
        ffn = drop(ops.relu(ops.matmul(f, blk["W1"]) + blk["b1"]))
        h = (drop(ops.matmul(ffn, blk["W2"]) + blk["b2"]) + f) * mask
    return ops.layer_norm(h, *V["final_norm"])
