"""Resumable, verified HTTP downloads that never leave a partial file under the final name.

A download streams into ``NAME.part`` next to the destination. When that file exists from an
earlier attempt, the request sends an HTTP ``Range`` header for the remaining bytes and
appends them (a server that ignores ``Range`` gets a fresh download). Once the size (and a
SHA-256, where known) checks out, the file is renamed into place in one step.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
TIMEOUT_SECONDS = 60


class DownloadError(RuntimeError):
    """A download that failed; the message names the URL, the reason and what to do."""


def _partial_path(destination: Path) -> Path:
    return destination.with_name(destination.name + ".part")


def download(
    url: str,
    destination: str | Path,
    *,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = TIMEOUT_SECONDS,
) -> Path:
    """Download ``url`` to ``destination`` unless it is already there; return the destination.

    Raises ``DownloadError`` when the server refuses, the connection breaks, or the size or
    checksum does not match. After a broken connection the ``.part`` file is kept, so running
    the same command again resumes. After a refusal or a checksum mismatch it is deleted.
    """
    destination = Path(destination)
    if destination.is_file():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_path(destination)
    offset = partial.stat().st_size if partial.is_file() else 0

    request = urllib.request.Request(url, headers={"User-Agent": "cyclegan-translate"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            # The partial file already has every byte (or more than the server has): start over.
            partial.unlink(missing_ok=True)
            return download(url, destination, sha256=sha256, progress=progress, timeout=timeout)
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"Download of {url} failed: HTTP {error.code} {error.reason}. Check the name and try again later; "
            f"or download the file by hand and save it as {destination}."
        ) from error
    except (urllib.error.URLError, OSError) as error:
        raise DownloadError(
            f"Download of {url} failed: {getattr(error, 'reason', error)}. Check your network connection and run "
            "the same command again."
        ) from error

    with response:
        resumed = offset > 0 and response.status == 206
        if offset and not resumed:
            logger.info("Server ignored the resume request for %s; downloading from the start", url)
            offset = 0
        length = response.headers.get("Content-Length")
        expected_total = offset + int(length) if length is not None else None
        mode = "ab" if resumed else "wb"
        received = offset
        try:
            with partial.open(mode) as stream, tqdm(
                total=expected_total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=destination.name, disable=not progress,
            ) as bar:
                while True:
                    chunk = response.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    stream.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as error:
            raise DownloadError(
                f"Download of {url} was interrupted after {received:,} bytes ({error}). "
                f"Run the same command again to resume from {partial}."
            ) from error

    if expected_total is not None and received != expected_total:
        raise DownloadError(
            f"Download of {url} is incomplete: received {received:,} of {expected_total:,} bytes. "
            f"Run the same command again to resume from {partial}."
        )
    if sha256 is not None:
        actual = file_sha256(partial)
        if actual != sha256.lower():
            partial.unlink(missing_ok=True)
            raise DownloadError(
                f"Download of {url} is corrupt: SHA-256 {actual}, expected {sha256}. The partial file was "
                "deleted; run the same command again."
            )
    os.replace(partial, destination)
    return destination


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()
