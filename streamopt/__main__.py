"""``python -m streamopt``: the same command line as the ``streamopt`` script."""

import sys

from .cli import main

sys.exit(main())
