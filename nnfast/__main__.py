"""``python -m nnfast``: the command line (see :mod:`nnfast.cli`)."""

import sys

from nnfast.cli import main

if __name__ == "__main__":
    sys.exit(main())
