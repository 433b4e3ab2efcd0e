"""The chain of models a recommender scores through (pipelines' last steps, wrappers' models)."""

__all__ = ["scoring_path"]


def scoring_path(estimator):
    """Yield ``estimator``, then each model it scores through, outermost first.

    A pipeline scores through its last step; a wrapper (a re-ranker, a
    ``FrozenEstimator``, an approximate search) through its ``estimator``;
    recursively, until a model that wraps none.
    """
    while estimator is not None:
        yield estimator
        if hasattr(estimator, "steps"):
            estimator = estimator.steps[-1][1]
        else:
            inner = getattr(estimator, "estimator", None)
            estimator = inner if hasattr(inner, "get_params") else None
