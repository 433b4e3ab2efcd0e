"""Re-ranking meta-estimators: trade a recommender's accuracy for exposure or calibration.

:class:`XQuADReranker` promotes long-tail items (Abdollahpouri et al. 2019);
:class:`CalibratedReranker` matches each list's category mix to the user's
history (Steck 2018). Both wrap any recommender, re-rank its best unseen
items greedily with one ``tradeoff`` parameter, and return the new order
through ``decision_function`` and ``recommend``, so ``GridSearchCV`` tunes
them with the scorers of :mod:`sklearn_recsys.metrics`.
"""

from ._greedy import CalibratedReranker, XQuADReranker

__all__ = ["XQuADReranker", "CalibratedReranker"]
