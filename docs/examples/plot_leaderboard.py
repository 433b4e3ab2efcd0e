"""
A leaderboard of recommenders, and quality against fit time
===========================================================

:func:`~sklearn_recsys.model_selection.compare_recommenders` is the runner behind
``python -m sklearn_recsys demo`` and the benchmarks: each model is tuned by
``GridSearchCV`` on training users, refitted, timed, and scored on held-out users.
"""

from sklearn_recsys import BPR, EASE, ImplicitALS, ItemKNN, MostPopular, make_interactions
from sklearn_recsys.model_selection import (
    compare_recommenders,
    format_leaderboard,
    plot_leaderboard,
)

X = make_interactions(n_users=1500, n_items=400, density=0.02, n_components=20,
                      random_state=0)
models = {
    "MostPopular": (MostPopular(), {}),
    "ItemKNN": (ItemKNN(), {"n_neighbors": [20, 100]}),
    "EASE": (EASE(), {"alpha": [10.0, 300.0]}),
    "ImplicitALS": (ImplicitALS(n_components=32, max_iter=8, random_state=0),
                    {"alpha": [1.0, 10.0]}),
    "BPR": (BPR(n_components=32, max_iter=30, random_state=0), {}),
}
rows = compare_recommenders(models, X, metrics=("ndcg@10", "recall@20"), verbose=False)
print(format_leaderboard(rows))

# %%
plot_leaderboard(rows, metric="ndcg@10")
