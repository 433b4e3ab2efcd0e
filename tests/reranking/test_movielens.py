"""The claims the docs make from benchmarks/bench_reranking.py (EASE re-ranked, ML-100K)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_reranking.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_reranking", _BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_reranking_trades_a_little_ndcg_for_exposure_and_calibration(shared_data):
    bench = _bench()
    settings = [s for s in bench.SETTINGS if s[1] != "binary"]
    rows = {(r["model"], r["tradeoff"]): r for r in bench.tradeoff_rows(shared_data, settings)}
    base = rows[("EASE", None)]
    xquad = [rows[("XQuADReranker", t)] for t in (0.25, 0.5, 0.75, 0.9)]
    # the long tail's share of the lists grows with the trade-off, accuracy falls
    aplt = [base["aplt"]] + [r["aplt"] for r in xquad]
    assert np.all(np.diff(aplt) >= 0), aplt
    assert xquad[-1]["ndcg"] < base["ndcg"]
    # a moderate setting: APLT at least doubled for at most 2% relative NDCG
    mid = rows[("XQuADReranker", 0.5)]
    assert mid["aplt"] >= 2 * base["aplt"], (mid["aplt"], base["aplt"])
    assert base["ndcg"] > mid["ndcg"] >= 0.98 * base["ndcg"], (mid["ndcg"], base["ndcg"])
    assert mid["ltc"] > base["ltc"]
    # calibration: the genre mix of the lists moves towards the users' own
    calibrated = [rows[("CalibratedReranker", t)] for t in (0.1, 0.25, 0.5, 0.9)]
    miscalibration = [base["miscalibration"]] + [r["miscalibration"] for r in calibrated]
    assert np.all(np.diff(miscalibration) < 0), miscalibration
    light = rows[("CalibratedReranker", 0.1)]
    assert light["miscalibration"] <= 0.95 * base["miscalibration"]
    assert base["ndcg"] > light["ndcg"] >= 0.98 * base["ndcg"]
