#!/usr/bin/env python
"""Download an official pretrained CycleGAN generator; see ``--help``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from translate.cli.download import pretrained_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(pretrained_main())
