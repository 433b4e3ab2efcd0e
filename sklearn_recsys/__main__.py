"""``python -m sklearn_recsys``: runs the command line of :mod:`sklearn_recsys._cli`."""

import sys

from ._cli import demo, main

__all__ = ["demo", "main"]

if __name__ == "__main__":
    sys.exit(main())
