#!/usr/bin/env python
"""Export a model's generators to ONNX (dynamic batch, height and width) and verify them.

    python scripts/export_onnx.py --model emoji --output exported/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description="Export a model's generators to ONNX and compare with PyTorch.")
    parser.add_argument("--model", default="emoji", help="weights folder, model name or Hub id (default: emoji)")
    parser.add_argument("--output", type=Path, required=True, help="folder for AtoB.onnx and BtoA.onnx")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset version")
    args = parser.parse_args()

    from translate.models import resolve_model
    from translate.onnx_export import export_onnx, onnx_max_difference
    from translate.weights import load_generator, read_model_info

    try:
        folder = resolve_model(args.model)
        info = read_model_info(folder)
        if info.mirror_average:
            print(f"Note: {folder} averages each translation with that of the mirror image (mirror_average in its "
                  "config.json). Each ONNX file holds one pass: to match the model, run it on the image and on "
                  "the mirrored image, mirror that output back and average the two.")
        for direction in info.directions:
            generator, _ = load_generator(folder, direction)
            path = export_onnx(generator, args.output / f"{direction}.onnx", opset=args.opset)
            difference = onnx_max_difference(path, generator, [(64, 64), (96, 128)])
            print(f"Wrote {path}: max difference to PyTorch {difference:.2e} on [-1, 1] outputs")
    except (FileNotFoundError, ValueError) as error:
        print(f"export_onnx: error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"export_onnx: error: {error}. Install the ONNX packages: pip install onnx onnxruntime",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
