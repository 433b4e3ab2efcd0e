"""The README's first command: the demo leaderboard, its files and its plot."""

import csv

import pytest

from sklearn_recsys.__main__ import demo, main


def test_quick_demo_ranks_every_model_and_writes_files(tmp_path, capsys):
    rows = demo(["--quick", "--csv", str(tmp_path / "board.csv"),
                 "--markdown", str(tmp_path / "board.md")])
    names = [r["model"] for r in rows]
    assert set(names) == {"MostPopular", "ItemKNN", "EASE", "ImplicitALS", "BPR"}
    by_name = {r["model"]: r for r in rows}
    # planted structure: every personalised model beats the popularity ranking
    for name in ("ItemKNN", "EASE", "ImplicitALS", "BPR"):
        assert by_name[name]["ndcg@10"] > by_name["MostPopular"]["ndcg@10"]
    assert [r["ndcg@10"] for r in rows] == sorted((r["ndcg@10"] for r in rows), reverse=True)
    with open(tmp_path / "board.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["model"] for r in table] == names
    # the CSV keeps every digit (it was rounded to the display's 4 decimals)
    assert [float(r["ndcg@10"]) for r in table] == [r["ndcg@10"] for r in rows]
    assert (tmp_path / "board.md").read_text().startswith("| model")
    out, err = capsys.readouterr()
    assert "EASE" in out and "[####" in err and "5/5" in err


def test_plot_and_console_script(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from sklearn_recsys.model_selection import plot_leaderboard

    rows = [{"model": "A", "fit_seconds": 0.1, "ndcg@10": 0.3},
            {"model": "B", "fit_seconds": 2.0, "ndcg@10": 0.4}]
    ax = plot_leaderboard(rows)
    assert ax.get_xscale() == "log" and len(ax.collections) == 2
    assert main(["nothing"]) == 2
