"""Write the tables of docs/benchmarks.rst from the benchmarks' JSON results.

Usage::

    python benchmarks/make_tables.py [--results benchmarks/results] [--out docs/benchmark_tables]

Each ``benchmarks/results/<name>.json`` (written by ``common.write_results``) holds one or
more tables. Table ``<id>`` of ``<name>.json`` becomes ``<out>/<name>-<id>.rst``: a
reStructuredText simple table, its notes, and a line saying the command, the date and the
machine that produced it. ``docs/benchmarks.rst`` includes these fragments. Never edit one
by hand: rerun the benchmark, then this script (a test checks they match the JSON). A
fragment whose table is no longer in any JSON file is deleted.

Numbers are formatted by column: metrics with 4 decimals, seconds with 3 significant
digits, ratios with 2 decimals, counts as integers with thousands separators.
"""

import argparse
import json
import math
import os
import re
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
OUT = os.path.join(os.path.dirname(HERE), "docs", "benchmark_tables")
WIDTH = 95  # of the prose lines; tables are as wide as their cells


def _number(v, decimals):
    return f"{v:,.{decimals}f}"


def _significant(v, digits=3):
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    v = float(f"{v:.{digits}g}")  # round first: 9.996 -> 10.0, shown "10.0"
    return _number(v, max(0, digits - 1 - math.floor(math.log10(abs(v)))))


def _param(v):
    if isinstance(v, dict):  # a setting inside the parameters, e.g. a base model's
        return "(" + ", ".join(f"{k}={_param(x)}" for k, x in v.items()) + ")"
    if isinstance(v, list):
        return "(" + ", ".join(_param(x) for x in v) + ")"
    return f"{v:g}" if isinstance(v, float) else str(v)


def format_cell(value, fmt=None):
    """The text of one table cell; ``fmt`` as in ``common.table`` (None: by value type)."""
    if value is None:
        return "-"
    if fmt is None:
        if isinstance(value, bool) or isinstance(value, str):
            fmt = "text"
        elif isinstance(value, int):
            fmt = "count"
        elif isinstance(value, float):
            fmt = "metric"
        else:
            fmt = "params"
    if fmt == "text":
        return str(value)
    if fmt == "params":
        if isinstance(value, dict):
            return ", ".join(f"{k}={_param(v)}" for k, v in value.items()) or "-"
        return _param(value)
    if isinstance(value, str):  # a label in a numeric column
        return value
    if fmt == "metric":
        return f"{value:.4f}"
    if fmt == "seconds":
        return _significant(value)
    if fmt == "ratio":
        return f"{value:.2f}"
    if fmt == "count":
        return _number(value, 0)
    if fmt == "mb":
        return _number(value, 0)
    if fmt == "sci":
        return f"{value:.1e}"
    raise ValueError(f"unknown column format {fmt!r}")


def _escape(text):
    """Cell text as literal reStructuredText (no inline markup, no references)."""
    text = re.sub(r"([\\*`|])", r"\\\1", text)
    text = re.sub(r"_(?=$|[\s,.;:!?)\]=])", r"\\_", text)
    return "\\-" if text == "-" else text  # a lone "-" would start a bullet list


def rst_table(columns, rows):
    """A reStructuredText simple table of already formatted cells."""
    head = [_escape(c) for c in columns]
    body = [[_escape(c) for c in row] for row in rows]
    widths = [max(len(c) for c in col) for col in zip(head, *body)]
    rule = "  ".join("=" * w for w in widths)

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([rule, line(head), rule, *map(line, body), rule])


def machine_summary(machine):
    """One phrase: CPU, usable cores, OS, Python and the main library versions."""
    cpus = machine.get("usable_cpus") or machine.get("cpu_count")
    parts = [f"{machine.get('cpu') or 'unknown CPU'} ({cpus} cores)"]
    if machine.get("platform"):
        parts.append(machine["platform"])
    parts.append(f"Python {machine.get('python')}")
    versions = machine.get("versions", {})
    for name in ("numpy", "scipy", "sklearn", "numba", "tensorflow"):
        if name in versions:
            parts.append(f"{'scikit-learn' if name == 'sklearn' else name} {versions[name]}")
    return ", ".join(parts)


def provenance(result):
    """The line under every table: command, UTC date, commit, machine, peers, load."""
    text = f"Produced by ``{result['command']}`` on {result['date'][:10]}"
    git = result.get("git") or {}
    if git.get("commit"):
        text += f" at commit {git['commit'][:7]}"
        edited = [what for what, key in (("the package", "package_edited"),
                                         ("the benchmarks", "benchmarks_edited"))
                  if git.get(key)]
        if edited:
            text += f" (with uncommitted edits to {' and '.join(edited)})"
    text += f", {machine_summary(result['machine'])}"
    if result.get("peers"):
        text += "; peers: " + ", ".join(f"{k} {v}" for k, v in sorted(result["peers"].items()))
    load = result.get("load_average") or {}
    if load.get("start") is not None and load.get("end") is not None:
        text += (f"; 1-minute load average {load['start']:.1f} at the start of the run, "
                 f"{load['end']:.1f} at the end")
    text += "."
    if result.get("absent_peers"):
        text += (" Not installed, so their rows are absent: "
                 + ", ".join(result["absent_peers"]) + ".")
    return text


def _wrap(text):
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def render(result, tab):
    """The reStructuredText fragment of table ``tab`` of ``result``."""
    formats = tab.get("formats") or [None] * len(tab["columns"])
    rows = [[format_cell(v, f) for v, f in zip(row, formats)] for row in tab["rows"]]
    parts = [f".. Generated by benchmarks/make_tables.py from benchmarks/results/"
             f"{result['name']}.json, table {tab['id']!r}\n"
             f"   ({tab['title']}). Do not edit: rerun the benchmark, then make_tables.py.",
             rst_table(tab["columns"], rows)]
    parts += [_wrap(note) for note in tab.get("notes", [])]
    parts.append(_wrap(provenance(result)))
    return "\n\n".join(parts) + "\n"


def fragments(results_dir=RESULTS):
    """``{file name: text}`` of every table of every ``*.json`` in ``results_dir``."""
    out = {}
    for fname in sorted(os.listdir(results_dir)) if os.path.isdir(results_dir) else []:
        if not fname.endswith(".json"):
            continue
        with open(os.path.join(results_dir, fname)) as f:
            result = json.load(f)
        for tab in result["tables"]:
            out[f"{result['name']}-{tab['id']}.rst"] = render(result, tab)
    return out


def write_fragments(results_dir=RESULTS, out_dir=OUT):
    """Write every fragment into ``out_dir`` and delete the stale ones; return the names."""
    texts = fragments(results_dir)
    os.makedirs(out_dir, exist_ok=True)
    for fname in os.listdir(out_dir):
        if fname.endswith(".rst") and fname not in texts:
            os.remove(os.path.join(out_dir, fname))
    for fname, text in texts.items():
        with open(os.path.join(out_dir, fname), "w") as f:
            f.write(text)
    return sorted(texts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    for fname in write_fragments(args.results, args.out):
        print(os.path.join(args.out, fname))


if __name__ == "__main__":
    main()
