"""Scale of the data path: make_interactions and InteractionEncoder on large inputs.

Usage::

    python benchmarks/bench_data.py [--repeats 3] [--large]

Each case runs in a fresh process (so its peak resident memory is its own) and prints
the median seconds, the peak RSS growth and the size of what it produced. ``--large``
adds the 1M users x 100k items x 50M draws case of the data issue (about 4 GB of memory).

Results: ``benchmarks/results/data_scale.json`` (``common.write_results``);
``python benchmarks/make_tables.py`` turns it into the docs' table.
"""

import argparse
import statistics
import sys
import time

from common import PeakRSS, in_fresh_process, show, table, write_results


def _case(kind, size):
    import numpy as np

    from sklearn_recsys import InteractionEncoder, make_interactions

    n_users, n_items, n_draws = size
    if kind == "make_interactions":
        with PeakRSS() as mem:
            start = time.perf_counter()
            X = make_interactions(n_users, n_items, density=n_draws / (n_users * n_items),
                                  random_state=0)
            seconds = time.perf_counter() - start
        return seconds, mem.growth_mb, X.nnz
    rng = np.random.default_rng(0)
    users = rng.integers(0, n_users, size=n_draws)
    items = rng.zipf(1.2, size=n_draws) % n_items  # long-tailed, with repeats
    with PeakRSS() as mem:
        start = time.perf_counter()
        X = InteractionEncoder(dtype=np.float32).fit_transform((users, items))
        seconds = time.perf_counter() - start
    return seconds, mem.growth_mb, X.nnz


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large", action="store_true")
    args = parser.parse_args(argv)
    cases = [("make_interactions", (136_000, 20_000, 16_000_000)),
             ("InteractionEncoder (log of int ids)", (136_000, 20_000, 10_000_000))]
    if args.large:
        cases.append(("make_interactions", (1_000_000, 100_000, 50_000_000)))
    rows = []
    for kind, size in cases:
        runs = [in_fresh_process(_case, kind.split()[0], size) for _ in range(args.repeats)]
        sec = statistics.median(r[0] for r in runs)
        mem = statistics.median(r[1] for r in runs)
        rows.append([kind, *size, sec, mem, runs[0][2]])
        print(rows[-1], file=sys.stderr, flush=True)
    tab = show(table("scale", f"The data path at scale (median of {args.repeats}, each case in "
                     "a fresh process)", ["case", "users", "items", "draws", "median s",
                                          "peak RSS growth MB", "non-zeros"], rows,
                     formats=["text", "count", "count", "count", "seconds", "mb", "count"]))
    write_results("data_scale", [tab])


if __name__ == "__main__":
    main()
