"""Progress lines of iterative fits (``verbose``): a bar, the step, what was measured, the time."""

import sys
import time

__all__ = ["Progress"]


class Progress:
    """Print one line per step on stderr when ``verbose``; silent otherwise.

    Parameters
    ----------
    name : str
        Shown first (the estimator's class name).
    total : int
        Number of steps planned (``max_iter``).
    verbose : int
        Nothing is printed when 0.
    unit : str, default=""
        Word before the step counter, e.g. ``"epoch"``.
    """

    def __init__(self, name, total, verbose, unit=""):
        self.name, self.total, self.verbose = name, total, verbose
        self.unit = f"{unit} " if unit else ""
        self.start = time.perf_counter()

    def update(self, step, **values):
        """Print the line of ``step`` with the given named values (None ones skipped)."""
        if not self.verbose:
            return
        width = 20
        done = int(width * step / self.total)
        shown = "  ".join(f"{k}={v:.5g}" for k, v in values.items() if v is not None)
        print(f"{self.name} [{'#' * done}{'-' * (width - done)}] {self.unit}{step}/{self.total}"
              f"  {shown}  {time.perf_counter() - self.start:.1f}s", file=sys.stderr, flush=True)
