"""Distillation of a tiny teacher: the loss falls, the export loads, and the MACs are counted."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from accelerate.state import AcceleratorState
from PIL import Image

from tests.conftest import PYTHON, REPO, draw_shapes, make_dataset, subprocess_env
from translate.distill import DistillConfig, Distiller, distillation_losses
from translate.evaluation import score_images
from translate.flops import count_macs
from translate.image_io import open_image, to_tensor, to_uint8
from translate.inference import Translator, run_generator
from translate.networks import GeneratorConfig, ResnetGenerator
from translate.weights import load_generator, read_model_info, save_weights


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


@pytest.fixture
def teacher(tmp_path):
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=16, n_blocks=3)
    folder = tmp_path / "teacher"
    save_weights(folder, {"AtoB": ResnetGenerator(config), "BtoA": ResnetGenerator(config)},
                 domain_a="Noto", domain_b="Twemoji", image_size=32,
                 extra={"training_data": "test shapes", "license": "MIT"})
    return folder


def config_for(teacher, data, output, **overrides) -> DistillConfig:
    values = dict(teacher=str(teacher), data=str(data), output_dir=str(output), student={"ngf": 4, "n_blocks": 1},
                  batch_size=4, steps=40, decay_steps=10, lr=3e-3, num_workers=0, trackers="none", log_every=5,
                  checkpoint_every=20)
    values.update(overrides)
    return DistillConfig.from_dict(values)


@pytest.mark.parametrize("cache_teacher", [True, False])
def test_distillation_lowers_the_student_teacher_loss(teacher, tmp_path, cache_teacher):
    data = make_dataset(tmp_path / "data", size=(32, 32))
    distiller = Distiller(config_for(teacher, data, tmp_path / "run", cache_teacher=cache_teacher))
    assert set(distiller.caches) == ({"AtoB", "BtoA"} if cache_teacher else set())
    first = sum(float(v) for v in distiller.train_step().values())
    for _ in range(30):
        last = sum(float(v) for v in distiller.train_step().values())
    assert last < 0.7 * first


def test_cached_targets_are_the_teachers_translations(teacher, tmp_path):
    data = make_dataset(tmp_path / "data", size=(32, 32))
    distiller = Distiller(config_for(teacher, data, tmp_path / "run"))
    cache = distiller.caches["BtoA"]
    assert len(cache) == 6
    assert cache.inputs.shape == (6, 3, 32, 32)
    network = load_generator(teacher, "BtoA")[0].eval()
    with torch.no_grad():
        plain = network(cache.inputs)
        mirrored = network(cache.inputs.flip(-1))
    assert torch.allclose(cache.targets[:, 0].float(), plain, atol=2e-3)
    assert torch.allclose(cache.targets[:, 1].float(), mirrored, atol=2e-3)

    real, target = cache.sample(64, torch.Generator().manual_seed(1), flip=True)
    with torch.no_grad():
        assert torch.allclose(target, network(real), atol=2e-3)  # mirrored inputs come with mirrored targets
    flipped = [any(torch.equal(image, source.flip(-1)) for source in cache.inputs) for image in real]
    assert 10 < sum(flipped) < 54
    again, _ = cache.sample(64, torch.Generator().manual_seed(1), flip=True)
    assert torch.equal(real, again)  # the same step seed draws the same batch, so resume is exact
    unflipped, _ = cache.sample(64, torch.Generator().manual_seed(1), flip=False)
    assert not any(any(torch.equal(image, source.flip(-1)) for source in cache.inputs) for image in unflipped)


def test_cache_fallbacks(teacher, tmp_path, caplog):
    not_square = make_dataset(tmp_path / "wide", size=(40, 36))
    distiller = Distiller(config_for(teacher, not_square, tmp_path / "run1"))
    assert distiller.caches == {}  # non-square images are randomly cropped
    assert set(distiller.loaders) == {("AtoB", "own"), ("BtoA", "own")}
    AcceleratorState._reset_state(True)
    square = make_dataset(tmp_path / "square", size=(32, 32))
    with caplog.at_level("INFO"):
        distiller = Distiller(config_for(teacher, square, tmp_path / "run2", cache_limit_gb=1e-6))
    assert distiller.caches == {}  # over the memory limit
    assert "cache_limit_gb" in caplog.text
    losses = distiller.train_step()
    assert all(torch.isfinite(v) for v in losses.values())


def test_card_per_direction_caching(teacher, tmp_path):
    data = make_dataset(tmp_path / "data", size=(32, 32))
    for index in range(6):  # non-square images in trainB: BtoA cannot be cached
        draw_shapes(data / "trainB" / f"b{index:02d}.jpg", (40, 36), seed=100 + index)
    distiller = Distiller(config_for(teacher, data, tmp_path / "run", steps=2, decay_steps=1))
    assert set(distiller.caches) == {"AtoB"}
    card = (distiller.fit() / "README.md").read_text()
    assert ("- Teacher outputs: computed once in fp32 for every image and its mirror image for AtoB, and at every "
            "step for BtoA\n") in card


def test_exported_student_loads_and_is_smaller(teacher, tmp_path):
    data = make_dataset(tmp_path / "data", size=(32, 32))
    folder = Distiller(config_for(teacher, data, tmp_path / "run", steps=6, decay_steps=2)).fit()
    info = read_model_info(folder)
    assert info.variant == "fast"
    assert set(info.directions) == {"AtoB", "BtoA"}
    assert info.extra["teacher"] == str(teacher)
    assert info.extra["license"] == "MIT"
    translator = Translator(folder, "BtoA")
    assert translator.generator.config == GeneratorConfig(ngf=4, n_blocks=1)
    assert translator(data / "trainB" / "b00.jpg").size == (32, 32)

    teacher_macs = count_macs(ResnetGenerator(GeneratorConfig(ngf=16, n_blocks=3)), 512, 512)
    assert info.extra["teacher_macs_512"] == teacher_macs
    assert info.extra["macs_512"] == count_macs(translator.generator, 512, 512)
    assert info.extra["macs_512"] * 8 < teacher_macs
    card = (folder / "README.md").read_text()
    assert "fast variant" in card
    assert str(teacher) in card
    assert "- Teacher outputs: computed once in fp32 for every image and its mirror image\n" in card
    assert ("- Training: 6 steps at batch size 4, L1 weight 1.0 plus (1 - SSIM) weight 0.5 against the teacher's "
            "output,\n  Adam lr 0.003, exponential moving average of the weights (decay 0.999),\n  mixed precision "
            "fp32") in card
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert info.extra["last_losses"]["step"] == 6
    assert info.extra["last_losses"]["loss/AtoB_l1"] == last["loss/AtoB_l1"]
    expected = ("Last logged training loss against the teacher (step 6, one batch, before the moving average, "
                "times the loss weights above; ssim_loss is the (1 - SSIM) term): "
                f"AtoB_l1 {last['loss/AtoB_l1']:.4f}")
    assert expected in card


def test_distill_command_resumes(teacher, tmp_path):
    data = make_dataset(tmp_path / "data", size=(32, 32))
    command = [PYTHON, "-m", "translate.cli.distill", "--teacher", str(teacher), "--data", str(data),
               "--output_dir", str(tmp_path / "run"), "--student.ngf", "4", "--student.n_blocks", "1",
               "--batch_size", "2", "--decay_steps", "2", "--num_workers", "0", "--trackers", "none",
               "--log_every", "1", "--checkpoint_every", "2"]
    first = subprocess.run([*command, "--steps", "4"], cwd=REPO, env=subprocess_env(), capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    second = subprocess.run([*command, "--steps", "6", "--resume", "latest"], cwd=REPO, env=subprocess_env(),
                            capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resumed from" in second.stderr
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [record["step"] for record in records] == [1, 2, 3, 4, 5, 6]
    assert 0 < records[-1]["loss/AtoB_ssim_loss"] < 0.5  # (1 - SSIM) times lambda_ssim 0.5

    again = subprocess.run([*command, "--steps", "6"], cwd=REPO, env=subprocess_env(), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 2
    assert "already contains a run (newest checkpoint: step-00000006). Continue it with --resume latest" in again.stderr
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 6

    # Options left out on resume keep the run's saved values (batch size 2, not the default 8).
    short = [PYTHON, "-m", "translate.cli.distill", "--output_dir", str(tmp_path / "run"), "--resume", "latest",
             "--steps", "7"]
    third = subprocess.run(short, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "resuming with steps = 7 (the run started with 6)" in third.stderr
    assert "batch_size" not in third.stderr
    assert read_model_info(tmp_path / "run" / "weights").extra["trained_steps"] == 7
    assert "7 steps at batch size 2" in (tmp_path / "run" / "weights" / "README.md").read_text()


def test_extra_inputs_join_training_images(teacher, tmp_path):
    data = make_dataset(tmp_path / "data", size=(32, 32))
    for index in range(4):
        draw_shapes(data / "extraA" / f"x{index}.png", (32, 32), seed=400 + index)
    without = Distiller(config_for(teacher, data, tmp_path / "run1", extra_inputs=False))
    assert without.input_counts == {"AtoB": 6, "BtoA": 6}
    AcceleratorState._reset_state(True)
    distiller = Distiller(config_for(teacher, data, tmp_path / "run2"))
    assert distiller.input_counts == {"AtoB": 10, "BtoA": 6}  # no extraB/ folder: training images only
    inputs = distiller.caches["AtoB"].inputs
    assert inputs.shape[0] == 10
    assert torch.equal(inputs[:6], without.caches["AtoB"].inputs)
    assert not any(torch.equal(extra, image) for extra in inputs[6:] for image in inputs[:6])
    card = (distiller.fit() / "README.md").read_text()
    assert "10 images for AtoB (6 training, 4 extra), 6 images for BtoA" in card


def test_cycle_inputs_translate_other_domain(teacher, tmp_path):
    data = make_dataset(tmp_path / "data", size=(32, 32))
    for index in range(2):
        draw_shapes(data / "extraA" / f"x{index}.png", (32, 32), seed=400 + index)
    run = tmp_path / "run"
    distiller = Distiller(config_for(teacher, data, run, cycle_inputs=True, steps=2, decay_steps=1))
    # AtoB learns from its 6 training and 2 extra images and from BtoA's translations of the 6 B images.
    assert distiller.input_counts == {"AtoB": 14, "BtoA": 14}
    assert (len(distiller.caches["AtoB"]), len(distiller.cycle_caches["AtoB"])) == (8, 6)
    assert (len(distiller.caches["BtoA"]), len(distiller.cycle_caches["BtoA"])) == (6, 8)
    assert distiller.batch_split == {"own": 3, "cycle": 1}  # cycle_share 0.25 of 4
    cycle_root = run / "cycle_inputs"
    written_names = sorted(path.relative_to(cycle_root).as_posix() for path in cycle_root.rglob("*.png"))
    expected_names = ([f"BtoA/trainA/a{i:02d}.png.png" for i in range(6)]
                      + ["BtoA/extraA/x0.png.png", "BtoA/extraA/x1.png.png"]
                      + [f"AtoB/trainB/b{i:02d}.jpg.png" for i in range(6)])
    assert written_names == sorted(expected_names)
    generator = load_generator(teacher, "AtoB")[0].eval()
    with torch.no_grad():
        expected = to_uint8(run_generator(generator, to_tensor(open_image(data / "trainA" / "a03.png"))[None])[0])
    written = np.asarray(Image.open(run / "cycle_inputs" / "BtoA" / "trainA" / "a03.png.png"))
    assert np.abs(written.astype(int) - expected.astype(int)).max() <= 1
    assert any(torch.equal(image, to_tensor(Image.fromarray(written)))
               for image in distiller.cycle_caches["BtoA"].inputs)
    losses = distiller.train_step()
    assert set(losses) == {"AtoB_l1", "AtoB_ssim_loss", "BtoA_l1", "BtoA_ssim_loss"}

    # A new start in the same folder reuses the files. Another teacher or --data is rejected.
    stamps = {path: path.stat().st_mtime_ns for path in (run / "cycle_inputs").rglob("*.png")}
    AcceleratorState._reset_state(True)
    again = Distiller(config_for(teacher, data, run, cycle_inputs=True, steps=2, decay_steps=1))
    assert {path: path.stat().st_mtime_ns for path in (run / "cycle_inputs").rglob("*.png")} == stamps
    other = tmp_path / "other-teacher"
    shutil.copytree(teacher, other)
    AcceleratorState._reset_state(True)
    with pytest.raises(ValueError, match=r"made with a different teacher \(recorded in made_by.json"):
        Distiller(config_for(other, data, run, cycle_inputs=True))
    moved = tmp_path / "data-copy"
    shutil.copytree(data, moved)
    AcceleratorState._reset_state(True)
    with pytest.raises(ValueError, match=r"made with a different data \(recorded in made_by.json"):
        Distiller(config_for(teacher, moved, run, cycle_inputs=True))
    card = (again.fit() / "README.md").read_text()
    assert ("14 images for AtoB (6 training, 2 extra, 6 cycle), 14 images for BtoA (6 training, 8 cycle)"
            in card)
    assert "(its AtoB outputs are inputs for BtoA, and back), 1 of each batch of 4\n" in card
    assert read_model_info(run / "weights").extra["inputs"] == {"AtoB": 14, "BtoA": 14}


def test_cycle_inputs_without_cache_and_one_direction(teacher, tmp_path):
    data = make_dataset(tmp_path / "data", size=(48, 36))  # not square: the teacher runs at every step
    distiller = Distiller(config_for(teacher, data, tmp_path / "run", cycle_inputs=True))
    assert distiller.caches == {}
    assert distiller.cycle_caches == {}
    assert set(distiller.loaders) == {("AtoB", "own"), ("AtoB", "cycle"), ("BtoA", "own"), ("BtoA", "cycle")}
    sizes = {Image.open(path).size for path in (tmp_path / "run" / "cycle_inputs").rglob("*.png")}
    assert sizes == {(43, 32)}  # resized to the load size (32), as the loader would
    first = sum(float(v) for v in distiller.train_step().values())
    assert first > 0

    one_way = tmp_path / "one-way"
    save_weights(one_way, {"AtoB": ResnetGenerator(GeneratorConfig(ngf=8, n_blocks=1))}, domain_a="A", domain_b="B",
                 image_size=32)
    AcceleratorState._reset_state(True)
    with pytest.raises(ValueError, match="cycle_inputs needs a teacher with both directions; .* has only AtoB"):
        Distiller(config_for(one_way, data, tmp_path / "run2", cycle_inputs=True))


def test_bad_extra_inputs_named_or_skipped(teacher, tmp_path, caplog):
    data = make_dataset(tmp_path / "data", size=(32, 32))
    (data / "extraB").mkdir()  # empty: the training images alone are the inputs
    (data / "extraA").mkdir()
    draw_shapes(data / "extraA" / "good.png", (32, 32), seed=7)
    (data / "extraA" / "broken.png").write_text("not an image")
    with caplog.at_level("INFO"):
        distiller = Distiller(config_for(teacher, data, tmp_path / "run"))
    assert distiller.input_counts == {"AtoB": 7, "BtoA": 6}
    assert "Skipping unreadable image" in caplog.text
    assert "broken.png" in caplog.text
    assert "extraB has no images" in caplog.text


def test_student_option_keeps_other_default():
    from translate.cli.distill import build_parser
    from translate.config import config_from_args

    config = config_from_args(build_parser().parse_args(["--student.ngf", "8"]), DistillConfig)
    assert config.student.ngf == 8
    assert config.student.n_blocks == DistillConfig().student.n_blocks


def test_init_from_earlier_student(teacher, tmp_path):
    data = make_dataset(tmp_path / "data", size=(32, 32))
    earlier = Distiller(config_for(teacher, data, tmp_path / "first", steps=4, decay_steps=2)).fit()
    AcceleratorState._reset_state(True)
    later = Distiller(config_for(teacher, data, tmp_path / "second", init_from=str(earlier)))
    for direction in ("AtoB", "BtoA"):
        saved = load_generator(earlier, direction)[0].state_dict()
        for module in (later.accelerator.unwrap_model(later.students[direction]), later.emas[direction].module):
            assert all(torch.equal(module.state_dict()[key], value) for key, value in saved.items())
    assert "Started from the earlier student" in (later.fit() / "README.md").read_text()
    AcceleratorState._reset_state(True)
    with pytest.raises(ValueError, match="init_from .* contains a generator .* Give the same student shape"):
        Distiller(config_for(teacher, data, tmp_path / "third", init_from=str(earlier),
                             student={"ngf": 8, "n_blocks": 1}))


def test_missing_teacher_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-teacher"):
        Distiller(config_for(tmp_path / "no-such-teacher", tmp_path, tmp_path / "run"))


def test_missing_data_is_explained(teacher, tmp_path):
    with pytest.raises(ValueError, match="Missing --data: pass the folder"):
        Distiller(config_for(teacher, "", tmp_path / "run"))


def test_invalid_intervals_are_rejected(teacher, tmp_path):
    with pytest.raises(ValueError, match="checkpoint_every must be at least 1"):
        config_for(teacher, tmp_path, tmp_path / "run", checkpoint_every=0)
    with pytest.raises(ValueError, match="cache_limit_gb must be 0 or more, got -1"):
        config_for(teacher, tmp_path, tmp_path / "run", cache_limit_gb=-1)
    with pytest.raises(ValueError, match="ema_decay must be at least 0 and below 1, got 1.5"):
        config_for(teacher, tmp_path, tmp_path / "run", ema_decay=1.5)
    with pytest.raises(ValueError, match="mixed_precision must be one of no, fp32, auto, bf16, fp16, got 'fp8'"):
        config_for(teacher, tmp_path, tmp_path / "run", mixed_precision="fp8")
    with pytest.raises(ValueError, match="one above 0, got lambda_l1 0.0, lambda_ssim 0.0, lambda_log_mse 0.0"):
        config_for(teacher, tmp_path, tmp_path / "run", lambda_l1=0.0, lambda_ssim=0.0, lambda_log_mse=0.0)
    with pytest.raises(ValueError, match="0 or more, and at least one above 0, got .* lambda_log_mse -1.0"):
        config_for(teacher, tmp_path, tmp_path / "run", lambda_log_mse=-1)
    with pytest.raises(ValueError, match="cycle_share 0.1 of batch_size 4 gives 0 cycle inputs per batch"):
        config_for(teacher, tmp_path, tmp_path / "run", cycle_inputs=True, cycle_share=0.1)
    for share in (1.0, -0.5):
        with pytest.raises(ValueError, match=f"cycle_share must be above 0 and below 1 .*, got {share}"):
            config_for(teacher, tmp_path, tmp_path / "run", cycle_share=share)
    with pytest.raises(ValueError, match="must be finite, 0 or more"):
        config_for(teacher, tmp_path, tmp_path / "run", lambda_l1=float("nan"))
    assert config_for(teacher, tmp_path, tmp_path / "run", batch_size=10).cycle_batch == 3  # 2.5 rounds up


def test_log_mse_matches_mean_psnr(teacher, tmp_path):
    config = config_for(teacher, tmp_path, tmp_path / "run", lambda_l1=0, lambda_ssim=0, lambda_log_mse=2.0)
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(3, 3, 16, 16, generator=generator) - 0.5  # errors stay inside [-1, 1]
    # Errors of very different sizes per image: the mean of the logs is not the log of the mean.
    scale = torch.tensor([0.01, 0.03, 0.1])[:, None, None, None]
    output = target + torch.randn(3, 3, 16, 16, generator=generator) * scale
    losses = distillation_losses(output, target, config)
    assert set(losses) == {"log_mse"}
    psnr = score_images(list(output), list(target)).psnr
    assert float(losses["log_mse"]) == pytest.approx(-psnr / 10 * 2.0, abs=1e-3)


def test_compare_students_ranks_shapes(teacher, tmp_path):
    data = make_dataset(tmp_path / "data", size=(32, 32))
    output = tmp_path / "shapes.jsonl"
    command = [PYTHON, "scripts/compare_students.py", str(teacher), str(data), "--direction", "BtoA", "--steps", "3",
               "--batch-size", "2", "--shape", "4/1", "--shape", "8/0", "--output", str(output)]
    result = subprocess.run(command, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "BtoA: 6 inputs, 3 held-out images" in result.stdout
    mirror = re.search(r"mirrored back, are (\d+\.\d+) dB PSNR from its translations", result.stdout)
    assert mirror and 0 < float(mirror.group(1)) < 100
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["shape"] for row in rows] == ["4/1", "8/0"]
    teacher_macs = count_macs(ResnetGenerator(GeneratorConfig(ngf=16, n_blocks=3)), 512, 512)
    student_macs = count_macs(ResnetGenerator(GeneratorConfig(ngf=4, n_blocks=1)), 512, 512)
    assert rows[0]["macs_ratio"] == round(teacher_macs / student_macs, 2)
    assert 0 < rows[0]["psnr_held_out"] < 60
    assert rows[0]["speed_ratio"] > 0

    bad = subprocess.run([*command[:-4], "--shape", "wide"], cwd=REPO, env=subprocess_env(), capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2
    assert "Invalid shape 'wide': write NGF/BLOCKS" in bad.stderr
    zero = subprocess.run([*command[:-4], "--shape", "0/6"], cwd=REPO, env=subprocess_env(), capture_output=True,
                          text=True, timeout=120)
    assert "Invalid shape '0/6': GeneratorConfig.ngf must be at least 1, got 0" in zero.stderr
    infinite = subprocess.run([*command, "--lr", "inf"], cwd=REPO, env=subprocess_env(), capture_output=True,
                              text=True, timeout=120)
    assert infinite.returncode == 2
    assert "Invalid value 'inf': give a finite number above 0" in infinite.stderr


def test_compare_students_explains_bad_input(teacher, tmp_path):
    data = make_dataset(tmp_path / "data", size=(32, 30))  # not square: the teacher's outputs cannot be cached
    base = [PYTHON, "scripts/compare_students.py", str(teacher), str(data), "--steps", "2", "--shape", "4/1"]
    results = {
        "not square": subprocess.run(base, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=120),
        "no teacher": subprocess.run([*base[:2], str(tmp_path / "none"), *base[3:]], cwd=REPO, env=subprocess_env(),
                                     capture_output=True, text=True, timeout=120),
        "zero steps": subprocess.run([*base, "--steps", "0"], cwd=REPO, env=subprocess_env(), capture_output=True,
                                     text=True, timeout=120),
        "negative lr": subprocess.run([*base, "--lr", "-1"], cwd=REPO, env=subprocess_env(), capture_output=True,
                                      text=True, timeout=120),
    }
    for name, result in results.items():
        assert result.returncode == 2, name
        assert "Traceback" not in result.stderr, name
    assert "are not all square" in results["not square"].stderr
    assert "is not square" in results["not square"].stderr  # the log line names the file
    assert "The first one is named above. Crop them to squares" in results["not square"].stderr
    assert f"Cannot load the teacher {tmp_path / 'none'}" in results["no teacher"].stderr
    assert "Invalid value '0': give a whole number of at least 1" in results["zero steps"].stderr
    assert "Invalid value '-1': give a finite number above 0" in results["negative lr"].stderr


def test_train_resume_rejects_distillation(teacher, tmp_path, capsys):
    from translate.cli.train import main as train_main

    data = make_dataset(tmp_path / "data", size=(32, 32))
    Distiller(config_for(teacher, data, tmp_path / "run", steps=2, decay_steps=1, checkpoint_every=1)).fit()
    AcceleratorState._reset_state(True)
    code = train_main(["--data", str(data), "--output_dir", str(tmp_path / "run"), "--resume", "latest"])
    assert code == 2
    error = capsys.readouterr().err
    assert "is a checkpoint of a cyclegan-distill run, not of cyclegan-train" in error
    assert "Resume it with cyclegan-distill --resume latest" in error


@pytest.mark.parametrize("cache_teacher", [True, False])
def test_mirror_averaging_teacher_targets(teacher, tmp_path, cache_teacher):
    config_path = teacher / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "mirror_average": True}))
    data = make_dataset(tmp_path / "data", size=(32, 32))
    distiller = Distiller(config_for(teacher, data, tmp_path / "run", steps=2, decay_steps=1,
                                     cache_teacher=cache_teacher))
    network = load_generator(teacher, "AtoB")[0].eval()

    def averaged(images):
        with torch.no_grad():
            return (network(images) + network(images.flip(-1)).flip(-1)) / 2

    if cache_teacher:
        cache = distiller.caches["AtoB"]
        assert torch.allclose(cache.targets[:, 0].float(), averaged(cache.inputs), atol=2e-3)
        assert torch.equal(cache.targets[:, 1], cache.targets[:, 0].flip(-1))
        real, target = cache.sample(16, torch.Generator().manual_seed(1), flip=True)
        assert torch.allclose(target, averaged(real), atol=2e-3)
    else:
        # Without a cache the teacher runs at every step, in both orientations.
        real = torch.rand(2, 3, 32, 32) * 2 - 1
        assert torch.allclose(distiller.teacher_output("AtoB", real), averaged(real), atol=1e-5)
        with torch.no_grad():
            assert float((averaged(real) - network(real)).abs().mean()) > 0.01
    folder = distiller.fit()
    assert read_model_info(folder).extra["teacher_mirror_average"] is True
    assert not read_model_info(folder).mirror_average  # the student runs one pass
    assert "the student learns that average in a single pass" in (folder / "README.md").read_text()
