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
    with torch capped at AVX2 (README, "One limit, measured: the CPU"). The name and the
    instruction sets come from ``/proc/cpuinfo`` on Linux; elsewhere the name is
    ``platform.processor()`` and no instruction set is named. CPUs: ``os.cpu_count()``."""
    name, flags = platform.processor() or "unknown processor", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    name = " ".join(value.split())
                elif key.strip() == "flags":
                    flags = set(value.split())
                if name and flags and key.strip() == "flags":
                    break
    except OSError:
        pass
    features = [platform.machine()]
    if "avx512f" in flags:
        features.append("AVX-512")
    elif "avx2" in flags:
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
