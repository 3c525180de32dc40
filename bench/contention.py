"""How much CPU other processes used while a benchmark ran (shared by the bench scripts).

A timing on a 2-core machine means little if another process kept a core busy. ``Contention``
reads the machine's busy CPU seconds (Linux ``/proc/stat``) and this process's own at the start
and at the end; the difference is what the rest of the machine used.
"""

from __future__ import annotations

import os
import resource
import time


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes have used since boot (Linux /proc/stat); None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds used by this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Contention:
    """Create it before the timed work; ``report()`` afterwards says if the numbers are clean."""

    def __init__(self) -> None:
        self.wall_start = time.time()
        self.busy_start = machine_busy_seconds()
        self.own_start = own_cpu_seconds()

    def report(self) -> str:
        busy_end = machine_busy_seconds()
        if self.busy_start is None or busy_end is None:
            return "CPU use of other processes: not measured (needs Linux /proc/stat)."
        others = max(busy_end - self.busy_start - (own_cpu_seconds() - self.own_start), 0.0)
        share = others / max(time.time() - self.wall_start, 1e-9)
        verdict = (
            "; they competed with the bench, re-run for clean numbers."
            if share > 0.1
            else "; the numbers are clean."
        )
        return (
            f"Other processes used {others:.0f} CPU-seconds during the run "
            f"({share:.2f} cores on average){verdict}"
        )
