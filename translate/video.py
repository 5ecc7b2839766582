"""Translating a video frame by frame with OpenCV, keeping its frame rate and size.

OpenCV writes video without sound. When ``ffmpeg`` is on the PATH, the audio track of the
input is copied into the result. Otherwise the result is silent and a warning is logged.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from translate.image_io import current_umask
from translate.inference import Translator

logger = logging.getLogger(__name__)

_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}


class VideoError(ValueError):
    """A video that cannot be opened or written; the message names the file."""


def convert_video(
    source: Path, target: Path, translator: Translator, *, overwrite: bool = False, progress: bool = True,
    keep_audio: bool = True,
) -> int:
    """Translate every frame of ``source`` into ``target``; return the number of frames written."""
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise VideoError(f"Video file not found: {source}")
    if target.resolve() == source.resolve():
        raise VideoError(f"Output {target} is the input file; choose another output name.")
    if target.exists() and not overwrite:
        raise VideoError(f"Output {target} already exists; pass --overwrite to replace it.")
    fourcc = _FOURCC.get(target.suffix.lower())
    if fourcc is None:
        raise VideoError(f"Unsupported output extension {target.suffix!r}; use one of {', '.join(_FOURCC)}.")

    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise VideoError(f"OpenCV cannot open {source} as a video. Check the file, or convert it to MP4 first.")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None

    target.parent.mkdir(parents=True, exist_ok=True)
    handle, silent_name = tempfile.mkstemp(prefix=".tmp-", suffix=target.suffix, dir=target.parent)
    os.close(handle)
    silent = Path(silent_name)
    writer = cv2.VideoWriter(str(silent), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    frames = 0
    try:
        if not writer.isOpened():
            raise VideoError(f"OpenCV cannot write {target.suffix} video here; try an .avi output.")
        with tqdm(total=total, desc=source.name, unit="frame", disable=not progress) as bar:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                translated = np.asarray(translator.translate(rgb).convert("RGB"))
                writer.write(cv2.cvtColor(translated, cv2.COLOR_RGB2BGR))
                frames += 1
                bar.update(1)
        writer.release()
        capture.release()
        if frames == 0:
            raise VideoError(f"{source} has no frames OpenCV can decode.")
        os.chmod(silent, 0o666 & ~current_umask())
        _finish(source, silent, target, keep_audio)
    finally:
        writer.release()
        capture.release()
        silent.unlink(missing_ok=True)
    return frames


def _finish(source: Path, silent: Path, target: Path, keep_audio: bool) -> None:
    # NOTE: the ffmpeg branch is not run by the test suite, whose machines have no ffmpeg.
    ffmpeg = shutil.which("ffmpeg")
    if keep_audio and ffmpeg:
        muxed = silent.with_name(silent.stem + "-audio" + silent.suffix)
        command = [ffmpeg, "-loglevel", "error", "-y", "-i", str(silent), "-i", str(source), "-map", "0:v:0",
                   "-map", "1:a?", "-c:v", "copy", "-c:a", "copy", "-shortest", str(muxed)]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode == 0:
            os.replace(muxed, target)
            return
        muxed.unlink(missing_ok=True)
        logger.warning("ffmpeg could not copy the audio track (%s); writing the video without sound",
                       completed.stderr.strip()[-300:])
    elif keep_audio:
        logger.warning("ffmpeg not found: %s is written without its audio track", target)
    os.replace(silent, target)
