#!/usr/bin/env python
"""Translate a video frame by frame, keeping its frame rate and size.

    python scripts/convert_video.py input.mp4 output.mp4 --model emoji --variant fast --direction AtoB

The audio track is copied when ffmpeg is installed; without ffmpeg the result is silent.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from translate.inference import MIRROR_AVERAGE_CHOICES, MIRROR_AVERAGE_HELP, PRECISIONS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Translate a video frame by frame with a CycleGAN model.")
    parser.add_argument("input", type=Path, help="video file to translate")
    parser.add_argument("output", type=Path, help="video file to write (.mp4, .avi, .mov, .mkv, .m4v)")
    parser.add_argument("--model", default="emoji", help="weights folder, model name or Hub id (default: emoji)")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB")
    parser.add_argument("--variant", choices=("best", "fast"), default=None,
                        help="a shipped model's full generator (best) or its distilled one (fast)")
    parser.add_argument("--full-resolution", action="store_true", help="run the network at the video's own size")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--mirror-average", choices=tuple(MIRROR_AVERAGE_CHOICES), default="auto",
                        help=MIRROR_AVERAGE_HELP)
    parser.add_argument("--no-audio", action="store_true", help="do not copy the audio track")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(message)s", level=logging.INFO)

    from translate.inference import Translator
    from translate.models import with_variant
    from translate.video import VideoError, convert_video

    try:
        model = with_variant(args.model, args.variant) if args.variant else args.model
        translator = Translator(model, args.direction, precision=args.precision,
                                full_resolution=args.full_resolution,
                                mirror_average=MIRROR_AVERAGE_CHOICES[args.mirror_average])
        mirror = ", averaged with the mirror image" if translator.mirror_average else ""
        print(f"Model: {translator.description} ({translator.info.variant}), {translator.precision_description}"
              f"{mirror}", file=sys.stderr)
        frames = convert_video(args.input, args.output, translator, overwrite=args.overwrite,
                               keep_audio=not args.no_audio)
    except (VideoError, FileNotFoundError, ValueError) as error:
        print(f"convert_video: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {frames} frames to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
