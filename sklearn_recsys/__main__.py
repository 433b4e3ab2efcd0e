"""Command line: ``python -m sklearn_recsys demo`` trains and ranks several recommenders."""

import argparse
import sys
from pathlib import Path

_DATASETS = ("synthetic", "movielens-100k", "movielens-latest-small", "lastfm-2k")


def _load(name, data_home, quick):
    from .datasets import fetch_lastfm_2k, fetch_movielens, make_interactions

    if name == "synthetic":
        size = (1500, 400) if quick else (6000, 1500)
        return make_interactions(*size, density=0.02, n_components=20, random_state=0)
    if name.startswith("movielens"):
        variant = "100k" if name.endswith("100k") else "latest-small"
        X = fetch_movielens(variant, data_home=data_home, download_if_missing=False).X
        X.data = (X.data >= 4).astype(X.dtype)  # ratings >= 4 are positives
        X.eliminate_zeros()
        return X
    X = fetch_lastfm_2k(data_home=data_home, download_if_missing=False).X
    X.data[:] = 1  # every play is a positive
    return X


def _models(quick):
    from .baselines import ItemKNN, MostPopular
    from .linear import EASE
    from .matrix_factorization import BPR, ImplicitALS

    return {
        "MostPopular": (MostPopular(), {}),
        "ItemKNN": (ItemKNN(), {"n_neighbors": [20, 100], "shrinkage": [0.0, 10.0]}),
        "EASE": (EASE(), {"alpha": [10.0, 100.0, 1000.0] if not quick else [10.0, 300.0]}),
        "ImplicitALS": (ImplicitALS(n_components=32, max_iter=10 if not quick else 5,
                                    random_state=0),
                        {"alpha": [1.0, 10.0], "confidence_scale": [1.0, 10.0]}),
        # SGD needs ~100 epochs on small data (20 leave it near popularity)
        "BPR": (BPR(n_components=32, max_iter=100, random_state=0),
                {"learning_rate_init": [0.05]} if quick else {"learning_rate_init": [0.02, 0.05]}),
    }


def demo(argv=None):
    """Run the demo leaderboard; see ``python -m sklearn_recsys demo --help``."""
    parser = argparse.ArgumentParser(
        prog="sklearn-recsys demo",
        description="Tune several recommenders with GridSearchCV on validation users, "
        "score them on held-out users and print a leaderboard.",
    )
    parser.add_argument("--dataset", choices=_DATASETS, default="synthetic")
    parser.add_argument("--data-home", default=None,
                        help="folder holding ml-100k/, hetrec2011-lastfm-2k/, ...")
    parser.add_argument("--quick", action="store_true", help="smaller data and grids")
    parser.add_argument("--csv", type=Path, help="also write the leaderboard as CSV")
    parser.add_argument("--markdown", type=Path, help="also write it as Markdown")
    parser.add_argument("--plot", type=Path, help="save NDCG@10 against fit time (matplotlib)")
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args(argv)

    from .model_selection import compare_recommenders, format_leaderboard

    X = _load(args.dataset, args.data_home, args.quick)
    print(f"dataset: {args.dataset}, {X.shape[0]} users x {X.shape[1]} items, "
          f"{X.nnz} interactions", file=sys.stderr)
    rows = compare_recommenders(_models(args.quick), X, n_jobs=args.n_jobs)
    print(format_leaderboard(rows))
    if args.csv:
        args.csv.write_text(format_leaderboard(rows, "csv"))
    if args.markdown:
        args.markdown.write_text(format_leaderboard(rows, "markdown"))
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
        except ImportError as exc:
            raise SystemExit("--plot needs matplotlib: pip install matplotlib") from exc
        from .model_selection import plot_leaderboard

        plot_leaderboard(rows).figure.savefig(args.plot)
    return rows


def main(argv=None):
    """Entry point of the ``sklearn-recsys`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("demo",):
        print("usage: sklearn-recsys demo [--help]", file=sys.stderr)
        return 2
    demo(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
