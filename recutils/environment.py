"""One call that makes a notebook reproducible and quiet: seeds, threads, logging, paths.

Every notebook starts with ``recutils.setup(seed=...)``. It

* seeds Python's ``random``, NumPy's global generator and torch;
* fixes the number of threads: 1 for BLAS (NumPy/SciPy/implicit via OpenBLAS: ALS ran faster
  than with 2), the same on every machine so that floating-point sums are done in the same
  order; for torch, 2 threads on a quiet machine (the text encoder and sparse graph propagation
  ran faster than with 1: ``bench/results/threads_bench.md``), but 1 thread when another
  program is keeping a core busy as ``setup`` runs (see :func:`auto_torch_threads`: two
  threads sharing a core with someone else wait for each other at every step, and a model
  trained many times slower than on one thread, ``bench/results/load_bench.md``).
  ``RECUTILS_TORCH_THREADS=1`` in the environment (or ``setup(torch_threads=1)``) fixes the
  count for a whole workshop room. ``bench/threads_bench.py`` and ``bench/load_bench.py``
  re-measure both on your machine (README, "Benchmarks");
* caps torch's CPU kernels at AVX2 on x86-64 machines that have it (:func:`same_cpu_kernels`):
  some AVX-512 kernels give other last bits, and a model trained with them ends a few
  thousandths away in its metrics (the cap narrows the gap between a laptop with AVX-512 and
  one without; it does not close it yet);
* silences what would make stored outputs differ between machines: transformers' weight-loading
  progress bars and info logs, tqdm's "IProgress not found" warning (which prints a local path),
  Hugging Face hub lookups (offline mode: nothing downloads), and every tqdm progress bar
  (``TQDM_DISABLE``; a notebook that wants one can pass ``disable=False`` explicitly);
* sets pandas display options so tables print the same everywhere.

It returns a :class:`SetupInfo` describing what it did; it prints nothing.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recutils import checks

#: Threads of the BLAS library behind NumPy, SciPy and implicit (see module docstring).
DEFAULT_BLAS_THREADS = 1
#: Threads of torch's intra-op pool (text encoder, neural models) on a quiet machine.
DEFAULT_TORCH_THREADS = 2
#: Other programs' CPU use (in cores) from which ``setup`` gives torch a single thread.
BUSY_CORES = 0.5
#: The seed every model and every random split uses unless told otherwise.
DEFAULT_SEED = 42

#: What :func:`same_cpu_kernels` sets (unless already set): the widest x86 vector instructions
#: that torch's own kernels (ATen), oneDNN and MKL may use.
SAME_KERNELS_ENVIRONMENT = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}

_ENV_DATA_DIR = "RECUTILS_DATA_DIR"
_ENV_CACHE_DIR = "RECUTILS_CACHE_DIR"
_ENV_TORCH_THREADS = "RECUTILS_TORCH_THREADS"
_ENV_MODEL_CACHE = "RECUTILS_MODEL_CACHE"

_state: dict[str, int] = {
    "blas_threads": DEFAULT_BLAS_THREADS,
    "torch_threads": DEFAULT_TORCH_THREADS,
    "model_cache": 0,
}


def model_cache_enabled() -> bool:
    """Whether :meth:`Recommender.fit <recutils.models.Recommender.fit>` (and so ``fit_model``,
    ``ranked_lists``, ``compare``) keeps trained models in the course's cache
    (:func:`recutils.persistence.fit_cached`): on after
    ``setup()`` (every notebook), off otherwise (your own scripts, the unit tests).
    The same switch keeps :class:`recutils.llm.LanguageModel`'s answers and
    :class:`recutils.encoder_compression.OnnxTextEncoder`'s vectors.
    ``RECUTILS_MODEL_CACHE=0`` turns it off everywhere, e.g. to time real fits."""
    if os.environ.get(_ENV_MODEL_CACHE, "").strip() == "0":
        return False
    return bool(_state["model_cache"])


@dataclass(frozen=True)
class SetupInfo:
    """What :func:`setup` fixed. Its ``repr`` is the same on every machine (no paths, no times)."""

    seed: int
    blas_threads: int
    torch_threads: int
    torch_version: str
    transformers_version: str
    #: How ``torch_threads`` was chosen: ``"auto"`` (by :func:`auto_torch_threads`), ``"set"``.
    torch_threads_rule: str = "set"
    #: torch's CPU kernels (:func:`same_cpu_kernels`), e.g. ``"AVX2"``; not in the ``repr``,
    #: which must read the same on every machine.
    cpu_kernels: str = ""

    def __repr__(self) -> str:  # short and machine independent, for the notebook's first output
        torch_threads = "auto" if self.torch_threads_rule == "auto" else self.torch_threads
        return (
            f"recutils.setup: seed={self.seed}, threads: BLAS {self.blas_threads}, torch "
            f"{torch_threads}; torch {self.torch_version}, "
            f"transformers {self.transformers_version}"
        )


def _quiet_environment_variables() -> None:
    # Must be in place before transformers / huggingface_hub / tokenizers are imported.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")


def _cpu_has_avx2() -> bool:
    """True on an x86-64 CPU with AVX2 and FMA (NumPy's own check of the CPU)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # another NumPy layout: leave the kernels alone
        return False
    return bool(__cpu_features__.get("AVX2")) and bool(__cpu_features__.get("FMA3"))


def torch_kernels() -> str:
    """torch's CPU capability in effect (``"AVX2"``, ``"AVX512"``, ``"DEFAULT"``, ...): which
    of its kernels compute here (part of a cached model's key, ``recutils.persistence``). It
    imports torch.

    Example:
        >>> torch_kernels() in ("AVX2", "AVX512", "DEFAULT", "NO AVX")  # doctest: +SKIP
        True
    """
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def same_cpu_kernels() -> str:
    """Have torch compute with its AVX2 kernels on every x86-64 CPU that has AVX2.

    torch picks its kernels by the CPU, and on a CPU with AVX-512 some of them (softmax in
    torch's own kernels, GELU through oneDNN: both measured) give other last bits than on a
    CPU without it, because they add in another order or approximate differently. A text
    vector moves by a float rounding; a model trained over hundreds of steps on such vectors
    ends elsewhere. AVX2 is what both kinds of machine share (most x86-64 laptops since about
    2015; some low-cost Celeron and Pentium Silver ones lack it), so this sets
    :data:`SAME_KERNELS_ENVIRONMENT` (torch's ``ATEN_CPU_CAPABILITY``, oneDNN's
    ``ONEDNN_MAX_CPU_ISA``, MKL's ``MKL_ENABLE_INSTRUCTIONS``; a variable already set is left
    as it is). What it achieves was measured on an AVX-512 machine against outputs stored on
    one without: without the cap 36 checked cells of notebooks 04-16 differed, with it
    notebook 04's did not, but the models trained in 05-16 still ended a few thousandths
    away (also with OpenBLAS and MKL held to AVX2), so the course's stored outputs still
    belong to one kind of machine. NumPy and SciPy's OpenBLAS is not covered (it chose its
    kernels when NumPy was imported). CPUs without AVX2, and ARM (Apple silicon), are left
    alone.

    torch reads the setting at its first operation, so call this (or :func:`setup`) before any
    tensor is computed; importing torch is fine. On a machine without AVX-512 nothing changes;
    with it, the element-wise steps may be a little slower.

    Returns:
        torch's CPU capability in effect, e.g. ``"AVX2"``. If it is not the one asked for, a
        warning (once per process) says so: torch ran before this call (restart the kernel
        and run ``setup`` first), or ``ATEN_CPU_CAPABILITY`` holds a value torch ignores.

    Example:
        >>> same_cpu_kernels() in ("AVX2", "AVX512", "DEFAULT", "NO AVX")  # doctest: +SKIP
        True
    """
    if _cpu_has_avx2():
        for name, value in SAME_KERNELS_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
    capability = torch_kernels()
    wanted = os.environ.get("ATEN_CPU_CAPABILITY", "")
    if wanted and capability.upper() != wanted.upper() and not _state.get("kernels_warned"):
        _state["kernels_warned"] = 1  # once per process: the kernels cannot change any more
        warnings.warn(
            f"torch computes with its {capability} kernels, not ATEN_CPU_CAPABILITY={wanted}: "
            "either torch ran before recutils.setup (restart the kernel and call "
            "recutils.setup before any torch work) or torch does not accept that value "
            "(avx2, avx512, default); results may differ from the stored outputs",
            RuntimeWarning,
            stacklevel=checks.stacklevel_outside_recutils(),
        )
    return capability


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy's global generator and torch (CPU) with ``seed``."""
    seed = checks.seed(seed)
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    import torch

    torch.manual_seed(int(seed))


def set_threads(blas_threads: int, torch_threads: int) -> None:
    """Use ``blas_threads`` for BLAS (via threadpoolctl) and ``torch_threads`` for torch."""
    blas_threads = checks.positive_int(blas_threads, "blas_threads")
    torch_threads = checks.positive_int(torch_threads, "torch_threads")
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=blas_threads, user_api="blas")
    torch.set_num_threads(torch_threads)
    _state["blas_threads"], _state["torch_threads"] = blas_threads, torch_threads


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes have used since boot (Linux ``/proc/stat``); None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds used by this process and its finished children."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def usable_cpus() -> int:
    """The CPUs this process may run on: ``os.sched_getaffinity`` where the system has it (so a
    cpuset or ``taskset`` limit counts; a CPU quota such as ``docker --cpus`` does not), else
    ``os.cpu_count()``; at least 1.

    Example:
        >>> usable_cpus() >= 1
        True
    """
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def other_programs_busy_cores(window_seconds: float = 0.25) -> float | None:
    """How many cores the *other* processes kept busy over the next ``window_seconds``.

    ``(machine busy CPU-seconds - this process's CPU-seconds) / wall seconds``, read from
    ``/proc/stat`` before and after a short sleep. On systems without ``/proc/stat`` (macOS,
    Windows) it returns the 1-minute load average (runnable processes, a coarser measure) where
    there is one, else ``None``.
    """
    import time

    busy_start, own_start, wall_start = machine_busy_seconds(), own_cpu_seconds(), time.time()
    if busy_start is None:
        try:
            return float(os.getloadavg()[0])
        except (AttributeError, OSError):
            return None
    time.sleep(window_seconds)
    busy_end = machine_busy_seconds()
    if busy_end is None:
        return None
    others = busy_end - busy_start - (own_cpu_seconds() - own_start)
    return max(others, 0.0) / max(time.time() - wall_start, 1e-9)


def auto_torch_threads() -> int:
    """torch threads for this machine right now: ``RECUTILS_TORCH_THREADS`` if set; else 2 on a
    quiet machine where this process may use at least 2 cores (:func:`usable_cpus`), 1 if other
    programs keep at least :data:`BUSY_CORES` of a core busy (:func:`other_programs_busy_cores`)
    or the process may use only one core.

    Why: on a quiet 2-core CPU, 2 threads fit LightGCN and encode texts 1.3-1.8x faster than 1;
    with one busy program beside them, 2 threads were 5-11x *slower* than 1 (each parallel step
    waits for the thread whose core the other program holds; ``bench/results/load_bench.md``).
    The text encoder gives the same vectors with 1 or 2 threads; the neural models train
    bit-reproducibly at a given number of threads (:func:`deterministic_torch`), and may differ
    in the last bits between 1 and 2 threads.
    """
    value = os.environ.get(_ENV_TORCH_THREADS, "").strip()
    if value:
        try:
            return checks.positive_int(int(value), _ENV_TORCH_THREADS)
        except (ValueError, TypeError):
            raise ValueError(
                f"the environment variable {_ENV_TORCH_THREADS}={value!r} must be a whole "
                "number of threads >= 1 (e.g. 1), or unset for the automatic choice"
            ) from None
    if usable_cpus() < 2:  # one core, or this process limited to one (taskset, a cpuset)
        return 1
    busy = other_programs_busy_cores()
    return 1 if busy is not None and busy >= BUSY_CORES else DEFAULT_TORCH_THREADS


def configured_threads() -> tuple[int, int]:
    """(blas_threads, torch_threads) as last set by :func:`setup`."""
    return _state["blas_threads"], _state["torch_threads"]


@contextmanager
def torch_threads(threads: int | None = None) -> Iterator[int]:
    """Run a block with ``threads`` torch threads (default: the :func:`setup` setting),
    then restore the previous setting, even if the block raises.

    Example::

        with torch_threads(1):
            model(batch)  # on one thread
    """
    import torch

    wanted = configured_threads()[1] if threads is None else checks.positive_int(threads, "threads")
    previous = torch.get_num_threads()
    torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        torch.set_num_threads(previous)


@contextmanager
def deterministic_torch() -> Iterator[None]:
    """Run a block with torch's deterministic algorithms on, then restore the previous setting.

    With two or more threads, some of torch's CPU kernels add into the same row from several
    threads in whatever order they finish: the gradient of ``x[index]`` (``index_put_`` with
    accumulation) is one, used by every model that looks up user and item vectors in a batch.
    The sum is then right to about 1e-7 but not bit for bit the same from run to run, and
    training amplifies it: two fits of LightGCN with the same seed gave scores differing in
    the fourth decimal. ``torch.use_deterministic_algorithms(True)`` picks kernels that add in
    a fixed order. The training loop of every neural model runs inside this block.

    Example::

        with deterministic_torch():
            loss.backward()  # the same gradient bits on every run
    """
    import torch

    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    _use_deterministic_algorithms(True)
    try:
        yield
    finally:
        _use_deterministic_algorithms(previous, warn_only=previous_warn_only)


def _use_deterministic_algorithms(mode: bool, warn_only: bool = False) -> None:
    """``torch.use_deterministic_algorithms(mode, warn_only=warn_only)`` without importing
    torch's compiler.

    The public function also sets the compiler's flag (``torch._inductor.config``), and
    importing the compiler for that took about a second on the 2-core machine of the course's
    time tables: the first fit of a neural model in a process paid it (in a cold run of the
    course, every notebook that trains one and reads its text vectors from the cache; loading
    the text encoder with transformers imports the compiler anyway). The course never
    compiles a model, so the compiler's flag is set only if the compiler is loaded already;
    the flag the kernels read is set as the public function sets it (``torch._C``). A torch
    without that private function gets the public one."""
    import torch

    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:  # pragma: no cover - another torch than the pinned one
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
        return
    compiler_settings = sys.modules.get("torch._inductor.config")
    if compiler_settings is not None:
        compiler_settings.deterministic = mode
    set_flag(mode, warn_only=warn_only)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Run a block with transformers' logging at "error", its loading bars off and Python
    warnings ignored, then restore all three (loading a model prints none of them)."""
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    progress_bar = transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if progress_bar:
            transformers_logging.enable_progress_bar()


def setup(
    seed: int = DEFAULT_SEED,
    blas_threads: int = DEFAULT_BLAS_THREADS,
    torch_threads: int | str = "auto",
    model_cache: bool = True,
    same_kernels: bool = True,
) -> SetupInfo:
    """Make the current process reproducible and its outputs machine independent.

    Args:
        seed: seeds ``random``, ``numpy.random`` and ``torch``. Functions in recutils that draw
            random numbers take their own ``seed`` argument as well; this one covers code in the
            notebook itself.
        blas_threads: threads of the BLAS library (NumPy, SciPy, implicit); 1 was fastest for
            the course's matrices on a 2-core CPU (``bench/threads_bench.py``).
        torch_threads: threads of torch (text encoder, neural models), or ``"auto"``
            (default, :func:`auto_torch_threads`): 2 on a quiet machine, where they were
            fastest, 1 when another program keeps a core busy, or ``RECUTILS_TORCH_THREADS``.
        model_cache: keep models fitted with ``model.fit`` (and so ``fit_model``,
            ``ranked_lists``, ``compare``) in the course's cache, so that a model trained on the
            same data with the same settings and code is trained once and loaded after that,
            in any notebook (:func:`model_cache_enabled`); the language model's answers and
            ONNX Runtime's vectors are kept the same way.
        same_kernels: cap torch's CPU kernels at AVX2 (:func:`same_cpu_kernels`), so that a
            laptop with AVX-512 computes more like one without (not yet bit for bit);
            ``False`` lets torch use the widest instructions of this CPU (torch's first
            operation in a process decides, so a later call cannot change them).

    Returns:
        A :class:`SetupInfo`; display it as the notebook's first output.
    """
    blas_threads = checks.positive_int(blas_threads, "blas_threads")
    rule = "set"
    if isinstance(torch_threads, str):
        if torch_threads != "auto":
            raise ValueError(
                f"torch_threads must be a whole number >= 1 or 'auto', got {torch_threads!r}"
            )
        torch_threads, rule = auto_torch_threads(), "auto"
    torch_threads = checks.positive_int(torch_threads, "torch_threads")
    _state["model_cache"] = int(checks.boolean(model_cache, "model_cache"))
    same_kernels = checks.boolean(same_kernels, "same_kernels")
    _quiet_environment_variables()
    # Show warnings as "Category: message", without the source file path that Python puts in
    # front by default (it differs between machines and would end up in stored outputs).
    warnings.formatwarning = _format_warning_without_path
    cpu_kernels = same_cpu_kernels() if same_kernels else ""
    # OpenBLAS reads this when it is loaded; threadpoolctl below covers libraries already loaded.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(blas_threads))

    import torch

    try:  # may only be set once per process, before any inter-op parallel work
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    set_threads(blas_threads, torch_threads)
    seed_everything(seed)

    # Before transformers is imported: importing it imports tqdm.auto, which warns (with a local
    # path) "IProgress not found" when ipywidgets is not installed.
    warnings.filterwarnings("ignore", message="IProgress not found")
    try:
        from tqdm import TqdmExperimentalWarning, TqdmWarning

        warnings.filterwarnings("ignore", category=TqdmWarning)
        warnings.filterwarnings("ignore", category=TqdmExperimentalWarning)
    except ImportError:  # tqdm is optional
        pass

    if "transformers" in sys.modules:  # imported already: its settings are read, so set them
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
    else:  # read when it is imported (not here: that takes half a second per notebook); set,
        # not defaulted, as the calls above set them whatever the user's environment says
        os.environ["TRANSFORMERS_VERBOSITY"] = "error"
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # transformers' bars follow the hub's
        if "huggingface_hub" in sys.modules:  # it read the variable when it was imported
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()

    import pandas as pd

    pd.set_option("display.precision", 4)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 120)
    pd.set_option("display.max_colwidth", 80)

    _configure_matplotlib()
    return SetupInfo(
        seed=int(seed),
        blas_threads=blas_threads,
        torch_threads=torch_threads,
        # without the local build tag ("2.13.0+cpu" -> "2.13.0"): the same on every platform
        torch_version=torch.__version__.split("+")[0],
        transformers_version=importlib.metadata.version("transformers").split("+")[0],
        torch_threads_rule=rule,
        cpu_kernels=cpu_kernels,
    )


def _format_warning_without_path(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    return f"{category.__name__}: {message}\n"


def _configure_matplotlib() -> None:
    """PNG figures (nbval does not compare images), fixed size and fonts."""
    import matplotlib

    matplotlib.rcParams.update(
        {
            "figure.figsize": (8.0, 4.0),
            "figure.dpi": 90,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
            "svg.hashsalt": "recutils",
        }
    )
    try:
        from IPython import get_ipython

        if get_ipython() is not None:
            from matplotlib_inline.backend_inline import set_matplotlib_formats

            set_matplotlib_formats("png")
    except ImportError:
        pass


def _repository_root() -> Path | None:
    """The course repository when recutils is used from a checkout (editable install)."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir():
        return root
    return None


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Directory that holds datasets: ``path`` if given, else ``$RECUTILS_DATA_DIR``, else the
    repository's ``data/`` folder (or ``~/.cache/recutils/data`` outside a checkout).

    A dataset ``name`` lives in ``data_dir() / name`` (for example ``online-retail/``).
    """
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get(_ENV_DATA_DIR):
        return Path(os.environ[_ENV_DATA_DIR]).expanduser()
    root = _repository_root()
    if root is not None:
        return root / "data"
    return Path.home() / ".cache" / "recutils" / "data"


def cache_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Directory for caches (text embeddings): ``path``, else ``$RECUTILS_CACHE_DIR``,
    else the repository's ``.cache/`` folder (or ``~/.cache/recutils`` outside a checkout)."""
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get(_ENV_CACHE_DIR):
        return Path(os.environ[_ENV_CACHE_DIR]).expanduser()
    root = _repository_root()
    if root is not None:
        return root / ".cache"
    return Path.home() / ".cache" / "recutils"
