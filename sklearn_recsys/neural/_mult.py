"""Mult-DAE and Mult-VAE: autoencoders with a multinomial likelihood (Liang et al. 2018)."""

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from ..utils._propensity import PROPENSITY_REFERENCE_DOC
from ._base import AutoencoderBase

__all__ = ["MultDAE", "MultVAE"]

# total_anneal_steps="auto": beta would reach 1 after this many epochs
_ANNEAL_EPOCHS = 20

_SHARED_DOC = """
    Each user's row is L2-normalised, dropped out (rate ``dropout``) during
    training, encoded by ``tanh`` layers, decoded by ``tanh`` layers, and the
    output logits are trained with the multinomial log-likelihood
    :math:`\\sum_i x_{ui} \\log \\operatorname{softmax}(f(x_u))_i` (Adam). The
    epoch with the best NDCG@100 on validation users (``validation_fraction``
    of the users, each split 80/20 into fold-in and held-out items) is kept,
    as in the paper. Scores of any user, seen in ``fit`` or not, are a NumPy
    forward pass of their row (no TensorFlow needed after ``fit``).
"""


# Parameters and attributes common to both models; {fields} differ.
_TRAINING_DOC = """\
    batch_size : int, default={batch}
{batch_doc}
    learning_rate_init : float, default=1e-3
        Adam step size.
    shuffle : bool, default=True
        Shuffle the users before each epoch's mini-batches. False: batches
        in row order, so that :meth:`partial_fit` over chunks of rows repeats
        the epochs of :meth:`fit` on their concatenation.
    propensity_power : float, default=0.0
        Correction for popularity bias by exposure propensities ``theta_i =
        (n_i / max_j n_j) ** propensity_power`` from the training users,
        clipped below at 0.1 (Rel-MF, Saito et al. 2020: an interaction is
        observed when the item was exposed and is relevant; another
        ``n_ref`` than ``max_j n_j`` with ``propensity_reference``). 0 (the
        default) is the paper's model.
    propensity_correction : {{"weight", "offset"}}, default="weight"
        How ``propensity_power`` enters training. ``"weight"``: Rel-MF's
        inverse-propensity weighting, each observed interaction with item
        ``i`` counts ``1 / theta_i`` in the likelihood. ``"offset"``: the
        exposure is part of the likelihood, the softmax is taken over the
        logits plus ``log theta_i`` (the logit adjustment of Menon et al.,
        ICLR 2021), and scores are the logits alone, the relevance part. The
        trade-off benchmark (docs, "Evaluation") measures both for MultVAE
        and MultDAE with either reference: neither is better for every
        model, dataset and reference. The output biases are not penalised,
        so a plain model's optimum with those biases raised by ``-log
        theta_i`` is an optimum of the offset's loss: the offset divides
        the multinomial's probabilities by ``theta_i`` (as EASE's
        ``popularity_penalty`` divides its scores), reached by training
        rather than applied to a trained model.
{propensity_reference}    long_tail_weight : float, default=0.0
        Weight of a long-tail term of the training loss, against the
        imbalance of the data (a few popular items hold most interactions,
        so they are recommended to everyone): minus the log of the
        probability ``T`` that the softmax puts on the long tail, averaged
        over a batch's users and added to the loss times this weight. The
        long tail here is the items with training interactions outside the
        short head (the most popular items holding 80% of the interactions,
        as in APLT), counted on the training users (validation users
        excluded); unlike APLT's, it leaves out items without training
        interactions. The term's gradient with respect to item ``j``'s logit
        is ``p_j`` outside the long tail (short head and untrained items are
        lowered) and ``-p_j (1 - T) / T`` in it (long-tail items are raised,
        the more for a user whose distribution holds less of the long
        tail): a regulariser in the spirit of Abdollahpouri et al. (RecSys
        2017), not a propensity. Scores stay the logits. 0 (the default) is
        the paper's model; tune it with an accuracy and an exposure scorer
        together (e.g. NDCG and APLT).
    max_iter : int, default=200
        Epochs.
    early_stopping : bool, default=True
        Select the epoch with the best validation NDCG@100 and stop after
        ``n_iter_no_change`` epochs without improvement.
    validation_fraction : float, default=0.1
        Share of the users held out for validation.
    validation_holdout : float, default=0.2
        Share of each validation user's interactions held out and predicted
        from the rest.
    n_iter_no_change : int, default=20
        Patience, in epochs.
    tol : float, default=0.0
        Smallest gain of the validation NDCG@100 that resets the patience
        (the best epoch is kept whatever the gain).
    random_state : int, RandomState instance or None, default=None
{seed}    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more:
        also a line per epoch (loss, validation NDCG@100).

    Attributes
    ----------
{coefs}    intercepts_ : list of ndarray
        Bias vectors.
    propensity_ : ndarray of shape (n_items,) or None
        The exposure propensities of ``propensity_power`` (None when 0).
    loss_curve_ : list of float
{loss}    validation_scores_ : list of float or None
        Validation NDCG@100 per epoch.
    best_iteration_ : int
        Epoch whose weights were kept (the last one without early stopping).
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Number of items.

"""
_DAE_FIELDS = dict(
    propensity_reference=PROPENSITY_REFERENCE_DOC,
    batch=100,
    batch_doc="""\
        Users per Adam step. The paper's 500 suits MovieLens 20M's 136,000
        users; on a few thousand it leaves one or two updates per epoch
        (as for :class:`MultVAE`).""",
    seed="""\
        Seed of the weights, batches, dropout and validation split. The
        caller's global NumPy and TensorFlow generators are not touched.
""",
    coefs="""\
    coefs_ : list of ndarray
        Weight matrices, encoder then decoder; ``coefs_[0]`` is ``(n_items,
        hidden)``.
""",
    loss="""\
        Mean training loss per epoch.
""",
)
_VAE_FIELDS = dict(
    propensity_reference=PROPENSITY_REFERENCE_DOC,
    batch=100,
    batch_doc="""\
        Users per Adam step. The paper's 500 suits MovieLens 20M's 136,000
        users; on a few thousand it leaves one or two updates per epoch.
        With the annealing below, 100 gave NDCG@100 0.4315 / 0.3301 /
        0.3716 on MovieLens 100K / latest-small / the full Last.fm 2K
        against 0.4186 / 0.2048 / 0.3628 with the paper's 500 and 200,000
        (strong generalization, 20% test users, seed 0).""",
    seed="""\
        Seed of the weights, batches, dropout, sampling and validation split.
""",
    coefs="""\
    coefs_ : list of ndarray
        Weight matrices, encoder then decoder; the encoder's last layer
        outputs ``2 * n_components`` values (mean, log-variance).
""",
    loss="""\
        Mean training loss (negative log-likelihood + beta KL, plus the
        long-tail term with ``long_tail_weight``) per epoch.
""",
)


class MultDAE(AutoencoderBase):
    __doc__ = """Denoising autoencoder with a multinomial likelihood (Mult-DAE).
    """ + _SHARED_DOC + """
    The default architecture is the paper's ``[n_items -> 200 -> n_items]``
    with input dropout 0.5; the batch (100 users) and the weight decay
    (0.001) differ from the paper's (500 and 0.01), which left the model well
    below EASE on data of a few thousand users (``docs/benchmarks.rst``).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=()
        Encoder layers between the input and the code (the decoder mirrors
        them).
    n_components : int, default=200
        Size of the code.
    dropout : float, default=0.5
        Input dropout rate during training.
    alpha : float, default=0.001
        Weight decay: ``alpha * sum ||W||^2`` over the weight matrices. A
        grid search on validation users over batch {100, 500} and weight
        decay {0.01, 0.003, 0.001} chose batch 100 and 0.001 on each of
        MovieLens 100K, latest-small and Last.fm 2K.
""" + _TRAINING_DOC.format(**_DAE_FIELDS) + """    References
    ----------
    .. [1] D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara,
       "Variational Autoencoders for Collaborative Filtering", WWW 2018.
    .. [2] H. Abdollahpouri, R. Burke and B. Mobasher, "Controlling
       Popularity Bias in Learning-to-Rank Recommendation", RecSys 2017.

    Examples
    --------
    >>> from sklearn_recsys import MultDAE, make_interactions
    >>> X = make_interactions(300, 100, density=0.05, random_state=0)
    >>> model = MultDAE(n_components=16, max_iter=5, random_state=0).fit(X)  # doctest: +SKIP
    >>> model.recommend(X[:2], k=3)[0].shape  # doctest: +SKIP
    (2, 3)
    """

    def __init__(
        self,
        hidden_layer_sizes=(),
        n_components=200,
        *,
        dropout=0.5,
        alpha=0.001,
        batch_size=100,
        learning_rate_init=1e-3,
        shuffle=True,
        propensity_power=0.0,
        propensity_correction="weight",
        propensity_reference="max",
        long_tail_weight=0.0,
        max_iter=200,
        early_stopping=True,
        validation_fraction=0.1,
        validation_holdout=0.2,
        n_iter_no_change=20,
        tol=0.0,
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_components = n_components
        self.dropout = dropout
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.propensity_power = propensity_power
        self.propensity_correction = propensity_correction
        self.propensity_reference = propensity_reference
        self.long_tail_weight = long_tail_weight
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose


class MultVAE(AutoencoderBase):
    __doc__ = """Variational autoencoder with a multinomial likelihood (Mult-VAE).
    """ + _SHARED_DOC + """
    The encoder outputs the mean and log-variance of a Gaussian code; training
    samples the code and adds ``beta`` times the KL divergence to the prior,
    with ``beta`` growing linearly from 0 by ``1 / total_anneal_steps`` per
    update up to ``anneal_cap`` (KL annealing). Scoring uses the mean. The
    default architecture is the paper's ``[n_items -> 600 -> 200 -> 600 ->
    n_items]``.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(600,)
        Encoder layers between the input and the code (the decoder mirrors
        them).
    n_components : int, default=200
        Size of the latent code.
    dropout : float, default=0.5
        Input dropout rate during training.
    alpha : float, default=0.0
        Weight decay: ``alpha * sum ||W||^2`` (the paper's VAE uses none).
    anneal_cap : float, default=0.2
        Largest ``beta``.
    total_anneal_steps : int or "auto", default="auto"
        Updates over which ``beta`` grows from 0 to 1 (then capped).
        ``"auto"``: the updates of 20 epochs, so the schedule is the same in
        epochs whatever the data size (the paper's 200,000 updates never
        reach the cap on a dataset of a few thousand users, where the model
        is then a plain denoising autoencoder).
""" + _TRAINING_DOC.format(**_VAE_FIELDS) + """    References
    ----------
    .. [1] D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara,
       "Variational Autoencoders for Collaborative Filtering", WWW 2018.
    .. [2] H. Abdollahpouri, R. Burke and B. Mobasher, "Controlling
       Popularity Bias in Learning-to-Rank Recommendation", RecSys 2017.

    Examples
    --------
    >>> from sklearn_recsys import MultVAE, make_interactions
    >>> X = make_interactions(300, 100, density=0.05, random_state=0)
    >>> model = MultVAE(n_components=16, max_iter=5, random_state=0).fit(X)  # doctest: +SKIP
    >>> model.transform(X[:2]).shape  # doctest: +SKIP
    (2, 16)
    """

    _parameter_constraints: dict = {
        **AutoencoderBase._parameter_constraints,
        "anneal_cap": [Interval(Real, 0, None, closed="left")],
        "total_anneal_steps": [Interval(Integral, 0, None, closed="left"),
                               StrOptions({"auto"})],
    }
    _variational = True

    def __init__(
        self,
        hidden_layer_sizes=(600,),
        n_components=200,
        *,
        dropout=0.5,
        alpha=0.0,
        anneal_cap=0.2,
        total_anneal_steps="auto",
        batch_size=100,
        learning_rate_init=1e-3,
        shuffle=True,
        propensity_power=0.0,
        propensity_correction="weight",
        propensity_reference="max",
        long_tail_weight=0.0,
        max_iter=200,
        early_stopping=True,
        validation_fraction=0.1,
        validation_holdout=0.2,
        n_iter_no_change=20,
        tol=0.0,
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_components = n_components
        self.dropout = dropout
        self.alpha = alpha
        self.anneal_cap = anneal_cap
        self.total_anneal_steps = total_anneal_steps
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.propensity_power = propensity_power
        self.propensity_correction = propensity_correction
        self.propensity_reference = propensity_reference
        self.long_tail_weight = long_tail_weight
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def _check_partial_fit(self):
        super()._check_partial_fit()
        if self.total_anneal_steps == "auto":
            raise ValueError(
                'partial_fit needs an int total_anneal_steps: "auto" counts epochs of the whole '
                "data, which one call (one chunk) does not know. Give the number of updates "
                "over which beta grows to anneal_cap, e.g. 20 epochs x batches per epoch.")

    def _beta(self, n_updates, updates_per_epoch=1):
        steps = self.total_anneal_steps
        if steps == "auto":
            steps = _ANNEAL_EPOCHS * updates_per_epoch
        if steps == 0:
            return float(self.anneal_cap)
        return float(min(self.anneal_cap, n_updates / steps))
