"""Ensembles of recommenders: several models' candidates ranked by a learned model.

:class:`StackingRecommender` is a two-stage recommender: base recommenders
propose candidates and a classifier, trained on interactions held out from
them, ranks the candidates from the base models' scores and the user's and
items' interactions in every behaviour.
"""

from ._stacking import StackingRecommender

__all__ = ["StackingRecommender"]
