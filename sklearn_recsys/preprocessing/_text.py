"""Item documents to padded integer word sequences, for text models (ConvMF), without TensorFlow."""

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

__all__ = ["TextSequencer"]


class TextSequencer(TransformerMixin, BaseEstimator):
    """Turn documents into fixed-length sequences of word indices.

    ``fit`` builds a vocabulary from the documents' words, keeping words that
    appear in at least ``min_df`` and at most ``max_df`` of the documents,
    then the ``max_features`` most frequent of those by document frequency
    (ties by word); ConvMF (Kim et al. 2016) uses 8,000 words, ``max_df=0.5``
    and sequences of 300 words. ``transform`` maps each document to the
    indices of its in-vocabulary words, in order, truncated or right-padded
    with 0 to ``max_length``; index ``j + 1`` is ``vocabulary_[j]`` (0 is
    padding; out-of-vocabulary words are dropped). Tokenisation is
    scikit-learn's :class:`~sklearn.feature_extraction.text.CountVectorizer`
    analyzer, so the pipeline runs without TensorFlow. Documents may come
    from any iterable, a generator included: each method reads its input
    once (``fit_transform`` too). A vocabulary left empty by ``min_df``,
    ``max_df`` and ``stop_words`` is an error, since every sequence would be
    padding only.

    Parameters
    ----------
    max_features : int, default=8000
        Vocabulary size.
    max_length : int, default=300
        Length of every output sequence.
    min_df : int, default=1
        Smallest number of documents a kept word appears in.
    max_df : float, default=0.5
        Largest share of documents a kept word appears in (drops stop words).
    lowercase : bool, default=True
        Lowercase before tokenising.
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"
        Regular expression of a word.
    stop_words : {"english"} or None, default=None
        Built-in English stop list, or none.

    Attributes
    ----------
    vocabulary_ : ndarray of str of shape (n_words,)
        Kept words; word ``vocabulary_[j]`` has index ``j + 1``.
    document_frequency_ : ndarray of shape (n_words,)
        Number of training documents containing each kept word.

    Examples
    --------
    >>> from sklearn_recsys.preprocessing import TextSequencer
    >>> docs = ["deep learning for recommendation", "matrix factorization",
    ...         "deep matrix factorization for recommendation"]
    >>> seq = TextSequencer(max_length=5, max_df=1.0).fit(docs)
    >>> list(seq.vocabulary_)
    ['deep', 'factorization', 'for', 'matrix', 'recommendation', 'learning']
    >>> seq.transform(["deep deep learning", "unknown words only"])
    array([[1, 1, 6, 0, 0],
           [0, 0, 0, 0, 0]])
    """

    _parameter_constraints: dict = {
        "max_features": [Interval(Integral, 1, None, closed="left")],
        "max_length": [Interval(Integral, 1, None, closed="left")],
        "min_df": [Interval(Integral, 1, None, closed="left")],
        "max_df": [Interval(Real, 0, 1, closed="right")],
        "lowercase": ["boolean"],
        "token_pattern": [str],
        "stop_words": [StrOptions({"english"}), None],
    }

    def __init__(self, *, max_features=8000, max_length=300, min_df=1, max_df=0.5,
                 lowercase=True, token_pattern=r"(?u)\b\w\w+\b", stop_words=None):
        self.max_features = max_features
        self.max_length = max_length
        self.min_df = min_df
        self.max_df = max_df
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.stop_words = stop_words

    def _analyzer(self):
        return CountVectorizer(lowercase=self.lowercase, token_pattern=self.token_pattern,
                               stop_words=self.stop_words).build_analyzer()

    @staticmethod
    def _check_documents(X):
        """The documents as a list: read once, so a one-shot iterator is consumed once."""
        if isinstance(X, (str, Mapping)) or not hasattr(X, "__iter__"):
            raise TypeError(
                "TextSequencer expects an iterable of documents (one string per "
                f"item), got {type(X).__name__}."
            )
        # iterating a DataFrame gives its column names, a 2-D array its rows: one
        # column is the documents, more is refused rather than read as text
        shape = getattr(X, "shape", None)
        if shape is not None and len(shape) == 2:
            if shape[1] != 1:
                raise TypeError(
                    f"TextSequencer expects one document per item, got a {type(X).__name__} "
                    f"of {shape[1]} columns: pass the column of texts (e.g. df['title']).")
            X = X.iloc[:, 0] if hasattr(X, "iloc") else np.asarray(X)[:, 0]
        elif shape is not None and len(shape) != 1:
            raise TypeError(f"TextSequencer expects one document per item, got an array of "
                            f"shape {shape}.")
        docs = list(X)
        bad = [type(d).__name__ for d in docs if not isinstance(d, str)]
        if bad:
            raise TypeError(f"Every document must be a str; got {bad[0]} (use '' for none).")
        return docs

    def fit(self, X, y=None):
        """Learn the vocabulary.

        Parameters
        ----------
        X : iterable of str
            Documents, one per item.
        y : None
            Ignored.

        Returns
        -------
        self : object

        Raises
        ------
        ValueError
            If no word is left after ``min_df``, ``max_df`` and
            ``stop_words``: every sequence would be padding only.
        """
        self._validate_params()
        docs = self._check_documents(X)
        if not docs:
            raise ValueError("TextSequencer.fit needs at least one document.")
        analyze = self._analyzer()
        df = {}
        for doc in docs:
            for word in set(analyze(doc)):
                df[word] = df.get(word, 0) + 1
        limit = self.max_df * len(docs)
        kept = [(w, n) for w, n in df.items() if self.min_df <= n <= limit]
        kept.sort(key=lambda wn: (-wn[1], wn[0]))
        kept = kept[: self.max_features]
        if not kept:
            # every sequence would be all padding: a text model fitted on them
            # learns nothing from the text, without a word (CountVectorizer
            # raises here too)
            raise ValueError(
                f"No word is left in the vocabulary of the {len(docs)} "
                f"document(s): {len(df)} distinct word(s), none in at least "
                f"min_df={self.min_df} and at most max_df={self.max_df} of the "
                "documents (after stop words). Lower min_df or raise max_df "
                "(with few documents, max_df=1.0 keeps the words they share)."
            )
        self.vocabulary_ = np.array([w for w, _ in kept], dtype=object)
        self.document_frequency_ = np.array([n for _, n in kept], dtype=np.int64)
        self._index = {w: j + 1 for j, w in enumerate(self.vocabulary_)}
        return self

    def fit_transform(self, X, y=None):
        """Learn the vocabulary and return the documents' word-index sequences.

        Equivalent to ``fit(X).transform(X)``, but ``X`` is read only once,
        so a generator or other one-shot iterable gives its sequences too
        (``fit`` followed by ``transform`` would find it exhausted).

        Parameters
        ----------
        X : iterable of str
            Documents, one per item.
        y : None
            Ignored.

        Returns
        -------
        sequences : ndarray of shape (n_documents, max_length), dtype int64
            In-vocabulary word indices in order, 0-padded on the right.
        """
        self._validate_params()  # a bad parameter is named before the documents are read
        docs = self._check_documents(X)
        return self.fit(docs).transform(docs)

    def transform(self, X):
        """Word-index sequences of documents.

        Parameters
        ----------
        X : iterable of str
            Documents.

        Returns
        -------
        sequences : ndarray of shape (n_documents, max_length), dtype int64
            In-vocabulary word indices in order, 0-padded on the right.
        """
        check_is_fitted(self)
        docs = self._check_documents(X)
        analyze = self._analyzer()
        out = np.zeros((len(docs), self.max_length), dtype=np.int64)
        for i, doc in enumerate(docs):
            ids = [self._index[w] for w in analyze(doc) if w in self._index]
            ids = ids[: self.max_length]
            out[i, : len(ids)] = ids
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        # the output's dtype is the step's own (token ids, the dtype parameter), not the input's
        tags.transformer_tags.preserves_dtype = []
        return tags
