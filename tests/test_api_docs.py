"""Every public name of the package is in the API reference, ``docs/api.rst``, and its
docstring documents its signature (numpydoc's validation, as scikit-learn's own tests do)."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import sklearn_recsys

API_RST = Path(__file__).resolve().parents[1] / "docs" / "api.rst"


def _documented_names(text):
    """Fully qualified names listed by api.rst's autosummary tables and autodoc directives."""
    names, module = set(), None
    in_autosummary = False
    for line in text.splitlines():
        stripped = line.strip()
        match = re.match(r"\.\. currentmodule:: (\S+)$", stripped)
        if match:
            module = match.group(1)
            continue
        match = re.match(r"\.\. auto(class|function):: (\S+)$", stripped)
        if match:
            target = match.group(2)
            names.add(target if "." in target else f"{module}.{target}")
            continue
        if stripped == ".. autosummary::":
            in_autosummary = True
            continue
        if in_autosummary:
            if not line.startswith("   ") and stripped:
                in_autosummary = False  # text after the table
            elif stripped and not stripped.startswith(":"):
                names.add(f"{module}.{stripped.lstrip('~')}")
    return names


def _resolve(qualified):
    """The object a documented dotted name stands for (module, then attributes)."""
    parts = qualified.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(qualified)


def _public_modules():
    """The package and every public (sub)module of it that declares ``__all__``."""
    modules = [sklearn_recsys]
    for info in pkgutil.walk_packages(sklearn_recsys.__path__, "sklearn_recsys."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "__all__"):
            modules.append(module)
    return modules


def _public_objects():
    """``(module.name, object)`` for each class and function of every ``__all__``."""
    for module in _public_modules():
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue  # a submodule: its own __all__ is checked
            yield f"{module.__name__}.{name}", obj


def test_parser_reads_tables_and_directives():
    text = """
.. currentmodule:: pkg.a

.. autosummary::
   :toctree: generated

   One
   ~Two.method

Prose after the table.

   Indented prose is not a name after a paragraph.

.. autoclass:: Three
.. autofunction:: pkg.b.four
"""
    assert _documented_names(text) == {"pkg.a.One", "pkg.a.Two.method", "pkg.a.Three",
                                       "pkg.b.four"}


def test_every_documented_name_exists():
    for qualified in sorted(_documented_names(API_RST.read_text())):
        _resolve(qualified)  # raises for a stale entry


def test_every_public_class_and_function_is_documented():
    documented = [_resolve(q) for q in _documented_names(API_RST.read_text())]
    # a name re-exported elsewhere (sklearn_recsys.EASE, utils.discovery.all_estimators)
    # is documented by the entry of the same object
    missing = [name for name, obj in _public_objects()
               if not any(obj is d for d in documented)]
    assert not missing, f"add to docs/api.rst: {missing}"


def test_every_method_beyond_the_contract_is_listed():
    # the class pages list every method, but a reader looks for explain or
    # predict_ratings on the API page itself (ImplicitALS.explain was missed)
    from sklearn_recsys.base import RecommenderMixin
    from sklearn_recsys.utils import all_estimators

    extra = {"explain", "similar_items", "predict_ratings", "document_factors", "recommend"}
    names = _documented_names(API_RST.read_text())
    where = {}  # class -> the names it is documented under
    for qualified in names:
        where.setdefault(_resolve(qualified), set()).add(qualified)
    for name, cls in all_estimators():
        methods = extra & set(dir(cls))
        if issubclass(cls, RecommenderMixin):
            # the contract's, on every model (explain: leave-one-out by default)
            methods -= {"recommend", "explain"}
        for method in methods:  # InteractionEncoder's raw-id calls too
            assert any(f"{q}.{method}" in names for q in where.get(cls, ())), (name, method)


# numpydoc's codes for a docstring that does not document what the signature takes
# or gives back: none documented (GL08), a parameter missing (PR01), unknown (PR02),
# out of order (PR03), without type (PR04) or description (PR07, PR10), no Returns
# or Yields section (RT01, YD01). Style codes (summary wording, section order) are not
# asserted: the package's summaries are noun phrases, as many of scikit-learn's.
_SIGNATURE_CODES = {"GL08", "PR01", "PR02", "PR03", "PR04", "PR07", "PR10", "RT01", "YD01"}


def _documented_callables():
    """Import paths of every public class and function and of each public method that
    the package defines on a public class (inherited ones once, from their first class)."""
    seen = set()
    for qualified, obj in _public_objects():
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield qualified
        if not inspect.isclass(obj):
            continue
        for name in sorted(dir(obj)):
            if name.startswith("_"):
                continue
            static = inspect.getattr_static(obj, name)
            member = static.fget if isinstance(static, property) else getattr(obj, name)
            if not callable(member) or isinstance(static, property):
                continue
            if not getattr(member, "__module__", "").startswith("sklearn_recsys"):
                continue  # scikit-learn's own (get_params, fit_transform, ...)
            if id(member) not in seen:
                seen.add(id(member))
                yield f"{qualified}.{name}"


def test_docstrings_document_the_signatures():
    validate = pytest.importorskip("numpydoc.validate").validate
    problems = []
    for path in _documented_callables():
        problems += [f"{path}: {code} {message}" for code, message in validate(path)["errors"]
                     if code in _SIGNATURE_CODES]
    assert not problems, "\n".join(problems)


def test_docstring_validation_catches_a_missing_parameter(monkeypatch):
    # the validation above reads these codes: a parameter left out of a real docstring
    # and a wrong order must be reported
    validate = pytest.importorskip("numpydoc.validate").validate
    from sklearn_recsys.metrics import _ranking

    doc = _ranking.ndcg_at_k.__doc__
    start = doc.index("    gain :")
    end = doc.index("\n\n", start)
    monkeypatch.setattr(_ranking.ndcg_at_k, "__doc__", doc[:start] + doc[end + 2:])
    codes = {code for code, _ in validate("sklearn_recsys.metrics.ndcg_at_k")["errors"]}
    assert "PR01" in codes
    monkeypatch.setattr(_ranking.ndcg_at_k, "__doc__", doc)
    assert not {code for code, _ in validate("sklearn_recsys.metrics.ndcg_at_k")["errors"]
                } & _SIGNATURE_CODES
