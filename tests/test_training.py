"""The training step, schedule, checkpoints and export, in process on tiny networks."""

from __future__ import annotations

import math
import shutil

import pytest
import torch
from accelerate.state import AcceleratorState

from translate.checkpoint import architecture_differences, list_checkpoints, resolve_resume
from translate.config import TrainConfig
from translate.inference import cpu_has_native_bf16
from translate.training import Trainer, linear_decay, precision_label, training_device, training_precision
from translate.weights import load_generator


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


def tiny_config(dataset, output_dir, **overrides) -> TrainConfig:
    values = dict(
        data=str(dataset), output_dir=str(output_dir), load_size=36, crop_size=32, batch_size=2, steps=4,
        decay_steps=2, num_workers=0, trackers="none", log_every=1, sample_every=2, checkpoint_every=2,
        generator={"ngf": 8, "n_blocks": 2}, discriminator={"ndf": 8, "n_layers": 2}, pool_size=3,
    )
    values.update(overrides)
    return TrainConfig.from_dict(values)


def test_one_step_changes_all_networks_with_finite_losses(dataset, tmp_path):
    trainer = Trainer(tiny_config(dataset, tmp_path / "run"))
    before = {name: [p.detach().clone() for p in getattr(trainer.nets, name).parameters()]
              for name in ("G_AB", "G_BA", "D_A", "D_B")}
    losses = trainer.train_step(trainer.next_micro_batches())
    expected = {"G_adv_AB", "G_adv_BA", "cycle_A", "cycle_B", "identity_A", "identity_B", "D_A", "D_B"}
    assert set(losses) == expected
    assert all(math.isfinite(v.item()) for v in losses.values())
    for name, old in before.items():
        new = list(getattr(trainer.nets, name).parameters())
        changed = sum(not torch.equal(a, b) for a, b in zip(old, new, strict=True))
        assert changed == len(old), f"{name}: only {changed} of {len(old)} tensors changed"


def test_no_identity_loss_when_weight_is_zero(dataset, tmp_path):
    trainer = Trainer(tiny_config(dataset, tmp_path / "run", lambda_identity=0.0))
    losses = trainer.train_step(trainer.next_micro_batches())
    assert "identity_A" not in losses
    assert "identity_B" not in losses


def test_linear_decay_schedule():
    factor = linear_decay(TrainConfig(steps=10, decay_steps=4))
    assert [factor(s) for s in range(6)] == [1.0] * 6
    assert factor(7) == pytest.approx(1 - 1 / 5)
    assert factor(9) == pytest.approx(1 - 3 / 5)
    assert factor(10) == pytest.approx(1 - 4 / 5)


def test_fit_writes_checkpoints_samples_metrics_and_weights(dataset, tmp_path):
    config = tiny_config(dataset, tmp_path / "run", keep_checkpoints=1)
    folder = Trainer(config).fit()
    run = tmp_path / "run"
    assert [p.name for p in list_checkpoints(run)] == ["step-00000004"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-00000002.png", "step-00000004.png"]
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert any('"eval/AtoB_ssim"' in line for line in lines)
    assert sum('"loss/cycle_A"' in line for line in lines) == 4
    for direction in ("AtoB", "BtoA"):
        generator, info = load_generator(folder, direction)
        assert info.generator.ngf == 8
        assert info.image_size == 36


def test_resume_refuses_a_different_architecture(dataset, tmp_path):
    Trainer(tiny_config(dataset, tmp_path / "run", steps=2, decay_steps=1)).fit()
    AcceleratorState._reset_state(True)
    changed = tiny_config(dataset, tmp_path / "run", generator={"ngf": 16, "n_blocks": 2})
    with pytest.raises(ValueError, match=r"generator\.ngf: checkpoint has 8, requested 16"):
        Trainer(changed, resume="latest")


def test_new_run_refuses_a_folder_with_checkpoints(dataset, tmp_path):
    Trainer(tiny_config(dataset, tmp_path / "run", steps=2, decay_steps=1)).fit()
    before = (tmp_path / "run" / "weights" / "G_AB.safetensors").read_bytes()
    AcceleratorState._reset_state(True)
    with pytest.raises(FileExistsError, match=r"already contains a run \(newest checkpoint: step-00000002\)"):
        Trainer(tiny_config(dataset, tmp_path / "run", steps=2, decay_steps=1))
    assert (tmp_path / "run" / "weights" / "G_AB.safetensors").read_bytes() == before
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step-00000002"]

    # Without its checkpoints, the finished run's exported weights are still kept.
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    AcceleratorState._reset_state(True)
    with pytest.raises(FileExistsError, match=r"already contains exported weights .* but no checkpoint to resume"):
        Trainer(tiny_config(dataset, tmp_path / "run", steps=2, decay_steps=1))
    assert (tmp_path / "run" / "weights" / "G_AB.safetensors").read_bytes() == before

    # A run that stopped before its first checkpoint leaves metrics a new run would append to.
    shutil.rmtree(tmp_path / "run" / "weights")
    metrics = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert metrics
    AcceleratorState._reset_state(True)
    with pytest.raises(FileExistsError, match=r"already contains metrics\.jsonl of an earlier run that stopped"):
        Trainer(tiny_config(dataset, tmp_path / "run", steps=2, decay_steps=1))
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == metrics


def test_resume_latest_without_checkpoint_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="No complete checkpoint"):
        resolve_resume("latest", tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not a checkpoint folder"):
        resolve_resume(str(tmp_path), tmp_path)


def test_architecture_differences_lists_fields():
    saved = TrainConfig().to_dict()
    requested = TrainConfig(generator={"ngf": 32, "n_blocks": 6})
    assert architecture_differences(saved, requested) == [
        "generator.ngf: checkpoint has 64, requested 32",
        "generator.n_blocks: checkpoint has 9, requested 6",
    ]


def test_missing_data_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Trainer(tiny_config(tmp_path / "nowhere", tmp_path / "run"))


def gradients(trainer) -> dict[str, torch.Tensor]:
    """Gradients left on every parameter by the last step (optimizers zero them only at the next step)."""
    return {f"{name}.{key}": parameter.grad.clone()
            for name in ("G_AB", "G_BA", "D_A", "D_B")
            for key, parameter in getattr(trainer.nets, name).named_parameters()}


def test_accumulation_matches_larger_batch(tmp_path):
    from tests.conftest import draw_shapes

    data = tmp_path / "square"
    for index in range(8):
        draw_shapes(data / "trainA" / f"{index}.png", (32, 32), index)
        draw_shapes(data / "trainB" / f"{index}.png", (32, 32), 50 + index)
    # No random crops or flips and no history pool, so both runs see exactly the same images.
    common = dict(load_size=32, crop_size=32, flip=False, pool_size=0)

    large = Trainer(tiny_config(data, tmp_path / "large", batch_size=4, **common))
    large.train_step(large.next_micro_batches())
    expected = gradients(large)

    AcceleratorState._reset_state(True)
    accumulated = Trainer(tiny_config(data, tmp_path / "small", batch_size=2, gradient_accumulation_steps=2,
                                      **common))
    batches = accumulated.next_micro_batches()
    assert len(batches) == 2
    assert batches[0][0].shape[0] == 2
    losses = accumulated.train_step(batches)
    actual = gradients(accumulated)

    assert all(torch.isfinite(value) for value in losses.values())
    # Equal up to float32 summation order. Biases right before an instance norm have a true
    # gradient of zero and only rounding noise, hence the absolute floor.
    scale = max(value.abs().max().item() for value in expected.values())
    for key, value in expected.items():
        assert torch.allclose(actual[key], value, rtol=1e-3, atol=1e-5 * scale), key


def test_fp16_on_cpu_is_explained(dataset, tmp_path):
    with pytest.raises(ValueError, match=r"fp16 mixed precision \(--mixed_precision fp16\) needs a GPU"):
        Trainer(tiny_config(dataset, tmp_path / "run", mixed_precision="fp16"))


def test_small_images_and_unbalanced_domains_are_logged(tmp_path, caplog):
    from tests.conftest import draw_shapes

    data = tmp_path / "data"
    for index in range(6):
        draw_shapes(data / "trainA" / f"{index}.png", (20, 20), index)
    for index in range(2):
        draw_shapes(data / "trainB" / f"{index}.png", (40, 40), index)
    with caplog.at_level("INFO"):
        Trainer(tiny_config(data, tmp_path / "run")).log_header()
    text = caplog.text
    assert "6 images in" in text
    assert "smaller than crop_size 32 and are upscaled" in text
    assert "Unbalanced domains (6 vs 2 images)" in text


def test_training_precision_choices(monkeypatch, caplog):
    cpu = torch.device("cpu")
    monkeypatch.setenv("ACCELERATE_USE_CPU", "1")
    assert training_device() == cpu
    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    assert training_precision("auto", cpu, native_bf16=True) == "bf16"
    assert training_precision("auto", cpu, native_bf16=False) == "no"
    assert training_precision("auto", cpu) == ("bf16" if cpu_has_native_bf16() else "no")
    assert training_precision("no", cpu) == "no"

    with caplog.at_level("WARNING", logger="translate.training"):
        assert training_precision("bf16", cpu, native_bf16=True) == "bf16"
        assert not caplog.records
        assert training_precision("bf16", cpu, native_bf16=False) == "bf16"
    assert "emulated and about 10x slower than fp32" in caplog.text
    assert "bf16 mixed precision (--mixed_precision bf16) is emulated" in caplog.text
    assert "Use --mixed_precision auto or fp32" in caplog.text
    caplog.clear()
    monkeypatch.setenv("RANK", "1")  # another process of a launch: only the first one warns
    with caplog.at_level("WARNING", logger="translate.training"):
        assert training_precision("bf16", cpu, native_bf16=False) == "bf16"
    assert not caplog.records
    monkeypatch.setenv("RANK", "0")

    # accelerate launch --mixed_precision reaches the script as this variable; it applies where the
    # run's own setting is the default, no.
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    assert training_precision("no", cpu, native_bf16=True) == "bf16"
    assert training_precision("auto", cpu, native_bf16=False) == "no"
    assert training_precision("fp32", cpu, native_bf16=True) == "no"
    caplog.clear()
    with caplog.at_level("WARNING", logger="translate.training"):
        training_precision("no", cpu, native_bf16=False)
    assert "bf16 mixed precision (accelerate launch --mixed_precision bf16) is emulated" in caplog.text
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp16")
    launcher_fp16 = r"fp16 mixed precision \(accelerate launch --mixed_precision fp16\) needs a GPU"
    with pytest.raises(ValueError, match=launcher_fp16):
        training_precision("no", cpu)
    with pytest.raises(ValueError, match=r"fp16 mixed precision \(--mixed_precision fp16\) needs a GPU"):
        training_precision("fp16", cpu)
    assert training_precision("fp32", cpu) == "no"
    assert precision_label("no") == "fp32"
    assert precision_label("bf16") == "bf16"
    assert precision_label("bf16", "auto") == "bf16 (auto)"
