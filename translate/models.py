"""Finding a model from what a user types for ``--model``.

Accepted, in this order:

- a weights folder;
- an official ``.pth`` generator file, converted once into the cache;
- the name of a model shipped in ``weights/``;
- the name of an official pretrained generator, downloaded and converted once;
- a Hugging Face Hub repository id (``owner/name``).
"""

from __future__ import annotations

from pathlib import Path

from translate.zoo import PRETRAINED, cache_dir

SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_MODEL = "emoji"


def shipped_models() -> list[str]:
    """Names of the weights folders shipped in the repository's ``weights/``."""
    if not SHIPPED_WEIGHTS.is_dir():
        return []
    return sorted(p.name for p in SHIPPED_WEIGHTS.iterdir() if (p / "config.json").is_file())


def resolve_model(spec: str | Path | None) -> Path:
    """Return a local weights folder for ``spec``, converting or downloading once where needed."""
    spec = str(spec or DEFAULT_MODEL)
    path = Path(spec)
    if (path / "config.json").is_file():
        return path
    # Paths such as weights/emoji also work from outside the repository.
    in_repository = SHIPPED_WEIGHTS.parent / spec
    if not path.is_absolute() and (in_repository / "config.json").is_file():
        return in_repository
    if path.is_file() and path.suffix == ".pth":
        return _convert_pth(path)
    if (SHIPPED_WEIGHTS / spec / "config.json").is_file():
        return SHIPPED_WEIGHTS / spec
    if spec in PRETRAINED:
        from translate.pretrained import fetch_pretrained

        return fetch_pretrained(spec)

    from translate.hub import download_from_hub, is_repo_id

    if is_repo_id(spec):
        return download_from_hub(spec)
    if path.exists():
        raise FileNotFoundError(
            f"Model {spec}: {path} is neither a weights folder (no config.json) nor an official .pth file."
        )
    raise FileNotFoundError(
        f"Model {spec}: not found. Use a weights folder, an official .pth file, a shipped model "
        f"({', '.join(shipped_models()) or 'none'}), an official pretrained name ({', '.join(PRETRAINED)}) "
        "or a Hugging Face Hub id such as owner/name."
    )


def is_fast_folder(path: Path) -> bool:
    """Return whether ``path`` is a weights folder whose config.json marks it as the fast variant."""
    from translate.weights import read_model_info

    if not (path / "config.json").is_file():
        return False
    try:
        return read_model_info(path).variant == "fast"
    except (OSError, ValueError):
        return False


def with_variant(spec: str | None, variant: str) -> str:
    """Return the name of ``spec``'s ``fast`` or ``best`` variant among the shipped models.

    A fast variant is shipped as ``NAME-fast`` next to ``NAME``. Other specs are returned as they are
    for ``best``; asking for ``fast`` of a model without one raises, naming ``cyclegan-distill``.
    """
    spec = str(spec or DEFAULT_MODEL)
    base = spec[: -len("-fast")] if spec.endswith("-fast") else spec
    if variant == "best":
        # NOTE: a distilled folder outside weights/ is returned as it is, so "best" then runs the
        # student; its teacher is named in its config.json but not looked up here.
        return base if base in shipped_models() else spec
    if variant != "fast":
        raise ValueError(f"Unknown variant {variant!r}; use best or fast")
    if f"{base}-fast" in shipped_models():
        return f"{base}-fast"
    if is_fast_folder(Path(spec)):
        return spec  # already a distilled model
    folder = Path(base.rstrip("/\\"))
    sibling = folder.with_name(f"{folder.name}-fast")
    if folder.is_dir() and (sibling / "config.json").is_file():
        return str(sibling)
    raise FileNotFoundError(
        f"No fast variant of {spec!r} is shipped or found next to it. Make one with: cyclegan-distill "
        f"--teacher {spec} --data DATA --output_dir RUN, then pass --model RUN/weights"
    )


def _convert_pth(path: Path) -> Path:
    from translate.download import file_sha256
    from translate.official import convert_official_file

    folder = cache_dir() / "converted" / f"{path.stem}-{file_sha256(path)[:16]}"
    if (folder / "config.json").is_file():
        return folder
    return convert_official_file(path, folder, name=path.stem, origin=str(path.resolve()))
