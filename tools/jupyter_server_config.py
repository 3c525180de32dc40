"""Jupyter server settings for `make lab`: opening a course notebook must not change its file.

When JupyterLab opens a notebook it starts a kernel and writes the kernel's description into
the notebook's metadata: ``kernelspec`` (the course stores the name the installed ipykernel
reports, "Python 3 (ipykernel)", so that one matches) and ``language_info``, whose ``version``
is the Python of *your* kernel (3.12.3, say), not the one that made the stored outputs. Any
difference marks the notebook modified, and autosave writes it: a learner who only read a
notebook would see a changed file in ``git status``.

The hook below runs before every save. If the notebook's cells are exactly those on disk (you
read, scrolled, maybe ran nothing), it keeps the metadata on disk, so the saved file is the
same bytes. As soon as you change a cell or run one, the save is yours, metadata included.

Used by ``make lab`` (``jupyter lab --config=tools/jupyter_server_config.py``).
"""

from __future__ import annotations

import os
from typing import Any

import nbformat


def _normalised_cells(content: Any) -> list[dict[str, Any]]:
    """The cells as nbformat writes them (so "a\\nb" and ["a\\n", "b"] compare equal)."""
    notebook = nbformat.reads(nbformat.writes(nbformat.from_dict(content)), as_version=4)
    return [dict(cell) for cell in notebook.cells]


def keep_stored_metadata_if_cells_unchanged(
    model: dict[str, Any], path: str, contents_manager: Any, **kwargs: Any
) -> None:
    """pre_save_hook: unchanged cells -> keep the notebook's stored metadata (see above)."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    os_path = contents_manager._get_os_path(path)
    if not os.path.isfile(os_path):
        return
    try:
        stored = nbformat.read(os_path, as_version=4)
        if _normalised_cells(model["content"]) == _normalised_cells(stored):
            model["content"]["metadata"] = dict(stored.metadata)
    except Exception as error:  # never block a save because of this convenience
        contents_manager.log.warning("course pre-save hook skipped for %s: %s", path, error)


try:
    c = get_config()  # type: ignore[name-defined]  # Jupyter provides it when loading this file
except NameError:  # imported by the tests, not loaded by Jupyter
    c = None
if c is not None:
    c.FileContentsManager.pre_save_hook = keep_stored_metadata_if_cells_unchanged
