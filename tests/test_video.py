"""Video translation on a short clip the test writes with OpenCV."""

from __future__ import annotations

import subprocess

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import PYTHON, REPO, subprocess_env
from translate.networks import GeneratorConfig, ResnetGenerator
from translate.weights import save_weights


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    save_weights(tmp_path / "model", {"AtoB": ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=1))}, image_size=32)
    return tmp_path / "model"


def write_clip(path, frames=6, size=(48, 32), fps=12.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for index in range(frames):
        frame = np.full((size[1], size[0], 3), index * 30, dtype=np.uint8)
        cv2.rectangle(frame, (index * 4, 4), (index * 4 + 10, 20), (0, 0, 255), -1)
        writer.write(frame)
    writer.release()


def probe(path):
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    result = (count, capture.get(cv2.CAP_PROP_FPS), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
              int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    capture.release()
    return result


def run(*args):
    return subprocess.run([PYTHON, "scripts/convert_video.py", *map(str, args)], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)


def test_video_keeps_frames_rate_and_size(weights, tmp_path):
    source = tmp_path / "clip one.avi"
    write_clip(source)
    before = source.read_bytes()
    completed = run(source, tmp_path / "out.avi", "--model", weights)
    assert completed.returncode == 0, completed.stderr
    assert "Wrote 6 frames" in completed.stdout
    frames, fps, width, height = probe(tmp_path / "out.avi")
    assert frames == 6
    assert fps == pytest.approx(12.0)
    assert (width, height) == (48, 32)
    assert source.read_bytes() == before
    assert not list(tmp_path.glob(".tmp-*"))


def test_video_errors_name_the_file(weights, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    completed = run(broken, tmp_path / "out.mp4", "--model", weights)
    assert completed.returncode == 2
    assert "cannot open" in completed.stderr
    assert "broken.mp4" in completed.stderr

    source = tmp_path / "clip.avi"
    write_clip(source, frames=2)
    (tmp_path / "taken.avi").write_bytes(b"keep me")
    completed = run(source, tmp_path / "taken.avi", "--model", weights)
    assert completed.returncode == 2
    assert "already exists" in completed.stderr
    assert (tmp_path / "taken.avi").read_bytes() == b"keep me"
    completed = run(source, source, "--model", weights, "--overwrite")
    assert completed.returncode == 2
    assert "is the input file" in completed.stderr


def test_video_variant_and_mirror_average(tmp_path):
    source = tmp_path / "clip.avi"
    write_clip(source, frames=2)
    completed = run(source, tmp_path / "fast.avi", "--variant", "fast", "--mirror-average", "on")
    assert completed.returncode == 0, completed.stderr
    assert "(fast)" in completed.stderr
    assert "averaged with the mirror image" in completed.stderr
    assert probe(tmp_path / "fast.avi")[0] == 2
    completed = run(source, tmp_path / "best.avi", "--mirror-average", "off")
    assert completed.returncode == 0, completed.stderr
    assert "(best)" in completed.stderr
    assert "mirror image" not in completed.stderr
