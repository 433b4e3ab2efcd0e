"""
Accuracy against long-tail exposure on real data: three models, every mechanism
================================================================================

The curves of ``benchmarks/bench_tradeoff.py`` (protocol in its docstring; results in
``benchmarks/results/tradeoff.json``, which this example reads rather than refitting): EASE,
ImplicitALS and MultVAE on MovieLens latest-small and Last.fm 2K under strong
generalization, each moved towards the long tail by xQuAD re-ranking (its ``tradeoff``) and
by its in-training correction (EASE's ``popularity_penalty``, the Rel-MF
``propensity_power`` of ImplicitALS and MultVAE, MultVAE's propensity offset, each
propensity also with ``propensity_reference="short_head"``, diamonds and down triangles;
crosses: the offset's propensities applied to a plain MultVAE after training, for
reference; pentagons: xQuAD with ``target_tail_share=0.5``, on MultVAE's scores read as
log-probabilities (``score_scale="log"``), from ``benchmarks/results/tradeoff_xquad.json``,
the same fits; filled pluses: MultVAE's long-tail term, ``long_tail_weight``, from
``benchmarks/results/tradeoff_long_tail.json``, the same seeds). Every point is
one setting: NDCG@100 against APLT@100 (the long tail's share of the lists, top row) and
against long-tail coverage@100 (the share of long-tail items recommended to anyone, bottom
row); ImplicitALS's and MultVAE's points are means over three seeds. The star is the model
untuned for exposure, the dotted line 2% below its NDCG@100 (the budget of the summary
table in :ref:`popularity-control`); settings that lose more than a fifth of the lowest
baseline's NDCG@100 fall below the frame.
"""

import json
from pathlib import Path

import matplotlib.pyplot as plt

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # run by a runner without __file__: from the examples folder
    HERE = Path.cwd()


def load_tables(name):
    """The tables of ``benchmarks/results/<name>.json``, by id."""
    path = HERE.parents[1] / "benchmarks" / "results" / f"{name}.json"
    return {t["id"]: t for t in json.loads(path.read_text())["tables"]}


def as_dicts(table):
    """A table's rows as dicts keyed by its column names."""
    return [dict(zip(table["columns"], row)) for row in table["rows"]]


results, xquad, long_tail = (load_tables(name) for name in
                             ("tradeoff", "tradeoff_xquad", "tradeoff_long_tail"))
rows = as_dicts(results["curves"])
# xQuAD towards a fixed share (on the log-probabilities for MultVAE): the same seeds fit the
# same models, so these points share the baselines above
FIXED_SHARE = {"xQuAD, tail share 0.5", "xQuAD, tail share 0.5, log scale"}
models_here = {r["model"] for r in rows}
rows += [r for r in as_dicts(xquad["curves"]) if r["model"] in models_here
         and r["mechanism"] == ("xQuAD, tail share 0.5, log scale" if r["model"] == "MultVAE"
                                else "xQuAD, tail share 0.5")]
# MultVAE's long-tail term of the loss: its baselines are the same seeds' plain fits
rows += [r for r in as_dicts(long_tail["curves"])
         if r["model"] == "MultVAE" and r["mechanism"] == "long_tail_weight"]

datasets = list(dict.fromkeys(r["data"] for r in rows))
models = list(dict.fromkeys(r["model"] for r in rows))
colors = dict(zip(models, ["tab:blue", "tab:orange", "tab:green"]))
markers = {"xQuAD re-ranking": "o", "popularity_penalty": "s", "propensity_power": "s",
           "propensity offset": "^", "propensity_power, short head": "D",
           "propensity offset, short head": "v", "offset after training (reference)": "x",
           "long_tail_weight": "P", **dict.fromkeys(FIXED_SHARE, "p")}

fig, axes = plt.subplots(2, len(datasets), figsize=(5.5 * len(datasets), 8))
for j, data in enumerate(datasets):
    for i, x in enumerate(["APLT@100", "LTC@100"]):
        ax = axes[i, j]
        for model in models:
            mine = [r for r in rows if (r["data"], r["model"]) == (data, model)]
            base = next(r for r in mine if r["mechanism"] == "none")
            for mechanism in dict.fromkeys(r["mechanism"] for r in mine):
                if mechanism == "none":
                    continue
                points = [base] + sorted((r for r in mine if r["mechanism"] == mechanism),
                                         key=lambda r: r["setting"])
                ax.plot([p[x] for p in points], [p["NDCG@100"] for p in points],
                        marker=markers[mechanism], color=colors[model], markersize=4,
                        linestyle="-" if mechanism.startswith("xQuAD") else "--",
                        label=f"{model}, {mechanism}")
            ax.plot(base[x], base["NDCG@100"], "*", color=colors[model], markersize=14)
            ax.axhline(0.98 * base["NDCG@100"], color=colors[model], linestyle=":",
                       linewidth=0.8)
        # zoomed on the budget: settings that lose more than a fifth fall below the frame
        bases = [r["NDCG@100"] for r in rows if r["data"] == data and r["mechanism"] == "none"]
        ax.set_ylim(0.8 * min(bases), 1.03 * max(r["NDCG@100"] for r in rows
                                                 if r["data"] == data))
        ax.set_xscale("log")
        ax.set_xlabel(f"{x} (log scale)")
        ax.set_ylabel("NDCG@100")
        ax.set_title(data)
axes[0, -1].legend(fontsize=7, loc="lower left")
fig.tight_layout()

plotted = {(r["model"], r["mechanism"]) for r in rows}
for row in as_dicts(results["summary"]) + [
        r for r in as_dicts(xquad["summary"]) + as_dicts(long_tail["summary"])
        if (r["model"], r["mechanism"]) in plotted
        and r["mechanism"] in FIXED_SHARE | {"long_tail_weight"}]:
    if row["APLT ratio"] is not None:
        print(f"{row['data']:>22}  {row['model']:<11}  {row['mechanism']:<32}  "
              f"APLT@100 x{row['APLT ratio']:.2f} at {row['NDCG change %']:+.2f}% NDCG@100")
