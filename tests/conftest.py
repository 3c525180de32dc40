"""Shared fixtures of the test suite."""

from __future__ import annotations

import os
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
