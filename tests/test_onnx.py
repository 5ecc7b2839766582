"""ONNX export with dynamic sizes, checked against PyTorch with onnxruntime."""

from __future__ import annotations

import subprocess

import pytest
import torch

from tests.conftest import PYTHON, REPO, subprocess_env
from translate.networks import GeneratorConfig, ResnetGenerator
from translate.onnx_export import export_onnx, onnx_max_difference
from translate.weights import save_weights

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e '.[test]')")


def test_export_matches_pytorch_at_several_sizes(tmp_path):
    torch.manual_seed(0)
    generator = ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=2))
    path = export_onnx(generator, tmp_path / "generator.onnx")
    assert onnx_max_difference(path, generator, [(64, 64), (36, 52), (128, 96)]) < 1e-4


def test_export_script_writes_each_direction(tmp_path):
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=4, n_blocks=1)
    save_weights(tmp_path / "model", {"AtoB": ResnetGenerator(config), "BtoA": ResnetGenerator(config)},
                 extra={"mirror_average": True})
    completed = subprocess.run([PYTHON, "scripts/export_onnx.py", "--model", str(tmp_path / "model"), "--output",
                                str(tmp_path / "onnx")], cwd=REPO, env=subprocess_env(), capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == ["AtoB.onnx", "BtoA.onnx"]
    assert "max difference" in completed.stdout
    assert "Each ONNX file holds one pass" in completed.stdout  # the model averages two
