"""Ranking metrics over sparse held-out interactions, ranking scorers and rating scorers."""

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
from ._scorer import get_ranking_scorer, get_ranking_scorer_names, make_ranking_scorer

__all__ = [
    "auc",
    "catalog_coverage",
    "get_ranking_scorer",
    "get_ranking_scorer_names",
    "hit_rate_at_k",
    "make_ranking_scorer",
    "make_rating_scorer",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]
