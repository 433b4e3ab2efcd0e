"""Ranking and beyond-accuracy metrics over sparse held-out interactions, and their scorers."""

from ._beyond_accuracy import (
    aplt_at_k,
    arp_at_k,
    gini_index,
    ips_ndcg_at_k,
    ips_recall_at_k,
    long_tail_coverage,
    miscalibration_at_k,
    ndcg_at_k_by_popularity,
    novelty_at_k,
    popularity_buckets,
    recall_at_k_by_popularity,
)
from ._ranking import (
    auc,
    catalog_coverage,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from ._rating import make_rating_scorer
from ._scorer import (
    get_ranking_scorer,
    get_ranking_scorer_names,
    make_beyond_accuracy_scorer,
    make_ranking_scorer,
)

__all__ = [
    "aplt_at_k",
    "arp_at_k",
    "auc",
    "catalog_coverage",
    "get_ranking_scorer",
    "get_ranking_scorer_names",
    "gini_index",
    "hit_rate_at_k",
    "ips_ndcg_at_k",
    "ips_recall_at_k",
    "long_tail_coverage",
    "make_beyond_accuracy_scorer",
    "make_ranking_scorer",
    "make_rating_scorer",
    "map_at_k",
    "miscalibration_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "ndcg_at_k_by_popularity",
    "novelty_at_k",
    "popularity_buckets",
    "precision_at_k",
    "recall_at_k",
    "recall_at_k_by_popularity",
]
