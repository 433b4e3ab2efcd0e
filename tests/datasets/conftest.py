"""Fixtures of the dataset loader tests."""

import pytest

from sklearn_recsys.datasets import _public


@pytest.fixture
def release_rows(monkeypatch):
    """Empty the loaders' table of release row counts for the test's duration.

    Tiny hand-written copies have a few rows, not the releases' thousands; the
    table is private so that only a test can replace it. The (empty) table is
    returned: a test puts the counts it wants checked into it.
    """
    table = {}
    monkeypatch.setattr(_public, "_EXPECTED_ROWS", table)
    return table
