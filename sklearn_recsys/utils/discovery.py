"""Discovery of the public estimators of the package (as sklearn.utils.discovery)."""

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator

__all__ = ["all_estimators"]

# Subpackages whose import needs an optional dependency are listed with it;
# they are skipped when it is missing.
_OPTIONAL = {}


def all_estimators():
    """All public estimator classes of :mod:`sklearn_recsys` that build without arguments.

    Meta-estimators that need others to build (the recommending
    :class:`~sklearn_recsys.pipeline.Pipeline`) are left out, as
    scikit-learn's own common tests treat them apart.

    Walks every public submodule, so a new model is picked up by the
    package's test suite without registering it anywhere.

    Returns
    -------
    estimators : list of (name, class) tuples
        Sorted by name.
    """
    import sklearn_recsys

    found = {}
    for info in pkgutil.walk_packages(sklearn_recsys.__path__, "sklearn_recsys."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]) or "tests" in parts:
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            if parts[1] in _OPTIONAL:
                continue
            raise
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, BaseEstimator)
                and not name.startswith("_")
                and cls.__module__.startswith("sklearn_recsys.")
                and not inspect.isabstract(cls)
                and not _needs_arguments(cls)
            ):
                found[name] = cls
    return sorted(found.items())


def _needs_arguments(cls):
    return any(p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
               and p.kind is not p.VAR_POSITIONAL and p.name != "self"
               for p in inspect.signature(cls.__init__).parameters.values())
