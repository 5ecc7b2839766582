"""The emoji dataset builder, run on small tarballs in the npm packages' layout built by the test."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile

from PIL import Image

from tests.conftest import PYTHON, REPO, subprocess_env

NAMES = [f"{0x1f600 + i:x}.png" for i in range(40)] + [
    f"1f44b-{tone}.png" for tone in ("1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff")
] + ["1f44b.png"]


def write_package(path, style: str, colour: tuple[int, int, int]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name in NAMES:
            image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
            image.paste((*colour, 255), (16, 16, 48, 48))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            info = tarfile.TarInfo(f"package/img/{style}/64/{name}")
            info.size = buffer.tell()
            buffer.seek(0)
            archive.addfile(info, buffer)


def build(tmp_path, name="dataset"):
    packages = tmp_path / "packages"
    packages.mkdir(exist_ok=True)
    write_package(packages / "emoji-datasource-google-16.0.0.tgz", "google", (250, 200, 0))
    write_package(packages / "emoji-datasource-twitter-16.0.0.tgz", "twitter", (255, 204, 77))
    output = tmp_path / name
    completed = subprocess.run([PYTHON, "scripts/prepare_emoji.py", str(output), "--packages", str(packages)],
                               cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return output


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_layout_split_and_manifest(tmp_path):
    output = build(tmp_path)
    train_a, train_b = set(names(output / "trainA")), set(names(output / "trainB"))
    test_a, test_b = names(output / "testA"), names(output / "testB")
    assert test_a == test_b, "every test image needs its counterpart under the same name"
    assert train_a.isdisjoint(train_b), "training must be unpaired"
    assert train_a.isdisjoint(test_a)
    assert train_b.isdisjoint(test_a)
    assert sorted(train_a | train_b | set(test_a)) == sorted(NAMES)
    # The extra folders contain each training emoji in its other style, and no held-out emoji.
    assert set(names(output / "extraA")) == train_b
    assert set(names(output / "extraB")) == train_a

    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["counts"] == {"trainA": len(train_a), "trainB": len(train_b), "testA": len(test_a),
                                  "testB": len(test_b), "extraA": len(train_b), "extraB": len(train_a)}
    assert manifest["packages"]["A"] == "emoji-datasource-google@16.0.0"
    assert "Apache" in manifest["licenses"]["A"]
    assert "CC-BY 4.0" in manifest["licenses"]["B"]


def test_skin_tone_variants_stay_together(tmp_path):
    output = build(tmp_path)
    homes = {folder for folder in ("trainA", "trainB", "testA")
             for name in names(output / folder) if name.startswith("1f44b")}
    assert len(homes) == 1


def test_images_are_on_white_and_rgb(tmp_path):
    output = build(tmp_path)
    first = next((output / "trainA").iterdir())
    with Image.open(first) as image:
        assert image.mode == "RGB"
        assert image.size == (64, 64)
        assert image.getpixel((0, 0)) == (255, 255, 255)
        assert image.getpixel((32, 32)) == (250, 200, 0)
    with Image.open(next((output / "extraA").iterdir())) as image:
        assert image.getpixel((32, 32)) == (250, 200, 0), "extraA must hold the domain-A (Noto) style"


def test_split_is_deterministic(tmp_path):
    first, second = build(tmp_path, "one"), build(tmp_path, "two")
    for folder in ("trainA", "trainB", "testA", "testB", "extraA", "extraB"):
        assert names(first / folder) == names(second / folder)


def test_wrong_package_is_explained(tmp_path):
    packages = tmp_path / "packages"
    packages.mkdir()
    write_package(packages / "emoji-datasource-google-16.0.0.tgz", "apple", (0, 0, 0))
    write_package(packages / "emoji-datasource-twitter-16.0.0.tgz", "twitter", (0, 0, 0))
    completed = subprocess.run([PYTHON, "scripts/prepare_emoji.py", str(tmp_path / "out"), "--packages",
                                str(packages)], cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 1
    assert "no images under package/img/google/64/" in completed.stderr
