"""Official pretrained generators, datasets and the Hub, against an HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import io
import stat
import subprocess
import threading
import zipfile

import pytest
import torch
from PIL import Image

from tests.conftest import PYTHON, REPO, draw_shapes, subprocess_env
from tests.test_networks import official_layout_file, randomised
from translate.download import DownloadError, download, file_sha256
from translate.hub import from_pretrained, is_repo_id, push_to_hub
from translate.image_io import to_tensor
from translate.inference import Translator
from translate.models import resolve_model
from translate.networks import GeneratorConfig, ResnetGenerator
from translate.pretrained import UnsafeArchiveError, fetch_dataset, fetch_pretrained, safe_extract
from translate.weights import read_model_info, save_weights
from translate.zoo import DATASETS, PRETRAINED


class FileServer:
    """Serve ``files`` (path -> bytes) with Range support; ``truncate`` paths send half their body once."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.fail: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                range_header = self.headers.get("Range")
                server.requests.append((self.path, range_header))
                if self.path in server.fail:
                    self.send_error(server.fail[self.path])
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = int(range_header.split("=")[1].rstrip("-")) if range_header else 0
                part = body[start:]
                self.send_response(206 if range_header else 200)
                self.send_header("Content-Length", str(len(part)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if self.path in server.truncate:
                    server.truncate.discard(self.path)
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(part)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    files = FileServer()
    yield files
    files.close()


@pytest.fixture
def zoo_home(tmp_path, monkeypatch, server):
    monkeypatch.setenv("CYCLEGAN_ZOO_URL", server.url + "/cyclegan")
    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_catalogue_names():
    assert len(PRETRAINED) == 18
    assert PRETRAINED["style_monet"].target == "Monet painting"
    assert len(DATASETS) == 11


def test_complete_download(server, tmp_path):
    server.files["/f.bin"] = bytes(range(256)) * 1000
    path = download(server.url + "/f.bin", tmp_path / "f.bin", progress=False,
                    sha256=hashlib.sha256(server.files["/f.bin"]).hexdigest())
    assert path.read_bytes() == server.files["/f.bin"]
    assert file_sha256(path) == hashlib.sha256(server.files["/f.bin"]).hexdigest()
    assert not (tmp_path / "f.bin.part").exists()


def test_truncated_download_resumes(server, tmp_path):
    body = bytes(range(256)) * 4000
    server.files["/big.bin"] = body
    server.truncate.add("/big.bin")
    target = tmp_path / "big.bin"
    with pytest.raises(DownloadError, match="Run the same command again to resume"):
        download(server.url + "/big.bin", target, progress=False)
    assert not target.exists()
    partial = tmp_path / "big.bin.part"
    assert 0 < partial.stat().st_size < len(body)

    download(server.url + "/big.bin", target, progress=False)
    assert target.read_bytes() == body
    assert server.requests[-1] == ("/big.bin", f"bytes={len(body) // 2}-")
    assert not partial.exists()


def test_server_error_leaves_nothing(server, tmp_path):
    server.fail["/broken.bin"] = 500
    with pytest.raises(DownloadError, match="HTTP 500"):
        download(server.url + "/broken.bin", tmp_path / "broken.bin", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_says_what_to_do(server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 404.*download the file by hand"):
        download(server.url + "/nothing.pth", tmp_path / "nothing.pth", progress=False)


def test_checksum_mismatch_deletes_partial(server, tmp_path):
    server.files["/f.bin"] = b"abc"
    with pytest.raises(DownloadError, match="SHA-256"):
        download(server.url + "/f.bin", tmp_path / "f.bin", sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_is_explained(tmp_path):
    with pytest.raises(DownloadError, match="Check your network connection"):
        download("http://127.0.0.1:9/none.pth", tmp_path / "none.pth", progress=False, timeout=5)


def serve_official_generator(server, tmp_path, name="horse2zebra", config=None):
    source = ResnetGenerator(config or GeneratorConfig(ngf=8, n_blocks=3)).eval()
    state = randomised(source, seed=5)
    path = official_layout_file(tmp_path, state)
    server.files[f"/cyclegan/pretrained_models/{name}.pth"] = path.read_bytes()
    return source


def test_pretrained_is_converted_and_matches_source(server, zoo_home, tmp_path):
    source = serve_official_generator(server, tmp_path)
    folder = fetch_pretrained("horse2zebra", progress=False)
    assert folder == zoo_home / "models" / "horse2zebra"
    info = read_model_info(folder)
    assert list(info.directions) == ["AtoB"]
    assert (info.domain_a, info.domain_b, info.image_size) == ("horse", "zebra", 256)
    card = (folder / "README.md").read_text()
    assert "pretrained_models/horse2zebra.pth" in card
    assert "horse images into zebra images" in card

    # The converted weights give exactly the output of the network the .pth file came from.
    image = tmp_path / "horse.png"
    draw_shapes(image, (64, 48), 3)
    with Image.open(image) as opened:
        tensor = to_tensor(opened.convert("RGB")).unsqueeze(0)
    translator = Translator(folder, precision="fp32", full_resolution=True)
    with torch.no_grad():
        expected = source(tensor)
        assert torch.equal(translator.generator(tensor), expected)
    # On a CPU the Translator runs the output convolution in channels-last, which rounds differently.
    assert torch.allclose(translator.translate_tensor(tensor), expected, atol=1e-5)
    assert translator(image).size == (64, 48)

    # A second request uses the converted folder without downloading again.
    count = len(server.requests)
    assert fetch_pretrained("horse2zebra", progress=False) == folder
    assert len(server.requests) == count


def test_model_option_accepts_zoo_name_and_pth(server, zoo_home, tmp_path):
    serve_official_generator(server, tmp_path, "style_monet")
    folder = resolve_model("style_monet")
    assert read_model_info(folder).describe("AtoB") == "photo to Monet painting"

    pth = official_layout_file(tmp_path, randomised(ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=2))))
    converted = resolve_model(str(pth))
    assert read_model_info(converted).generator == GeneratorConfig(ngf=8, n_blocks=2)
    assert resolve_model(str(pth)) == converted


def test_download_pretrained_script(server, zoo_home, tmp_path):
    serve_official_generator(server, tmp_path, "zebra2horse")
    env = subprocess_env()
    env["CYCLEGAN_ZOO_URL"] = server.url + "/cyclegan"
    env["CYCLEGAN_HOME"] = str(zoo_home)
    output = tmp_path / "weights" / "zebra2horse"
    completed = subprocess.run([PYTHON, "scripts/download_pretrained.py", "zebra2horse", "--output", str(output)],
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert (output / "G_AB.safetensors").is_file()
    failed = subprocess.run([PYTHON, "scripts/download_pretrained.py", "horse2zebra"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert "HTTP 404" in failed.stderr
    unknown = subprocess.run([PYTHON, "scripts/download_pretrained.py", "horse2cat"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 1
    assert "Unknown pretrained model 'horse2cat'" in unknown.stderr


def dataset_zip(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def png_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (seed, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_dataset_unpacks_into_training_layout(server, zoo_home, tmp_path):
    entries = {f"horse2zebra/{folder}/{i}.png": png_bytes(i) for folder in ("trainA", "trainB", "testA", "testB")
               for i in range(2)}
    server.files["/cyclegan/datasets/horse2zebra.zip"] = dataset_zip(entries)
    output = fetch_dataset("horse2zebra", tmp_path / "data" / "horse2zebra", progress=False)
    assert sorted(p.name for p in output.iterdir()) == ["testA", "testB", "trainA", "trainB"]
    assert sorted(p.name for p in (output / "trainA").iterdir()) == ["0.png", "1.png"]


@pytest.mark.parametrize("entry", ["../evil.png", "/abs/evil.png", "ok/../../evil.png", "..\\evil.png"])
def test_unsafe_zip_entries_are_rejected(tmp_path, entry):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(dataset_zip({"data/trainA/fine.png": b"x", entry: b"evil"}))
    target = tmp_path / "out" / "inner"
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract(archive, target)
    assert not (tmp_path / "out" / "evil.png").exists()
    assert not (tmp_path / "evil.png").exists()
    assert not any(target.rglob("*.png"))


def test_symlink_entry_is_rejected(tmp_path):
    archive = tmp_path / "link.zip"
    archive.write_bytes(dataset_zip({"a.png": b"x"}, links=("link",)))
    with pytest.raises(UnsafeArchiveError, match="'link'"):
        safe_extract(archive, tmp_path / "out")


def test_download_dataset_script_names_unknown_dataset():
    completed = subprocess.run([PYTHON, "scripts/download_dataset.py", "cats2dogs"], cwd=REPO,
                               env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert "invalid choice: 'cats2dogs'" in completed.stderr


def test_hub_round_trip_on_local_folder(tmp_path):
    generator = ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=1))
    save_weights(tmp_path / "model", {"AtoB": generator}, model_card="# card\n")
    loaded, info = from_pretrained(tmp_path / "model")
    assert info.generator == generator.config
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), generator.state_dict().values(),
                                                 strict=True))


def test_hub_id_offline_gives_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert is_repo_id("someone/horse2zebra-cyclegan")
    with pytest.raises(FileNotFoundError, match="not in the local Hugging Face cache"):
        resolve_model("someone/horse2zebra-cyclegan-that-is-not-cached")


def test_push_to_hub_checks_the_folder_first(tmp_path):
    save_weights(tmp_path / "model", {"AtoB": ResnetGenerator(GeneratorConfig(ngf=4, n_blocks=1))})
    with pytest.raises(FileNotFoundError, match="no README.md model card"):
        push_to_hub(tmp_path / "model", "someone/model")
    with pytest.raises(FileNotFoundError, match="No config.json"):
        push_to_hub(tmp_path, "someone/model")


def test_unknown_model_lists_choices():
    with pytest.raises(FileNotFoundError, match="horse2zebra"):
        resolve_model("no-such-model")
