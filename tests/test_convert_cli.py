"""End to end: the batch converter on a real folder with good, corrupt and non-image files."""

from __future__ import annotations

import hashlib
import json
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import PYTHON, REPO, draw_shapes, subprocess_env
from translate.networks import GeneratorConfig, ResnetGenerator
from translate.weights import save_weights


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=8, n_blocks=1)
    folder = tmp_path / "model"
    save_weights(folder, {"AtoB": ResnetGenerator(config), "BtoA": ResnetGenerator(config)}, image_size=32)
    return folder


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    draw_shapes(root / "one.png", (50, 30), 0)
    draw_shapes(root / "holiday" / "two.jpg", (31, 45), 1)
    transparent = Image.new("RGBA", (20, 20), (10, 200, 10, 0))
    transparent.paste((200, 10, 10, 255), (5, 5, 15, 15))
    (root / "holiday" / "deep").mkdir(parents=True)
    transparent.save(root / "holiday" / "deep" / "three.webp", lossless=True)
    (root / "holiday" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    (root / "notes.txt").write_text("a note, not an image")
    return root


def digests(root):
    return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def convert(*args):
    return subprocess.run([PYTHON, "scripts/convert_folder.py", *map(str, args)], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)


def test_converts_tree_and_reports_failures(photos, weights, tmp_path):
    before = digests(photos)
    output = tmp_path / "out"
    completed = convert(photos, output, "--model", weights, "--quiet")
    assert completed.returncode == 1, completed.stderr
    assert "3 converted, 0 already done, 1 failed, 1 non-image files ignored" in completed.stderr
    assert "broken.jpg" in completed.stderr
    assert "notes.txt" in completed.stderr
    assert digests(photos) == before

    produced = sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())
    assert produced == ["holiday/deep/three.webp", "holiday/two.jpg", "one.png"]
    assert Image.open(output / "one.png").size == (50, 30)
    assert Image.open(output / "holiday" / "two.jpg").size == (31, 45)
    with Image.open(output / "holiday" / "deep" / "three.webp") as result:
        assert result.mode == "RGBA"
        assert result.getpixel((0, 0))[3] == 0
        assert result.getpixel((10, 10))[3] == 255


def test_second_run_keeps_existing_outputs(photos, weights, tmp_path):
    output = tmp_path / "out"
    convert(photos, output, "--model", weights, "--quiet")
    first = digests(output)
    (output / "one.png").write_bytes(b"kept")  # an existing result must not be replaced
    completed = convert(photos, output, "--model", weights, "--quiet")
    assert "0 converted, 3 already done, 1 failed" in completed.stderr
    assert (output / "one.png").read_bytes() == b"kept"
    completed = convert(photos, output, "--model", weights, "--quiet", "--overwrite")
    assert "3 converted" in completed.stderr
    assert digests(output) == first


def test_all_good_exits_zero(weights, tmp_path):
    root = tmp_path / "clean"
    draw_shapes(root / "a.png", (16, 16), 0)
    completed = convert(root, tmp_path / "out", "--model", weights, "--direction", "BtoA")
    assert completed.returncode == 0, completed.stderr
    assert "1 converted" in completed.stderr


def test_output_inside_input_is_refused(photos, weights):
    before = digests(photos)
    completed = convert(photos, photos / "results", "--model", weights)
    assert completed.returncode == 2
    assert "inside the input folder" in completed.stderr
    assert digests(photos) == before
    assert not (photos / "results").exists()


def test_same_folder_is_refused(photos, weights):
    completed = convert(photos, photos, "--model", weights)
    assert completed.returncode == 2
    assert "inside the input folder" in completed.stderr


def test_report_path_that_is_a_folder_is_refused(photos, weights, tmp_path):
    (tmp_path / "reports").mkdir()
    completed = convert(photos, tmp_path / "out", "--model", weights, "--report", tmp_path / "reports")
    assert completed.returncode == 2
    assert f"--report {tmp_path / 'reports'} is a folder. Give a file name" in completed.stderr
    assert not (tmp_path / "out").exists()


def test_report_keeps_existing_file(weights, tmp_path):
    root = tmp_path / "clean"
    draw_shapes(root / "a.png", (16, 16), 0)
    report = tmp_path / "report.json"
    completed = convert(root, tmp_path / "out", "--model", weights, "--report", report, "--mirror-average", "off")
    assert completed.returncode == 0, completed.stderr
    first = json.loads(report.read_text())
    assert first["summary"] == {"converted": 1, "already_done": 0, "failed": 0, "ignored": 0}
    assert first["settings"]["direction"] == "AtoB"
    assert first["settings"]["model"] == str(weights)
    assert first["settings"]["mirror_average"] is False
    # Running the command again (to resume, say) keeps the first report and writes the next free name.
    completed = convert(root, tmp_path / "out", "--model", weights, "--report", report)
    assert completed.returncode == 0, completed.stderr
    expected = f"{report} already exists and was kept, so the report was written to {tmp_path / 'report-2.json'}"
    assert expected in completed.stderr
    assert json.loads(report.read_text()) == first
    second = json.loads((tmp_path / "report-2.json").read_text())
    assert second["summary"]["already_done"] == 1
    csv_report = tmp_path / "report.csv"
    csv_report.write_text("mine\n")
    convert(root, tmp_path / "out", "--model", weights, "--report", csv_report)
    assert csv_report.read_text() == "mine\n"
    assert (tmp_path / "report-2.csv").read_text().splitlines()[0] == "input,output,status,reason"


def test_missing_input_and_model_are_named(weights, tmp_path):
    completed = convert(tmp_path / "nothing", tmp_path / "out", "--model", weights)
    assert completed.returncode == 2
    assert "Input folder not found" in completed.stderr
    completed = convert(tmp_path, tmp_path.parent / "out", "--model", tmp_path / "no-model")
    assert completed.returncode == 2
    assert "no-model" in completed.stderr


def test_input_inside_output_never_overwrites_inputs(weights, tmp_path):
    # Output is a parent of the input: out/photos/x.png would be written to out/x.png, never onto an input.
    root = tmp_path / "out" / "photos"
    draw_shapes(root / "x.png", (16, 16), 0)
    before = digests(root)
    completed = convert(root, tmp_path / "out", "--model", weights, "--quiet")
    assert completed.returncode == 0, completed.stderr
    assert digests(root) == before
    assert (tmp_path / "out" / "x.png").is_file()


def test_single_file_input_is_explained(photos, weights, tmp_path):
    completed = convert(photos / "one.png", tmp_path / "out", "--model", weights)
    assert completed.returncode == 2
    assert "is a file; the converter takes a folder" in completed.stderr
    assert "Model:" not in completed.stderr, "paths are checked before the model loads"


def test_mirror_average_option(weights, tmp_path):
    root = tmp_path / "clean"
    draw_shapes(root / "a.png", (40, 28), 0)
    results = {}
    for choice in ("off", "on"):
        completed = convert(root, tmp_path / choice, "--model", weights, "--mirror-average", choice, "--quiet")
        assert completed.returncode == 0, completed.stderr
        assert ("averaged with the mirror image" in completed.stderr) == (choice == "on")
        results[choice] = np.asarray(Image.open(tmp_path / choice / "a.png"), dtype=np.float64)
    # The model's own setting (off) is the default, and averaging changes the output.
    completed = convert(root, tmp_path / "auto", "--model", weights, "--quiet")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "auto" / "a.png"), dtype=np.float64), results["off"])
    assert np.abs(results["on"] - results["off"]).mean() > 1.0
    completed = convert(root, tmp_path / "bad", "--model", weights, "--mirror-average", "yes")
    assert completed.returncode == 2
    assert "--mirror-average: invalid choice: 'yes'" in completed.stderr
