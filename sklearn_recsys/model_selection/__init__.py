"""Splitters of interaction matrices for offline evaluation."""

from ._split import (
    holdout_split,
    leave_k_out_split,
    leave_last_out_split,
    strong_generalization_split,
    user_train_test_split,
)

__all__ = [
    "holdout_split",
    "leave_k_out_split",
    "leave_last_out_split",
    "strong_generalization_split",
    "user_train_test_split",
]
