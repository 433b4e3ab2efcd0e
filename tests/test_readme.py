"""The README's examples run as written, each in seconds (bounded generously here).

Every ``python`` block is executed, and the command-line example (the ``bash`` block
that calls ``fit``) is run through ``main``; ``../shared/data`` is replaced by the
folder the real datasets were found in, and blocks that need them are skipped
without it.
"""

import re
import shlex
import time
from pathlib import Path

import pytest

from sklearn_recsys.__main__ import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
BASH_BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.S)
CLI_BLOCK = next(b for b in BASH_BLOCKS if "sklearn_recsys fit" in b)
# The examples take seconds (ConvMF's about 10 s, down from 5 minutes); the bound
# leaves room for a loaded 2-core CI machine whose first run also compiles the
# numba kernels (cached afterwards), and still catches a return to minutes
TIME_LIMIT = 120.0


def _with_data(code, shared_data):
    return code.replace("../shared/data", str(shared_data))


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)),
                         ids=[b.splitlines()[0] for b in PYTHON_BLOCKS])
def test_python_block_runs(index, request, tmp_path, monkeypatch):
    code = PYTHON_BLOCKS[index]
    if "import pandas" in code:
        pytest.importorskip("pandas")
    if "ConvMF" in code:
        pytest.importorskip("tensorflow")
    if "../shared/data" in code:
        code = _with_data(code, request.getfixturevalue("shared_data"))
    monkeypatch.chdir(tmp_path)  # anything a block writes stays out of the checkout
    start = time.perf_counter()
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "readme"})
    assert time.perf_counter() - start < TIME_LIMIT


def _commands(block):
    """The ``python -m sklearn_recsys`` commands of a bash block, continuation lines joined."""
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line)
        if words[:3] == ["python", "-m", "sklearn_recsys"]:
            yield words[3:]


def test_command_line_block_runs(shared_data, tmp_path, monkeypatch, capsys):
    commands = list(_commands(_with_data(CLI_BLOCK, shared_data)))
    assert [c[0] for c in commands] == ["fit", "recommend"]
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    for argv in commands:
        assert main(argv) == 0, capsys.readouterr().err
    assert time.perf_counter() - start < TIME_LIMIT
    lines = (tmp_path / "recs.csv").read_text().splitlines()
    assert lines[0] == "user,rank,item,score"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        [user, str(rank)] for user in ("1", "7") for rank in range(1, 6)]
