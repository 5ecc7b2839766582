#!/usr/bin/env python
"""Translate a folder of images with a trained model; see ``--help`` (same as ``cyclegan-convert``)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from translate.cli.convert import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
