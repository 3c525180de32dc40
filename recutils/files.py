"""Files written safely and read with a check: atomic writes, checksums, atomic downloads.

Every file recutils writes (cache entries, result tables, dataset copies, downloads) goes through
:func:`atomic_path`: the bytes go to a hidden temporary file beside the target, which replaces
the target (``os.replace``, atomic on one file system) only once it is complete. An interrupted
run or an exception therefore never leaves a half-written file under the final name.

The course cache's entries that take long to make (trained models, text vectors, the language
model's answers, the generated shop) are made under :func:`made_once`, a lock between
processes: a notebook that needs an entry another notebook (running beside it) is making waits
for it and reads it, instead of making it too.

Example::

    >>> from pathlib import Path
    >>> with atomic_path(Path("/tmp/table.md")) as temporary:  # doctest: +SKIP
    ...     temporary.write_text("| a | b |")
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import uuid
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from recutils.checks import stacklevel_outside_recutils

#: How long :func:`made_once` waits for another process before making the entry itself.
LOCK_TIMEOUT_SECONDS = 600.0
#: The folder, inside a cache folder, of the lock files of :func:`made_once`.
LOCK_FOLDER = ".locks"


def sha256_of(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits (read in 1 MB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextmanager
def atomic_path(target: str | os.PathLike[str], durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``target``; on a clean exit it replaces ``target``.

    Write the file's content to the yielded path inside the ``with`` block. If the block
    raises, the temporary file is removed and ``target`` is untouched.

    Args:
        target: the final file; its folder is created if needed.
        durable: also ``fsync`` the file and its folder, so the new content survives a power
            cut (for cache entries that must never be half there; slower).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        yield temporary
        if durable:
            with open(temporary, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    if durable:
        _fsync_directory(target.parent)


@contextmanager
def made_once(
    folder: str | os.PathLike[str],
    name: str,
    what: str,
    timeout: float | None = None,
) -> Iterator[bool]:
    """Hold the lock ``name`` of the cache ``folder`` while the block runs, so that processes
    sharing the cache make an entry once: one makes it, the others wait, then read it.

    Use it around "look it up again, make it if still missing, store it", after a look-up
    without the lock missed (the usual case, a hit, never waits)::

        entry = lookup()
        if entry is None:
            with made_once(folder, "ALS-1f2e", "the ALS model"):
                entry = lookup()              # made by another process while we waited?
                if entry is None:
                    entry = make()
                    store(entry)

    The lock is an operating-system file lock (the ``filelock`` package: ``fcntl.flock`` on
    Linux and macOS, ``LockFileEx`` on Windows) on ``<folder>/.locks/<name>.lock``; the system
    releases it when its process ends, so a notebook that crashed or was interrupted while
    making an entry never blocks the others. The lock files (empty) may stay in the folder.

    Args:
        folder: the cache folder (created if missing).
        name: the entry's name; a file name, unique in ``folder``.
        what: what is made, for the warning, e.g. ``"the cached ALS model"``.
        timeout: seconds to wait for another process (``None``: :data:`LOCK_TIMEOUT_SECONDS`);
            after that the block runs without the lock (a warning, pointing at the first caller
            outside recutils, says so), as it does where the lock file cannot be made at all (a
            read-only folder): at worst the entry is made twice, as without a lock. On a file
            system without operating-system locks (some network drives), ``filelock`` locks
            with the lock file's existence instead, and warns that it does.

    Yields:
        ``True`` if the lock is held, ``False`` if the block runs without it.
    """
    if not name or Path(name).name != name:
        raise ValueError(f"name must be a plain file name, got {name!r}")
    if timeout is None:
        timeout = LOCK_TIMEOUT_SECONDS
    lock = filelock.FileLock(Path(folder) / LOCK_FOLDER / f"{name}.lock", timeout=timeout)
    try:
        (Path(folder) / LOCK_FOLDER).mkdir(parents=True, exist_ok=True)
        lock.acquire()
        held = True
    except filelock.Timeout:
        warnings.warn(
            f"another process has been making {what} for {timeout:.0f} s; making it here too",
            RuntimeWarning,
            stacklevel=stacklevel_outside_recutils(),
        )
        held = False
    except OSError:  # a read-only folder
        held = False
    if not held:  # the block runs outside the except clauses: its errors are its own
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` (UTF-8) atomically (:func:`atomic_path`); returns the path."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def download_zip(url: str, target: Path, timeout: float, what: str, how_to_provide: str) -> Path:
    """Download ``url`` to ``target`` atomically and check that it is a zip archive.

    Args:
        what: the dataset's name, for messages ("MovieLens 100K").
        how_to_provide: a sentence saying where to put the file by hand, appended to errors.

    Raises:
        FileNotFoundError: the download failed (no network, timeout, HTTP error).
        ValueError: what was downloaded is not a zip archive.
    """
    with atomic_path(target) as temporary:
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
    return target
