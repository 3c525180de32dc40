"""A small on-disk cache of NumPy arrays: atomic writes, verified reads.

Used for text embeddings (:func:`recutils.text.encode_texts`); trained models are cached as
saved-model folders instead (:func:`recutils.persistence.fit_cached`, which uses this module's
:func:`stable_key`). One cache *entry* is one ``.npz`` file holding
named arrays plus a metadata record::

    <directory>/<name>-<first 24 hex digits of key>.npz
        __recutils_cache__   JSON (as uint8 bytes): format, key, and per array its
                             shape, dtype and SHA-256 of the array bytes
        <array name>         the arrays themselves (NumPy's .npy format, no pickle)

Guarantees:

* **Atomic writes.** An entry is written to a temporary file in the same directory, flushed and
  ``fsync``-ed, then renamed over the final name with :func:`os.replace`. A crash (or an
  exception in ``compute``) never leaves a partial file under the final name.
* **Made once.** :func:`cached_arrays` computes a missing entry under a lock between processes
  (:func:`recutils.files.made_once`): two notebooks that need it at the same time compute it
  once; the second waits, then reads it.
* **Verified reads.** On reading, the stored key must equal the requested key and every array
  must match its recorded shape, dtype and checksum. A missing file is a miss; a corrupt file
  (truncated, bad checksum, unreadable) or a stale one (a different key stored under the file
  name) is also treated as a miss: :func:`cached_arrays` emits a :class:`CacheWarning` and
  rebuilds the entry.

Keys are strings, normally made with :func:`stable_key` from everything the result depends on
(model fingerprint, inputs, settings), so a change in any of them selects a different entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from recutils.checks import stacklevel_outside_recutils
from recutils.files import atomic_path, made_once

#: Version of the file layout; a file written with another version is treated as stale.
CACHE_FORMAT = 1
#: Name of the metadata record inside each ``.npz`` file (reserved: not allowed as array name).
METADATA_NAME = "__recutils_cache__"
#: Hex digits of the key used in the file name (96 bits; the full key is verified on read).
KEY_DIGITS_IN_NAME = 24


# What reading a damaged .npz can raise: zip errors (bad header, bad CRC-32), short reads,
# .npy header and JSON parse errors, a metadata record of the wrong shape.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    EOFError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    NotImplementedError,
)


class CacheWarning(UserWarning):
    """A cache entry was corrupt, stale or could not be written; the result is recomputed."""


class CacheEntryError(Exception):
    """A cache file exists but cannot be used (corrupt or stale). The message has no paths."""


def stable_key(*parts: Any) -> str:
    """SHA-256 (64 hex digits) of ``parts`` written as canonical JSON.

    Canonical means sorted dict keys, no whitespace, UTF-8, so the same parts give the same key
    on every machine and in every process (unlike Python's ``hash``). ``parts`` may contain
    str, int, float, bool, None, lists/tuples and dicts with str keys; ``bytes`` are included
    by their SHA-256; NumPy scalars are converted to Python numbers.

    >>> stable_key({"model": "m", "max_len": 256}) == stable_key({"max_len": 256, "model": "m"})
    True
    """

    def default(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return {"__bytes_sha256__": hashlib.sha256(bytes(value)).hexdigest()}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, Path):
            raise TypeError(
                "stable_key got a Path; keys must not depend on where files are (use the file's "
                "content hash instead)"
            )
        raise TypeError(f"stable_key cannot include a {type(value).__name__}: {value!r}")

    text = json.dumps(
        list(parts),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=default,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_versions(names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """The installed version of each package in ``names`` (``"absent"`` if not installed), for
    cache keys: a result computed by another version of a library is another entry.

    >>> package_versions(["numpy"])["numpy"] == np.__version__
    True
    """
    import importlib.metadata

    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def course_cache_wanted(cache: bool | None) -> bool:
    """Whether a call with the argument ``cache`` reads and keeps its result in the course's
    cache: ``True``/``False`` as given, ``None`` (the default of such arguments) as the course's
    switch says (:func:`recutils.environment.model_cache_enabled`: on after ``recutils.setup()``,
    off in your own scripts, the unit tests and the benchmarks)."""
    from recutils import checks, environment

    if cache is None:
        return environment.model_cache_enabled()
    return checks.boolean(cache, "cache")


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty str, got {key!r}")


def entry_path(directory: str | os.PathLike[str], key: str, name: str = "arrays") -> Path:
    """The file that holds the entry ``key``: ``directory / f"{name}-{key[:24]}.npz"``.

    If ``key`` is not a hex digest (e.g. a readable string), its SHA-256 is used in the name.
    """
    _check_key(key)
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"name must be a plain file-name prefix like 'embeddings', got {name!r}")
    digest = key.lower()
    if len(digest) < KEY_DIGITS_IN_NAME or any(c not in "0123456789abcdef" for c in digest):
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return Path(directory) / f"{name}-{digest[:KEY_DIGITS_IN_NAME]}.npz"


def _array_checksum(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _check_arrays(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(arrays, Mapping) or not arrays:
        raise TypeError(
            f"arrays must be a non-empty dict of name -> numpy array, got {type(arrays).__name__}"
        )
    checked: dict[str, np.ndarray] = {}
    for array_name, value in arrays.items():
        if not isinstance(array_name, str) or not array_name or array_name == METADATA_NAME:
            raise ValueError(
                f"array names must be non-empty str other than {METADATA_NAME!r}, "
                f"got {array_name!r}"
            )
        if not isinstance(value, np.ndarray):
            raise TypeError(
                f"arrays[{array_name!r}] must be a numpy array, got {type(value).__name__} "
                "(convert tensors with .numpy())"
            )
        if value.dtype.hasobject:
            raise TypeError(
                f"arrays[{array_name!r}] has dtype {value.dtype}, which needs pickle; store "
                "numbers or fixed-width strings (e.g. .astype(str))"
            )
        checked[array_name] = value
    return checked


def write_arrays(path: str | os.PathLike[str], key: str, arrays: Mapping[str, np.ndarray]) -> Path:
    """Atomically write ``arrays`` with their metadata (key, shapes, dtypes, checksums) to ``path``.

    The data goes to a temporary file next to ``path`` (same file system, so the final rename
    is atomic), is ``fsync``-ed, then replaces ``path`` (:func:`recutils.files.atomic_path`,
    durable). If anything fails, the temporary file is removed and ``path`` is untouched.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    _check_key(key)
    checked = _check_arrays(arrays)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": CACHE_FORMAT,
        "key": key,
        "arrays": {
            array_name: {
                "shape": list(array.shape),
                "dtype": array.dtype.str,
                "sha256": _array_checksum(array),
            }
            for array_name, array in checked.items()
        },
    }
    metadata_bytes = np.frombuffer(
        json.dumps(metadata, sort_keys=True).encode("utf-8"), dtype=np.uint8
    )
    with atomic_path(path, durable=True) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **{METADATA_NAME: metadata_bytes}, **checked)
    return path


def read_arrays(path: str | os.PathLike[str], key: str) -> dict[str, np.ndarray]:
    """Read and verify the entry at ``path``, which must have been written for ``key``.

    Raises:
        FileNotFoundError: no file at ``path`` (a plain cache miss).
        CacheEntryError: the file is unreadable, truncated, has a different key (stale), or an
            array does not match its recorded shape, dtype or checksum. The message names the
            file but not its directory.
    """
    _check_key(key)
    return _read(Path(path), key)[1]


def read_entry(path: str | os.PathLike[str]) -> tuple[str, dict[str, np.ndarray]]:
    """Read and verify the entry at ``path`` whatever its key; return ``(key, arrays)``.

    For callers that find entries by listing a folder and check the key themselves against
    the arrays' content (e.g. the shards of :mod:`recutils.text`'s per-text store).

    Raises:
        FileNotFoundError, CacheEntryError: as :func:`read_arrays` (but never "stale").
    """
    return _read(Path(path), None)


def _read(path: Path, key: str | None) -> tuple[str, dict[str, np.ndarray]]:
    if not path.is_file():
        raise FileNotFoundError(f"no cache entry {path.name}")
    try:
        # opened here, so that the file is closed even when numpy cannot read it
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as npz:
            if METADATA_NAME not in npz.files:
                raise CacheEntryError(
                    f"cache entry {path.name} is corrupt: it has no metadata record"
                )
            metadata = json.loads(npz[METADATA_NAME].tobytes().decode("utf-8"))
            if metadata.get("format") != CACHE_FORMAT:
                raise CacheEntryError(
                    f"cache entry {path.name} is stale: it has format {metadata.get('format')!r}, "
                    f"expected {CACHE_FORMAT}"
                )
            if key is not None and metadata.get("key") != key:
                raise CacheEntryError(
                    f"cache entry {path.name} is stale: it was written for another key"
                )
            expected = metadata["arrays"]
            stored = set(npz.files) - {METADATA_NAME}
            if stored != set(expected):
                raise CacheEntryError(
                    f"cache entry {path.name} is corrupt: it holds arrays {sorted(stored)}, "
                    f"its metadata lists {sorted(expected)}"
                )
            arrays = {}
            for array_name, record in expected.items():
                array = npz[array_name]
                if list(array.shape) != record["shape"] or array.dtype.str != record["dtype"]:
                    raise CacheEntryError(
                        f"cache entry {path.name} is corrupt: array {array_name!r} has shape "
                        f"{array.shape} and dtype {array.dtype.str}, metadata says "
                        f"{tuple(record['shape'])} and {record['dtype']}"
                    )
                if _array_checksum(array) != record["sha256"]:
                    raise CacheEntryError(
                        f"cache entry {path.name} is corrupt: checksum of array {array_name!r} "
                        "does not match"
                    )
                arrays[array_name] = array
            if not isinstance(metadata.get("key"), str):
                raise CacheEntryError(f"cache entry {path.name} is corrupt: it has no key")
            return metadata["key"], arrays
    except CacheEntryError:
        raise
    except _READ_ERRORS as error:
        message = str(error).replace(str(path), path.name).replace(str(path.parent), "")
        raise CacheEntryError(
            f"cache entry {path.name} is corrupt: unreadable ({type(error).__name__}: {message})"
        ) from None


def cached_arrays(
    key: str,
    compute: Callable[[], Mapping[str, np.ndarray]],
    directory: str | os.PathLike[str],
    name: str = "arrays",
    enabled: bool = True,
) -> dict[str, np.ndarray]:
    """The arrays stored under ``key`` in ``directory``; computed and stored first if needed.

    Args:
        key: everything the result depends on, e.g. from :func:`stable_key`.
        compute: called with no arguments on a miss; returns a dict of name -> numpy array
            (numbers or fixed-width strings; no object arrays).
        directory: the cache folder (created if missing), e.g.
            ``recutils.cache_dir() / "embeddings"``.
        name: file-name prefix of the entry (see :func:`entry_path`).
        enabled: ``False`` bypasses the cache entirely (always computes, never reads or writes).

    Returns:
        The arrays (fresh, writable copies when read from disk).

    A corrupt or stale entry is reported with a :class:`CacheWarning` (naming the file, not its
    folder) and rebuilt. If ``compute`` raises, nothing is written. If the entry cannot be
    written (e.g. a read-only folder), a :class:`CacheWarning` says so and the computed arrays
    are returned anyway. Processes sharing ``directory`` compute an entry once: one that
    misses while another is computing it waits (:func:`recutils.files.made_once`) and reads it.
    """
    _check_key(key)
    if not callable(compute):
        raise TypeError(f"compute must be a function with no arguments, got {compute!r}")
    if not enabled:
        return _check_arrays(compute())
    path = entry_path(directory, key, name)
    try:
        return read_arrays(path, key)
    except (FileNotFoundError, CacheEntryError):
        pass
    # Another process (a notebook beside this one) may be computing the same entry: wait for it.
    with made_once(directory, path.stem, f"cache entry {path.name}"):
        try:
            return read_arrays(path, key)
        except FileNotFoundError:
            pass
        except CacheEntryError as error:
            warnings.warn(
                f"{error}; rebuilding it", CacheWarning, stacklevel=stacklevel_outside_recutils()
            )
        arrays = _check_arrays(compute())
        try:
            write_arrays(path, key, arrays)
        except OSError as error:
            warnings.warn(
                f"could not write cache entry {path.name} ({type(error).__name__}: "
                f"{error.strerror or error}); the result was computed but not cached",
                CacheWarning,
                stacklevel=stacklevel_outside_recutils(),
            )
    return arrays
