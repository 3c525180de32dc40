"""recutils.cache: atomic writes, verified reads, corrupt/stale entries rebuilt with a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import filelock
import numpy as np
import pytest

from recutils import cache, files
from recutils.cache import (
    CacheEntryError,
    CacheWarning,
    cached_arrays,
    entry_path,
    read_arrays,
    stable_key,
    write_arrays,
)
from recutils.files import LOCK_FOLDER, made_once

KEY = stable_key("test", {"n": 3})


def sample_arrays() -> dict[str, np.ndarray]:
    return {
        "embeddings": np.arange(1000, dtype=np.float64).reshape(100, 10) / 7.0,
        "ids": np.array(["a", "bb", "ccc"]),
        "counts": np.array([1, 2, 3], dtype=np.int64),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 384), dtype=np.float32),
    }


def assert_same_arrays(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert set(got) == set(expected)
    for name, array in expected.items():
        assert got[name].dtype == array.dtype, name
        assert got[name].shape == array.shape, name
        np.testing.assert_array_equal(got[name], array)


def files_in(directory: Path) -> list[str]:
    """The entries and temporary files in ``directory`` (not the lock files' folder)."""
    return sorted(p.name for p in directory.iterdir() if p.name != LOCK_FOLDER)


class Counter:
    """A compute function that counts its calls."""

    def __init__(self, arrays: dict[str, np.ndarray] | None = None):
        self.calls = 0
        self.arrays = arrays if arrays is not None else sample_arrays()

    def __call__(self) -> dict[str, np.ndarray]:
        self.calls += 1
        return self.arrays


# -- keys ------------------------------------------------------------------------------------


def test_stable_key_is_canonical_and_sensitive():
    assert stable_key({"a": 1, "b": [1, 2]}) == stable_key({"b": [1, 2], "a": 1})
    assert stable_key("x", (1, 2)) == stable_key("x", [1, 2])
    assert stable_key("x", np.int64(3)) == stable_key("x", 3)
    assert len(KEY) == 64 and all(c in "0123456789abcdef" for c in KEY)
    assert stable_key("ab", "c") != stable_key("a", "bc")
    assert stable_key(b"bytes") != stable_key(b"other")
    assert stable_key("x", 1) != stable_key("x", 1.5)


def test_stable_key_rejects_unclear_parts():
    with pytest.raises(TypeError, match="Path"):
        stable_key(Path("data"))
    with pytest.raises(TypeError, match="object"):
        stable_key(object())


def test_entry_path_uses_key_prefix(tmp_path):
    path = entry_path(tmp_path, KEY, "embeddings")
    assert path == tmp_path / f"embeddings-{KEY[:24]}.npz"
    readable = entry_path(tmp_path, "not a hex key")
    assert readable.name.startswith("arrays-") and readable.suffix == ".npz"
    with pytest.raises(ValueError, match="name"):
        entry_path(tmp_path, KEY, "../escape")
    with pytest.raises(ValueError, match="key"):
        entry_path(tmp_path, "", "x")


# -- round trip ------------------------------------------------------------------------------


def test_round_trip(tmp_path):
    path = write_arrays(tmp_path / "entry.npz", KEY, sample_arrays())
    assert files_in(tmp_path) == ["entry.npz"]
    got = read_arrays(path, KEY)
    assert_same_arrays(got, sample_arrays())
    assert got["embeddings"].flags.writeable


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_written_file_has_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = write_arrays(tmp_path / "entry.npz", KEY, {"x": np.ones(2)})
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # readable by others, like any file


def test_cached_arrays_computes_once(tmp_path):
    compute = Counter()
    first = cached_arrays(KEY, compute, tmp_path, name="things")
    second = cached_arrays(KEY, compute, tmp_path, name="things")
    assert compute.calls == 1
    assert_same_arrays(first, sample_arrays())
    assert_same_arrays(second, sample_arrays())
    assert files_in(tmp_path) == [f"things-{KEY[:24]}.npz"]


def test_other_key_is_other_entry(tmp_path):
    compute = Counter()
    cached_arrays(KEY, compute, tmp_path)
    cached_arrays(stable_key("test", {"n": 4}), compute, tmp_path)
    assert compute.calls == 2
    assert len(files_in(tmp_path)) == 2


def test_disabled_cache_neither_reads_nor_writes(tmp_path):
    compute = Counter()
    cached_arrays(KEY, compute, tmp_path, enabled=False)
    cached_arrays(KEY, compute, tmp_path, enabled=False)
    assert compute.calls == 2
    assert files_in(tmp_path) == []


def test_missing_file_is_a_plain_miss(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_arrays(tmp_path / "nothing.npz", KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a miss must not warn
        cached_arrays(KEY, Counter(), tmp_path / "new" / "folder")


def test_invalid_arrays_are_rejected(tmp_path):
    with pytest.raises(TypeError, match="pickle"):
        write_arrays(tmp_path / "a.npz", KEY, {"x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="__recutils_cache__"):
        write_arrays(tmp_path / "a.npz", KEY, {cache.METADATA_NAME: np.zeros(1)})
    with pytest.raises(TypeError, match="numpy array"):
        cached_arrays(KEY, lambda: {"x": [1, 2]}, tmp_path)
    assert files_in(tmp_path) == []


# -- atomic writes ---------------------------------------------------------------------------


def test_compute_raising_leaves_no_file(tmp_path):
    def crash() -> dict[str, np.ndarray]:
        raise RuntimeError("killed mid-computation")

    with pytest.raises(RuntimeError, match="killed"):
        cached_arrays(KEY, crash, tmp_path)
    assert files_in(tmp_path) == []


def test_crash_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "entry.npz"

    def failing_fsync(descriptor: int) -> None:  # the data is in the temp file, not yet renamed
        raise OSError(5, "simulated I/O error")

    monkeypatch.setattr(cache.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="simulated"):
        write_arrays(path, KEY, sample_arrays())
    assert files_in(tmp_path) == []  # neither the final name nor a temporary file


def test_crash_while_writing_keeps_the_old_entry(tmp_path, monkeypatch):
    path = write_arrays(tmp_path / "entry.npz", KEY, sample_arrays())
    before = path.read_bytes()

    def failing_replace(source, target) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_arrays(path, "another key", {"x": np.ones(3)})
    assert path.read_bytes() == before
    assert files_in(tmp_path) == ["entry.npz"]


def test_unwritable_cache_warns_and_returns_result(tmp_path, monkeypatch):
    def failing_replace(source, target) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache.os, "replace", failing_replace)
    with pytest.warns(CacheWarning, match="could not write cache entry") as record:
        got = cached_arrays(KEY, Counter(), tmp_path)
    assert_same_arrays(got, sample_arrays())
    assert files_in(tmp_path) == []
    assert str(tmp_path) not in str(record[0].message)


# -- verified reads --------------------------------------------------------------------------


def corrupt_and_reload(tmp_path: Path, damage) -> tuple[Counter, str]:
    """Write an entry, damage its file, read it again through cached_arrays."""
    compute = Counter()
    cached_arrays(KEY, compute, tmp_path)
    path = entry_path(tmp_path, KEY)
    damage(path)
    with pytest.warns(CacheWarning) as record:
        got = cached_arrays(KEY, compute, tmp_path)
    assert_same_arrays(got, sample_arrays())
    assert compute.calls == 2  # rebuilt
    # the rebuilt entry is valid again: no warning, no computation
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached_arrays(KEY, compute, tmp_path)
    assert compute.calls == 2
    assert files_in(tmp_path) == [path.name]
    message = str(record[0].message)
    assert path.name in message and "rebuilding" in message
    assert str(tmp_path) not in message
    return compute, message


def test_truncated_file_is_rebuilt(tmp_path):
    def truncate(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])

    _, message = corrupt_and_reload(tmp_path, truncate)
    assert "unreadable" in message


def test_empty_file_is_rebuilt(tmp_path):
    corrupt_and_reload(tmp_path, lambda path: path.write_bytes(b""))


def test_flipped_bytes_are_detected(tmp_path):
    target = (np.arange(1000, dtype=np.float64) / 7.0)[500].tobytes()

    def flip(path: Path) -> None:
        data = bytearray(path.read_bytes())
        offset = data.find(target)
        assert offset > 0
        data[offset] ^= 0xFF
        path.write_bytes(bytes(data))

    corrupt_and_reload(tmp_path, flip)


def test_checksum_mismatch_is_detected(tmp_path):
    """A well-formed file whose data does not match the recorded checksum."""
    path = entry_path(tmp_path, KEY)
    write_arrays(path, KEY, {"x": np.ones(4)})
    with np.load(path) as npz:
        metadata = json.loads(npz[cache.METADATA_NAME].tobytes())
    forged = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(path, **{cache.METADATA_NAME: forged, "x": np.array([1.0, 1.0, 1.0, 2.0])})
    with pytest.raises(CacheEntryError, match="checksum"):
        read_arrays(path, KEY)


def test_stale_entry_is_rebuilt(tmp_path):
    compute = Counter()
    path = entry_path(tmp_path, KEY)
    write_arrays(path, "a different key", {"x": np.ones(2)})
    with pytest.raises(CacheEntryError, match="stale"):
        read_arrays(path, KEY)
    with pytest.warns(CacheWarning, match="stale"):
        got = cached_arrays(KEY, compute, tmp_path)
    assert compute.calls == 1
    assert_same_arrays(got, sample_arrays())
    assert_same_arrays(read_arrays(path, KEY), sample_arrays())


def test_file_without_metadata_is_rebuilt(tmp_path):
    corrupt_and_reload(tmp_path, lambda path: np.savez(path, x=np.ones(3)))


# ---------------------------------------------------------------------------------------------
# Made once: processes that share a cache folder compute an entry once (recutils.files.made_once)

# A process that computes KEY's entry through cached_arrays, slowly: it marks when it asks for
# the entry's lock and when its computation starts, then waits for the test's "go" before
# returning; every computation appends a line to "computed".
COMPUTING_PROCESS = """
import contextlib, sys, time
from pathlib import Path
import numpy as np
from recutils import cache
from recutils.cache import cached_arrays

folder, key, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
real_made_once = cache.made_once

@contextlib.contextmanager
def announced(*args, **kwargs):  # marks that this process missed and now asks for the lock
    (folder / f"{name}.waiting").touch()
    with real_made_once(*args, **kwargs) as held:
        yield held

cache.made_once = announced

def compute():
    with open(folder / "computed", "a") as log:
        log.write(name + "\\n")
    (folder / f"{name}.computing").touch()
    for _ in range(600):
        if (folder / "go").exists():
            break
        time.sleep(0.1)
    return {"values": np.arange(5.0)}

print(cached_arrays(key, compute, folder / "cache")["values"].sum())
"""


def wait_for(path: Path, seconds: float = 60) -> None:
    for _ in range(int(seconds * 10)):
        if path.exists():
            return
        time.sleep(0.1)
    raise AssertionError(f"{path.name} did not appear within {seconds} s")


def start(script: str, *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_compute_an_entry_once(tmp_path):
    first = start(COMPUTING_PROCESS, str(tmp_path), KEY, "first")
    try:
        wait_for(tmp_path / "first.computing")  # the first holds the lock and computes
        second = start(COMPUTING_PROCESS, str(tmp_path), KEY, "second")
        try:
            # the second missed the entry while the first computes it: it waits for the lock
            # (without it, it would compute too, whenever "go" comes)
            wait_for(tmp_path / "second.waiting")
            (tmp_path / "go").touch()
            outputs = [process.communicate(timeout=120) for process in (first, second)]
        finally:
            second.kill()
    finally:
        first.kill()
    assert [process.returncode for process in (first, second)] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["10.0", "10.0"]
    assert (tmp_path / "computed").read_text().split() == ["first"]  # the second read it


def test_a_lock_held_too_long_is_not_waited_for(tmp_path):
    with made_once(tmp_path, "entry", "the entry") as held:
        assert held
        with pytest.warns(RuntimeWarning, match="another process has been making the entry"):
            with made_once(tmp_path, "entry", "the entry", timeout=0.2) as second:
                assert not second
    with made_once(tmp_path, "entry", "the entry", timeout=0.2) as again:  # released
        assert again
        assert [path.name for path in (tmp_path / LOCK_FOLDER).iterdir()] == ["entry.lock"]


def test_a_lock_held_too_long_warns_at_the_callers_line(tmp_path, monkeypatch):
    # the warning names the learner's line (here this test), not the recutils code that waits
    monkeypatch.setattr(files, "LOCK_TIMEOUT_SECONDS", 0.2)
    path = entry_path(tmp_path, KEY, "arrays")
    with made_once(tmp_path, path.stem, "the entry"):
        with pytest.warns(RuntimeWarning, match="another process has been making") as caught:
            arrays = cached_arrays(KEY, lambda: {"x": np.arange(3)}, tmp_path)
    assert arrays["x"].tolist() == [0, 1, 2]
    assert [Path(record.filename).name for record in caught] == [Path(__file__).name]


HOLDING_PROCESS = """
import sys, time
from pathlib import Path
from recutils.files import made_once

with made_once(Path(sys.argv[1]), "entry", "the entry"):
    (Path(sys.argv[1]) / "holding").touch()
    time.sleep(120)
"""


def test_a_lock_dies_with_its_process(tmp_path):
    holder = start(HOLDING_PROCESS, str(tmp_path))
    try:
        wait_for(tmp_path / "holding")
        with pytest.warns(RuntimeWarning):  # held
            with made_once(tmp_path, "entry", "the entry", timeout=0.2) as held:
                assert not held
    finally:
        holder.kill()  # killed while holding it (a crash, Ctrl+C in a notebook's kernel)
        holder.communicate()
    with made_once(tmp_path, "entry", "the entry", timeout=30) as held:
        assert held


def test_made_once_without_a_lock_file_runs_the_block(tmp_path, monkeypatch):
    def refused(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(filelock.FileLock, "acquire", refused)  # e.g. a read-only folder
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with made_once(tmp_path, "entry", "the entry") as held:
            assert not held
    compute = Counter()
    assert_same_arrays(cached_arrays(KEY, compute, tmp_path), sample_arrays())
    assert compute.calls == 1


@pytest.mark.parametrize("name", ["", "a/b", "../entry"])
def test_made_once_wants_a_file_name(tmp_path, name):
    with pytest.raises(ValueError, match="plain file name"):
        with made_once(tmp_path, name, "the entry"):
            pass
