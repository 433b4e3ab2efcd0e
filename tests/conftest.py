"""Shared fixtures: where the real datasets are, and skipping when they are absent."""

import os
from pathlib import Path

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
