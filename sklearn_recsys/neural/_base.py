"""Shared base of the autoencoder recommenders: TensorFlow trains, NumPy serves.

``fit`` initialises the weights in NumPy from the estimator's own
``random_state``, trains them with a hand-written TensorFlow step (Adam,
stateless dropout and sampling seeded from the same generator, so nothing
global changes and the same seed gives the same weights), selects the epoch
with the best validation NDCG on held-out users, and stores the weights as
NumPy arrays (``coefs_``, ``intercepts_``). Scoring, ``transform`` and
``recommend`` then run in NumPy/SciPy: the first layer multiplies the sparse
rows directly, so a fitted model serves, pickles and loads without TensorFlow.

Concrete models set the layer layout and the loss through a few class
attributes and hooks; see :class:`MultDAE` and :class:`MultVAE`.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from ..base import RecommenderMixin
from ..utils._progress import Progress
from ..utils._topk import iter_row_batches, mask_seen, row_batch_size
from ._tf import adam, import_tensorflow

__all__ = ["AutoencoderBase"]

# Trace the training step into a graph only when a fit has many steps: tracing
# costs ~0.2 s, more than a few eager steps on small data.
_TRACE_MIN_STEPS = 50


def _normalize_rows(X):
    """L2-normalised CSR rows (empty rows stay zero)."""
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ X)


class AutoencoderBase(
    ClassNamePrefixFeaturesOutMixin, RecommenderMixin, TransformerMixin, BaseEstimator
):
    """Base class of the autoencoders (not an estimator on its own)."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [tuple, list],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }
    _variational = False
    _validation_k = 100

    @property
    def _n_features_out(self):
        return self.n_components

    # -- layout -----------------------------------------------------------

    def _layer_sizes(self, n_items):
        hidden = [int(h) for h in self.hidden_layer_sizes]
        code = self.n_components * (2 if self._variational else 1)
        encoder = [n_items, *hidden, code]
        decoder = [self.n_components, *hidden[::-1], n_items]
        return list(zip(encoder[:-1], encoder[1:])) + list(zip(decoder[:-1], decoder[1:]))

    def _n_encoder_layers(self):
        return len(self.hidden_layer_sizes) + 1

    def _init_weights(self, rng, n_items):
        """Glorot-uniform weights and N(0, 0.001) biases, as Liang et al.'s code."""
        coefs, intercepts = [], []
        for fan_in, fan_out in self._layer_sizes(n_items):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            coefs.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
            intercepts.append((rng.standard_normal(fan_out) * 0.001).astype(np.float32))
        return coefs, intercepts

    # -- NumPy serving ----------------------------------------------------

    def _encode_np(self, X):
        """Code of validated CSR rows: the (mean) latent vector, NumPy only."""
        h = _normalize_rows(X.astype(np.float32))
        n_enc = self._n_encoder_layers()
        for i in range(n_enc):
            h = h @ self.coefs_[i] + self.intercepts_[i]
            h = np.asarray(h)
            if i < n_enc - 1 or not self._variational:
                np.tanh(h, out=h)
        if self._variational:
            h = h[:, : self.n_components]
        return np.ascontiguousarray(h)

    def _decode_np(self, z):
        n_enc = self._n_encoder_layers()
        h = z
        for i in range(n_enc, len(self.coefs_)):
            h = h @ self.coefs_[i] + self.intercepts_[i]
            if i < len(self.coefs_) - 1:
                np.tanh(h, out=h)
        return h

    def _score_batch(self, X):
        return self._decode_np(self._encode_np(X))

    def transform(self, X):
        """Code of each user: the latent vector the decoder ranks items from.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions of any users (a forward pass: no refit needed).

        Returns
        -------
        codes : ndarray of shape (n_users, n_components)
            The mean of the latent distribution for variational models.
        """
        X = self._validate_for_scoring(X)
        out = np.empty((X.shape[0], self.n_components), dtype=np.float32)
        for rows in iter_row_batches(X.shape[0], 65536):
            out[rows] = self._encode_np(X[rows])
        return out

    # -- training ---------------------------------------------------------

    def _split_validation(self, X, rng):
        """Training rows, and (fold-in, held-out) matrices of validation users."""
        if not self.early_stopping:
            return np.arange(X.shape[0]), None, None
        n_val = int(round(self.validation_fraction * X.shape[0]))
        if n_val < 1 or n_val >= X.shape[0]:
            warnings.warn(
                f"early_stopping needs validation users but validation_fraction="
                f"{self.validation_fraction} of {X.shape[0]} users leaves "
                f"{n_val}; training without validation.",
                UserWarning,
            )
            return np.arange(X.shape[0]), None, None
        from ..model_selection import holdout_split

        perm = rng.permutation(X.shape[0])
        val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        X_in, X_out = holdout_split(X[val_rows], test_size=0.2, min_interactions=2,
                                    random_state=rng.randint(np.iinfo(np.int32).max))
        return train_rows, X_in, X_out

    def _validation_score(self, X_in, X_out):
        from ..metrics import ndcg_at_k

        rows = np.flatnonzero(np.diff(X_out.indptr))
        total = 0.0
        for batch in iter_row_batches(len(rows), row_batch_size(X_in.shape[1])):
            r = rows[batch]
            scores = self._score_batch(X_in[r])
            mask_seen(scores, X_in[r])
            total += ndcg_at_k(X_out[r], scores, k=self._validation_k) * len(r)
        return total / max(1, len(rows))

    def _fit(self, X):
        tf = import_tensorflow()
        rng = check_random_state(self.random_state)
        X = X.astype(np.float32)
        train_rows, X_in, X_out = self._split_validation(X, rng)
        coefs, intercepts = self._init_weights(rng, X.shape[1])
        Ws = [tf.Variable(w) for w in coefs]
        bs = [tf.Variable(b) for b in intercepts]
        variables = Ws + bs
        n_batches = int(np.ceil(len(train_rows) / self.batch_size))
        step = self._make_step(tf, Ws, bs, variables)
        if n_batches * self.max_iter > _TRACE_MIN_STEPS:
            step = tf.function(step, reduce_retracing=True)
        self.loss_curve_, self.validation_scores_ = [], [] if X_in is not None else None
        best, best_epoch, stall = -np.inf, 0, 0
        best_weights = None
        progress = Progress(type(self).__name__, self.max_iter, self.verbose, "epoch")
        self._n_updates = 0
        for epoch in range(1, self.max_iter + 1):
            order = train_rows[rng.permutation(len(train_rows))]
            total = 0.0
            for b in range(n_batches):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                xb = X[np.sort(idx)].toarray()
                seeds = rng.randint(0, np.iinfo(np.int32).max, size=(2, 2)).astype(np.int32)
                total += float(step(tf.constant(xb), tf.constant(seeds),
                                    tf.constant(self._beta(), dtype=tf.float32)))
                self._n_updates += 1
            self.loss_curve_.append(total / n_batches)
            score = None
            if X_in is not None:
                self._store(Ws, bs)
                score = self._validation_score(X_in, X_out)
                self.validation_scores_.append(score)
                if score > best:
                    best, best_epoch, stall = score, epoch, 0
                    best_weights = ([w.copy() for w in self.coefs_],
                                    [b.copy() for b in self.intercepts_])
                else:
                    stall += 1
            progress.update(epoch, loss=self.loss_curve_[-1],
                            **{f"val_ndcg@{self._validation_k}": score})
            if X_in is not None and stall >= self.n_iter_no_change:
                break
        self.n_iter_ = epoch
        self._store(Ws, bs)
        if best_weights is not None:
            self.coefs_, self.intercepts_ = best_weights
            self.best_iteration_ = best_epoch
        del self._n_updates
        return self

    def _beta(self):
        return 0.0

    def _store(self, Ws, bs):
        self.coefs_ = [w.numpy() for w in Ws]
        self.intercepts_ = [b.numpy() for b in bs]

    def _make_step(self, tf, Ws, bs, variables):
        """One Adam update on a dense batch; returns the batch loss."""
        update = adam(tf, variables, self.learning_rate_init)
        alpha, dropout = self.alpha, self.dropout
        n_enc = self._n_encoder_layers()
        variational, k = self._variational, self.n_components

        def step(x, seeds, beta):
            with tf.GradientTape() as tape:
                h = tf.math.l2_normalize(x, axis=1)
                if dropout > 0:
                    h = tf.nn.experimental.stateless_dropout(h, rate=dropout, seed=seeds[0])
                for i in range(n_enc):
                    h = tf.matmul(h, Ws[i]) + bs[i]
                    if i < n_enc - 1 or not variational:
                        h = tf.tanh(h)
                kl = 0.0
                if variational:
                    mu, logvar = h[:, :k], h[:, k:]
                    eps_z = tf.random.stateless_normal(tf.shape(mu), seed=seeds[1])
                    h = mu + eps_z * tf.exp(0.5 * logvar)
                    kl = tf.reduce_mean(tf.reduce_sum(
                        0.5 * (-logvar + tf.exp(logvar) + mu ** 2 - 1.0), axis=1))
                for i in range(n_enc, len(Ws)):
                    h = tf.matmul(h, Ws[i]) + bs[i]
                    if i < len(Ws) - 1:
                        h = tf.tanh(h)
                neg_ll = -tf.reduce_mean(tf.reduce_sum(tf.nn.log_softmax(h) * x, axis=1))
                loss = neg_ll + beta * kl
                if alpha > 0:
                    loss += alpha * tf.add_n([tf.reduce_sum(tf.square(W)) for W in Ws])
            update(tape.gradient(loss, variables))
            return loss

        return step

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
