"""Recommender systems as scikit-learn estimators.

Every model learns from a user-item matrix ``X`` of shape
``(n_users, n_items)`` and scores, ranks and embeds any user given that
user's row. Public names are importable from the top level; submodules load
on first use so that ``import sklearn_recsys`` stays fast and never imports
TensorFlow.
"""

import importlib

__version__ = "0.1.0.dev0"

# public name -> submodule that defines it
_LAZY = {
    "RecommenderMixin": "base",
    "MostPopular": "baselines",
    "ItemKNN": "baselines",
    "EASE": "linear",
    "MultiBehaviorEASE": "linear",
    "SparseEASE": "linear",
    "ImplicitALS": "matrix_factorization",
    "BPR": "matrix_factorization",
    "ExplicitMF": "matrix_factorization",
    "NMF": "matrix_factorization",
    "HybridMF": "matrix_factorization",
    "MultiTaskMF": "matrix_factorization",
    "AutoRec": "neural",
    "CDAE": "neural",
    "ConvMF": "neural",
    "MultDAE": "neural",
    "MultVAE": "neural",
    "MultiTaskDAE": "neural",
    "SASRec": "neural",
    "GRU4Rec": "neural",
    "StackingRecommender": "ensemble",
    "BM25Weighting": "preprocessing",
    "TfidfWeighting": "preprocessing",
    "InteractionEncoder": "preprocessing",
    "RatingBinarizer": "preprocessing",
    "TextSequencer": "preprocessing",
    "make_interactions": "datasets",
    "fetch_movielens": "datasets",
    "fetch_lastfm_2k": "datasets",
    "fetch_citeulike_a": "datasets",
    "fetch_taobao": "datasets",
    "ndcg_at_k": "metrics",
    "recall_at_k": "metrics",
    "precision_at_k": "metrics",
    "map_at_k": "metrics",
    "mrr_at_k": "metrics",
    "hit_rate_at_k": "metrics",
    "auc": "metrics",
    "catalog_coverage": "metrics",
    "make_ranking_scorer": "metrics",
    "get_ranking_scorer": "metrics",
    "get_ranking_scorer_names": "metrics",
    "make_rating_scorer": "metrics",
    "arp_at_k": "metrics",
    "aplt_at_k": "metrics",
    "long_tail_coverage": "metrics",
    "gini_index": "metrics",
    "novelty_at_k": "metrics",
    "miscalibration_at_k": "metrics",
    "ndcg_at_k_by_popularity": "metrics",
    "recall_at_k_by_popularity": "metrics",
    "ips_ndcg_at_k": "metrics",
    "ips_recall_at_k": "metrics",
    "make_beyond_accuracy_scorer": "metrics",
    "popularity_buckets": "metrics",
    "holdout_split": "model_selection",
    "leave_k_out_split": "model_selection",
    "leave_last_out_split": "model_selection",
    "user_train_test_split": "model_selection",
    "strong_generalization_split": "model_selection",
}

_SUBMODULES = [
    "base",
    "baselines",
    "dask",
    "datasets",
    "ensemble",
    "linear",
    "matrix_factorization",
    "metrics",
    "model_selection",
    "neighbors",
    "neural",
    "pipeline",
    "preprocessing",
    "reranking",
    "utils",
]

__all__ = sorted(_LAZY) + _SUBMODULES


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
