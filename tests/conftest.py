"""Shared fixtures: where the real datasets are (skipping when they are absent), and a
count-valued matrix for the explanation tests."""

import os
from pathlib import Path

import numpy as np
import pytest


def _shared_data():
    env = os.environ.get("SKLEARN_RECSYS_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve().parent
    candidates += [here.parent.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for path in candidates:
        if (path / "ml-100k" / "u.data").is_file():
            return path
    return None


SHARED_DATA = _shared_data()


@pytest.fixture(scope="session")
def shared_data():
    if SHARED_DATA is None:
        pytest.skip(
            "real datasets not found: set SKLEARN_RECSYS_SHARED_DATA to a folder "
            "holding ml-100k/, ml-latest-small/, hetrec2011-lastfm-2k/, citeulike-a/"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def counts():
    """Count-valued interactions (1..5), 200 users x 50 items: an explanation must read the
    user's values, which 0/1 data cannot show."""
    from sklearn_recsys import make_interactions

    X = make_interactions(n_users=200, n_items=50, density=0.1, random_state=2).tocsr()
    X.data = np.arange(1, X.nnz + 1) % 5 + 1.0
    return X
