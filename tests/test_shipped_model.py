"""The shipped default model: loads, and beats the untranslated baseline on held-out emoji pairs.

``tests/data/emoji_heldout`` contains 48 held-out pairs, each the same emoji drawn in Noto and in
Twemoji, from the test split of ``scripts/prepare_emoji.py``. No training image is among them.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO
from translate.cli.evaluate import evaluate_model
from translate.inference import Translator
from translate.models import resolve_model
from translate.weights import read_model_info

HELDOUT = REPO / "tests" / "data" / "emoji_heldout"


@pytest.fixture(scope="module")
def scores():
    return evaluate_model(resolve_model("emoji"), HELDOUT, precision="fp32")


def test_shipped_model_has_both_directions():
    info = read_model_info(resolve_model("emoji"))
    assert set(info.directions) == {"AtoB", "BtoA"}
    assert (info.domain_a, info.domain_b) == ("Noto", "Twemoji")
    assert info.image_size == 64


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_translation_is_closer_to_truth_than_input(scores, direction):
    model, baseline = scores[direction]["model"], scores[direction]["baseline"]
    assert model["count"] == baseline["count"] == 48
    assert model["l1"] < baseline["l1"], f"{direction}: L1 {model['l1']:.4f} vs untranslated {baseline['l1']:.4f}"
    assert model["ssim"] > baseline["ssim"], (
        f"{direction}: SSIM {model['ssim']:.4f} vs untranslated {baseline['ssim']:.4f}"
    )


def test_model_card_credits_data_and_states_results():
    card = (resolve_model("emoji") / "README.md").read_text(encoding="utf-8")
    for phrase in ("Noto", "Twemoji", "Apache", "CC-BY 4.0", "cyclegan-train", "SSIM", "L1"):
        assert phrase in card, phrase


def test_shipped_model_translates_an_example():
    examples = sorted((resolve_model("emoji") / "examples").glob("*.png"))
    assert examples
    result = Translator(resolve_model("emoji"), "AtoB")(examples[0])
    assert result.size == (64, 64)


def test_fast_variant_is_cheaper_and_faithful():
    import math

    import torch

    from translate.evaluation import find_pairs, load_pair_tensors
    from translate.flops import count_macs

    fast_folder, best_folder = resolve_model("emoji-fast"), resolve_model("emoji")
    assert read_model_info(fast_folder).variant == "fast"
    assert read_model_info(best_folder).variant == "best"
    for direction, (source, target) in {"AtoB": ("testA", "testB"), "BtoA": ("testB", "testA")}.items():
        fast = Translator(fast_folder, direction, precision="fp32")
        best = Translator(best_folder, direction, precision="fp32")
        assert count_macs(fast.generator, 512, 512) * 8 <= count_macs(best.generator, 512, 512)
        images, _ = load_pair_tensors(find_pairs(HELDOUT / source, HELDOUT / target))
        batch = torch.stack(images)
        mse = ((fast.translate_tensor(batch).clamp(-1, 1) - best.translate_tensor(batch).clamp(-1, 1)) / 2).pow(2)
        psnr = 10 * math.log10(1 / mse.mean().item())
        # Against the best model as shipped (mirror-averaged), the student measures 28.20 dB (AtoB)
        # and 27.39 dB (BtoA) on these 48 images (pooled). The mean over all 343 held-out emoji
        # is 28.88 / 28.05 dB (weights/emoji-fast/evaluation.json). This checks that it stays
        # within 0.5 dB of the 48-image figures.
        assert psnr >= {"AtoB": 27.7, "BtoA": 26.89}[direction], f"{direction}: PSNR to the best model {psnr:.2f} dB"


def test_fast_variant_close_to_best(scores):
    fast = evaluate_model(resolve_model("emoji-fast"), HELDOUT, precision="fp32")
    for direction in ("AtoB", "BtoA"):
        # Stated margins: L1 at most 0.005 and SSIM at most 0.01 worse than the best model.
        assert fast[direction]["model"]["l1"] <= scores[direction]["model"]["l1"] + 0.005
        assert fast[direction]["model"]["ssim"] >= scores[direction]["model"]["ssim"] - 0.01


def test_variant_names_and_folders(tmp_path):
    from translate.models import with_variant

    assert with_variant("emoji", "fast") == "emoji-fast"
    assert with_variant("emoji-fast", "best") == "emoji"
    assert with_variant(None, "fast") == "emoji-fast"
    folder = REPO / "weights" / "emoji"
    assert with_variant(str(folder), "fast") == str(REPO / "weights" / "emoji-fast")
    assert with_variant(f"{folder}/", "fast") == str(REPO / "weights" / "emoji-fast")
    (tmp_path / "mine").mkdir()
    with pytest.raises(FileNotFoundError, match="cyclegan-distill --teacher"):
        with_variant(str(tmp_path / "mine"), "fast")
    with pytest.raises(ValueError, match="best or fast"):
        with_variant("emoji", "fastest")
    student = tmp_path / "my-student"  # a distilled folder is its own fast variant, wherever it lies
    shutil.copytree(REPO / "weights" / "emoji-fast", student)
    assert with_variant(str(student), "fast") == str(student)


def test_best_model_mirror_average(scores):
    import importlib.util

    assert read_model_info(resolve_model("emoji")).mirror_average
    assert not read_model_info(resolve_model("emoji-fast")).mirror_average
    one_pass = evaluate_model(resolve_model("emoji"), HELDOUT, precision="fp32", mirror_average=False)
    for direction in ("AtoB", "BtoA"):
        assert scores[direction]["mirror_average"] is True
        assert one_pass[direction]["mirror_average"] is False
        # As shipped (both orientations averaged) against one pass, on the committed held-out pairs.
        assert scores[direction]["model"]["ssim"] > one_pass[direction]["model"]["ssim"] + 0.005
        assert scores[direction]["model"]["l1"] < one_pass[direction]["model"]["l1"]
    spec = importlib.util.spec_from_file_location("app", REPO / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    assert "averaged with its translation of the mirror image" in app.model_summary("emoji")
    assert "mirror" not in app.model_summary("emoji-fast")


def test_evaluate_reports_mirror_averaging(tmp_path):
    import json
    import subprocess

    from tests.conftest import PYTHON, subprocess_env

    command = [PYTHON, "-m", "translate.cli.evaluate", "--model", "emoji", "--data", str(HELDOUT), "--limit", "2"]
    averaged = subprocess.run([*command, "--json", str(tmp_path / "on.json")], cwd=REPO, env=subprocess_env(),
                              capture_output=True, text=True, timeout=300)
    assert averaged.returncode == 0, averaged.stderr
    assert ("Translations: AtoB and BtoA averaged with the mirror image, as the model's config.json sets it "
            "(mirror_average, one pass where absent); --mirror-average on or off overrides it") in averaged.stdout
    assert json.loads((tmp_path / "on.json").read_text())["BtoA"]["mirror_average"] is True
    one_pass = subprocess.run([*command, "--mirror-average", "off"], cwd=REPO, env=subprocess_env(),
                              capture_output=True, text=True, timeout=300)
    assert one_pass.returncode == 0, one_pass.stderr
    assert "Translations: AtoB and BtoA in one pass, as --mirror-average off asks" in one_pass.stdout
    fast = subprocess.run([*command[:4], "emoji-fast", *command[5:]], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert fast.returncode == 0, fast.stderr
    assert "Translations: AtoB and BtoA in one pass, as the model's config.json sets it" in fast.stdout
