"""
cross_validate with several ranking metrics
===========================================

:func:`~sklearn.model_selection.cross_validate` takes a dict of ranking scorers and
reports each per fold, for any recommender: here BPR against the popularity baseline.
"""

import numpy as np
from sklearn.model_selection import KFold, cross_validate

from sklearn_recsys import BPR, MostPopular, make_interactions
from sklearn_recsys.metrics import get_ranking_scorer

X = make_interactions(n_users=1200, n_items=250, density=0.04, random_state=1)
scoring = {name: get_ranking_scorer(name) for name in ("ndcg@10", "recall@20", "auc")}
cv = KFold(4, shuffle=True, random_state=0)

for model in (MostPopular(), BPR(n_components=32, max_iter=40, random_state=0)):
    res = cross_validate(model, X, scoring=scoring, cv=cv)
    shown = "  ".join(f"{m}={np.mean(res[f'test_{m}']):.4f}+-{np.std(res[f'test_{m}']):.4f}"
                      for m in scoring)
    print(f"{type(model).__name__:12s} {shown}")
