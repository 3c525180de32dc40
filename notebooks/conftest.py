"""nbval over the notebooks: a notebook that needs what this machine lacks is skipped, saying so.

Notebook 15 runs Apache Spark, which needs Java 17+ (pip cannot install Java). Where Spark
cannot start, every cell of that notebook is skipped and the end of the run prints one line
with the reason and how to install Java (``recutils.spark.notebook_skip_reason``); every
other notebook runs as usual. When a cell of a Spark notebook fails, the end of the run shows
the last lines of the JVM's log (and of its crash file, if it crashed), which otherwise only
the log file holds.

``make test`` runs two notebooks at a time (pytest-xdist, ``-n 2 --dist loadscope``: the cells
of one notebook stay in order in one worker's kernel).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recutils.spark import SPARK_NOTEBOOKS, log_path, notebook_skip_reason

_SKIPPED: dict[str, str] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons: dict[str, str | None] = {}
    for item in items:
        name = item.path.name
        if name not in reasons:
            reasons[name] = notebook_skip_reason(name) if name.endswith(".ipynb") else None
        if reasons[name] is not None:
            item.add_marker(pytest.mark.skip(reason=reasons[name]))
            _SKIPPED[name] = reasons[name]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # With pytest-xdist (make test runs two notebooks at a time) the workers collect the items,
    # not this process: the notebooks that ran are read from the reports instead.
    ran = {
        Path(report.nodeid.split("::")[0]).name
        for reports in terminalreporter.stats.values()
        for report in reports
        if hasattr(report, "nodeid")
    }
    for name in sorted(ran & set(SPARK_NOTEBOOKS) - set(_SKIPPED)):
        reason = notebook_skip_reason(name)
        if reason is not None:
            _SKIPPED[name] = reason
    for reason in _SKIPPED.values():
        terminalreporter.write_line(reason, yellow=True)
    failed = terminalreporter.stats.get("failed", [])
    if any(Path(report.nodeid.split("::")[0]).name in SPARK_NOTEBOOKS for report in failed):
        # the JVM writes to a log file, not to the notebook: show its last words here
        for path in [log_path(), *sorted(log_path().parent.glob("hs_err_pid*.log"))]:
            if path.is_file():
                lines = path.read_text(errors="replace").splitlines()
                terminalreporter.write_sep("-", f"last lines of {path.name} (Spark's JVM)")
                for line in lines[-60:]:
                    terminalreporter.write_line(line)
