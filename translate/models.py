"""Finding a model from what a user types for ``--model``."""

from __future__ import annotations

from pathlib import Path

SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_MODEL = "emoji"


def shipped_models() -> list[str]:
    """Names of the weights folders shipped in the repository's ``weights/``."""
    if not SHIPPED_WEIGHTS.is_dir():
        return []
    return sorted(p.name for p in SHIPPED_WEIGHTS.iterdir() if (p / "config.json").is_file())


def resolve_model(spec: str | Path | None) -> Path:
    """Return the weights folder for a path or a shipped model name; raise listing the choices."""
    spec = str(spec or DEFAULT_MODEL)
    path = Path(spec)
    if (path / "config.json").is_file():
        return path
    if (SHIPPED_WEIGHTS / spec / "config.json").is_file():
        return SHIPPED_WEIGHTS / spec
    available = ", ".join(shipped_models()) or "none"
    if path.exists():
        raise FileNotFoundError(f"--model {spec}: {path} has no config.json, so it is not a weights folder.")
    raise FileNotFoundError(
        f"--model {spec}: no weights folder at that path and no shipped model of that name. "
        f"Shipped models: {available}."
    )
