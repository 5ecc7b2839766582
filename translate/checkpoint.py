"""Training checkpoints: the whole state of a run, written atomically and rotated.

A checkpoint is a folder ``checkpoints/step-00001000/`` holding

- ``networks.safetensors``: G_AB, G_BA, D_A, D_B and the EMA generators, keys prefixed by network;
- ``state.pt``: optimizers, learning-rate schedules, step, image pools of every process, config
  and package version, loaded with ``torch.load(weights_only=True)``.

It is first written under a temporary name and then renamed, so a run killed while saving
leaves the previous checkpoint intact and never a partial one under a final name.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from translate.config import TrainConfig

_STEP_FOLDER = re.compile(r"^step-(\d{8})$")
ARCHITECTURE_FIELDS = ("generator", "discriminator")


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _STEP_FOLDER.match(p.name) and (p / "state.pt").is_file()]
    return sorted(found, key=lambda p: int(_STEP_FOLDER.match(p.name).group(1)))


def check_new_run(output_dir: str | Path) -> None:
    """Raise ``FileExistsError`` if ``output_dir`` contains checkpoints, exported weights or logged metrics.

    A new run would overwrite the first two and append to the metrics of the earlier run, so it
    needs a folder of its own. A run that stopped before its first checkpoint leaves only
    metrics (and training samples) behind.
    """
    checkpoints = list_checkpoints(output_dir)
    if checkpoints:
        raise FileExistsError(
            f"{output_dir} already contains a run (newest checkpoint: {checkpoints[-1].name}). Continue it with "
            "--resume latest, or start a new run with another --output_dir."
        )
    weights = Path(output_dir) / "weights" / "config.json"
    if weights.is_file():
        raise FileExistsError(
            f"{output_dir} already contains exported weights ({weights.parent}) but no checkpoint to resume. Start "
            "the new run with another --output_dir, or move that weights folder elsewhere first."
        )
    metrics = Path(output_dir) / "metrics.jsonl"
    if metrics.is_file() and metrics.stat().st_size > 0:
        raise FileExistsError(
            f"{output_dir} already contains {metrics.name} of an earlier run that stopped before its first "
            "checkpoint, so there is nothing to resume. Start the new run with another --output_dir, or delete or "
            "move that file (and any samples/ folder next to it) first."
        )


def resolve_resume(resume: str, output_dir: str | Path) -> Path:
    """Turn ``--resume latest`` or a checkpoint path into a checkpoint folder, or raise naming the problem."""
    if resume == "latest":
        checkpoints = list_checkpoints(output_dir)
        if not checkpoints:
            raise FileNotFoundError(
                f"No complete checkpoint under {checkpoint_root(output_dir)}. Check the run folder "
                "(--output_dir), or start a new run without --resume in a folder that contains no earlier run."
            )
        return checkpoints[-1]
    path = Path(resume)
    if not (path / "state.pt").is_file() or not (path / "networks.safetensors").is_file():
        raise FileNotFoundError(
            f"{resume}: not a checkpoint folder (expected state.pt and networks.safetensors in it). "
            f"Give 'latest' or a folder such as {checkpoint_root(output_dir) / 'step-00001000'}."
        )
    return path


def save_checkpoint(
    output_dir: str | Path, step: int, networks: dict[str, torch.nn.Module], state: dict, keep: int
) -> Path:
    """Write a checkpoint folder atomically and delete all but the newest ``keep``."""
    root = checkpoint_root(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    temporary = root / f".tmp-step-{step:08d}-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()

    tensors = {}
    for name, network in networks.items():
        for key, value in network.state_dict().items():
            tensors[f"{name}.{key}"] = value.detach().cpu().contiguous()
    save_file(tensors, str(temporary / "networks.safetensors"))
    torch.save(state, temporary / "state.pt")

    if final.exists():
        shutil.rmtree(final)
    os.replace(temporary, final)
    for old in list_checkpoints(output_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(folder: str | Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
    """Read a checkpoint folder into per-network state dicts and the training state."""
    folder = Path(folder)
    tensors = load_file(str(folder / "networks.safetensors"))
    networks: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, rest = key.split(".", 1)
        networks.setdefault(name, {})[rest] = value
    state = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
    return networks, state


def architecture_differences(saved: dict, requested: TrainConfig) -> list[str]:
    """Describe each architecture field where a checkpoint's config differs from the requested one."""
    differences = []
    requested_values = requested.to_dict()
    for section in ARCHITECTURE_FIELDS:
        for key, value in requested_values[section].items():
            old = saved.get(section, {}).get(key)
            if old != value:
                differences.append(f"{section}.{key}: checkpoint has {old!r}, requested {value!r}")
    return differences
