"""How much CPU other processes used while a benchmark ran (shared by the bench scripts).

A timing on a 2-core machine means little if another process kept a core busy. ``Contention``
reads the machine's busy CPU seconds (Linux ``/proc/stat``) and this process's own at the start
and at the end; the difference is what the rest of the machine used.
"""

from __future__ import annotations

import time

from recutils.environment import machine_busy_seconds, own_cpu_seconds


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
