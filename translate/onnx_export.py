"""ONNX export of generators, with a dynamic batch, height and width, verified against PyTorch."""

from __future__ import annotations

from pathlib import Path

import torch

from translate.networks import ResnetGenerator


def export_onnx(generator: ResnetGenerator, path: str | Path, *, opset: int = 17) -> Path:
    """Write ``generator`` as an ONNX model taking ``image`` [N, C, H, W] in [-1, 1] (H, W multiples of 4)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generator = generator.float().cpu().eval()
    example = torch.zeros(1, generator.config.in_channels, 64, 64)
    axes = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(
        generator, (example,), str(path), input_names=["image"], output_names=["translated"],
        dynamic_axes={"image": axes, "translated": axes}, opset_version=opset, dynamo=False,
    )
    return path


def onnx_max_difference(path: str | Path, generator: ResnetGenerator, sizes: list[tuple[int, int]]) -> float:
    """Largest absolute difference between onnxruntime's and PyTorch's outputs over test images of ``sizes``."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = generator.float().cpu().eval()
    worst = 0.0
    for height, width in sizes:
        image = torch.rand(1, generator.config.in_channels, height, width) * 2 - 1
        with torch.no_grad():
            expected = generator(image).numpy()
        (actual,) = session.run(["translated"], {"image": image.numpy()})
        worst = max(worst, float(abs(actual - expected).max()))
    return worst
