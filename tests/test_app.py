"""End to end: the Gradio app started on a free loopback port and called with gradio_client."""

from __future__ import annotations

import subprocess
import time

import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image

from tests.conftest import PYTHON, REPO, draw_shapes, free_port, subprocess_env
from translate.networks import GeneratorConfig, ResnetGenerator
from translate.weights import save_weights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=8, n_blocks=1)
    save_weights(folder, {"AtoB": ResnetGenerator(config), "BtoA": ResnetGenerator(config)},
                 domain_a="Noto", domain_b="Twemoji", image_size=32)
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
    yield url, str(folder)
    process.terminate()
    process.wait(timeout=30)


def test_translate_endpoint_keeps_size_and_alpha(app_url, tmp_path):
    url, model = app_url
    source = tmp_path / "input.png"
    image = Image.new("RGBA", (57, 33), (200, 30, 30, 128))
    image.save(source)
    client = Client(url, verbose=False)
    result = client.predict(handle_file(str(source)), model, "AtoB", "Model resolution", api_name="/translate")
    with Image.open(result) as output:
        assert output.size == (57, 33)
        assert output.mode == "RGBA"
        assert output.getpixel((10, 10))[3] == 128


def test_both_directions_and_full_resolution(app_url, tmp_path):
    url, model = app_url
    source = tmp_path / "input.jpg"
    draw_shapes(source, (70, 50), 3)
    client = Client(url, verbose=False)
    for direction in ("AtoB", "BtoA"):
        for resolution in ("Model resolution", "Full resolution"):
            result = client.predict(handle_file(str(source)), model, direction, resolution, api_name="/translate")
            with Image.open(result) as output:
                assert output.size == (70, 50)


def test_non_image_gets_a_clear_message(app_url, tmp_path):
    url, model = app_url
    source = tmp_path / "notes.png"
    source.write_text("this is text, not a picture")
    client = Client(url, verbose=False)
    with pytest.raises(Exception, match="notes.png is not an image this app can read"):
        client.predict(handle_file(str(source)), model, "AtoB", "Model resolution", api_name="/translate")


def test_only_named_endpoint_is_public(app_url):
    url, _ = app_url
    endpoints = Client(url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert list(endpoints) == ["/translate"]
