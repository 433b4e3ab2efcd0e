"""Lazy TensorFlow import for the neural models, with an actionable error when it is missing."""

import os

__all__ = ["import_tensorflow"]


def import_tensorflow():
    """Import and return the ``tensorflow`` module (only ever called inside ``fit``).

    Raises
    ------
    ImportError
        When TensorFlow is not installed, naming the extra that installs it.
    """
    # hide TF's CPU-instruction banner unless the user chose a level
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ImportError(
            "Training the neural models needs TensorFlow, which is not installed: "
            'pip install "sklearn_recsys[tensorflow]" (or tensorflow-cpu). A fitted '
            "model scores, recommends and pickles without it."
        ) from exc
    return tf
