"""setup(): seeds, threads, quiet warnings; data and cache folders."""

import os
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import recutils
from recutils.environment import _cpu_has_avx2, cache_dir, configured_threads, data_dir


def test_setup_seeds_everything_reproducibly():
    recutils.setup(seed=7)
    first = (random.random(), np.random.random(), torch.rand(1).item())
    recutils.setup(seed=7)
    assert (random.random(), np.random.random(), torch.rand(1).item()) == first
    recutils.setup(seed=8)
    assert np.random.random() != first[1]


def test_setup_fixes_threads_and_describes_itself():
    info = recutils.setup(seed=1, blas_threads=1, torch_threads=2)
    assert torch.get_num_threads() == 2
    assert configured_threads() == (1, 2)
    from threadpoolctl import threadpool_info

    assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    assert "seed=1" in repr(info) and "/" not in repr(info)  # no paths in the first output


def test_setup_rejects_bad_arguments():
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        recutils.setup(seed=-1)
    with pytest.raises(ValueError, match="blas_threads must be a positive integer"):
        recutils.setup(blas_threads=0)
    with pytest.raises(ValueError, match="torch_threads must be a positive integer"):
        recutils.setup(torch_threads=1.5)
    recutils.setup()


def test_warnings_are_shown_without_the_source_path():
    recutils.setup()
    text = warnings.formatwarning("cache entry x.npz is stale", UserWarning, "/home/me/a.py", 3)
    assert text == "UserWarning: cache entry x.npz is stale\n"


def test_transformers_is_silenced_without_being_imported_by_setup(fresh_python):
    """setup() does not import transformers (half a second per notebook, for notebooks that
    never use it), yet transformers imported after it logs errors only and shows no loading
    bars; imported before it, it is set the same way; with only the hub imported before it
    (which read its bar setting then), the bars are off too."""
    script = (
        "import json, sys\n"
        "import recutils\n"
        "{before}"
        "info = recutils.setup()\n"
        "imported_by_setup = 'transformers' in sys.modules\n"
        "from transformers.utils import logging\n"
        "import transformers\n"
        "print(json.dumps([imported_by_setup, logging.get_verbosity(),\n"
        "                  logging.is_progress_bar_enabled(),\n"
        "                  info.transformers_version == transformers.__version__.split('+')[0]]))\n"
    )
    for before, imported in (
        ("", False),
        ("import transformers\n", True),
        ("import huggingface_hub\n", False),
    ):
        done = fresh_python(script.format(before=before))
        assert done.stdout.strip() == f"[{str(imported).lower()}, 40, false, true]", before


def test_data_and_cache_dirs_follow_argument_then_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RECUTILS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("RECUTILS_CACHE_DIR", str(tmp_path / "c"))
    assert data_dir() == tmp_path / "d" and cache_dir() == tmp_path / "c"
    assert data_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("RECUTILS_DATA_DIR")
    monkeypatch.delenv("RECUTILS_CACHE_DIR")
    assert data_dir().name == "data" and cache_dir().name in (".cache", "recutils")


def test_auto_threads_follow_the_machines_load(monkeypatch):
    from recutils import environment

    monkeypatch.delenv("RECUTILS_TORCH_THREADS", raising=False)
    monkeypatch.setattr(environment, "usable_cpus", lambda: 2)
    monkeypatch.setattr(environment, "other_programs_busy_cores", lambda: 0.05)
    assert environment.auto_torch_threads() == 2
    monkeypatch.setattr(environment, "other_programs_busy_cores", lambda: 0.9)
    assert environment.auto_torch_threads() == 1
    info = recutils.setup(seed=1)
    assert info.torch_threads == 1 and torch.get_num_threads() == 1
    assert "torch auto" in repr(info)  # the same first output whatever the load
    monkeypatch.setattr(environment, "other_programs_busy_cores", lambda: None)  # not measurable
    assert environment.auto_torch_threads() == 2
    monkeypatch.setattr(environment, "usable_cpus", lambda: 1)  # e.g. taskset -c 0
    assert environment.auto_torch_threads() == 1
    monkeypatch.setenv("RECUTILS_TORCH_THREADS", "3")
    assert environment.auto_torch_threads() == 3
    monkeypatch.setenv("RECUTILS_TORCH_THREADS", "two")
    with pytest.raises(ValueError, match="RECUTILS_TORCH_THREADS='two' must be a whole number"):
        environment.auto_torch_threads()
    with pytest.raises(ValueError, match="torch_threads must be a whole number >= 1 or 'auto'"):
        recutils.setup(torch_threads="fast")
    monkeypatch.delenv("RECUTILS_TORCH_THREADS")
    assert "torch 2;" in repr(recutils.setup(seed=1, torch_threads=2))
    recutils.setup()


def test_other_programs_busy_cores_measures_a_busy_loop():
    from recutils import environment

    if environment.machine_busy_seconds() is None:
        pytest.skip("needs Linux /proc/stat")
    # a busy loop that ends by itself: if this test's process is killed before its finally
    # runs, the loop must not go on using a core (it once slowed a whole test run)
    spin = "import time\nend = time.monotonic() + 10\nwhile time.monotonic() < end:\n    pass\n"
    busy = subprocess.Popen([sys.executable, "-c", spin])
    try:
        import time

        time.sleep(0.3)
        measured = environment.other_programs_busy_cores(window_seconds=0.5)
    finally:
        busy.kill()
        busy.wait()
    assert measured is not None and measured > 0.5


def _index_gradient(rows: torch.Tensor, weights: torch.Tensor) -> bytes:
    table = torch.zeros(500, 32, requires_grad=True)
    (table[rows] * weights).sum().backward()
    return table.grad.numpy().tobytes()


def test_deterministic_torch_gives_the_same_gradient_bits_on_two_threads():
    from recutils.environment import deterministic_torch, torch_threads

    generator = torch.Generator().manual_seed(0)
    rows = torch.randint(0, 500, (100_000,), generator=generator)  # many repeats of each row
    weights = torch.randn(100_000, 32, generator=generator)
    before = torch.are_deterministic_algorithms_enabled()
    with torch_threads(1):
        one_thread = _index_gradient(rows, weights)
    with torch_threads(2), deterministic_torch():
        assert torch.are_deterministic_algorithms_enabled()
        runs = {_index_gradient(rows, weights) for _ in range(10)}
    assert runs == {one_thread}
    assert torch.are_deterministic_algorithms_enabled() == before  # restored


def test_neural_training_is_bit_reproducible_on_two_threads():
    # Large enough batches for torch to split the gradient of a lookup across threads: before
    # the training loop ran under deterministic_torch, two such fits differed in the last bits.
    import scipy.sparse as sp

    from recutils.models import LightGCN

    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 3000, 40_000), rng.integers(0, 400, 40_000)
    train = sp.csr_matrix((np.ones(users.size, np.float32), (users, items)), shape=(3000, 400))
    train.sum_duplicates()
    fits = [
        LightGCN(factors=32, layers=1, epochs=2, batch_size=8192, seed=3, threads=2).fit(train)
        for _ in range(3)
    ]
    for other in fits[1:]:
        np.testing.assert_array_equal(fits[0].item_vectors_, other.item_vectors_)


def run_python(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter without the kernel settings of this process."""
    from recutils.environment import SAME_KERNELS_ENVIRONMENT

    env = {k: v for k, v in os.environ.items() if k not in SAME_KERNELS_ENVIRONMENT}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done


def cpu_has_avx512() -> bool:
    from numpy._core._multiarray_umath import __cpu_features__

    return bool(__cpu_features__.get("AVX512F"))


PRINT_KERNELS = (
    "import os, torch\n"
    "from recutils.environment import SAME_KERNELS_ENVIRONMENT as names, same_cpu_kernels\n"
)


@pytest.mark.skipif(not _cpu_has_avx2(), reason="only x86-64 CPUs with AVX2 are capped")
def test_torch_is_capped_at_avx2_so_avx512_machines_print_the_same_numbers():
    # torch imported first, as in a notebook: the setting counts from torch's first operation
    done = run_python(
        PRINT_KERNELS + "print(same_cpu_kernels(), *(os.environ[name] for name in names))\n"
    )
    assert done.stdout.split() == ["AVX2", "avx2", "AVX2", "AVX2"], done.stderr
    assert "RuntimeWarning" not in done.stderr


@pytest.mark.skipif(not _cpu_has_avx2(), reason="only x86-64 CPUs with AVX2 are capped")
def test_a_kernel_setting_of_the_user_is_kept_and_a_late_call_warns():
    done = run_python(
        PRINT_KERNELS + "os.environ['ATEN_CPU_CAPABILITY'] = 'default'\n"
        "print(same_cpu_kernels(), os.environ['ONEDNN_MAX_CPU_ISA'])\n"
    )
    assert done.stdout.split() == ["DEFAULT", "AVX2"], done.stderr
    # a torch operation before the call fixes the kernels: it says so instead of pretending
    done = run_python(
        PRINT_KERNELS + "torch.softmax(torch.ones(3), 0)\nprint(same_cpu_kernels())\n"
    )
    if cpu_has_avx512():
        assert done.stdout.split() == ["AVX512"]
        assert "torch ran before recutils.setup" in done.stderr
    else:  # torch chose AVX2 by itself: nothing to warn about
        assert done.stdout.split() == ["AVX2"]
        assert "RuntimeWarning" not in done.stderr


def test_cpus_without_avx2_are_left_alone(monkeypatch):
    from recutils import environment

    monkeypatch.setattr(environment, "_cpu_has_avx2", lambda: False)
    for name in environment.SAME_KERNELS_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing asked for, nothing to warn about
        environment.same_cpu_kernels()
    assert not set(environment.SAME_KERNELS_ENVIRONMENT) & set(os.environ)


def test_deterministic_torch_does_not_load_torchs_compiler():
    # torch.use_deterministic_algorithms imports torch._inductor (over a second) to set a flag
    # only compiled models read; deterministic_torch sets the kernels' flag without it
    done = run_python(
        "import sys, torch\n"
        "from recutils.environment import deterministic_torch\n"
        "with deterministic_torch():\n"
        "    assert torch.are_deterministic_algorithms_enabled()\n"
        "assert not torch.are_deterministic_algorithms_enabled()\n"
        "print('torch._inductor' in sys.modules)\n"
    )
    assert done.stdout.split() == ["False"]


def test_deterministic_torch_sets_the_compilers_flag_when_it_is_loaded():
    import torch._inductor.config as compiler_settings

    from recutils.environment import deterministic_torch

    with deterministic_torch():
        assert compiler_settings.deterministic is True
    # restored as torch.use_deterministic_algorithms sets it: to the kernels' flag
    assert compiler_settings.deterministic == torch.are_deterministic_algorithms_enabled()
