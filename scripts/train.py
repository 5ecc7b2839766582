#!/usr/bin/env python
"""Train a CycleGAN; see ``--help``. Works under ``accelerate launch scripts/train.py ...``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from translate.cli.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
