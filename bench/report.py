"""How every benchmark ends: print its report and, with ``--output PATH``, write it there.

``tools/update_readme.py`` copies each ``bench/results/NAME.md`` into the README between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->``. The file is written atomically
(:func:`recutils.files.write_text_atomic`), so an interrupted run leaves the last good report.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from recutils.files import write_text_atomic


def machine() -> str:
    """The processor a report's times were measured on, e.g. ``"AMD EPYC (x86_64, AVX-512),
    2 CPUs"``: times from two kinds of machine are not comparable (the course's tables were
    measured on more than one), and the CPU kind can change results in their last bits even
    with torch capped at AVX2 (README, "One limit, measured: the CPU"). The name comes from
    ``/proc/cpuinfo`` on Linux (``platform.processor()`` elsewhere), the instruction sets from
    NumPy's own check of the CPU (as ``recutils.environment.same_cpu_kernels`` decides), the
    CPUs from ``os.cpu_count()``."""
    from numpy._core._multiarray_umath import __cpu_features__

    name = platform.processor() or "unknown processor"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            names = [line.partition(":")[2] for line in cpuinfo if line.startswith("model name")]
        name = " ".join(names[0].split()) if names and names[0].strip() else name
    except OSError:
        pass
    features = [platform.machine()]
    if __cpu_features__.get("AVX512F"):
        features.append("AVX-512")
    elif __cpu_features__.get("AVX2"):
        features.append("AVX2, no AVX-512")
    return f"{name} ({', '.join(features)}), {os.cpu_count()} CPUs"


def emit(*parts: str, output: Path | None) -> None:
    """Print ``parts`` (a table, the facts under it, ...) separated by blank lines, and write
    the same text to ``output`` if given (its folder is created)."""
    text = "\n\n".join(parts)
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(output, text + "\n")
