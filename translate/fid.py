"""FID and KID for unpaired test sets, from features of a network the user provides on disk.

Both compare the distribution of translated images with that of real target images in a
feature space: FID is the Fréchet distance between Gaussians fitted to the two feature sets
(Heusel et al. 2017), KID the unbiased squared MMD with the cubic polynomial kernel
``(x . y / d + 1) ** 3``, averaged over random subsets (Binkowski et al. 2018).

The standard features are the 2048-d pool outputs of Inception-v3. Its weights cannot be
downloaded by this package: pass the file torchvision publishes
(``inception_v3_google-0cc3c7bd.pth``) with ``--inception-weights``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

FeatureFn = Callable[[torch.Tensor], torch.Tensor]


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two ``[N, D]`` feature sets (N >= 2 each)."""
    for name, features in (("first", features_a), ("second", features_b)):
        if features.ndim != 2 or features.shape[0] < 2:
            raise ValueError(
                f"FID needs at least 2 feature vectors in the {name} set, got shape {tuple(features.shape)}"
            )
    a, b = features_a.double(), features_b.double()
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    # tr(sqrt(cov_a cov_b)) = sum of sqrt(eigenvalues of sqrt(cov_a) cov_b sqrt(cov_a)), a symmetric PSD matrix.
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
    middle = root_a @ cov_b @ root_a
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    distance = (mean_a - mean_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * trace_root
    return float(distance.clamp_min(0))


def kernel_inception_distance(
    features_a: torch.Tensor, features_b: torch.Tensor, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Return the mean and standard deviation of the unbiased MMD^2 over random subsets."""
    size = min(subset_size, features_a.shape[0], features_b.shape[0])
    if size < 2:
        raise ValueError("KID needs at least 2 images in each set")
    generator = torch.Generator().manual_seed(seed)
    a, b = features_a.double(), features_b.double()
    dimension = a.shape[1]
    estimates = []
    for _ in range(subsets):
        x = a[torch.randperm(a.shape[0], generator=generator)[:size]]
        y = b[torch.randperm(b.shape[0], generator=generator)[:size]]
        k_xx = (x @ x.T / dimension + 1) ** 3
        k_yy = (y @ y.T / dimension + 1) ** 3
        k_xy = (x @ y.T / dimension + 1) ** 3
        off_diagonal = size * (size - 1)
        mmd = ((k_xx.sum() - k_xx.diagonal().sum()) / off_diagonal
               + (k_yy.sum() - k_yy.diagonal().sum()) / off_diagonal
               - 2 * k_xy.mean())
        estimates.append(mmd)
    stacked = torch.stack(estimates)
    return float(stacked.mean()), float(stacked.std()) if len(estimates) > 1 else 0.0


def inception_features(weights: str | Path, device: torch.device | str = "cpu") -> FeatureFn:
    """Build a feature function from torchvision's Inception-v3 weights file (2048-d pool features)."""
    import torchvision

    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(
            f"Inception weights not found: {path}. FID and KID need torchvision's Inception-v3 weights "
            "(inception_v3_google-0cc3c7bd.pth); download them where you have internet and pass the file "
            "with --inception-weights."
        )
    model = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(f"{path} is not a torchvision Inception-v3 state dict: {error}") from error
    model.fc = torch.nn.Identity()
    model.eval().to(device)

    @torch.inference_mode()
    def features(batch: torch.Tensor) -> torch.Tensor:
        # These weights were ported from Google's model, which takes pixels scaled to [-1, 1]: the
        # range our tensors already have (torchvision's transform_input produces the same from
        # ImageNet-normalised input).
        images = batch.to(device).float().clamp(-1, 1)
        images = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False, antialias=True)
        return model(images).float().cpu()

    return features
