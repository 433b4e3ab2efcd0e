"""
Predicting explicit ratings: ExplicitMF, I-AutoRec and a new user
==================================================================

Rating models predict the value a user would give an item
(:meth:`~sklearn_recsys.ExplicitMF.predict_ratings`); a rating scorer
(:func:`~sklearn_recsys.metrics.make_rating_scorer`) evaluates them on held-out
ratings, and plugs into :class:`~sklearn.model_selection.GridSearchCV` like any
scikit-learn scorer. Here both models are tuned or early-stopped on the
training ratings only, compared on held-out ones, and asked about a user who
was never seen in ``fit`` (folded in from a handful of ratings).

The ratings are synthetic: users and items with a few latent tastes plus
biases, rounded to 1-5 stars, 8% of them observed. That is matrix
factorization's own model, so ExplicitMF is expected to win here; on
MovieLens 100K I-AutoRec is the more accurate of the two (see the
benchmarks page).
"""

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_recsys import AutoRec, ExplicitMF
from sklearn_recsys.metrics import make_rating_scorer
from sklearn_recsys.model_selection import holdout_split

rng = np.random.default_rng(0)
n_users, n_items = 800, 300
U, V = rng.normal(0, 0.8, (n_users, 4)), rng.normal(0, 0.8, (n_items, 4))
bias_u, bias_i = rng.normal(0, 0.4, (n_users, 1)), rng.normal(0, 0.5, (1, n_items))
full = np.clip(np.rint(3.4 + bias_u + bias_i + U @ V.T + rng.normal(0, 0.5, (n_users, n_items))),
               1, 5)
X = sp.csr_matrix(full * (rng.random(full.shape) < 0.08))
X_train, X_test = holdout_split(X, holdout=0.2, random_state=0)
rmse = make_rating_scorer("rmse")

# %%
# Tune ExplicitMF's penalty by 3-fold cross-validation of the training ratings
# (the scorer folds each validation user in from their other ratings), and let
# AutoRec pick its epoch count on 10% of the training ratings.
search = GridSearchCV(ExplicitMF(n_components=8, random_state=0),
                      {"alpha": [0.03, 0.1, 0.3, 1.0]}, scoring=rmse,
                      cv=KFold(3, shuffle=True, random_state=0))
search.fit(X_train)
mf = search.best_estimator_
autorec = AutoRec(n_components=100, random_state=0).fit(X_train)

mean_only = np.sqrt(np.mean((X_test.data - X_train.data.mean()) ** 2))
results = {"training mean": mean_only,
           f"ExplicitMF (alpha={search.best_params_['alpha']})": -rmse(mf, X_train, X_test),
           "I-AutoRec": -rmse(autorec, X_train, X_test)}
for name, value in results.items():
    print(f"{name:28s} held-out RMSE {value:.4f}")

# %%
# A user who was not in ``fit`` rates five items; both models fold them in
# from that row alone and predict the rest, no refit needed.
new_user = rng.normal(0, 0.8, (1, 4))
truth = np.clip(np.rint(3.4 + bias_i + new_user @ V.T), 1, 5).ravel()
rated = rng.choice(n_items, 5, replace=False)
row = sp.csr_matrix((truth[rated], (np.zeros(5, int), rated)), shape=(1, n_items))
unrated = np.setdiff1d(np.arange(n_items), rated)
item_means = np.asarray(X_train.sum(axis=0)).ravel() / np.maximum(1, X_train.getnnz(axis=0))
predictions = {"item means": item_means[unrated],
               "ExplicitMF": mf.predict_ratings(row, items=unrated)[0],
               "I-AutoRec": autorec.predict_ratings(row, items=unrated)[0]}
for name, pred in predictions.items():
    print(f"new user, {name:10s} RMSE on the {len(unrated)} unrated items: "
          f"{np.sqrt(np.mean((pred - truth[unrated]) ** 2)):.4f}")

# %%
# Held-out RMSE of each model, and I-AutoRec's predictions against the true
# held-out ratings.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.barh(list(results), list(results.values()), color=["grey", "tab:blue", "tab:orange"])
ax1.set_xlabel("held-out RMSE (lower is better)")
rows = np.repeat(np.arange(X_test.shape[0]), np.diff(X_test.indptr))
pred = autorec.predict_ratings(X_train)[rows, X_test.indices]
ax2.boxplot([pred[X_test.data == r] for r in range(1, 6)])
ax2.set_xticks(range(1, 6), [str(r) for r in range(1, 6)])
ax2.set_xlabel("true held-out rating")
ax2.set_ylabel("I-AutoRec prediction")
fig.tight_layout()
plt.show()
