"""Non-learned and neighbourhood baselines: most-popular and item-KNN."""

from ._knn import ItemKNN
from ._popular import MostPopular

__all__ = ["ItemKNN", "MostPopular"]
