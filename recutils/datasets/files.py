"""File helpers shared by the dataset loaders: checksums, atomic names, atomic downloads."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path


def sha256_of(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits (read in 1 MB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def temporary_name(target: Path) -> Path:
    """A hidden name beside ``target``, unique to this process and call, for atomic writes."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")


def download_zip(url: str, target: Path, timeout: float, what: str, how_to_provide: str) -> Path:
    """Download ``url`` to ``target`` atomically and check that it is a zip archive.

    The bytes go to a temporary name beside ``target`` and are renamed (``os.replace``) only
    once complete and recognised as a zip, so an interrupted download leaves nothing that looks
    like the dataset.

    Args:
        what: the dataset's name, for messages ("MovieLens 100K").
        how_to_provide: a sentence saying where to put the file by hand, appended to errors.

    Raises:
        FileNotFoundError: the download failed (no network, timeout, HTTP error).
        ValueError: what was downloaded is not a zip archive.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(target)
    try:
        with open(temporary, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    while block := response.read(1 << 20):
                        out.write(block)
            except (urllib.error.URLError, OSError) as error:  # URLError, HTTPError, timeouts
                raise FileNotFoundError(
                    f"Could not download {what} from {url}: {error}. {how_to_provide}"
                ) from error
        if not zipfile.is_zipfile(temporary):
            raise ValueError(
                f"The download of {what} from {url} is not a zip archive "
                f"({temporary.stat().st_size} bytes); the site may have moved it. "
                f"{how_to_provide}"
            )
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target
