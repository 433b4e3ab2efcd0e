"""The chain of models a recommender scores through (pipelines' last steps, wrappers' models)."""

__all__ = ["holds_a_frozen_model", "scoring_model", "scoring_path", "served_estimator"]


def scoring_path(estimator):
    """Yield ``estimator``, then each model it scores through, outermost first.

    A pipeline scores through its last step; a wrapper (a re-ranker, a
    ``FrozenEstimator``, an approximate search) through its fitted
    ``estimator_`` once fitted, else through its ``estimator``; a fitted
    search through its ``best_estimator_``; recursively, until a model that
    wraps none. A fitted wrapper scores through the clone it fitted, not its
    template, which ``set_params`` may since have changed in place
    (``estimator__<step>=...``).
    """
    while estimator is not None:
        yield estimator
        # the instance's own attributes: a FrozenEstimator forwards any other
        # lookup to the model it wraps, which would skip a level
        attributes = getattr(estimator, "__dict__", {})
        if "steps" in attributes:
            estimator = attributes["steps"][-1][1]
            continue
        estimator = next((attributes[name] for name in ("best_estimator_", "estimator_",
                                                        "estimator")
                          if hasattr(attributes.get(name), "get_params")), None)


def served_estimator(estimator):
    """``estimator`` without the wrappers that serve another estimator unchanged.

    A fitted search scores, recommends and predicts by its ``best_estimator_``
    and a ``FrozenEstimator`` by the model it wraps: the scorers judge what
    those serve (a pipeline's raw history, its last step's rating
    predictions). Any other estimator, a re-ranker or a search fitted with
    ``refit=False`` included, is returned as it is.
    """
    from sklearn.frozen import FrozenEstimator

    while True:
        # the instance's own attributes (a FrozenEstimator forwards any other lookup)
        attributes = getattr(estimator, "__dict__", {})
        if isinstance(estimator, FrozenEstimator):
            estimator = attributes["estimator"]
        elif hasattr(attributes.get("best_estimator_"), "get_params"):
            estimator = attributes["best_estimator_"]
        else:
            return estimator


def scoring_model(estimator):
    """The model at the end of :func:`scoring_path`: the one whose scores are served."""
    for model in scoring_path(estimator):
        pass
    return model


def holds_a_frozen_model(estimator):
    """Whether the model that scores, ``estimator`` or one it scores through, is frozen.

    A ``sklearn.frozen.FrozenEstimator``'s ``fit`` is a no-op: the model was fitted
    on other data. Only the scoring path counts: a frozen preprocessing step (a
    binarizer fitted elsewhere) learns nothing from the data.
    """
    from sklearn.frozen import FrozenEstimator

    return any(isinstance(model, FrozenEstimator) for model in scoring_path(estimator))
