"""Sharing weights folders on the Hugging Face Hub.

A weights folder already follows the Hub's conventions: ``config.json``, safetensors files and a
``README.md`` model card, so a Hub model repository is simply a weights folder. Loading checks
keys and shapes strictly, as for local folders.
"""

from __future__ import annotations

import re
from pathlib import Path

from translate.networks import ResnetGenerator
from translate.weights import ModelInfo, load_generator, read_model_info, save_weights

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
ALLOW_PATTERNS = ["config.json", "*.safetensors", "README.md", "examples/*"]

save_pretrained = save_weights


def is_repo_id(text: str) -> bool:
    """Return whether ``text`` is a Hub id ``owner/name`` rather than a local path."""
    first = text.split("/", 1)[0]
    looks_local = text.startswith((".", "~")) or first in {"weights", "runs", "data", "models", "checkpoints"}
    return bool(REPO_ID.match(text)) and not looks_local and not Path(text).exists()


def download_from_hub(repo_id: str, *, revision: str | None = None) -> Path:
    """Download (or find in the local Hub cache) a model repository; return its local folder."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=ALLOW_PATTERNS))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as error:
        raise FileNotFoundError(
            f"{repo_id!r} is not a local folder ({Path(repo_id).resolve()} does not exist), and as a Hugging Face "
            f"Hub id it is not in the local Hugging Face cache and cannot be downloaded now ({type(error).__name__})."
            " Check the path, or connect to the internet and unset HF_HUB_OFFLINE."
        ) from error
    except HfHubHTTPError as error:
        raise FileNotFoundError(f"Hub model {repo_id!r} could not be downloaded: {error}") from error


def from_pretrained(
    name_or_path: str | Path, direction: str = "AtoB", *, revision: str | None = None
) -> tuple[ResnetGenerator, ModelInfo]:
    """Load one direction's generator from a local weights folder or a Hub repository id.

    The generator runs one pass. Where ``info.mirror_average`` is true, the ``Translator``
    averages that pass with the pass on the mirror image: wrap the generator in
    ``translate.inference.MirrorAveraged`` for the same output.
    """
    path = Path(name_or_path)
    folder = path if path.is_dir() else download_from_hub(str(name_or_path), revision=revision)
    return load_generator(folder, direction)


def push_to_hub(
    folder: str | Path, repo_id: str, *, token: str | None = None, private: bool = False,
    commit_message: str = "Upload CycleGAN weights",
) -> str:
    """Publish a weights folder (checked first) as a Hub model repository; return the repository URL."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    read_model_info(folder)
    if not (folder / "README.md").is_file():
        raise FileNotFoundError(f"{folder} has no README.md model card; export it with cyclegan-export first.")
    api = HfApi(token=token)
    url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model", commit_message=commit_message,
                      allow_patterns=ALLOW_PATTERNS)
    return str(url)
