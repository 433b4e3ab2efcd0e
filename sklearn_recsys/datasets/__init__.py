"""Synthetic interaction data and loaders of public recommender datasets."""

from ._documents import item_documents
from ._public import (
    fetch_citeulike_a,
    fetch_lastfm_2k,
    fetch_movielens,
    fetch_taobao,
    get_data_home,
)
from ._synthetic import make_interactions

__all__ = [
    "fetch_citeulike_a",
    "fetch_lastfm_2k",
    "fetch_movielens",
    "fetch_taobao",
    "get_data_home",
    "item_documents",
    "make_interactions",
]
