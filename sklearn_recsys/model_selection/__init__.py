"""Splitters of interaction matrices and the leaderboard of tuned recommenders."""

from ._leaderboard import compare_recommenders, format_leaderboard, plot_leaderboard
from ._split import (
    holdout_split,
    leave_k_out_split,
    leave_last_out_split,
    strong_generalization_split,
    user_train_test_split,
)

__all__ = [
    "compare_recommenders",
    "format_leaderboard",
    "holdout_split",
    "leave_k_out_split",
    "leave_last_out_split",
    "plot_leaderboard",
    "strong_generalization_split",
    "user_train_test_split",
]
