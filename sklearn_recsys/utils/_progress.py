"""Progress display of iterative fits (``verbose``), on tqdm.

tqdm draws a bar in terminals and a widget in notebooks (``tqdm.auto``); it is
disabled, and prints nothing, unless ``verbose`` is set. With ``verbose >= 2``
every iteration also leaves one line of its measurements, for logs.
"""

import sys

__all__ = ["Progress"]


class Progress:
    """A progress bar of ``total`` steps with the latest measurements beside it.

    Parameters
    ----------
    name : str
        Shown first (the estimator's class name).
    total : int
        Number of steps planned (``max_iter``).
    verbose : int
        0: nothing is shown. 1: a bar. 2 and more: a bar and a line per step.
    unit : str, default="iter"
        What a step is (``"epoch"``, ``"sweep"``).
    """

    def __init__(self, name, total, verbose, unit="iter"):
        self.name, self.verbose, self.unit = name, int(verbose or 0), unit
        self.bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=name, unit=unit, file=sys.stderr,
                            dynamic_ncols=True, leave=True)

    def update(self, step, **values):
        """Advance to ``step``, showing the given named values (None ones skipped)."""
        if self.bar is None:
            return
        shown = {k: f"{v:.5g}" for k, v in values.items() if v is not None}
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(step - self.bar.n)
        if self.verbose >= 2:
            text = "  ".join(f"{k}={v}" for k, v in shown.items())
            self.bar.write(f"{self.name} {self.unit} {step}  {text}", file=sys.stderr)

    def close(self):
        """Draw the final state and release the bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
