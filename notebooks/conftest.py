"""nbval over the notebooks: a notebook that needs what this machine lacks is skipped, saying so.

Notebook 15 runs Apache Spark, which needs Java 17+ (pip cannot install Java). Where Spark
cannot start, every cell of that notebook is skipped and the end of the run prints one line
with the reason and how to install Java (``recutils.spark.notebook_skip_reason``); every
other notebook runs as usual.
"""

from __future__ import annotations

import pytest

from recutils.spark import notebook_skip_reason

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
    for reason in _SKIPPED.values():
        terminalreporter.write_line(reason, yellow=True)
