"""
GridSearchCV over a Pipeline with a ranking scorer
==================================================

Every model is a scikit-learn estimator, so a weighting step and a recommender form a
:class:`~sklearn.pipeline.Pipeline`, and :class:`~sklearn.model_selection.GridSearchCV`
tunes both. The folds split *users*; the ranking scorer holds out 20% of each validation
user's interactions (fixed seed) and measures how well the rest predicts them.
"""

from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from sklearn_recsys import ImplicitALS, make_interactions
from sklearn_recsys.metrics import get_ranking_scorer
from sklearn_recsys.model_selection import strong_generalization_split
from sklearn_recsys.preprocessing import BM25Weighting

X = make_interactions(n_users=1500, n_items=300, density=0.03, random_state=0)
X_train, X_in, X_out = strong_generalization_split(X, random_state=0)

pipe = make_pipeline(BM25Weighting(), ImplicitALS(n_components=32, max_iter=8,
                                                  random_state=0))
search = GridSearchCV(
    pipe,
    {"bm25weighting__k1": [1.2, 100.0],
     "implicitals__alpha": [1.0, 10.0],
     "implicitals__confidence_scale": [1.0, 10.0]},
    scoring=get_ranking_scorer("ndcg@10"),
    cv=KFold(3, shuffle=True, random_state=0),
)
search.fit(X_train)
print("best parameters:", search.best_params_)
print(f"validation NDCG@10: {search.best_score_:.4f}")

# %%
# The refitted pipeline scores users it has never seen, from their fold-in rows.
test_ndcg = get_ranking_scorer("ndcg@10")(search.best_estimator_, X_in, X_out)
print(f"test-user NDCG@10: {test_ndcg:.4f}")
