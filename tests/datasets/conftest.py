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
    # nor are they the releases' bytes (nor need they end as the releases do)
    monkeypatch.setattr(_public, "_RELEASE_BYTES", {})
    monkeypatch.setattr(_public, "_ENDS_WITH_NEWLINE", {})
    return table
