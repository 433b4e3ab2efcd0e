"""Every estimator parameter is in the vocabulary table of docs/parameters.rst."""

import re
from pathlib import Path

import pytest

from sklearn_recsys.utils import all_estimators

TABLE = Path(__file__).resolve().parents[1] / "docs" / "parameters.rst"


def _documented_names():
    text = TABLE.read_text()
    names = set()
    for row in re.findall(r"^   \* - (.+)$", text, flags=re.M):
        names.update(re.findall(r"``(\w+)``", row))
    return names


def test_table_lists_the_shared_names():
    names = _documented_names()
    assert {"alpha", "validation_fraction", "validation_holdout", "tol", "batch_size"} <= names


@pytest.mark.parametrize("name, Estimator", all_estimators())
def test_every_parameter_is_in_the_vocabulary(name, Estimator):
    missing = sorted(set(Estimator().get_params()) - _documented_names())
    assert missing == [], (
        f"{name} has parameters not in docs/parameters.rst: {missing}; add them to the "
        "table (or use the name the table already has for that meaning)."
    )


def test_one_meaning_per_share():
    # the drifting names of before: gone from every estimator
    retired = {"lambda_u", "lambda_v", "learning_rate", "missing", "hidden_size", "holdout",
               "test_size"}
    for name, Estimator in all_estimators():
        assert not (set(Estimator().get_params()) & retired), name
