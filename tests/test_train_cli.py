"""End to end: the real training command, through ``accelerate launch`` in one and in two CPU processes."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import PYTHON, REPO, TINY_ARCHITECTURE, subprocess_env
from translate.inference import Translator, cpu_has_native_bf16

pytestmark = pytest.mark.slow


def run_training(dataset, output_dir, *extra, processes: int = 1, timeout: int = 600, launch_options=()):
    if processes == 1:
        launch = [PYTHON, "-m", "accelerate.commands.launch", "--num_processes", "1", "--cpu", *launch_options]
    else:
        # --cpu with --num_processes 2 would start a single process; --multi_gpu with
        # ACCELERATE_USE_CPU=1 starts real gloo ranks on the CPU.
        launch = [PYTHON, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
                  "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    env = subprocess_env()
    env["ACCELERATE_USE_CPU"] = "1"
    command = [
        *launch, "-m", "translate.cli.train", "--data", str(dataset), "--output_dir", str(output_dir),
        "--load_size", "36", "--crop_size", "32", "--batch_size", "2", "--num_workers", "0",
        "--log_every", "1", "--sample_every", "100", "--pool_size", "4", "--trackers", "none",
        *TINY_ARCHITECTURE, *extra,
    ]
    completed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


def networks(checkpoint_dir):
    return load_file(str(checkpoint_dir / "networks.safetensors"))


def test_resumed_run_matches_uninterrupted_run(dataset, tmp_path):
    steps = ["--steps", "6", "--decay_steps", "3", "--checkpoint_every", "3"]
    run_training(dataset, tmp_path / "straight", *steps)
    # Interrupted: the same run stopped after 3 steps (simulated by --steps 3 with the same
    # schedule would change the decay), so copy the straight run's step-3 checkpoint instead.
    interrupted = tmp_path / "interrupted"
    (interrupted / "checkpoints").mkdir(parents=True)
    shutil.copytree(tmp_path / "straight" / "checkpoints" / "step-00000003",
                    interrupted / "checkpoints" / "step-00000003")
    completed = run_training(dataset, interrupted, *steps, "--resume", "latest")
    assert "Resumed from" in completed.stderr
    straight = networks(tmp_path / "straight" / "checkpoints" / "step-00000006")
    resumed = networks(interrupted / "checkpoints" / "step-00000006")
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key


def test_training_command_exports_loadable_weights(dataset, tmp_path):
    run_training(dataset, tmp_path / "run", "--steps", "2", "--decay_steps", "1", "--checkpoint_every", "1",
                 "--keep_checkpoints", "1")
    run = tmp_path / "run"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000002"]
    translator = Translator(run / "weights", "BtoA", precision="fp32")
    image = translator(dataset / "trainB" / "b00.jpg")
    assert image.size == (40, 36)
    config = json.loads((run / "weights" / "config.json").read_text())
    assert config["directions"] == {"AtoB": "G_AB.safetensors", "BtoA": "G_BA.safetensors"}
    assert config["trained_steps"] == 2

    # Exporting the checkpoint by hand gives the same weights as the end-of-run export.
    exported = tmp_path / "exported"
    completed = subprocess.run([PYTHON, "-m", "translate.cli.export", str(run), str(exported)], cwd=REPO,
                               env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    for name in ("G_AB.safetensors", "G_BA.safetensors"):
        by_hand, at_end = load_file(str(exported / name)), load_file(str(run / "weights" / name))
        assert by_hand.keys() == at_end.keys()
        assert all(torch.equal(by_hand[key], at_end[key]) for key in by_hand)

    completed = subprocess.run([PYTHON, "-m", "translate.cli.evaluate", "--model", str(exported), "--data",
                                str(dataset), "--json", str(tmp_path / "scores.json")], cwd=REPO,
                               env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "untranslated" in completed.stdout
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["AtoB"]["model"]["count"] == 3
    assert 0 < scores["BtoA"]["baseline"]["ssim"] < 1


def test_bf16_training_runs_on_cpu(dataset, tmp_path):
    # bf16 chosen by the launcher, with the script's mixed_precision left at its default.
    completed = run_training(dataset, tmp_path / "run", "--steps", "2", "--decay_steps", "1",
                             launch_options=["--mixed_precision", "bf16"])
    assert "mixed precision bf16" in completed.stderr
    emulated = "bf16 mixed precision (accelerate launch --mixed_precision bf16) is emulated"
    assert (emulated in completed.stderr) == (not cpu_has_native_bf16())
    assert "mixed precision bf16" in (tmp_path / "run" / "weights" / "README.md").read_text()
    # Saved with the run, so that a resume without the launcher's option keeps bf16.
    assert "mixed_precision: bf16" in (tmp_path / "run" / "config.yaml").read_text()
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [line for line in lines if "loss/cycle_A" in line]
    assert len(losses) == 2
    assert all(0 < line["loss/cycle_A"] < 100 for line in losses)


def test_two_processes_train_and_stay_in_sync(dataset, tmp_path):
    run = tmp_path / "run"
    completed = run_training(dataset, run, "--steps", "4", "--decay_steps", "2", "--checkpoint_every", "2",
                             "--gradient_accumulation_steps", "2", processes=2)
    assert "Processes: 2 on cpu" in completed.stderr
    assert "Batch size: 2 per process, 4 in all, 2 micro-batches per update: 8 images per update" in completed.stderr
    assert "Step 4: parameters identical on all 2 processes" in completed.stderr
    # Only the main process writes: one metrics line per logged step, not two.
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines if "loss/cycle_A" in line] == [1, 2, 3, 4]
    pools = torch.load(run / "checkpoints" / "step-00000004" / "state.pt", weights_only=True)["pools"]
    assert len(pools) == 2
    assert (run / "weights" / "G_AB.safetensors").is_file()


def test_sigterm_saves_a_checkpoint_that_resumes(dataset, tmp_path):
    import signal
    import time

    run = tmp_path / "run"
    command = [
        PYTHON, "-m", "translate.cli.train", "--data", str(dataset), "--output_dir", str(run),
        "--load_size", "36", "--crop_size", "32", "--batch_size", "1", "--num_workers", "0", "--steps", "100000",
        "--decay_steps", "2", "--log_every", "1", "--checkpoint_every", "100000", "--trackers", "none",
        *TINY_ARCHITECTURE,
    ]
    process = subprocess.Popen(command, cwd=REPO, env=subprocess_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-3000:]
    assert "Stop requested" in stderr
    checkpoints = sorted((run / "checkpoints").iterdir())
    assert len(checkpoints) == 1
    stopped_at = int(checkpoints[0].name.split("-")[1])
    assert 3 <= stopped_at < 100000
    assert not (run / "weights").exists(), "an interrupted run must not export as if finished"

    # Only the options that change: the rest (tiny architecture, sizes, batch) come from the checkpoint.
    resumed = subprocess.run([PYTHON, "-m", "translate.cli.train", "--data", str(dataset), "--output_dir", str(run),
                              "--steps", str(stopped_at + 2), "--resume", "latest"],
                             cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resumed from {run / 'checkpoints' / checkpoints[0].name} at step {stopped_at}" in resumed.stderr
    assert f"resuming with steps = {stopped_at + 2} (the run started with 100000)" in resumed.stderr
    assert "generator.ngf" not in resumed.stderr
    assert (run / "weights" / "config.json").is_file()
