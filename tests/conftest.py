"""Shared fixtures of the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Data directory holding real datasets for tests: ``$RECUTILS_DATA_DIR`` if set, else
    ``../shared/datasets`` beside the repository. Tests that need a file in it skip when the
    file is absent."""
    if os.environ.get("RECUTILS_DATA_DIR"):
        return Path(os.environ["RECUTILS_DATA_DIR"]).expanduser()
    return Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _model_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test fits for real: a test that calls ``recutils.setup()`` (which turns the course's
    model cache on) does not make later tests load models that earlier ones saved."""
    from recutils import environment

    monkeypatch.setitem(environment._state, "model_cache", 0)


#: Variables recutils.setup() sets to quiet transformers and tqdm: a fresh process runs without
#: them, as a new user's does.
QUIETING_VARIABLES = {"TQDM_DISABLE", "TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS"}


@pytest.fixture()
def fresh_python() -> Callable[[str], subprocess.CompletedProcess[str]]:
    """Run a Python script in a new process without the quieting variables (what a module
    imports or prints there cannot come from the test session); returns the finished process,
    whose exit status was checked to be 0."""

    def run(script: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in QUIETING_VARIABLES}
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done

    return run
