"""CDAE: the collaborative denoising autoencoder with a per-user input node (Wu et al. 2016)."""

from numbers import Integral

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import Interval

from .._engine import ENGINE_CONSTRAINTS, USERS_SPLIT_CONSTRAINTS
from ..base import EmbeddingFeaturesOutMixin
from ..utils._propensity import PROPENSITY_REFERENCE_DOC, exposure_propensity
from ..utils._row_minimize import minimize_rows
from ..utils._topk import iter_row_batches
from ._autorec import _sigmoid, sigmoid_layer_attributions
from ._base import AutoencoderBase, NeuralRecommenderBase, PartialFitMixin
from ._tf import adam, compile_step

__all__ = ["CDAE"]


def _base_rate_logits(X, propensity=None, correction="weight"):
    """Initial output biases: the logit of each item's mean label over the users of ``X``.

    From zero biases, the first Adam steps lower every output at once through
    the hidden layer (its sigmoids driven to 1, then multiplied by negative
    decoder weights) instead of through the biases; the saturated units pass
    no gradient and the model stays at popularity (NDCG@100 0.206 on MovieLens
    latest-small, MostPopular's 0.206). Starting at the base rates (smoothed
    by half a user either way) leaves the hidden layer free to learn the user.
    With propensities, the labels are ``1 / propensity`` for Rel-MF's weights
    (the share is capped below 1); with the offset, the labels stay 0/1 and
    the biases start at the base rates minus ``log propensity`` (higher), so
    that the logits plus the offset start at the base rates.
    """
    users = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
    if propensity is not None and correction == "weight":
        users /= propensity
    share = np.minimum((users + 0.5) / (X.shape[0] + 1.0), 1.0 - 0.5 / (X.shape[0] + 1.0))
    logits = np.log(share / (1.0 - share))
    if propensity is not None and correction == "offset":
        logits -= np.log(propensity)
    return logits.astype(np.float32)


class CDAE(PartialFitMixin, EmbeddingFeaturesOutMixin, TransformerMixin,
           NeuralRecommenderBase):
    """Collaborative denoising autoencoder for implicit feedback (CDAE).

    A user's 0/1 row ``y`` is corrupted by dropout (rate ``dropout``, kept
    entries scaled by ``1 / (1 - dropout)``), encoded with a user-specific
    input node ``v_u`` as ``z = sigmoid(W^T y~ + v_u + b)`` and decoded as
    ``sigmoid(W'^T z + b')``; the loss is the logistic loss over all items
    plus ``alpha / 2`` times the squared norms of all weights (Wu, DuBois,
    Zheng & Ester 2016), trained by Adam in TensorFlow. The output biases
    ``b'`` start at the logits of the items' shares among the training users
    (from zero, the first steps saturate the hidden layer and the model stays
    at popularity).

    The user node of a user not seen in ``fit`` is unknown. It is folded in
    from the row: the same penalised logistic loss minimised over ``v_u``
    alone (weights fixed, no corruption, from ``v_u = 0``) by L-BFGS with a
    line search per row, until its gradient norm is at most 1e-7 times one
    plus its value at the start, its loss stops decreasing in float64, or
    ``fold_in_iter`` iterations, so a row's scores depend on that row only,
    whatever the batch (to about 1e-5). The same fold-in scores the training
    users, whose learned nodes are kept in ``user_nodes_``.

    Parameters
    ----------
    n_components : int, default=50
        Hidden units (the paper's K = 50).
    dropout : float, default=0.2
        Input corruption rate during training.
    alpha : float, default=0.01
        L2 penalty on all weights, per user.
    batch_size : int, default=64
        Users per Adam step.
    shuffle : bool, default=True
        Draw each epoch's mini-batches at random; False takes the users in
        row order (then one :meth:`partial_fit` pass over chunks is an epoch
        of :meth:`fit`).
    learning_rate_init : float, default=1e-3
        Adam step size (1e-2 scores lower: NDCG@100 0.275 on MovieLens
        latest-small, 0.373 on MovieLens 100K, against 0.336 and 0.432;
        validation users chose 1e-3 on both and on Last.fm 2K).
    propensity_power : float, default=0.0
        Propensity correction against popularity bias (Rel-MF, Saito et al.
        2020), with exposure propensities ``theta_i = (n_i / max_j n_j) **
        propensity_power`` from the training users, clipped below at 0.1
        (another ``n_ref`` than ``max_j n_j`` with
        ``propensity_reference``). With ``propensity_correction="weight"``
        the logistic loss reads the label ``y_ui / theta_i`` instead of
        ``y_ui`` (the unbiased estimate of the loss under exposure
        propensity ``theta_i``); with ``"offset"``, see there. The fold-in
        minimises the same loss. 0 (the default) is the paper's model.
    propensity_correction : {"weight", "offset"}, default="weight"
        How ``propensity_power`` enters the loss. ``"weight"``: Rel-MF's
        labels ``y_ui / theta_i`` (above). ``"offset"``: the exposure is
        part of the likelihood, the logistic loss reads the 0/1 labels
        against the logits plus ``log theta_i`` (the logit adjustment of
        Menon et al., ICLR 2021; ``sigmoid(a + log theta)`` is about
        ``theta * sigmoid(a)`` where ``sigmoid(a)`` is small), and scores
        are the logits alone, the relevance part, which lifts the least
        popular items' scores by up to ``log 10`` against the loss's (an
        item without training interactions has ``theta_i = 1``: no offset).
        The fold-in minimises the same loss. In the trade-off
        benchmark (docs, "Evaluation"), the offset doubled long-tail
        exposure within 2% of NDCG@100 on both datasets (with
        ``propensity_reference="short_head"``), the weights on neither.
    %(propensity_reference)s
    max_iter : int, default=100
        Epochs.
    fold_in_iter : int, default=100
        L-BFGS iterations of the user-node fold-in at most (rows stop at
        their tolerance; the loss is not convex in the node, and plain or
        Barzilai-Borwein gradient steps left many rows far from any optimum).
        0 skips the fold-in: every user's node is 0 and the row is read
        through the encoder alone. Settable after ``fit``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the users, keep the epoch with the
        best NDCG@100 of their held-out items (``validation_holdout`` of each
        one's items, ranked from the rest by fold-in) and stop after
        ``n_iter_no_change`` epochs without improvement.
    validation_fraction : float, default=0.1
        Share of the users held out for validation.
    validation_holdout : float, default=0.2
        Share of each validation user's items held out.
    n_iter_no_change : int, default=10
        Patience, in epochs.
    tol : float, default=0.0
        Smallest gain of the validation NDCG@100 that resets the patience.
    random_state : int, RandomState instance or None, default=None
        Seed of the weights, batches and corruption.
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more: also a line per epoch.

    Attributes
    ----------
    coefs_ : list of ndarray
        ``W`` ``(n_items, n_components)`` and ``W'`` ``(n_components, n_items)``.
    intercepts_ : list of ndarray
        ``b`` and ``b'``.
    user_nodes_ : ndarray of shape (n_users, n_components)
        Learned input nodes of the training users.
    propensity_ : ndarray of shape (n_items,) or None
        The exposure propensities of ``propensity_power`` (None when 0).
    loss_curve_ : list of float
        Mean training loss per epoch: the logistic loss summed over the
        items, averaged over the users, without the weight penalty ``alpha``
        (which MultDAE's and MultVAE's curves include).
    validation_scores_ : list of float or None
        Validation NDCG@100 per epoch (with ``early_stopping``).
    best_iteration_ : int
        Epoch whose weights were kept (the last one without early stopping).
    n_iter_ : int
    n_features_in_ : int

    References
    ----------
    .. [1] Y. Wu, C. DuBois, A. X. Zheng and M. Ester, "Collaborative
       Denoising Auto-Encoders for Top-N Recommender Systems", WSDM 2016.

    Examples
    --------
    >>> from sklearn_recsys import CDAE, make_interactions
    >>> X = make_interactions(300, 100, density=0.05, random_state=0)
    >>> model = CDAE(n_components=8, max_iter=5, random_state=0).fit(X)  # doctest: +SKIP
    >>> model.recommend(X[:2], k=3)[0].shape  # doctest: +SKIP
    (2, 3)
    """

    _ranks_users_without_history = True  # the network's output for an empty input

    _parameter_constraints: dict = {
        **{k: AutoencoderBase._parameter_constraints[k] for k in (
            "n_components", "dropout", "alpha", "batch_size", "learning_rate_init",
            "propensity_power", "propensity_correction", "propensity_reference",
            "shuffle")},
        **ENGINE_CONSTRAINTS,
        **USERS_SPLIT_CONSTRAINTS,
        "fold_in_iter": [Interval(Integral, 0, None, closed="left")],
    }
    _validation_split = "users"
    _validation_k = 100
    _per_user_parameters = True

    # the fold-in's budget of steps, read at scoring
    _params_settable_after_fit = frozenset({"fold_in_iter"})

    def __init__(
        self,
        n_components=50,
        *,
        dropout=0.2,
        alpha=0.01,
        batch_size=64,
        shuffle=True,
        learning_rate_init=1e-3,
        propensity_power=0.0,
        propensity_correction="weight",
        propensity_reference="max",
        max_iter=100,
        fold_in_iter=100,
        early_stopping=False,
        validation_fraction=0.1,
        validation_holdout=0.2,
        n_iter_no_change=10,
        tol=0.0,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.dropout = dropout
        self.alpha = alpha
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.learning_rate_init = learning_rate_init
        self.propensity_power = propensity_power
        self.propensity_correction = propensity_correction
        self.propensity_reference = propensity_reference
        self.max_iter = max_iter
        self.fold_in_iter = fold_in_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    @property
    def _n_features_out(self):
        return self.n_components

    def _propensity_terms(self):
        """The loss's ``(1 / theta_i, log theta_i)``: Rel-MF's label scale or the offset
        of the logits (the other None; both None without propensities)."""
        if self.propensity_ is None:
            return None, None
        if self.propensity_correction == "offset":
            return None, np.log(self.propensity_)
        return 1.0 / self.propensity_, None

    # -- NumPy serving ----------------------------------------------------

    def _fold_in(self, X):
        """User nodes of CSR rows: each row's penalised logistic loss minimised (L-BFGS)."""
        W, W2 = self.coefs_
        b, b2 = self.intercepts_
        W2 = W2.astype(np.float64)
        Y = X.copy()
        Y.data[:] = 1.0
        Y = self._untrained_zeroed(Y)  # neither read nor reconstructed
        pre = np.asarray(Y @ W, dtype=np.float64) + b
        y = Y.toarray()
        inverse, offset = self._propensity_terms()
        if inverse is not None:
            y *= inverse  # the labels of the propensity-weighted loss
        b2 = b2 if offset is None else b2 + offset  # the offset's likelihood, not its scores
        alpha = self.alpha

        def loss_and_gradient(v, rows):
            z = _sigmoid(pre[rows] + v)
            logits = z @ W2 + b2
            # -y log s(a) - (1 - y) log(1 - s(a)) = softplus(a) - y a, for any label y
            loss = (np.logaddexp(0.0, logits) - y[rows] * logits).sum(axis=1)
            loss += 0.5 * alpha * np.einsum("ij,ij->i", v, v)
            grad = ((_sigmoid(logits) - y[rows]) @ W2.T) * z * (1.0 - z) + alpha * v
            return loss, grad

        # the loss is not convex in v: plain or Barzilai-Borwein steps left many
        # rows of a model trained on MovieLens 100K far from any optimum, with
        # scores that changed with the batch; L-BFGS with a monotone line search
        # per row converges for each. The first step is 1/L (L = ||W'||^2 / 16 +
        # alpha bounds the curvature: sigmoid slopes are at most 1/4); ||W'||^2 is
        # the largest eigenvalue of the small W' W'^T (an SVD of the wide W' took
        # three quarters of a single user's explain)
        squared_norm = float(np.linalg.eigvalsh(W2 @ W2.T)[-1])
        v, _ = minimize_rows(
            loss_and_gradient, np.zeros((X.shape[0], self.n_components)),
            max_iter=self.fold_in_iter, initial_step=1.0 / (squared_norm / 16.0 + alpha))
        return v, pre

    def explain(self, x_row, item):
        """Integrated gradients of one item's score over the user's items, given the user's node.

        A user's score is ``W'[:, item] . sigmoid(W^T y + v + b) + b'[item]``
        with the node ``v`` folded in from the row. With ``v`` held at that
        value, the contributions are the integrated gradients of the score
        along the path from the all-zero input to ``y`` (Sundararajan et al.
        2017), in NumPy (Gauss-Legendre quadrature, 64 points first); they sum to
        ``decision_function(x_row)[0, item]`` minus the score of the all-zero
        input under the same node (within 1e-4 relative: more quadrature
        points are taken until they do). Removing an item
        would also move the folded-in node, which the attribution does not
        follow (leave-one-out would, at one fold-in per item of the row).

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's interactions.
        item : int
            The item (column) whose score is explained.

        Returns
        -------
        items : ndarray of shape (n_user_items,), dtype int64
            The user's items, largest contribution first.
        contributions : ndarray of shape (n_user_items,)
        """
        x, item = self._validate_explain(x_row, item)
        if x.nnz == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        y = x.copy()
        y.data[:] = 1.0  # the network reads which items, not their values
        y = self._untrained_zeroed(y)  # an untrained item is not read: contribution 0
        v, _ = self._fold_in(y)
        W, W2 = self.coefs_
        contrib = sigmoid_layer_attributions(y, W, v[0] + self.intercepts_[0], W2[:, item],
                                             self)
        order = np.argsort(-contrib, kind="stable")
        return x.indices[order].astype(np.int64), contrib[order]

    def _codes(self, X):
        v, pre = self._fold_in(X)
        return _sigmoid(pre + v)

    def _score_batch(self, X):
        return self._codes(X) @ self.coefs_[1] + self.intercepts_[1]

    def transform(self, X):
        """Hidden code of each user (with their folded-in node).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interactions of any users.

        Returns
        -------
        codes : ndarray of shape (n_users, n_components)
        """
        X = self._validate_for_scoring(X)
        out = np.empty((X.shape[0], self.n_components))
        for rows in iter_row_batches(X.shape[0], 4096):
            out[rows] = self._codes(X[rows])
        return out

    def partial_fit(self, X, y=None, *, n_users=None):
        """One epoch over a chunk of users, continuing the training of the previous calls.

        For data that does not fit in memory. CDAE learns one input node per
        user, so the users are numbered by pass: ``n_users`` (given on the
        first call, or with every call as ``dask_ml.wrappers.Incremental``
        passes fit arguments) is the number of users of one pass, the chunks
        of a pass are its consecutive rows, and every pass must give the same
        chunks in the same order (a chunk that would run past the end of a
        pass is refused, and so is a chunk found at another place of the pass
        than in the first pass: with dask-ml's ``Incremental``, pass
        ``shuffle_blocks=False``). The nodes of all ``n_users`` and their
        optimizer moments stay in memory (``3 * n_users * n_components``
        floats between calls, about twice that during one); the interactions
        are only ever those of one chunk. ``n_users=None`` on
        the first call makes that chunk the whole pass. The weights, nodes,
        Adam's moments and the generator carry over between calls, so one
        pass over chunks is the epoch of :meth:`fit` on their concatenation
        when ``shuffle=False`` and every chunk but the last holds a multiple
        of ``batch_size`` users (with ``early_stopping=False``), except where
        the output biases start: at the items' base rates among the first
        chunk's users (:meth:`fit`: among all its training users). No
        validation, no early stopping; ``n_iter_`` counts the calls. After
        :meth:`fit`, training continues from its weights and nodes (the
        same users: ``n_users`` must be fit's) with a new optimizer,
        generator and loss curve.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_chunk_users, n_items)
            The next chunk of users; every chunk has the same items (columns).
        y : None
            Ignored.
        n_users : int, default=None
            Users in one pass over the chunks.

        Returns
        -------
        self : object
            The partially fitted recommender.
        """
        return self._partial_fit(X, n_users)

    # -- training (the engine's hooks) ------------------------------------

    def _init_fit(self, ctx):
        weights = self._initial_weights_for(ctx.rng, ctx.X)
        train = ctx.X if ctx.train_rows is None else ctx.X[ctx.train_rows]
        if self.propensity_power:
            self.propensity_ = exposure_propensity(train, self.propensity_power,
                                                   self.propensity_reference)
        # from the training users only, and from the labels the loss reads
        weights[1][1] = _base_rate_logits(train, self.propensity_, self.propensity_correction)
        ctx.user_rows = None  # the rows of X are the users of the node table
        ctx.pass_users = ctx.X.shape[0]
        self._start_training(ctx, weights, self.max_iter)
        self._store(ctx)

    def _initial_weights_for(self, rng, X, n_users=None):
        self.propensity_ = None
        n_items, k = X.shape[1], self.n_components
        limit = np.sqrt(6.0 / (n_items + k))
        W = rng.uniform(-limit, limit, (n_items, k)).astype(np.float32)
        W2 = rng.uniform(-limit, limit, (k, n_items)).astype(np.float32)
        nodes = np.zeros((X.shape[0] if n_users is None else n_users, k), np.float32)
        return ([W, W2], [np.zeros(k, np.float32), _base_rate_logits(X)], nodes)

    def _current_weights(self):
        return self.coefs_, self.intercepts_, self.user_nodes_

    def _weight_shapes(self):
        n, k = self.n_features_in_, self.n_components
        return [w.shape for w in self.coefs_], [(n, k), (k, n)]

    def _check_pass_weights(self, weights, n_users):
        n_nodes = weights[-1].shape[0]
        if n_nodes != n_users:
            raise ValueError(
                f"This CDAE holds the nodes of {n_nodes} users, but a pass has {n_users}: "
                f"continue with the users it was fitted on (n_users={n_nodes}), or call "
                "fit to start anew.")

    def _start_training(self, ctx, weights, n_epochs, adam_state=None, n_updates=0):
        tf = ctx.tf
        (W, W2), (b, b2), nodes = weights
        Y = ctx.X.copy()
        Y.data[:] = 1.0
        ctx.Y = Y
        W, W2, b, b2, nodes = (tf.Variable(np.asarray(a, np.float32))
                               for a in (W, W2, b, b2, nodes))
        variables = ctx.variables = [W, W2, b, b2, nodes]
        update = adam(tf, variables, self.learning_rate_init, state=adam_state)
        ctx.optimizer_state = update.state
        alpha, dropout = self.alpha, self.dropout
        # Rel-MF: the label y / theta_i, its loss bounded below through the penalty; or the
        # offset log theta_i added to the logits the loss reads
        inverse, offset = (None if a is None else tf.constant(a.astype(np.float32))
                           for a in self._propensity_terms())

        def step(y, users, seed, share):
            with tf.GradientTape() as tape:
                y_in = y
                if dropout > 0:
                    y_in = tf.nn.experimental.stateless_dropout(y, rate=dropout, seed=seed)
                v = tf.gather(nodes, users)
                z = tf.sigmoid(tf.matmul(y_in, W) + v + b)
                logits = tf.matmul(z, W2) + b2
                labels = y if inverse is None else y * inverse
                if offset is not None:
                    logits = logits + offset
                bce = tf.reduce_sum(
                    tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
                penalty = share * (tf.reduce_sum(W * W) + tf.reduce_sum(W2 * W2)
                                   + tf.reduce_sum(b * b) + tf.reduce_sum(b2 * b2))
                penalty += tf.reduce_sum(v * v)
                loss = bce + alpha / 2.0 * penalty
            update(tape.gradient(loss, variables))
            return bce

        ctx.rows = np.arange(Y.shape[0]) if ctx.train_rows is None else ctx.train_rows
        # the weights' penalty is shared among the users of a pass (of fit: its training
        # users; of partial_fit: the n_users of every chunk)
        ctx.n_train = len(ctx.rows) if ctx.user_rows is None else ctx.pass_users
        ctx.step = compile_step(tf, step, int(np.ceil(len(ctx.rows) / self.batch_size))
                                * n_epochs)

    def _iterate(self, ctx):
        tf, Y, n_train = ctx.tf, ctx.Y, ctx.n_train
        total = 0.0
        for idx in self._epoch_batches(ctx.rng, Y.shape[0], ctx.rows):
            seed = ctx.rng.randint(0, np.iinfo(np.int32).max, size=2).astype(np.int32)
            users = idx if ctx.user_rows is None else ctx.user_rows[idx]
            total += float(ctx.step(tf.constant(Y[idx].toarray()), tf.constant(users),
                                    tf.constant(seed), tf.constant(np.float32(len(idx) / n_train))))
        self._store(ctx)
        return total / len(ctx.rows)

    def _store(self, ctx):
        W, W2, b, b2, nodes = ctx.variables
        self.coefs_ = [W.numpy().astype(np.float64), W2.numpy().astype(np.float64)]
        self.intercepts_ = [b.numpy().astype(np.float64), b2.numpy().astype(np.float64)]
        self.user_nodes_ = nodes.numpy()

    def _snapshot(self):
        return self.coefs_, self.intercepts_, self.user_nodes_  # new arrays every epoch

    def _restore(self, snapshot):
        self.coefs_, self.intercepts_, self.user_nodes_ = snapshot

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


CDAE.__doc__ = CDAE.__doc__.replace(
    "    %(propensity_reference)s\n", PROPENSITY_REFERENCE_DOC)
