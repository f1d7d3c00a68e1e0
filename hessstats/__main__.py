"""``python -m hessstats``: the same command line as the ``hessstats`` console script."""

import sys

from hessstats.cli import main

if __name__ == "__main__":
    sys.exit(main())
