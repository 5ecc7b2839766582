#!/usr/bin/env python
"""Publish a weights folder to the Hugging Face Hub.

    python scripts/push_to_hub.py runs/emoji/weights your-name/emoji-cyclegan [--private]

Log in first with ``hf auth login`` (or set ``HF_TOKEN``).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from translate.hub import push_to_hub  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description="Publish a weights folder as a Hugging Face Hub model.")
    parser.add_argument("folder", type=Path, help="weights folder (config.json, *.safetensors, README.md)")
    parser.add_argument("repo_id", help="Hub repository id, for example your-name/horse2zebra-cyclegan")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    args = parser.parse_args()
    try:
        url = push_to_hub(args.folder, args.repo_id, private=args.private)
    except (FileNotFoundError, ValueError) as error:
        print(f"push_to_hub: error: {error}", file=sys.stderr)
        return 1
    print(f"Published: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
