"""
From a DataFrame of raw logs to recommendations in your own ids
===============================================================

Users arrive with event logs, not matrices: a user id, an item id, maybe a value and a
time. :class:`~sklearn_recsys.preprocessing.InteractionEncoder` turns the log into the
``(n_users, n_items)`` matrix every model takes, and maps recommended columns back to the
raw item ids. Users who were not in the training log get new rows and are scored by
fold-in, without refitting.
"""

import numpy as np
import pandas as pd

from sklearn_recsys import EASE, InteractionEncoder, make_interactions

# %%
# A log with string ids, built from the synthetic generator so that it has structure.
X_true = make_interactions(n_users=300, n_items=80, density=0.08, random_state=0).tocoo()
rng = np.random.default_rng(0)
log = pd.DataFrame({
    "user_id": [f"user{u:03d}" for u in X_true.row],
    "item_id": [f"sku-{i:04d}" for i in X_true.col],
    "timestamp": pd.Timestamp("2026-01-01") + pd.to_timedelta(
        rng.integers(0, 86_400 * 30, size=X_true.nnz), unit="s"),
})
log.head()

# %%
# Encode: repeated (user, item) events would be counted (``duplicates="auto"``; with a
# ``value_col`` of ratings, say ``duplicates="last"``).
encoder = InteractionEncoder(timestamp_col="timestamp")
X = encoder.fit_transform(log)
print(f"{X.shape[0]} users x {X.shape[1]} items, {X.nnz} interactions")

model = EASE(alpha=50.0).fit(X)

# %%
# New events arrive for a user the model has never seen and for a known one.
new = pd.DataFrame({
    "user_id": ["newcomer", "newcomer", "user007"],
    "item_id": ["sku-0003", "sku-0010", "sku-0042"],
    "timestamp": pd.Timestamp("2026-02-01"),
})
# Each user's whole history is the old log plus the new events; the encoder gives the
# fitted users' rows first and "newcomer" after them, and the model folds both in.
history = pd.concat([log, new])
X_all = encoder.transform(history)
user_ids = encoder.get_user_ids(history)
rows = np.flatnonzero(np.isin(user_ids, ["newcomer", "user007"]))
X_rows = X_all[rows]

indices, scores = model.recommend(X_rows, k=5)
for user, items in zip(user_ids[rows], encoder.inverse_transform(indices)):
    print(user, "->", list(items))
