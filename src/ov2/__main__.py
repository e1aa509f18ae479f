"""``python -m ov2 ...``: the ``ov2`` command (works under ``torchrun`` / ``accelerate launch``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
