"""Multi-task denoising autoencoder over several behaviours, with gated experts (MMoE)."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import Interval

from .._engine import ENGINE_CONSTRAINTS, USERS_SPLIT_CONSTRAINTS
from ..base import EmbeddingFeaturesOutMixin
from ..linear._ease import ease_item_item
from ..linear._multi_behavior import cross_item_item, weighted_blocks
from ..utils._behaviors import MultiBehaviorMixin, behavior_block, check_weights
from ..utils._sparse_dense import csr_dense_product
from ..utils._topk import iter_row_batches
from ._base import (_TINY32, NeuralRecommenderBase, PartialFitMixin, _normalize_rows,
                    check_sizes, check_squares_fit_float32,
                    glorot_uniform)
from ._tf import adam, compile_step

__all__ = ["MultiTaskDAE"]


def likeliest_log_scale(Y, W, n_users=2000, Z=None):
    """Log of the scale ``s`` maximising ``sum_ui y_ui log softmax(s * (Z @ W))_ui``.

    ``Z`` is the term's input (``Y`` itself when None).

    On at most ``n_users`` users with target items, evenly spaced over the
    rows (no draw: the fit's generator, and so its batches and dropout, are
    those of the same model without the term). The log-likelihood is
    concave in ``s`` (a linear term minus a log-sum-exp), so it has one
    maximum, also in ``log s``, which a bounded scalar search finds.
    """
    rows = np.flatnonzero(np.diff(Y.indptr))
    if rows.size == 0:
        return 0.0
    if rows.size > n_users:
        rows = rows[np.linspace(0, rows.size - 1, n_users).astype(np.int64)]
    Ys = Y[rows]
    S = np.asarray((Ys if Z is None else Z[rows]) @ W, dtype=np.float64)
    observed = np.asarray(Ys.multiply(S).sum(axis=1)).ravel()
    counts = np.asarray(Ys.sum(axis=1)).ravel()

    def negative_log_likelihood(log_s):
        a = np.exp(log_s) * S
        top = a.max(axis=1)
        lse = top + np.log(np.exp(a - top[:, None]).sum(axis=1))
        return -np.mean(np.exp(log_s) * observed - counts * lse)

    return float(minimize_scalar(negative_log_likelihood, bounds=(-5.0, 12.0),
                                 method="bounded").x)


def _softmax(a):
    a = a - a.max(axis=1, keepdims=True)
    np.exp(a, out=a)
    a /= a.sum(axis=1, keepdims=True)
    return a


class MultiTaskDAE(PartialFitMixin, MultiBehaviorMixin, EmbeddingFeaturesOutMixin,
                   TransformerMixin, NeuralRecommenderBase):
    """Multi-task denoising autoencoder with gated experts, one head per behaviour.

    ``X`` stacks one ``(n_users, n_items)`` block per behaviour (views,
    carts, purchases...; see :ref:`multi-behavior`). Each block of a user's
    row is L2-normalised, the blocks are concatenated and dropped out
    (``dropout``), and a shared ``tanh`` encoder (``hidden_layer_sizes``)
    reads them. On top, ``n_experts`` ``tanh`` experts each give a code of
    ``n_components``, and each behaviour ``t`` mixes them with its own
    softmax gate (Multi-gate Mixture-of-Experts, Ma et al. 2018), so tasks
    share experts where they agree and keep their own where they do not. The
    head of behaviour ``t`` decodes its mixture into logits over the items,
    trained with the multinomial likelihood of Mult-DAE (Liang et al. 2018)
    on that behaviour's block; the losses add up with ``task_weights``.

    With ``skip=True`` each head also has one learned weight per item and
    per other behaviour, added to the logit of an item the user showed that
    behaviour on (a viewed or carted item's logit for purchase): how
    interactions with an item convert into the target behaviour, which a
    low-dimensional code cannot carry item by item.

    With ``item_item_alpha`` the target head also adds an item-item term to
    its logits: ``exp(item_item_log_scale_) * (y_u @ W)``, ``y_u`` the
    user's target row and ``W`` (zero diagonal) EASE's closed-form solution
    (Steck 2019) on the target block with that L2 penalty, fixed during
    training (solved on every row but the validation users' held-out items,
    which early stopping measures, then again on all of ``X`` once the epoch
    is chosen; with ``item_item_behavior_weights``, ``z_u = sum_b
    w_b x_{u,b}`` instead of ``y_u`` and ``W`` the solution from ``Z`` to the
    target block, :class:`MultiBehaviorEASE`'s cross term: items bought by
    users who viewed or carted the user's items); its scale starts at the
    value that maximises the multinomial likelihood of the training users'
    target items under the term alone and is then trained with the network. A wide part beside the
    deep one (Cheng et al. 2016): the item-to-item structure of a sparse
    target behaviour over many items, which a low-dimensional code learned
    by gradient steps holds little of (EASE solves for it exactly), while
    the experts learn what the other behaviours add. It costs EASE's fit
    (an ``(n_items, n_items)`` Gram matrix and its inverse; twice with early
    stopping, whose final solve reads all of ``X``) and holds ``W``
    (``n_items ** 2`` float32) in the fitted model, and twice during
    training (the attribute and TensorFlow's copy).

    With ``mask_target > 0`` the target head is trained to find what the
    user's other items predict rather than to copy them: at each step each
    target interaction is hidden, with probability ``mask_target`` (a fresh
    draw per step), from every behaviour of the input (the item's view and
    cart too), and the target head's loss counts only the hidden items
    (cloze training, as in BERT4Rec; with one behaviour, a Mult-DAE scored
    on the items it hides). A user's other behaviours then only show items
    that are not the hidden targets, so the target head's skip weights
    learn a penalty on items seen in another behaviour rather than a
    conversion rate. This is the setting for purchases the user never
    viewed or carted, where the user's own views are the wrong candidates;
    where users buy what they viewed it ranks those items down.

    The epoch with the best NDCG@100 of the **target** behaviour on
    validation users (``validation_fraction`` of the users; a share
    ``validation_holdout`` of their target interactions is held out, their
    other behaviours stay inputs except, with ``mask_target > 0``, at the
    held-out items) is kept. Scores of any user are a NumPy
    forward pass of their row through the target's head (no TensorFlow
    needed after ``fit``).

    Parameters
    ----------
    behaviors : sequence of str, default=None
        Name of each column block of ``X``, in order; None: one behaviour
        (the model is then a Mult-DAE with gated experts).
    target : str, default=None
        The behaviour recommended and monitored (default: the last block).
    hidden_layer_sizes : tuple of int, default=(600,)
        Shared encoder layers between the input and the experts.
    n_components : int, default=200
        Size of each expert's code (and of ``transform``'s output).
    n_experts : int, default=4
        Experts shared by the tasks' gates.
    task_weights : sequence of float, default=None
        Weight of each behaviour's loss, one per block; None gives 1 to
        every behaviour. 0 drops a behaviour's head from training (the
        behaviour stays an input).
    skip : bool, default=True
        Per-item weights from each other behaviour to each head (read by
        training: scoring uses the fitted ``skip_coefs_``, zeros when fitted
        without them).
    mask_target : float, default=0.0
        Probability that a target interaction is hidden (from every
        behaviour) at a training step; the target head's loss then counts
        only the hidden items, so the target's share of the loss shrinks by
        about this factor against the other heads' (``task_weights`` can
        compensate), and the target head's skip weights start at zero (on a
        first ``fit`` or ``partial_fit``; a later ``partial_fit`` goes on
        from the fitted ones). The validation users' held-out items are
        hidden from every behaviour too, so early stopping watches the same
        task. 0: plain denoising of the whole row.
    item_item_alpha : float > 0 or None, default=None
        L2 penalty of the item-item term of the target head (EASE's lambda,
        added to the diagonal of the target block's Gram matrix; it grows
        with the number of users, as EASE's ``alpha``). None: no item-item
        term (the deep part alone). :meth:`partial_fit` refuses the term
        (and a model fitted with it).
    item_item_behavior_weights : sequence of float, default=None
        Weight of each behaviour in the item-item term's input, one per
        block (as :class:`MultiBehaviorEASE`'s ``behavior_weights``): the
        term reads ``z_u = sum_b w_b x_{u,b}`` and ``W`` is the L2-penalised
        solution from those weighted rows to the target block, zero
        diagonal. None: the target block alone (EASE on it). Used with
        ``item_item_alpha`` only; at least one weight must be positive.
    dropout : float, default=0.5
        Input dropout rate during training.
    alpha : float, default=0.01
        Weight decay: ``alpha * sum ||W||^2`` over the weight matrices of
        the encoder, experts, gates and heads (not the skip weights, which
        are per item like biases).
    batch_size : int, default=500
        Users per Adam step.
    learning_rate_init : float, default=1e-3
        Adam step size.
    shuffle : bool, default=True
        Shuffle the users before each epoch's mini-batches. False: batches
        in row order, so that :meth:`partial_fit` over chunks of rows repeats
        the epochs of :meth:`fit` on their concatenation (with
        ``skip=False``: otherwise the skip weights start from the first
        chunk's conversion rates instead of all the data's).
    max_iter : int, default=100
        Epochs.
    early_stopping : bool, default=True
        Keep the epoch with the best validation NDCG@100 of the target and
        stop after ``n_iter_no_change`` epochs without improvement.
    validation_fraction : float, default=0.1
        Share of the users held out for validation.
    validation_holdout : float, default=0.2
        Share of each validation user's target interactions held out.
    n_iter_no_change : int, default=10
        Patience, in epochs.
    tol : float, default=0.0
        Smallest gain of the validation NDCG@100 that resets the patience.
    random_state : int, RandomState instance or None, default=None
        Seed of the weights, batches, dropout and validation split.
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more: also a line per epoch.

    Attributes
    ----------
    behaviors_, target_, target_index_, n_items_
        The layout (see :class:`~sklearn_recsys.MultiBehaviorEASE`).
    task_weights_ : ndarray of shape (n_behaviors,)
    shared_coefs_, shared_intercepts_ : list of ndarray
        The shared encoder's layers.
    expert_coefs_ : ndarray of shape (n_experts, n_hidden, n_components)
    expert_intercepts_ : ndarray of shape (n_experts, n_components)
    gate_coefs_ : ndarray of shape (n_behaviors, n_hidden, n_experts)
    gate_intercepts_ : ndarray of shape (n_behaviors, n_experts)
    head_coefs_ : ndarray of shape (n_behaviors, n_components, n_items)
    head_intercepts_ : ndarray of shape (n_behaviors, n_items)
    skip_coefs_ : ndarray of shape (n_behaviors, n_behaviors, n_items)
        ``skip_coefs_[t, b, i]``: added to head ``t``'s logit of item ``i``
        when the user showed behaviour ``b`` on it; zero for ``b == t`` and
        with ``skip=False``; a conversion log-ratio, or with ``mask_target >
        0`` for the target head, a learned penalty.
    item_item_coef_ : ndarray of shape (n_items, n_items) or None
        ``W`` of the item-item term (float32, zero diagonal); None without
        ``item_item_alpha``.
    item_item_weights_ : ndarray of shape (n_behaviors,) or None
        The behaviours' weights in the term's input; None when it reads the
        target block alone (or without the term).
    item_item_log_scale_ : ndarray of shape ()
        Log of the item-item term's scale in the target's logits (trained);
        0 and unused without ``item_item_alpha``.
    loss_curve_ : list of float
        Mean training loss per epoch.
    validation_scores_ : list of float or None
        Validation NDCG@100 of the target per epoch.
    best_iteration_ : int
    n_iter_ : int
    n_features_in_ : int
        Columns of ``X``: ``n_behaviors * n_items``.

    See Also
    --------
    MultiBehaviorEASE : The closed-form multi-behaviour model.
    MultDAE : The single-behaviour autoencoder.

    References
    ----------
    .. [1] J. Ma, Z. Zhao, X. Yi, J. Chen, L. Hong and E. H. Chi, "Modeling
       Task Relationships in Multi-task Learning with Multi-gate
       Mixture-of-Experts", KDD 2018.
    .. [2] D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara,
       "Variational Autoencoders for Collaborative Filtering", WWW 2018.
    .. [3] H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
       The Web Conference (WWW), 2019.
    .. [4] H.-T. Cheng et al., "Wide & Deep Learning for Recommender
       Systems", DLRS 2016.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recsys import MultiTaskDAE, make_interactions
    >>> view = make_interactions(300, 50, density=0.1, random_state=0)
    >>> buy = make_interactions(300, 50, density=0.03, random_state=1)
    >>> X = sp.hstack([view, buy], format="csr")
    >>> model = MultiTaskDAE(behaviors=("view", "buy"), hidden_layer_sizes=(32,),
    ...                      n_components=8, max_iter=3, random_state=0)  # doctest: +SKIP
    >>> model.fit(X).recommend(X[:2], k=3)[0].shape  # doctest: +SKIP
    (2, 3)
    """

    _ranks_users_without_history = True  # the network's output for an empty input

    _parameter_constraints: dict = {
        "behaviors": ["array-like", None],
        "target": [str, None],
        "hidden_layer_sizes": [tuple, list],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "task_weights": ["array-like", None],
        "skip": ["boolean"],
        "mask_target": [Interval(Real, 0, 1, closed="left")],
        "item_item_alpha": [Interval(Real, 0, None, closed="neither"), None],
        "item_item_behavior_weights": ["array-like", None],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
        **ENGINE_CONSTRAINTS,
        **USERS_SPLIT_CONSTRAINTS,
    }
    _validation_split = "users"
    _validation_k = 100

    def __init__(
        self,
        behaviors=None,
        target=None,
        *,
        hidden_layer_sizes=(600,),
        n_components=200,
        n_experts=4,
        task_weights=None,
        skip=True,
        mask_target=0.0,
        item_item_alpha=None,
        item_item_behavior_weights=None,
        dropout=0.5,
        alpha=0.01,
        batch_size=500,
        learning_rate_init=1e-3,
        shuffle=True,
        max_iter=100,
        early_stopping=True,
        validation_fraction=0.1,
        validation_holdout=0.2,
        n_iter_no_change=10,
        tol=0.0,
        random_state=None,
        verbose=0,
    ):
        self.behaviors = behaviors
        self.target = target
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_components = n_components
        self.n_experts = n_experts
        self.task_weights = task_weights
        self.skip = skip
        self.mask_target = mask_target
        self.item_item_alpha = item_item_alpha
        self.item_item_behavior_weights = item_item_behavior_weights
        self.dropout = dropout
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.max_iter = max_iter
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

    _PARAMS = ("shared_coefs_", "shared_intercepts_", "expert_coefs_", "expert_intercepts_",
               "gate_coefs_", "gate_intercepts_", "head_coefs_", "head_intercepts_",
               "skip_coefs_", "item_item_log_scale_")

    # -- fit ----------------------------------------------------------------

    def _fit(self, X):
        self._set_layout_and_weights(X)
        return super()._fit(X)

    def _check_training_values(self, X):
        n_blocks = len(self.behaviors) if self.behaviors is not None else 1
        if X.shape[1] % n_blocks:
            return  # the layout's own check names the problem
        n = X.shape[1] // n_blocks
        for b in range(n_blocks):  # each behaviour's block is L2-normalised on its own
            check_squares_fit_float32(self, behavior_block(X, n, b))

    def _set_layout_and_weights(self, X, require_target=True):
        self._set_layout(X, require_target=require_target)
        self._set_task_weights()

    def _set_task_weights(self):
        self.task_weights_ = check_weights(self.task_weights, self.behaviors_, "task_weights")
        if self.task_weights_[self.target_index_] == 0:
            raise ValueError(
                f"task_weights gives the target behaviour {self.target_!r} weight 0, so the "
                "head that scores it would not be trained. Give it a positive weight.")

    def _coef_shapes(self):
        """Shapes of the weight matrices the parameters build: the shared layers', then
        the experts', the gates' and the heads'."""
        n_b, n, k, n_e = len(self.behaviors_), self.n_items_, self.n_components, self.n_experts
        sizes = [n_b * n, *check_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")]
        h = sizes[-1]
        return [*zip(sizes[:-1], sizes[1:])], (n_e, h, k), (n_b, h, n_e), (n_b, k, n)

    def _init_weights(self, rng):
        """Glorot-uniform weights, zero biases and zero skip weights, in float32."""
        shared, experts, gates, heads = self._coef_shapes()
        n_b, n = len(self.behaviors_), self.n_items_
        return {
            "shared_coefs_": [glorot_uniform(rng, shape) for shape in shared],
            "shared_intercepts_": [np.zeros(b, np.float32) for _, b in shared],
            "expert_coefs_": glorot_uniform(rng, experts),
            "expert_intercepts_": np.zeros((experts[0], experts[2]), np.float32),
            "gate_coefs_": glorot_uniform(rng, gates),
            "gate_intercepts_": np.zeros((n_b, gates[2]), np.float32),
            "head_coefs_": glorot_uniform(rng, heads),
            "head_intercepts_": np.zeros((n_b, n), np.float32),
            "skip_coefs_": np.zeros((n_b, n_b, n), np.float32),
            "item_item_log_scale_": np.zeros((), np.float32),
        }

    def _skip_init(self, X):
        """Skip weights from the data: log of how much behaviour ``b`` on an item raises ``t``.

        ``log(r / q)`` with ``r`` the (smoothed) share of users with ``b`` on
        item ``i`` who also show ``t`` on it, and ``q`` the share of ``t``
        among all pairs without ``b`` (one number, so that the user's own
        items rank by their conversion rate ``r``, as the plain conversion
        baseline does). Learned from zero, these per-item weights would need
        thousands of Adam steps to reach their scale (several units of
        logit); the training refines them from here.
        """
        n, n_b = self.n_items_, len(self.behaviors_)
        out = np.zeros((n_b, n_b, n), np.float32)
        if not self.skip:
            return out
        present = [(behavior_block(X, n, b) != 0).astype(np.float64) for b in range(n_b)]
        count = [np.asarray(p.sum(axis=0)).ravel() for p in present]
        n_pairs = X.shape[0] * n
        for t in range(n_b):
            for b in range(n_b):
                if b == t:
                    continue
                both = np.asarray(present[b].multiply(present[t]).sum(axis=0)).ravel()
                rate = (both.sum() + 1.0) / (count[b].sum() + 2.0)
                base = (count[t].sum() - both.sum() + 1.0) / (n_pairs - count[b].sum() + 2.0)
                r = (both + 5.0 * rate) / (count[b] + 5.0)
                out[t, b] = np.log(r / base)
        if self.mask_target > 0:
            # a hidden target item has no other behaviour left to convert
            out[self.target_index_] = 0.0
        return out

    def _hold_out(self, X, rng):
        # the neural fit never takes an X_val, so every validation split passes here
        X_in, X_out = super()._hold_out(X, rng)
        if self.mask_target > 0 and X_out.nnz:
            # as in training: a held-out target item is hidden from every behaviour
            n_b = len(self.behaviors_)
            hidden = sp.hstack([X_out] * n_b, format="csr")
            X_in = X_in - X_in.multiply(hidden != 0)
            X_in.eliminate_zeros()
        return X_in, X_out

    def _check_partial_fit(self):
        super()._check_partial_fit()
        if self.item_item_alpha is not None:
            raise ValueError(
                "partial_fit cannot train the item-item term (item_item_alpha="
                f"{self.item_item_alpha!r}): its closed form needs the whole target block at "
                "once. Use fit, or item_item_alpha=None.")
        if getattr(self, "item_item_coef_", None) is not None:
            # set_params(item_item_alpha=None) after such a fit: the fitted term would
            # go on training (and scoring) under a parameter that says there is none
            raise ValueError(
                "partial_fit cannot continue this MultiTaskDAE: it was fitted with an "
                "item-item term, whose closed form needs the whole target block at once. "
                "Call fit (with item_item_alpha=None for a model partial_fit can train).")

    def _init_fit(self, ctx):
        weights = self._init_weights(ctx.rng)
        train = ctx.X if ctx.train_rows is None else ctx.X[ctx.train_rows]
        self._set_trained_columns(np.bincount(train.indices, minlength=train.shape[1]) > 0)
        weights["skip_coefs_"] = self._skip_init(train)
        self.item_item_coef_ = self.item_item_weights_ = None
        if self.item_item_alpha is not None:
            # every row but the validation users' held-out items, which must not reach
            # the term that early stopping measures: the training users' rows and the
            # validation users' inputs (a tenth of the users, left out, cost the term
            # 0.002 NDCG@10 on Taobao's transfer split)
            known = (train if ctx.split != "users"
                     else sp.vstack([train, ctx.X_val_in], format="csr"))
            Y, Z = self._set_item_item(known)
            weights["item_item_log_scale_"] = np.array(
                likeliest_log_scale(Y, self.item_item_coef_, Z=Z), dtype=np.float32)
        self._start_training(ctx, weights, self.max_iter)
        self._store(ctx)

    def _set_item_item(self, X):
        """Fit the item-item term's ``W`` on the rows ``X``; returns the term's target
        rows and input rows (None: the target rows are the input)."""
        Y, Z = self._target_history(X), None
        if self.item_item_behavior_weights is None:
            self.item_item_coef_ = ease_item_item(
                Y, self.item_item_alpha, name="the target block").astype(np.float32, copy=False)
        else:
            self.item_item_weights_ = self._item_item_weights()
            Z = weighted_blocks(X, self.n_items_, self.item_item_weights_)
            self.item_item_coef_ = cross_item_item(Z, Y, self.item_item_alpha, np.float32)
        return Y, Z

    def _finish_fit(self, ctx):
        super()._finish_fit(ctx)
        if self.item_item_coef_ is not None and ctx.split is not None:
            # early stopping has chosen the epoch: the closed form, which nothing
            # trains, is solved again on all the data, held-out items included (the
            # trained scale is kept)
            # one W at a time: the compiled step's closure holds TensorFlow's copy
            ctx.step = ctx.optimizer_state = None
            self.item_item_coef_ = None
            self._set_item_item(ctx.X)

    def _item_item_weights(self):
        return check_weights(self.item_item_behavior_weights, self.behaviors_,
                             "item_item_behavior_weights", "the item-item term")

    def _start_training(self, ctx, weights, n_epochs, adam_state=None, n_updates=0):
        tf = ctx.tf
        ctx.vars = {name: ([tf.Variable(w) for w in value] if isinstance(value, list)
                           else tf.Variable(value)) for name, value in weights.items()}
        n_train = ctx.X.shape[0] if ctx.train_rows is None else len(ctx.train_rows)
        ctx.n_batches = int(np.ceil(n_train / self.batch_size))
        # fixed during training: a constant the traced step reads, not a weight
        item_item = (None if getattr(self, "item_item_coef_", None) is None
                     else tf.constant(self.item_item_coef_))
        step = self._make_step(tf, ctx.vars, adam_state, item_item)
        ctx.optimizer_state = step.optimizer_state
        ctx.step = compile_step(tf, step, ctx.n_batches * n_epochs)

    def _initial_weights_for(self, rng, X, n_users=None):
        self._set_layout_and_weights(X, require_target=False)
        weights = self._init_weights(rng)
        weights["skip_coefs_"] = self._skip_init(X)  # from the first chunk
        self.item_item_coef_ = self.item_item_weights_ = None  # partial_fit refuses the term
        return weights

    def _current_weights(self):
        return {name: getattr(self, name) for name in self._PARAMS}

    def _check_same_architecture(self):
        super()._check_same_architecture()
        names, index, _ = self._layout(self.n_features_in_)
        if (names, index) != (self.behaviors_, self.target_index_):
            raise ValueError(
                f"This MultiTaskDAE was trained with behaviors={self.behaviors_!r} and target="
                f"{self.target_!r}, but its parameters now say behaviors={names!r}, target="
                f"{names[index]!r}: its heads would score other behaviours than they learned. "
                "Set them back to continue with partial_fit, or call fit to start anew.")
        # the tasks' weights are a training setting, as the step size is: the next
        # epochs weigh the losses as the parameters now say
        self._set_task_weights()

    def _weight_shapes(self):
        shared, *others = self._coef_shapes()
        trained = [*(w.shape for w in self.shared_coefs_), self.expert_coefs_.shape,
                   self.gate_coefs_.shape, self.head_coefs_.shape]
        return trained, [*shared, *others]

    def _iterate(self, ctx):
        tf, X = ctx.tf, ctx.X
        rows = np.arange(X.shape[0]) if ctx.train_rows is None else ctx.train_rows
        total = 0.0
        for idx in self._epoch_batches(ctx.rng, X.shape[0], rows):
            seed = ctx.rng.randint(0, np.iinfo(np.int32).max, size=2).astype(np.int32)
            total += float(ctx.step(tf.constant(X[idx].toarray()), tf.constant(seed)))
        self._store(ctx)
        return total / max(1, ctx.n_batches)

    def _store(self, ctx):
        for name, value in ctx.vars.items():
            # np.asarray: a 0-d variable's numpy() is a scalar, not an array of shape ()
            setattr(self, name, [v.numpy() for v in value] if isinstance(value, list)
                    else np.asarray(value.numpy()))

    def _snapshot(self):
        return {name: getattr(self, name) for name in self._PARAMS}

    def _restore(self, snapshot):
        for name, value in snapshot.items():
            setattr(self, name, value)

    def _make_step(self, tf, v, adam_state=None, item_item=None):
        """One Adam update on a dense batch of stacked rows; returns the batch loss."""
        flat = [*v["shared_coefs_"], *v["shared_intercepts_"]] + [
            v[name] for name in self._PARAMS[2:]]
        # the skip weights are per-item like biases, and start from the data's
        # conversion log-ratios, so weight decay would only pull them off
        matrices = [*v["shared_coefs_"], v["expert_coefs_"], v["gate_coefs_"], v["head_coefs_"]]
        update = adam(tf, flat, self.learning_rate_init, state=adam_state)
        n, n_b = self.n_items_, len(self.behaviors_)
        tasks = [t for t in range(n_b) if self.task_weights_[t] > 0]
        task_w = [float(self.task_weights_[t]) for t in tasks]
        alpha, dropout = self.alpha, self.dropout
        mask, target = self.mask_target, self.target_index_
        # the item-item term's input: the target block, or the behaviours weighted
        item_item_weights = getattr(self, "item_item_weights_", None)
        term_input = (None if item_item_weights is None else
                      [(b, float(w)) for b, w in enumerate(item_item_weights) if w])

        def step(x, seed):
            with tf.GradientTape() as tape:
                blocks = [x[:, b * n:(b + 1) * n] for b in range(n_b)]
                outputs = list(blocks)
                if mask > 0:
                    hide = tf.cast(tf.random.stateless_uniform(tf.shape(blocks[target]), seed + 1)
                                   < mask, tf.float32) * tf.cast(blocks[target] > 0, tf.float32)
                    blocks = [xb * (1.0 - hide) for xb in blocks]
                    outputs[target] = outputs[target] * hide
                # as serving normalises (see NeuralRecommenderBase's step)
                h = tf.concat([tf.math.l2_normalize(xb, axis=1, epsilon=_TINY32)
                               for xb in blocks], axis=1)
                present = tf.concat([tf.cast(xb > 0, tf.float32) for xb in blocks], axis=1)
                if dropout > 0:
                    keep = tf.cast(tf.random.stateless_uniform(tf.shape(h), seed) >= dropout,
                                   tf.float32)
                    h = h * keep / (1.0 - dropout)
                    present = present * keep
                for W, c in zip(v["shared_coefs_"], v["shared_intercepts_"]):
                    h = tf.tanh(tf.matmul(h, W) + c)
                experts = tf.tanh(tf.einsum("bh,ehk->bek", h, v["expert_coefs_"])
                                  + v["expert_intercepts_"])
                loss = 0.0
                for t, w in zip(tasks, task_w):
                    gate = tf.nn.softmax(tf.matmul(h, v["gate_coefs_"][t])
                                         + v["gate_intercepts_"][t])
                    z = tf.einsum("be,bek->bk", gate, experts)
                    logits = tf.matmul(z, v["head_coefs_"][t]) + v["head_intercepts_"][t]
                    for b in range(n_b):
                        if b != t and self.skip:
                            logits += present[:, b * n:(b + 1) * n] * v["skip_coefs_"][t, b]
                    if item_item is not None and t == target:
                        # the (masked) target rows are sparse: a sparse-dense product
                        z = (blocks[target] if term_input is None else
                             tf.add_n([blocks[b] * w for b, w in term_input]))
                        logits += tf.exp(v["item_item_log_scale_"]) * (
                            tf.sparse.sparse_dense_matmul(tf.sparse.from_dense(z), item_item))
                    loss += w * -tf.reduce_mean(
                        tf.reduce_sum(tf.nn.log_softmax(logits) * outputs[t], axis=1))
                if alpha > 0:
                    loss += alpha * tf.add_n([tf.reduce_sum(tf.square(W)) for W in matrices])
            grads = tape.gradient(loss, flat)
            # heads without a task (weight 0) and skip weights of one behaviour get none
            update([tf.zeros_like(var) if g is None else g for g, var in zip(grads, flat)])
            return loss

        step.optimizer_state = update.state
        return step

    # -- NumPy serving --------------------------------------------------------

    def _trained_columns(self):
        return getattr(self, "_input_trained", None)

    def _set_trained_columns(self, mask):
        # per block: an item without interactions of a behaviour in the training
        # part kept its random input weights there, which would encode noise
        self._input_trained = mask

    def _hidden_np(self, X):
        """Shared encoder output of validated CSR rows (all blocks).

        Entries on (behaviour, item) columns without training interactions are
        read as 0, as the other autoencoders read untrained items.
        """
        X = self._untrained_zeroed(X, getattr(self, "_input_trained", None))
        n = self.n_items_
        h = sp.hstack([_normalize_rows(behavior_block(X, n, b))
                       for b in range(len(self.behaviors_))], format="csr")
        for W, c in zip(self.shared_coefs_, self.shared_intercepts_):
            h = np.tanh(np.asarray(h @ W) + c)
        return np.asarray(h.toarray() if sp.issparse(h) else h, dtype=np.float32)

    def _code_np(self, h, task):
        experts = np.tanh(np.einsum("bh,ehk->bek", h, self.expert_coefs_)
                          + self.expert_intercepts_)
        gate = _softmax(h @ self.gate_coefs_[task] + self.gate_intercepts_[task])
        return np.einsum("be,bek->bk", gate, experts)

    def _score_batch(self, X):
        t = self.target_index_
        scores = self._code_np(self._hidden_np(X), t) @ self.head_coefs_[t]
        scores += self.head_intercepts_[t]
        # the fitted weights, not the parameter: set_params(skip=False) after a fit
        # with skip would score a model that was never trained (zeros without skip)
        if self.skip_coefs_[t].any():
            for b in self._auxiliary():
                block = behavior_block(X, self.n_items_, b).tocoo()
                scores[block.row, block.col] += self.skip_coefs_[t, b, block.col]
        if self.item_item_coef_ is not None:
            z = (self._target_history(X) if getattr(self, "item_item_weights_", None) is None
                 else weighted_blocks(X, self.n_items_, self.item_item_weights_))
            scores += np.exp(self.item_item_log_scale_) * csr_dense_product(
                z, self.item_item_coef_)
        return scores

    def transform(self, X):
        """The user's code for the target behaviour: its gate's mixture of the experts.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_behaviors * n_items)
            Interactions of any users, all behaviours (a forward pass).

        Returns
        -------
        codes : ndarray of shape (n_users, n_components)
        """
        X = self._validate_for_scoring(X)
        out = np.empty((X.shape[0], self.n_components), dtype=np.float32)
        for rows in iter_row_batches(X.shape[0], 65536):
            out[rows] = self._code_np(self._hidden_np(X[rows]), self.target_index_)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
