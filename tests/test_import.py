"""Importing the package is fast and loads no optional dependency."""

import subprocess
import sys


def test_import_loads_no_tensorflow_and_no_submodule():
    code = (
        "import sys, time; t = time.perf_counter(); import sklearn_recsys; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('tensorflow', 'keras', 'pandas', 'sklearn', 'sklearn_recsys.linear') "
        "if m in sys.modules]; print(heavy, dt)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy, seconds = out.stdout.rsplit(" ", 1)
    assert heavy == "[]", heavy
    assert float(seconds) < 1.0


def test_lazy_top_level_names():
    import sklearn_recsys

    assert sklearn_recsys.EASE.__name__ == "EASE"
    assert callable(sklearn_recsys.ndcg_at_k)
    assert set(sklearn_recsys.__all__) >= {"EASE", "ItemKNN", "MostPopular", "make_ranking_scorer"}
    for name in sklearn_recsys.__all__:
        getattr(sklearn_recsys, name)
