"""Packaging: metadata ready to publish, one version, install advice that works from a checkout.

The wheel itself is built and installed in a fresh environment by ``.ci/run``
(it needs the network for the build backend); these checks read the files.
"""

import ast
import importlib
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

import sklearn_recsys

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]

# a requirement of this project by name (with or without extras): it is not on
# PyPI, so such advice fails as written; from a checkout ".[extra]" works
_UNPUBLISHED = re.compile(
    r"pip\s+install\s+(?:-[-\w]+\s+)*[\"']?sklearn[_-]recsys(?:\[|[\"'\s`]|$)"
    r"|[\"']sklearn[_-]recsys\[")
_CHECKOUT_EXTRAS = re.compile(r"\.\[([\w\s,-]+)\]")


def _advice_files():
    """Every file that tells a user what to install."""
    files = [ROOT / "README.md", ROOT / ".ci" / "run"]
    files += sorted((ROOT / "docs").glob("*.rst"))
    files += sorted((ROOT / "docs" / "examples").glob("*.py"))
    files += sorted((ROOT / "sklearn_recsys").rglob("*.py"))
    files += sorted((ROOT / "benchmarks").glob("*.py"))
    return files


def test_unpublished_name_pattern_catches_the_old_advice():
    for bad in ['pip install "sklearn_recsys[tensorflow]"', "pip install sklearn-recsys",
                "`pip install -U sklearn_recsys`", "'sklearn_recsys[docs]'"]:
        assert _UNPUBLISHED.search(bad), bad
    for good in ['pip install ".[tensorflow]"', "pip install dist/sklearn_recsys-*.whl",
                 "pip install -e .", "from a checkout of sklearn_recsys, pip install"]:
        assert not _UNPUBLISHED.search(good), good


def test_install_advice_works_from_a_checkout():
    extras = set(PROJECT["optional-dependencies"])
    for path in _advice_files():
        # joined across line breaks, as a reader (and a wrapped sentence) sees it
        text = re.sub(r"\s+", " ", path.read_text())
        match = _UNPUBLISHED.search(text)
        assert match is None, f"{path.relative_to(ROOT)}: {match.group(0)!r} is not on PyPI"
        for group in _CHECKOUT_EXTRAS.findall(text):
            named = {e.strip() for e in group.split(",")}
            assert named <= extras, (path.relative_to(ROOT), named - extras)


def test_every_extra_is_documented_and_used():
    install = (ROOT / "docs" / "install.rst").read_text()
    for extra in PROJECT["optional-dependencies"]:
        assert f"``{extra}``" in install, f"docs/install.rst does not describe [{extra}]"


def test_metadata_ready_to_publish():
    assert PROJECT["name"] == "sklearn_recsys"
    assert PROJECT["readme"] == "README.md" and (ROOT / "README.md").is_file()
    assert PROJECT["license"] == "BSD-3-Clause" and (ROOT / "LICENSE").is_file()
    assert PROJECT["description"] and PROJECT["keywords"] and PROJECT["authors"]
    minimum = tuple(int(p) for p in PROJECT["requires-python"].lstrip(">=").split("."))
    pythons = [tuple(int(p) for p in c.rsplit(" ", 1)[1].split("."))
               for c in PROJECT["classifiers"]
               if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert pythons and min(pythons) == minimum
    # PEP 639: with a license expression, License :: classifiers are refused
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]
    assert any(c.startswith("Development Status ::") for c in PROJECT["classifiers"])


def test_version_is_written_once():
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "sklearn_recsys.__version__"
    setup_cfg = (ROOT / "setup.cfg").read_text()
    assert "[metadata]" not in setup_cfg and "[options]" not in setup_cfg
    assignments = [path for path in (ROOT / "sklearn_recsys").rglob("*.py")
                   if re.search(r"^__version__\s*=", path.read_text(), re.M)]
    assert assignments == [ROOT / "sklearn_recsys" / "__init__.py"]
    # PEP 440, as the wheel's file name and metadata need it
    assert re.fullmatch(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?",
                        sklearn_recsys.__version__)


def test_console_script_is_the_cli_main(capsys):
    target = PROJECT["scripts"]["sklearn-recsys"]
    module, _, name = target.partition(":")
    main = getattr(importlib.import_module(module), name)
    assert main(["--version"]) == 0  # the script exits with main's return value
    assert capsys.readouterr().out.strip() == f"sklearn_recsys {sklearn_recsys.__version__}"


def _module_level_imports(path):
    """Top-level packages imported when the module loads (not those imported inside functions)."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_module_level_import_is_a_declared_dependency():
    # optional dependencies (tensorflow, pandas, pyarrow, matplotlib) are imported
    # inside the functions that need them, so a plain install imports everything
    declared = {re.split(r"[<>=!;\s\[]", req, maxsplit=1)[0].lower().replace("_", "-")
                for req in PROJECT["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    for path in (ROOT / "sklearn_recsys").rglob("*.py"):
        for name in _module_level_imports(path) - set(sys.stdlib_module_names):
            if name == "sklearn_recsys":
                continue
            dists = {d.lower().replace("_", "-") for d in distributions.get(name, [name])}
            assert dists & declared, (f"{path.relative_to(ROOT)} imports {name} at module "
                                      f"level, which pyproject.toml does not declare")


def test_minimum_versions_are_the_declared_floors():
    """.ci/run-minimum tests the floors of pyproject.toml: each pinned version is the
    floor of every requirement of that name (core, test and the other extras but docs
    and benchmark, which it does not install), where it
    has one (scipy 1.11.0 is yanked, dask-ml has no 2024.4.0: those pins are above)."""
    pins = {}
    for line in (ROOT / ".ci" / "minimum-versions.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = tuple(int(p) for p in version.split("."))
    above_floor = {"scipy": (1, 11, 1), "dask-ml": (2024, 4, 4)}
    requirements = PROJECT["dependencies"] + [
        r for extra, reqs in PROJECT["optional-dependencies"].items()
        if extra not in ("benchmark", "docs") for r in reqs]
    floors = {}
    for requirement in requirements:
        found = re.match(r"\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9.]+)", requirement)
        if found and "platform_machine != " not in requirement:  # tensorflow-cpu's line
            name = found.group(1).lower()
            floor = tuple(int(p) for p in found.group(2).split("."))
            floors[name] = max(floors.get(name, ()), floor)
    assert floors, "no floor read from pyproject.toml"
    for name, floor in floors.items():
        assert name in pins, f"{name} >= {floor} has no pin in .ci/minimum-versions.txt"
        assert pins[name] == above_floor.get(name, floor) or pins[name][:len(floor)] == floor, (
            name, floor, pins[name])
