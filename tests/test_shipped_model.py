"""The shipped default model: loads, and beats the untranslated baseline on held-out emoji pairs.

``tests/data/emoji_heldout`` contains 48 held-out pairs, each the same emoji drawn in Noto and in
Twemoji, from the test split of ``scripts/prepare_emoji.py``. No training image is among them.
"""

from __future__ import annotations

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
