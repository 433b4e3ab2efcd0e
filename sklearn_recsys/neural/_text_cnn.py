"""The text CNN of ConvMF: NumPy weights and forward pass, and its TensorFlow trainer.

Architecture (Kim et al. 2016, after Kim 2014): word embeddings; one
convolution per window size with ReLU, max-pooled over time; a dense tanh
layer with dropout; a tanh projection to the latent factors. Index 0 is
padding: its embedding is held at zero, and a window is pooled only when it
starts inside the document (``t < max(1, length - w + 1)``), so a document's
output does not depend on how far it was padded. That lets every batch be
cut to its longest document, which matters for short texts such as titles.

The weights live in a dict of NumPy arrays (``init_weights``), the serving
forward pass is NumPy only (``forward``), and so are the integrated gradients
that attribute a document's factors to its words (``word_attributions``);
:class:`CNNTrainer` holds the TensorFlow variables and optimizer state across
ConvMF's alternating iterations.
"""

import numpy as np

from ._base import complete_attributions, glorot_uniform
from ._tf import adam, compile_step

__all__ = ["CNNTrainer", "document_lengths", "forward", "init_weights", "word_attributions"]


def document_lengths(seqs):
    """Length of each padded sequence: one past its last non-zero index."""
    nonzero = seqs != 0
    last = seqs.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 0).astype(np.int64)


def init_weights(rng, n_words, embedding_dim, window_sizes, n_filters, hidden_size,
                 n_components, word_vectors=None):
    """Initial weights: uniform(-0.05, 0.05) embeddings (or given vectors), Glorot layers.

    ``n_words`` counts the padding index 0; ``word_vectors`` (optional) is
    ``(n_words, embedding_dim)`` and overrides the random embeddings.
    """
    emb = rng.uniform(-0.05, 0.05, (n_words, embedding_dim)).astype(np.float32)
    if word_vectors is not None:
        emb[:] = word_vectors
    emb[0] = 0.0
    weights = {"embedding": emb}
    for w in window_sizes:
        weights[f"conv{w}"] = glorot_uniform(rng, (w, embedding_dim, n_filters),
                                             w * embedding_dim, n_filters)
        weights[f"conv{w}_bias"] = np.zeros(n_filters, dtype=np.float32)
    pooled = n_filters * len(window_sizes)
    weights["dense"] = glorot_uniform(rng, (pooled, hidden_size))
    weights["dense_bias"] = np.zeros(hidden_size, dtype=np.float32)
    weights["projection"] = glorot_uniform(rng, (hidden_size, n_components))
    weights["projection_bias"] = np.zeros(n_components, dtype=np.float32)
    return weights


def _window_mask(lengths, n_windows, w):
    starts = np.maximum(1, lengths - w + 1)
    return np.arange(n_windows)[None, :] < starts[:, None]


def _conv_relu(weights, w, emb):
    """ReLU of the window-``w`` convolution of embedded texts ``(n, length, dim)``.

    A sum of ``w`` shifted products with the kernel's slices, so memory stays
    at one ``(n, n_windows, n_filters)`` block.
    """
    kernel = weights[f"conv{w}"]
    n_windows = emb.shape[1] - w + 1
    h = emb[:, :n_windows] @ kernel[0]
    for offset in range(1, w):
        h += emb[:, offset:offset + n_windows] @ kernel[offset]
    h += weights[f"conv{w}_bias"]
    return np.maximum(h, 0.0, out=h)


def _batches_by_length(seqs, lengths, min_length, batch_size):
    """Row batches, each cut to its longest document (at least ``min_length``).

    Sequences narrower than ``min_length`` (the widest window) are padded on
    the right with the padding index: a convolution needs a whole window.
    """
    for start in range(0, len(seqs), batch_size):
        rows = slice(start, start + batch_size)
        cut = max(min_length, int(lengths[rows].max(initial=0)))
        batch = seqs[rows, :cut]
        if batch.shape[1] < cut:
            batch = np.pad(batch, ((0, 0), (0, cut - batch.shape[1])))
        yield rows, batch


def forward(weights, window_sizes, seqs, batch_size=256):
    """CNN output (``n_documents, n_components``) of padded index sequences, NumPy only."""
    seqs = np.asarray(seqs)
    lengths = document_lengths(seqs)
    emb_table = weights["embedding"]
    out = np.empty((len(seqs), weights["projection"].shape[1]), dtype=np.float32)
    for rows, seq in _batches_by_length(seqs, lengths, max(window_sizes), batch_size):
        emb = emb_table[seq]
        pooled = []
        for w in window_sizes:
            h = _conv_relu(weights, w, emb)
            # ReLU outputs are >= 0 and every document has a valid window,
            # so zeroing the invalid ones leaves the maximum unchanged
            h *= _window_mask(lengths[rows], h.shape[1], w)[:, :, None]
            pooled.append(h.max(axis=1))
        h = np.tanh(np.concatenate(pooled, axis=1) @ weights["dense"] + weights["dense_bias"])
        out[rows] = np.tanh(h @ weights["projection"] + weights["projection_bias"])
    return out


def embedded_gradient(weights, window_sizes, emb, length, direction):
    """``direction . CNN(emb)`` and its gradient w.r.t. ``emb``, for a batch of embedded texts.

    Parameters
    ----------
    emb : ndarray of shape (n, n_positions, embedding_dim)
        Embedded documents (any values: integrated gradients scale them),
        ``n_positions >= max(window_sizes)``, zero past ``length``.
    length : int
        Length of the document (windows starting after it are not pooled).
    direction : ndarray of shape (n_components,)

    Returns
    -------
    score : ndarray of shape (n,)
    gradient : ndarray of shape (n, n_positions, embedding_dim)
    """
    n, n_pos, _ = emb.shape
    pooled, argmax, active = [], [], []
    for w in window_sizes:
        h = _conv_relu(weights, w, emb)
        h *= (np.arange(h.shape[1]) < max(1, length - w + 1))[None, :, None]
        argmax.append(h.argmax(axis=1))  # (n, n_filters): the pooled window
        pooled.append(h.max(axis=1))
        active.append(pooled[-1] > 0.0)  # ReLU passes a gradient
    h1 = np.tanh(np.concatenate(pooled, axis=1) @ weights["dense"] + weights["dense_bias"])
    out = np.tanh(h1 @ weights["projection"] + weights["projection_bias"])
    g = (direction * (1.0 - out ** 2)) @ weights["projection"].T
    g = ((1.0 - h1 ** 2) * g) @ weights["dense"].T  # d score / d pooled, all windows
    grad = np.zeros_like(emb)
    start = 0
    for w, t, on in zip(window_sizes, argmax, active):
        kernel = weights[f"conv{w}"].astype(np.float64)
        n_filters = kernel.shape[2]
        rows = np.repeat(np.arange(n), n_filters)
        g_pool = g[:, start:start + n_filters] * on  # (n, n_filters)
        start += n_filters
        for offset in range(w):
            # filter f's pooled window t[f] read position t[f] + offset through kernel[offset][:, f]
            np.add.at(grad, (rows, (t + offset).ravel()),
                      (g_pool[:, :, None] * kernel[offset].T[None]).reshape(-1, emb.shape[2]))
    return out @ direction, grad


def word_attributions(weights, window_sizes, seq, direction):
    """Integrated gradients of ``direction . CNN(seq)`` over the positions of one document.

    The path scales the document's word embeddings from zero (a document of
    padding) to their values (Sundararajan et al. 2017). Max-pooling switches
    windows along it and ReLUs switch on, so the integrand is only piecewise
    smooth: the quadrature (Gauss-Legendre) is refined until the
    attributions sum to the score of the document minus that of the
    all-padding one within 1e-3 of that difference, up to 4096 points, and
    warns otherwise. Position ``p`` gets ``emb[p] . integral grad(a emb)[p]``.

    Returns
    -------
    attributions : ndarray of shape (length,)
        One per position of the (unpadded) document.
    """
    seq = np.asarray(seq)
    length = int(document_lengths(seq[None])[0])
    n_pos = max(length, max(window_sizes))
    emb = np.zeros((n_pos, weights["embedding"].shape[1]))
    emb[:length] = weights["embedding"][seq[:length]]
    direction = np.asarray(direction, dtype=np.float64)

    def with_nodes(alphas, node_weights):
        grads = embedded_gradient(weights, window_sizes, alphas[:, None, None] * emb[None],
                                  length, direction)[1]
        return (emb * np.tensordot(node_weights, grads, axes=1)).sum(axis=1)[:length]

    ends = embedded_gradient(weights, window_sizes, np.stack([np.zeros_like(emb), emb]),
                             length, direction)[0]
    return complete_attributions(with_nodes, float(ends[1] - ends[0]), "ConvMF.explain_text",
                                 tolerance=_TEXT_TOLERANCE)


# the text CNN's kinks (ReLUs, max-pooling's switches) slow the quadrature's convergence:
# the documented precision of explain_text
_TEXT_TOLERANCE = 1e-3


class CNNTrainer:
    """TensorFlow variables, Adam state and the traced step of one ConvMF fit.

    ``train(seqs, targets, rng, sample_weight)`` runs ``epochs`` passes of
    mini-batch regression of the targets (the current item factors) on the
    documents, minimizing the mean squared error, each document's term
    weighted by its ``sample_weight`` (ConvMF's item weights; 1 when None);
    dropout is stateless and seeded from ``rng``, the batch order too, so a
    fit is reproducible.
    """

    def __init__(self, tf, weights, window_sizes, dropout, learning_rate, batch_size,
                 epochs, n_steps):
        self.tf = tf
        self.window_sizes = tuple(window_sizes)
        self.batch_size, self.epochs = batch_size, epochs
        self.names = list(weights)
        self.variables = {n: tf.Variable(weights[n]) for n in self.names}
        variables = [self.variables[n] for n in self.names]
        update = adam(tf, variables, learning_rate)
        V = self.variables

        def step(seq, lengths, target, weight, seed):
            mask = tf.cast(seq > 0, tf.float32)[:, :, None]
            with tf.GradientTape() as tape:
                emb = tf.gather(V["embedding"], seq) * mask
                pooled = []
                for w in self.window_sizes:
                    h = tf.nn.relu(tf.nn.conv1d(emb, V[f"conv{w}"], 1, "VALID")
                                   + V[f"conv{w}_bias"])
                    starts = tf.maximum(1, lengths - w + 1)
                    valid = tf.sequence_mask(starts, tf.shape(h)[1], dtype=tf.float32)
                    pooled.append(tf.reduce_max(h * valid[:, :, None], axis=1))
                h = tf.tanh(tf.matmul(tf.concat(pooled, axis=1), V["dense"])
                            + V["dense_bias"])
                if dropout > 0:
                    h = tf.nn.experimental.stateless_dropout(h, rate=dropout, seed=seed)
                theta = tf.tanh(tf.matmul(h, V["projection"]) + V["projection_bias"])
                loss = tf.reduce_mean(weight[:, None] * tf.square(target - theta))
            update(tape.gradient(loss, variables))
            return loss

        self._step = compile_step(tf, step, n_steps, input_signature=[
            tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([2], tf.int32)])

    def train(self, seqs, targets, rng, sample_weight=None):
        """Epochs of regression of ``targets`` on ``seqs``; returns the last epoch's mean loss."""
        tf = self.tf
        lengths = document_lengths(seqs)
        sample_weight = (np.ones(len(seqs), dtype=np.float32) if sample_weight is None
                         else np.asarray(sample_weight, dtype=np.float32))
        min_length = max(self.window_sizes)
        loss = 0.0
        for _ in range(self.epochs):
            order = rng.permutation(len(seqs))
            seqs_o, lengths_o, targets_o = seqs[order], lengths[order], targets[order]
            weights_o = sample_weight[order]
            total, n_batches = 0.0, 0
            for rows, seq in _batches_by_length(seqs_o, lengths_o, min_length,
                                                self.batch_size):
                seed = rng.randint(0, np.iinfo(np.int32).max, size=2).astype(np.int32)
                total += float(self._step(
                    tf.constant(seq, tf.int32), tf.constant(lengths_o[rows], tf.int32),
                    tf.constant(targets_o[rows], tf.float32),
                    tf.constant(weights_o[rows], tf.float32), tf.constant(seed)))
                n_batches += 1
            loss = total / max(1, n_batches)
        return loss

    def weights(self):
        """The current weights as a dict of new NumPy arrays."""
        return {n: self.variables[n].numpy() for n in self.names}
