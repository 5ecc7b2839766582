#!/usr/bin/env python
"""Measure speed and memory, and write the results to docs/benchmarks.md and docs/benchmarks.json.

Each case runs in its own child process, so its peak resident memory (the kernel's maximum RSS of
that process) is measured cleanly, and is repeated ``--repeats`` times; the report gives the
median and the spread of the wall times.

    python scripts/benchmark.py                      # every case
    python scripts/benchmark.py --only tiling        # the 6000x4000 full-resolution case
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CASES = {
    "tiling": "Full-resolution translation of a 6000x4000 photo with the shipped emoji model (tiled)",
}


def case_tiling() -> dict:
    """Translate a generated 6000x4000 image at full resolution; returns what the report needs."""
    import numpy as np
    import torch
    from PIL import Image

    from translate.inference import Translator

    rng = np.random.default_rng(0)
    height, width = 4000, 6000
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 255, y / height * 255, 127 + 100 * np.sin(x / 150 + y / 90)], axis=-1)
    image = Image.fromarray(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8))
    del base, x, y
    translator = Translator(REPO / "weights" / "emoji", full_resolution=True)
    start = time.perf_counter()
    result = translator(image)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "size": list(result.size), "tile": translator.tile_plan.tile,
            "overlap": translator.tile_plan.overlap, "threads": torch.get_num_threads(),
            "precision": str(translator.autocast_dtype)}


def run_case(name: str) -> dict:
    """Run one case in a child process, which reports its results and its own peak resident memory."""
    command = [sys.executable, __file__, "--child", name]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark case {name} failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["peak_rss_mib"] = result.pop("child_peak_rss_kib") / 1024  # Linux reports ru_maxrss in KiB
    return result


def machine() -> dict:
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "gpu": gpu,
            "python": platform.python_version()}


def write_report(results: dict, info: dict, command: str) -> None:
    docs = REPO / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "benchmarks.json").write_text(json.dumps({"machine": info, "command": command, "results": results},
                                                     indent=2) + "\n")
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, GPU: {info['gpu']}, "
        f"Python {info['python']}.",
        f"Command: `{command}`. Each figure is the median of the runs, with the minimum and maximum.",
        "",
    ]
    if "tiling" in results:
        runs = results["tiling"]
        seconds = [r["seconds"] for r in runs]
        peaks = [r["peak_rss_mib"] for r in runs]
        first = runs[0]
        lines += [
            "## Full-resolution translation, 6000x4000",
            "",
            f"Shipped emoji model, `Translator(full_resolution=True)`, tiles of {first['tile']} px with "
            f"{first['overlap']} px overlap, {first['precision']} autocast, {first['threads']} threads.",
            "",
            "| figure | median | min | max |",
            "|---|---|---|---|",
            f"| wall time, s | {statistics.median(seconds):.1f} | {min(seconds):.1f} | {max(seconds):.1f} |",
            f"| peak resident memory of the process, MiB | {statistics.median(peaks):.0f} | {min(peaks):.0f} | "
            f"{max(peaks):.0f} |",
            "",
        ]
    (docs / "benchmarks.md").write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(CASES), action="append", help="run only these cases")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each case")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = globals()[f"case_{args.child}"]()
        result["child_peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(result))
        return 0

    names = args.only or sorted(CASES)
    results = {name: [run_case(name) for _ in range(args.repeats)] for name in names}
    command = "python scripts/benchmark.py" + "".join(f" --only {n}" for n in args.only or []) + (
        f" --repeats {args.repeats}" if args.repeats != 3 else "")
    write_report(results, machine(), command)
    print((REPO / "docs" / "benchmarks.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
