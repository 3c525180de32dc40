"""One call that makes a notebook reproducible and quiet: seeds, threads, logging, paths.

Every notebook starts with ``recutils.setup(seed=...)``. It

* seeds Python's ``random``, NumPy's global generator and torch;
* fixes the number of threads, the same on every machine, so that floating-point sums are done
  in the same order and results agree between laptops: 1 thread for BLAS (NumPy/SciPy/implicit
  via OpenBLAS: ALS ran faster than with 2) and 2 threads for torch (the text encoder and
  sparse graph propagation ran faster than with 1). These are the fastest settings measured on
  a 2-core CPU (``bench/results/threads_bench.md``); ``bench/threads_bench.py`` re-measures
  them on yours (README, "Benchmarks");
* silences what would make stored outputs differ between machines: transformers' weight-loading
  progress bars and info logs, tqdm's "IProgress not found" warning (which prints a local path),
  Hugging Face hub lookups (offline mode: nothing downloads), and every tqdm progress bar
  (``TQDM_DISABLE``; a notebook that wants one can pass ``disable=False`` explicitly);
* sets pandas display options so tables print the same everywhere.

It returns a :class:`SetupInfo` describing what it did; it prints nothing.
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recutils import checks

#: Threads of the BLAS library behind NumPy, SciPy and implicit (see module docstring).
DEFAULT_BLAS_THREADS = 1
#: Threads of torch's intra-op pool (text encoder, neural models).
DEFAULT_TORCH_THREADS = 2
#: The seed every model and every random split uses unless told otherwise.
DEFAULT_SEED = 42

_ENV_DATA_DIR = "RECUTILS_DATA_DIR"
_ENV_CACHE_DIR = "RECUTILS_CACHE_DIR"

_state: dict[str, int] = {
    "blas_threads": DEFAULT_BLAS_THREADS,
    "torch_threads": DEFAULT_TORCH_THREADS,
}


@dataclass(frozen=True)
class SetupInfo:
    """What :func:`setup` fixed. Its ``repr`` is the same on every machine (no paths, no times)."""

    seed: int
    blas_threads: int
    torch_threads: int
    torch_version: str
    transformers_version: str

    def __repr__(self) -> str:  # short and machine independent, for the notebook's first output
        return (
            f"recutils.setup: seed={self.seed}, threads: BLAS {self.blas_threads}, torch "
            f"{self.torch_threads}; torch {self.torch_version}, "
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


def configured_threads() -> tuple[int, int]:
    """(blas_threads, torch_threads) as last set by :func:`setup`."""
    return _state["blas_threads"], _state["torch_threads"]


@contextmanager
def torch_threads(threads: int | None = None) -> Iterator[int]:
    """Run a block with ``threads`` torch threads (default: the :func:`setup` setting, 2),
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
    torch_threads: int = DEFAULT_TORCH_THREADS,
) -> SetupInfo:
    """Make the current process reproducible and its outputs machine independent.

    Args:
        seed: seeds ``random``, ``numpy.random`` and ``torch``. Functions in recutils that draw
            random numbers take their own ``seed`` argument as well; this one covers code in the
            notebook itself.
        blas_threads: threads of the BLAS library (NumPy, SciPy, implicit); 1 was fastest for
            the course's matrices on a 2-core CPU (``bench/threads_bench.py``).
        torch_threads: threads of torch (text encoder, neural models); 2 was fastest there.

    Returns:
        A :class:`SetupInfo`; display it as the notebook's first output.
    """
    blas_threads = checks.positive_int(blas_threads, "blas_threads")
    torch_threads = checks.positive_int(torch_threads, "torch_threads")
    _quiet_environment_variables()
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

    import transformers
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()

    # Show warnings as "Category: message", without the source file path that Python puts in
    # front by default (it differs between machines and would end up in stored outputs).
    warnings.formatwarning = _format_warning_without_path

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
        transformers_version=transformers.__version__.split("+")[0],
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
