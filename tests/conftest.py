"""Shared fixtures: small generated datasets and tiny network configs, so tests run in seconds on a CPU."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

TINY_ARCHITECTURE = [
    "--generator.ngf", "8", "--generator.n_blocks", "2",
    "--discriminator.ndf", "8", "--discriminator.n_layers", "2",
]


def draw_shapes(path: Path, size: tuple[int, int], seed: int, *, mode: str = "RGB") -> None:
    """Write an image of random coloured ellipses and rectangles, the stand-in for a photo."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, size[0] - 2)), int(rng.integers(0, size[1] - 2))
        x1, y1 = x0 + int(rng.integers(2, size[0])), y0 + int(rng.integers(2, size[1]))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert(mode).save(path)


def make_dataset(root: Path, count: int = 6, size: tuple[int, int] = (40, 36), paired_test: int = 3) -> Path:
    for index in range(count):
        draw_shapes(root / "trainA" / f"a{index:02d}.png", size, seed=index)
        draw_shapes(root / "trainB" / f"b{index:02d}.jpg", size, seed=100 + index)
    for index in range(paired_test):
        draw_shapes(root / "testA" / f"t{index:02d}.png", size, seed=200 + index)
        draw_shapes(root / "testB" / f"t{index:02d}.png", size, seed=300 + index)
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    env["HF_HUB_OFFLINE"] = "1"
    env["OMP_NUM_THREADS"] = env.get("OMP_NUM_THREADS", "1")
    return env


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """Start ``app.py`` on a free loopback port with a tiny random model; yield (url, model folder, pid)."""
    from translate.networks import GeneratorConfig, ResnetGenerator
    from translate.weights import save_weights

    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=8, n_blocks=1)
    save_weights(folder, {"AtoB": ResnetGenerator(config), "BtoA": ResnetGenerator(config)},
                 domain_a="Noto", domain_b="Twemoji", image_size=32,
                 extra={"training_data": "random weights for tests", "license": "MIT"})
    port = free_port()
    log = tmp_path_factory.mktemp("log") / "app.log"
    with log.open("w") as stream:
        process = subprocess.Popen([PYTHON, "app.py", "--model", str(folder), "--port", str(port)], cwd=REPO,
                                   env=subprocess_env(), stdout=stream, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app exited with {process.returncode}: {log.read_text()[-3000:]}")
        if "Running on local URL" in log.read_text():
            break
        time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"app did not start within 120 s: {log.read_text()[-3000:]}")
    yield url, str(folder), process.pid
    process.terminate()
    process.wait(timeout=30)
