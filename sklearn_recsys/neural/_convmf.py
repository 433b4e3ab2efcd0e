"""ConvMF: matrix factorization with item factors pulled towards a text CNN of item documents."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import _top_k_of_batches
from ..utils._validation import (
    check_column_order,
    check_exclude,
    check_k,
    check_rating_values,
    rating_range,
)
from ..base import RatingPredictionMixin
from ..matrix_factorization._base import MatrixFactorizationBase
from ..utils._holdout import heldout_rmse
from ..utils._solvers import (
    UNWEIGHTED_PRIOR,
    fold_in_contributions,
    fold_in_system,
    implicit_loss,
    prior_cg_sweep,
    prior_ls_sweep,
)
from ..preprocessing import TextSequencer
from ..utils._topk import iter_row_batches, row_batch_size
from ._base import check_sizes
from ._tf import import_tensorflow
from ._text_cnn import CNNTrainer, forward, init_weights, word_attributions

__all__ = ["ConvMF"]


class ConvMF(RatingPredictionMixin, MatrixFactorizationBase):
    """Convolutional matrix factorization: item factors from ratings and item documents.

    ConvMF (Kim et al. 2016) factorizes the user-item matrix ``X ~ U V^T``
    with a Gaussian prior on each item's factors centred on the output of a
    text CNN applied to the item's document, ``v_j ~ N(cnn_W(doc_j),
    I / alpha_item)``, and on the users' ``u_i ~ N(0, I / alpha_user)``. The fit
    alternates three exact or local steps:

    1. every item's factors by least squares pulled towards its CNN output,
       ``(U^T C_j U + alpha_item I) v_j = U^T C_j r_j + alpha_item cnn(doc_j)``;
    2. every user's factors by least squares, ``(V^T C_i V + alpha_user I) u_i
       = V^T C_i r_i`` (also the fold-in of new users);
    3. ``cnn_epochs`` epochs of the CNN regressing the item factors on the
       documents (mean squared error, Adam, dropout).

    With ``feedback="explicit"`` the squares cover the observed ratings only
    (``C`` selects them, as in the paper), centred on their global mean, and
    the model predicts ratings ``global_mean_ + u_i . v_j`` (the centring
    is not in the paper; without it a sparse user's or item's factors shrink
    towards a rating of 0 instead of the average). With
    ``feedback="implicit"`` every cell counts, with confidence
    ``1 + confidence_scale * x_ij`` on the interactions and 1 elsewhere (Hu
    et al. 2008), and scores rank items.

    Items with a document but no interaction in ``fit`` (new items) take the
    CNN output of their document as their factors, so they are scored and
    recommended from their text alone; in the implicit model they are not
    counted as negatives of every user, and a scored user who holds some (a
    user who took a new item) reads them from their text, each with its
    whole confidence term. :meth:`recommend` also ranks items
    outside the catalogue given their documents (``new_items``).

    Documents are a constructor parameter, one per item (column), so that
    :class:`~sklearn.model_selection.GridSearchCV` and
    :func:`~sklearn.model_selection.cross_validate`, which split ``X`` by
    users, never slice them. Without documents the model is plain PMF
    (Salakhutdinov & Mnih 2008) fitted by ALS: the baseline ConvMF is
    measured against.

    TensorFlow trains the CNN inside ``fit``; the fitted weights are NumPy
    arrays, and scoring, the CNN on new documents, pickling and loading run
    without TensorFlow.

    Parameters
    ----------
    n_components : int, default=50
        Number of latent factors (the CNN's output size).
    documents : array-like of str of shape (n_items,) or ndarray of int of \
            shape (n_items, length), default=None
        One text per item in column order, turned into word-index sequences
        by :class:`~sklearn_recsys.preprocessing.TextSequencer` with
        ``max_features``, ``max_length`` and ``max_df``; or index sequences
        already (0 = padding, after the words). ``None`` fits PMF without
        text.
    feedback : {"explicit", "implicit"}, default="explicit"
        Ratings on observed entries only, or confidence-weighted implicit
        feedback over all cells.
    alpha_user : float, default=1.0
        Precision of the users' prior (penalty on the user factors).
    alpha_item : float, default=100.0
        Precision of the items' prior around the CNN output: how strongly the
        item factors follow their documents. The defaults of ``alpha_user``,
        ``alpha_item``, ``dropout`` and ``item_weighting`` are the setting
        cornac's ``ConvMF`` applies (its penalties, the rate its dropout
        applies, Kim et al.'s item weights), and the best of the benchmark's
        grid on validation ratings of MovieLens 100K (u1.base) with titles
        and genres as documents. Implicit feedback needs its own penalties
        (see the benchmarks).
    confidence_scale : float, default=10.0
        ``c = 1 + confidence_scale * value`` for implicit feedback.
    max_iter : int, default=15
        Alternating iterations.
    solver : {"cholesky", "cg"}, default="cholesky"
        How the least-squares steps of ``fit`` are solved: exactly, or by
        ``cg_steps`` warm-started conjugate-gradient steps per row (much
        faster with many factors: the exact solve is cubic in
        ``n_components``). The fold-in of users for scoring is always exact.
    cg_steps : int, default=3
        Conjugate-gradient steps per row and iteration with ``solver="cg"``.
    cnn_epochs : int, default=5
        Epochs of CNN training per iteration (the reference code's 5).
    embedding_dim : int, default=200
        Size of the word embeddings.
    window_sizes : tuple of int, default=(3, 4, 5)
        Convolution window sizes, in words, each width once.
    n_filters : int, default=100
        Filters per window size.
    hidden_layer_sizes : tuple of one int, default=(200,)
        Size of the CNN's dense layer between the pooled features and the
        projection to ``n_components``: one layer, as the paper's (a longer
        tuple is refused).
    dropout : float, default=0.8
        Dropout rate on that layer while training. Kim et al.'s code drops
        20% (Keras's ``Dropout(0.2)``); cornac's ``ConvMF`` passes the same
        ``dropout_rate=0.2`` to TensorFlow 1's ``nn.dropout`` as the keep
        probability, so the rate it applies is 0.8. On MovieLens ratings, with
        the default layer of 200 units and the paper's 50 factors, 0.8 was
        the better of the two on every fold; a small layer or many factors
        need less: with 400 factors on CiteULike-a, 0.8 ranked new items from
        their text about a third worse than 0.2 (see the benchmarks), and the
        gallery's 32-unit example runs 0.2.
    item_weighting : {"sqrt_count", None}, default="sqrt_count"
        Weight of each item's prior (its penalty ``alpha_item``) and of its
        term in the CNN's loss. None: every item alike (the paper's
        objective). ``"sqrt_count"``: the square root of the item's number of
        training interactions, scaled to a mean of 1 over the items that have
        some (as Kim et al.'s code and cornac's ``give_item_weight``, which
        scale to a mean of 1 over all items): a
        well-rated item is held closer to its document's factors and weighs
        more in the CNN's fit; an item without interactions weighs 0 in the
        CNN's loss and keeps its document's factors. Without ``documents``
        (PMF, every prior mean 0) every item is alike.
    max_features : int, default=8000
        Vocabulary size when ``documents`` are texts.
    max_length : int, default=300
        Words kept per document when ``documents`` are texts.
    max_df : float, default=0.5
        Words in a larger share of the documents are dropped.
    word_vectors : dict or ndarray, default=None
        Pre-trained word vectors of size ``embedding_dim``: a dict ``word ->
        vector`` when ``documents`` are texts (words without a vector start
        random), or an array ``(n_words, embedding_dim)`` indexed like the
        sequences when they are given as integers (row 0 is padding).
    batch_size : int, default=128
        Documents per CNN training step.
    learning_rate_init : float, default=1e-3
        Adam's step size for the CNN.
    early_stopping : bool, default=False
        Hold out ``validation_holdout`` of each user's entries, score them
        after every iteration (RMSE for explicit, NDCG@20 for implicit
        feedback), stop after ``n_iter_no_change`` iterations without
        improvement and keep the best iteration's model.
    validation_holdout : float, default=0.1
        Share of each user's entries held out when ``early_stopping``.
    n_iter_no_change : int, default=3
        Iterations without improvement before stopping.
    tol : float, default=0.0
        Smallest gain of the validation score that resets the patience of
        ``n_iter_no_change`` (the best iteration is kept whatever the gain).
    dtype : {np.float32, np.float64}, default=np.float32
        Dtype of the factors.
    n_jobs : int, default=None
        Threads of the least-squares kernels (numba); None keeps numba's
        setting.
    random_state : int, RandomState instance or None, default=None
        Seeds the factors, the CNN weights, batch order and dropout.
    verbose : int, default=0
        0: quiet; 1: a progress bar; 2 and more: also a line per iteration.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, n_components)
    item_factors_ : ndarray of shape (n_items, n_components)
    document_factors_ : ndarray of shape (n_items, n_components) or None
        CNN output of each item's document after the last iteration.
    cnn_weights_ : dict of str to ndarray or None
        The CNN's weights (embeddings, convolutions, dense, projection).
    sequencer_ : TextSequencer or None
        The vocabulary built from text ``documents``.
    cold_items_ : ndarray of int
        Items without interactions in ``fit``'s training part (with
        ``early_stopping``, an item whose only interactions were held out for
        validation is one), scored from their documents.
    global_mean_ : float
        Mean training rating with ``feedback="explicit"`` (0 for implicit).
    rating_range_ : tuple of float
        Smallest and largest value given to ``fit`` (validation hold-outs
        included); :meth:`predict_ratings` clips
        to it.
    loss_curve_ : list of float
        The objective after each iteration: half the (confidence-weighted)
        squared error plus ``alpha_user`` and ``alpha_item`` penalties, the
        latter towards the CNN's output (each item's scaled by its weight
        with ``item_weighting``).
    validation_scores_ : list of float or None
        With ``early_stopping``: minus the validation RMSE (explicit) or the
        validation NDCG@20 (implicit) after each iteration.
    best_iteration_ : int
        Sweep whose factors were kept (the last one without early stopping).
    n_iter_ : int
    n_features_in_ : int

    See Also
    --------
    sklearn_recsys.ExplicitMF : Biased MF of ratings without documents.
    sklearn_recsys.ImplicitALS : Implicit-feedback MF without documents.
    sklearn_recsys.preprocessing.TextSequencer : The text pipeline.

    References
    ----------
    .. [1] D. Kim, C. Park, J. Oh, S. Lee and H. Yu, "Convolutional Matrix
       Factorization for Document Context-Aware Recommendation", RecSys 2016.
    .. [2] Y. Kim, "Convolutional Neural Networks for Sentence
       Classification", EMNLP 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_recsys import ConvMF
    >>> X = np.array([[5., 4., 0., 0.], [4., 0., 1., 0.], [0., 1., 5., 0.]])
    >>> docs = ["space opera", "space battle", "romantic comedy", "romantic drama"]
    >>> model = ConvMF(n_components=4, documents=docs, alpha_user=0.1, alpha_item=1.0,
    ...                max_df=1.0, embedding_dim=8, window_sizes=(1, 2), n_filters=4,
    ...                hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X)
    >>> model.cold_items_  # no ratings: its factors come from its text
    array([3])
    >>> model.predict_ratings(X).shape
    (3, 4)
    >>> model.document_factors(["space drama"]).shape
    (1, 4)
    """

    _parameter_constraints: dict = {
        **{k: v for k, v in MatrixFactorizationBase._parameter_constraints.items()
           if k != "alpha"},
        "documents": ["array-like", None],
        "feedback": [StrOptions({"explicit", "implicit"})],
        "alpha_user": [Interval(Real, 0, None, closed="neither")],
        "alpha_item": [Interval(Real, 0, None, closed="neither")],
        "confidence_scale": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"cholesky", "cg"})],
        "cg_steps": [Interval(Integral, 1, None, closed="left")],
        "cnn_epochs": [Interval(Integral, 1, None, closed="left")],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "window_sizes": [tuple, list],
        "n_filters": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "item_weighting": [StrOptions({"sqrt_count"}), None],
        "max_features": [Interval(Integral, 1, None, closed="left")],
        "max_length": [Interval(Integral, 1, None, closed="left")],
        "max_df": [Interval(Real, 0, 1, closed="right")],
        "word_vectors": [dict, "array-like", None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    }
    _state_names = ("user_factors_", "item_factors_", "document_factors_", "cnn_weights_")

    # the texts are encoded by fit (document_factors_, the CNN): None slims a fitted model
    _params_only_read_by_fit = frozenset({"documents"})

    def __init__(
        self,
        n_components=50,
        *,
        documents=None,
        feedback="explicit",
        alpha_user=1.0,
        alpha_item=100.0,
        confidence_scale=10.0,
        max_iter=15,
        solver="cholesky",
        cg_steps=3,
        cnn_epochs=5,
        embedding_dim=200,
        window_sizes=(3, 4, 5),
        n_filters=100,
        hidden_layer_sizes=(200,),
        dropout=0.8,
        item_weighting="sqrt_count",
        max_features=8000,
        max_length=300,
        max_df=0.5,
        word_vectors=None,
        batch_size=128,
        learning_rate_init=1e-3,
        early_stopping=False,
        validation_holdout=0.1,
        n_iter_no_change=3,
        tol=0.0,
        dtype=np.float32,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.documents = documents
        self.feedback = feedback
        self.alpha_user = alpha_user
        self.alpha_item = alpha_item
        self.confidence_scale = confidence_scale
        self.max_iter = max_iter
        self.solver = solver
        self.cg_steps = cg_steps
        self.cnn_epochs = cnn_epochs
        self.embedding_dim = embedding_dim
        self.window_sizes = window_sizes
        self.n_filters = n_filters
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.item_weighting = item_weighting
        self.max_features = max_features
        self.max_length = max_length
        self.max_df = max_df
        self.word_vectors = word_vectors
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.early_stopping = early_stopping
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # -- documents --------------------------------------------------------

    def _hidden_size(self):
        sizes = check_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        if len(sizes) != 1:
            raise ValueError(
                "ConvMF's text CNN has one dense layer (the paper's): pass "
                f"hidden_layer_sizes=(n_units,), got {self.hidden_layer_sizes!r}."
            )
        return sizes[0]

    def _window_sizes(self):
        sizes = check_sizes(self.window_sizes, "window_sizes", allow_empty=False,
                            what="convolution windows, in words")
        if len(set(sizes)) != len(sizes):
            # the CNN keeps one kernel per width: a repeated width would read one
            # kernel twice, not n_filters more filters
            raise ValueError(f"window_sizes must not repeat a width, got {sizes!r}: raise "
                             "n_filters for more filters of one width.")
        return sizes

    def _prepare_documents(self, n_items):
        """Sequences of the fit documents and the embedding initialisation."""
        docs = self.documents
        check_column_order(docs, "documents")
        seqs = np.asarray(docs) if not isinstance(docs, (list, tuple)) else None
        if seqs is not None and seqs.dtype.kind in "iufb" and (
                seqs.ndim != 2 or seqs.dtype.kind not in "iu"):
            # an array of numbers is sequences, never texts: say what shape and type
            raise ValueError(
                f"documents given as an array must be word-index sequences: a 2-D integer "
                f"array (n_items, length), 0 for padding; got a {seqs.ndim}-D array of "
                f"{seqs.dtype}. Convert it (e.g. np.asarray(seqs, dtype=np.int64)), or pass "
                "one text per item.")
        is_sequences = (seqs is not None and seqs.ndim == 2
                        and np.issubdtype(seqs.dtype, np.integer))
        n_docs = len(seqs) if is_sequences else len(docs)
        if n_docs != n_items:
            raise ValueError(
                f"documents has {n_docs} entries but X has {n_items} items (columns): "
                "pass one document per item, in column order ('' for an item without text)."
            )
        wv = self.word_vectors
        if is_sequences:
            if seqs.size and seqs.min() < 0:
                raise ValueError("documents given as sequences must hold word indices >= 0.")
            _check_right_padded(seqs)
            if not seqs.any():
                raise ValueError(
                    "documents given as sequences hold only padding (0): there is no word to "
                    "learn item factors from. Word indices start at 1 (0 pads).")
            self.sequencer_ = None
            if isinstance(wv, dict):
                raise TypeError(
                    "word_vectors is a dict but documents are integer sequences: pass an "
                    "array (n_words, embedding_dim) indexed like the sequences."
                )
            n_words = int(seqs.max(initial=0)) + 1
            if wv is not None:
                wv = self._check_word_vectors(np.asarray(wv, dtype=np.float32))
                if wv.shape[0] < n_words:
                    raise ValueError(
                        f"word_vectors has {wv.shape[0]} rows but the sequences use word "
                        f"index {n_words - 1}: give one row per index (row 0 = padding)."
                    )
                n_words = wv.shape[0]
            return seqs.astype(np.int32), n_words, wv
        self.sequencer_ = TextSequencer(max_features=self.max_features,
                                        max_length=self.max_length, max_df=self.max_df)
        seqs = self.sequencer_.fit_transform(docs).astype(np.int32)
        n_words = len(self.sequencer_.vocabulary_) + 1
        if wv is None:
            return seqs, n_words, None
        if not isinstance(wv, dict):
            raise TypeError(
                "documents are texts, so word_vectors must be a dict word -> vector (the "
                "vocabulary is built in fit); an array needs integer sequences."
            )
        return seqs, n_words, wv

    def _check_word_vectors(self, wv):
        if wv.ndim != 2 or wv.shape[1] != self.embedding_dim:
            raise ValueError(
                f"word_vectors must have embedding_dim={self.embedding_dim} columns, got "
                f"shape {wv.shape}."
            )
        if not np.isfinite(wv).all():
            raise ValueError("word_vectors contains NaN or infinity.")
        return wv

    def _initial_embedding(self, rng, n_words, wv):
        """Embedding rows: random, overridden by the given word vectors."""
        if wv is None or not isinstance(wv, dict):
            return wv
        table = rng.uniform(-0.05, 0.05, (n_words, self.embedding_dim)).astype(np.float32)
        for j, word in enumerate(self.sequencer_.vocabulary_, start=1):
            if word in wv:
                table[j] = self._check_word_vectors(
                    np.asarray(wv[word], dtype=np.float32).reshape(1, -1))[0]
        return table

    def _sequences(self, documents):
        """Index sequences of new documents, with the fitted vocabulary."""
        if self.sequencer_ is not None:
            return self.sequencer_.transform(documents).astype(np.int32)
        seqs = np.asarray(documents)
        if seqs.ndim != 2 or not np.issubdtype(seqs.dtype, np.integer):
            raise ValueError(
                "The model was fitted on integer sequences; pass new documents as an "
                "integer array (n_documents, length) with the same vocabulary."
            )
        n_words = self.cnn_weights_["embedding"].shape[0]
        if seqs.size and (seqs.min() < 0 or seqs.max() >= n_words):
            raise ValueError(f"Word indices must lie in [0, {n_words - 1}].")
        _check_right_padded(seqs)
        return seqs.astype(np.int32)

    def _check_has_cnn(self):
        self._check_fitted()
        if self.cnn_weights_ is None:
            raise ValueError(
                "This ConvMF was fitted without documents, so it has no text CNN: set "
                "documents=... before fit to score items from their text."
            )

    def document_factors(self, documents):
        """CNN output of documents: the factors of items known only by their text.

        Parameters
        ----------
        documents : array-like of str or ndarray of int
            Texts (or index sequences, as in ``fit``) of any items.

        Returns
        -------
        factors : ndarray of shape (n_documents, n_components)
        """
        self._check_has_cnn()
        seqs = self._sequences(documents)
        return forward(self.cnn_weights_, self._window_sizes(), seqs).astype(
            self.item_factors_.dtype)

    # -- fit --------------------------------------------------------------

    def _init_fit(self, ctx):
        X, rng = ctx.X_train, ctx.rng
        n_users, n_items = X.shape
        k = self.n_components
        self.rating_range_ = rating_range(ctx.X)
        explicit = self.feedback == "explicit"
        if explicit:
            check_rating_values(self, ctx.X)
        self.global_mean_ = float(X.data.mean()) if explicit and X.nnz else 0.0
        counts = np.bincount(X.indices, minlength=n_items)
        self.cold_items_ = np.flatnonzero(counts == 0)
        ctx.item_weights, ctx.document_weights = UNWEIGHTED_PRIOR, None
        if self.item_weighting == "sqrt_count" and self.documents is not None and X.nnz:
            root = np.sqrt(counts)
            ctx.document_weights = root * (np.count_nonzero(counts) / root.sum())
            # a new item's factors are its prior whatever its weight (0 would leave its
            # explicit least-squares system without a diagonal)
            ctx.item_weights = np.where(counts > 0, ctx.document_weights, 1.0)
        if self.documents is None:
            self.sequencer_, self.cnn_weights_, self.document_factors_ = None, None, None
            self.item_factors_ = rng.standard_normal((n_items, k)).astype(self.dtype)
            ctx.prior = np.zeros((n_items, k), dtype=self.dtype)
        else:
            seqs, n_words, wv = self._prepare_documents(n_items)
            tf = import_tensorflow()
            windows = self._window_sizes()
            weights = init_weights(rng, n_words, self.embedding_dim, windows,
                                   self.n_filters, self._hidden_size(), k,
                                   self._initial_embedding(rng, n_words, wv))
            ctx.seqs = seqs
            n_steps = self.max_iter * self.cnn_epochs * -(-n_items // self.batch_size)
            ctx.trainer = CNNTrainer(tf, weights, windows, self.dropout,
                                     self.learning_rate_init, self.batch_size,
                                     self.cnn_epochs, n_steps)
            self.cnn_weights_ = weights
            self.document_factors_ = forward(weights, windows, seqs).astype(self.dtype)
            self.item_factors_ = self.document_factors_.copy()
            ctx.prior = self.document_factors_
        self.user_factors_ = np.zeros((n_users, k), dtype=self.dtype)
        self._user_step(X)

    def _user_gram(self):
        k = self.item_factors_.shape[1]  # the fitted width, whatever the parameter says now
        G = np.zeros((k, k))
        if self.feedback == "implicit":
            V = self.item_factors_[self._warm_items()].astype(np.float64)
            G = V.T @ V
        G[np.diag_indices_from(G)] += self.alpha_user
        return G

    def _warm_items(self):
        warm = np.ones(self.item_factors_.shape[0], dtype=bool)
        warm[self.cold_items_] = False
        return warm

    def _solve_users(self, X, U, exact=True):
        V = self.item_factors_
        if self.feedback != "implicit" or not len(self.cold_items_):
            self._sweep(X, U, V, self._user_gram(), np.zeros_like(U), 0.0, exact)
            return
        # an item nobody had in fit is new, not disliked: it stays out of the
        # shared Gram, and the sweep reads it as factors 0
        warm = self._warm_items()
        self._sweep(X, U, np.where(warm[:, None], V, 0).astype(V.dtype), self._user_gram(),
                    np.zeros_like(U), 0.0, exact)
        # a scored row that holds such items (fit's rows hold none) reads their
        # text factors with their whole confidence term, as an item of its own
        rows = np.unique(np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[~warm[X.indices]])
        if rows.size:
            V64 = V.astype(np.float64)
            gram = V64[warm].T @ V64[warm]  # once for all such rows
            for row in rows:
                A, Yu, t = fold_in_system(V64, X[row], self.alpha_user, self.confidence_scale,
                                          gram_items=warm, gram=gram)
                U[row] = np.linalg.solve(A, Yu.T @ t)

    def _sweep(self, A, X, Y, G, prior, reg_prior, exact, prior_weights=UNWEIGHTED_PRIOR):
        """One least-squares update of the rows of ``X`` (exact or CG) in place.

        ``prior_weights`` scales each row's ``reg_prior`` (empty: all 1).
        """
        data = self._centered(A.data, X.dtype)
        explicit = self.feedback == "explicit"
        if exact or self.solver == "cholesky":
            prior_ls_sweep(A.indptr, A.indices, data, X, Y, G, prior, float(reg_prior),
                           float(self.confidence_scale), explicit, prior_weights)
        else:
            prior_cg_sweep(A.indptr, A.indices, data, X, Y, G.astype(X.dtype), prior,
                           float(reg_prior), float(self.confidence_scale), explicit,
                           int(self.cg_steps), prior_weights)

    def _centered(self, data, dtype):
        """Ratings minus the global mean (explicit), which the factors then model."""
        data = data.astype(dtype, copy=False)
        return data - data.dtype.type(self.global_mean_) if self.global_mean_ else data

    def _user_step(self, X):
        self._solve_users(X, self.user_factors_, exact=False)

    def _item_step(self, ctx):
        U = self.user_factors_
        G = np.zeros((U.shape[1], U.shape[1]))
        if self.feedback == "implicit":
            U64 = U.astype(np.float64)
            G = U64.T @ U64
        G[np.diag_indices_from(G)] += self.alpha_item
        self._sweep(ctx.Xt, self.item_factors_, U, G, ctx.prior, self.alpha_item, exact=False,
                    prior_weights=ctx.item_weights)
        # a new item is its text: solved against the implicit Gram it would count as a
        # negative of every user and shrink, and the CNN would learn those shrunk targets
        self.item_factors_[self.cold_items_] = ctx.prior[self.cold_items_]

    def _iterate(self, ctx):
        self._item_step(ctx)
        self._user_step(ctx.X_train)
        if self.documents is None:
            return self._objective(ctx)
        ctx.trainer.train(ctx.seqs, self.item_factors_, ctx.rng,
                          sample_weight=ctx.document_weights)
        self.cnn_weights_ = ctx.trainer.weights()
        self.document_factors_ = forward(self.cnn_weights_, self._window_sizes(),
                                         ctx.seqs).astype(self.dtype)
        ctx.prior = self.document_factors_
        # new items have no ratings to pull them anywhere else
        self.item_factors_[self.cold_items_] = self.document_factors_[self.cold_items_]
        return self._objective(ctx)

    def _objective(self, ctx):
        """The paper's loss after an iteration: weighted squared error plus both penalties.

        Explicit feedback: over the observed (centred) ratings; implicit: over
        every cell of the items with training interactions, with Hu et al.'s
        confidences (as ImplicitALS; a new item's cells are no user's
        negatives, as in the solves).
        """
        X, U, V = ctx.X_train, self.user_factors_, self.item_factors_
        if self.feedback == "explicit":
            rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
            pred = np.einsum("ij,ij->i", U[rows], V[X.indices]).astype(np.float64)
            error = float(np.sum((self._centered(X.data, np.float64) - pred) ** 2))
        else:
            # the cells the solves fit: a new item is no user's negative (its cells
            # are left out, as in _solve_users; fit's rows hold none of its entries)
            Vw = np.where(self._warm_items()[:, None], V, 0).astype(V.dtype)
            error = float(implicit_loss(X.indptr, X.indices, X.data.astype(U.dtype), U, Vw,
                                        Vw.T @ Vw, float(self.confidence_scale), U[0, :0]))
        penalty = self.alpha_user * float(np.sum(U.astype(np.float64) ** 2))
        deviation = np.sum((V - ctx.prior).astype(np.float64) ** 2, axis=1)
        if len(ctx.item_weights):
            deviation = deviation * ctx.item_weights
        penalty += self.alpha_item * float(np.sum(deviation))
        return 0.5 * (error + penalty)

    def _validation_label(self):
        return "val_neg_rmse" if self.feedback == "explicit" else super()._validation_label()

    def _validation_score(self, ctx):
        if self.feedback == "implicit":
            return super()._validation_score(ctx)
        U, V = self.user_factors_, self.item_factors_
        return -heldout_rmse(ctx.X_val_out, lambda rows, cols: self.global_mean_ + np.einsum(
            "ij,ij->i", U[rows], V[cols]), self.rating_range_)

    # -- scoring ----------------------------------------------------------

    def _fold_in(self, X):
        U = np.zeros((X.shape[0], self.item_factors_.shape[1]), dtype=self.item_factors_.dtype)
        self._solve_users(X, U)
        return U

    def _check_can_predict_ratings(self):
        if self.feedback != "explicit":
            raise ValueError(
                "predict_ratings needs feedback='explicit'; an implicit-feedback ConvMF "
                "scores preferences, not ratings. Rank with decision_function instead."
            )

    def _ratings_batch(self, X, items):
        V = self.item_factors_ if items is None else self.item_factors_[items]
        return self.global_mean_ + self._fold_in(X) @ V.T

    def _score_batch(self, X):
        return self._ratings_batch(X, None)

    def _train_scores(self, rows):
        return self.global_mean_ + self.user_factors_[rows] @ self.item_factors_.T

    def explain(self, x_row, item):
        """Exact contribution of each of the user's items to one item's score.

        The user's factors are the least-squares fold-in of their row, so the
        score decomposes over their items (as :meth:`ImplicitALS.explain`):
        with ``feedback="implicit"`` item ``j`` contributes
        ``c_j v_item^T W v_j``, ``W = (V^T C V + alpha_user I)^{-1}`` over the
        items with training interactions and the user's own items, and the
        contributions sum to the score; with ``feedback="explicit"`` it
        contributes ``(r_j - global_mean_) v_item^T W v_j``, ``W = (sum_j v_j
        v_j^T + alpha_user I)^{-1}``, and they sum to the score minus
        ``global_mean_`` (the prediction for a user without ratings): the
        predicted rating before :meth:`predict_ratings` clips it to the
        training range.

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
        explicit = self.feedback == "explicit"
        # as the fold-in: an item new in fit is out of the Gram (not disliked)
        warm = None if explicit or not len(self.cold_items_) else self._warm_items()
        return fold_in_contributions(self.item_factors_, x, self.item_factors_[item],
                                     self.alpha_user, self.confidence_scale,
                                     explicit=explicit, offset=self.global_mean_,
                                     gram_items=warm)

    def explain_text(self, x_row, document):
        """Which words of a document raise its item's score for one user (text attribution).

        An item known by its text, new or not, has the CNN's output as
        factors (:meth:`document_factors`), and a user scores it by the
        product with their folded-in factors. The contribution of a word is
        the integrated gradient of that score with respect to the word's
        embeddings at each of its positions, summed over them, along the path
        from a document of padding (all-zero embeddings) to the document
        (Sundararajan et al. 2017; NumPy). The contributions sum to the score
        of the document minus that of the all-padding one within 1e-3 of that
        difference: the quadrature is refined up to 4096 points until they
        do (max-pooling's switches and the ReLUs make the path's integrand
        piecewise smooth), with a warning where even that misses, as a
        one- or two-word title can. This explains why a cold item is recommended
        from its text, as :meth:`explain` does from the user's items.

        Parameters
        ----------
        x_row : {array-like, sparse matrix} of shape (1, n_items)
            One user's interactions.
        document : str or ndarray of int of shape (length,)
            The item's text (or index sequence, as in ``fit``).

        Returns
        -------
        words : ndarray of shape (n_distinct_words,)
            The document's words (vocabulary words, or indices when the model
            was fitted on sequences), largest contribution first; words
            outside the vocabulary are not read by the CNN and not listed.
        contributions : ndarray of shape (n_distinct_words,)
        """
        x = self._validate_for_scoring(x_row)
        if x.shape[0] != 1:
            raise ValueError(f"x_row must hold one user (1 row), got {x.shape[0]} rows.")
        if isinstance(document, str):
            documents = [document]
        else:
            documents = np.asarray(document)[None]
            if documents.ndim != 2 or not np.issubdtype(documents.dtype, np.integer):
                raise ValueError("document must be one text (a str) or one index sequence "
                                 "(1-D integers); call explain_text once per document.")
        self._check_has_cnn()
        seq = self._sequences(documents)[0]
        user = self._fold_in(x)[0].astype(np.float64)
        per_position = word_attributions(self.cnn_weights_, self._window_sizes(), seq, user)
        indices = seq[:len(per_position)]
        keep = indices > 0  # padding and unknown words: no embedding
        words, inverse = np.unique(indices[keep], return_inverse=True)
        contrib = np.bincount(inverse, weights=per_position[keep], minlength=len(words))
        order = np.argsort(-contrib, kind="stable")
        words = words[order]
        if self.sequencer_ is not None:
            words = self.sequencer_.vocabulary_[words - 1]
        return words, contrib[order]

    def _needs_interactions_for_similarity(self):
        # fitted with documents, an item without interactions has factors from its text
        # (the fitted CNN, not the parameter, which set_params may have changed since)
        return self.cnn_weights_ is None

    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None,
                  new_items=None):
        """Top-``k`` items for each user, optionally among new items known by their text.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_users, n_items)
            Interaction history of the users.
        k : int, default=10
            Number of items to return per user.
        exclude_seen : bool, default=True
            Never return an item the user has interacted with.
        exclude : {array-like, sparse matrix} of shape (n_users, n_items), default=None
            Further catalogue items never to return (non-zeros of each row).
        candidates : array-like of int, default=None
            Item indices to choose from; with ``new_items``, index
            ``n_items + j`` is the ``j``-th new item. None means all.
        new_items : array-like of str or ndarray of int, default=None
            Documents of items outside the catalogue, scored by the CNN
            factors of their text (:meth:`document_factors`) and returned as
            indices ``n_items + j``.

        Returns
        -------
        indices : ndarray of shape (n_users, min(k, n_candidates)), dtype int64
            ``n_candidates`` is ``n_items`` plus the new items. Padded with
            ``-1`` when fewer than ``k`` candidates remain.
        scores : ndarray of shape (n_users, min(k, n_candidates))
            Padded with ``-inf``.
        """
        if new_items is None:
            return super().recommend(X, k, exclude_seen=exclude_seen, exclude=exclude,
                                     candidates=candidates)
        check_k(k)
        X = self._validate_for_scoring(X)
        exclude = check_exclude(exclude, X.shape[0], self.n_features_in_, self)
        V = np.vstack([self.item_factors_, self.document_factors(new_items)])

        def batches():
            for rows in iter_row_batches(X.shape[0], row_batch_size(len(V))):
                X_batch = X[rows]
                scores = self.global_mean_ + self._fold_in(X_batch) @ V.T
                yield rows, X_batch, self._checked_scores(
                    rows, self._popularity_for_empty_rows(X_batch, scores))
                del scores  # one block held while the next is scored, not two

        return _top_k_of_batches(batches(), len(V), k, exclude_seen, candidates, exclude)


def _check_right_padded(seqs):
    """Refuse index sequences padded on the left (Keras's default).

    A document is read up to its last word (the windows past it are not
    pooled, so its output does not depend on how far it was padded); on the
    left, the padding would be read as words and change its factors.
    """
    if seqs.ndim == 2 and seqs.shape[1] > 1:
        leading = (seqs[:, 0] == 0) & seqs.any(axis=1)
        if leading.any():
            raise ValueError(
                f"{int(leading.sum())} sequence(s) start with padding (0) before their words "
                f"(e.g. row {int(np.flatnonzero(leading)[0])}): pad index sequences on the "
                "right, after the words (keras' pad_sequences(..., padding='post')).")
