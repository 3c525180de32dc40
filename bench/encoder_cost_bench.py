"""Benchmark: a cheaper text encoder -- speed and memory against quality, in one table.

Run from the repository root (hold the machine's heavy-job lock; about 1.5 minutes on 2 cores)::

    python bench/encoder_cost_bench.py              # prints the table
    python bench/encoder_cost_bench.py --n 1000                           # the first 1,000 items
    python bench/encoder_cost_bench.py --output bench/results/encoder_cost_bench.md

Texts: the shop catalog's item texts (``recutils.text.item_texts``; all of them by default).

Rows (``recutils.encoder_compression``):

* the full encoder in torch, float32 (``encode_texts``, cache off): the reference, measured in
  the same run;
* the same network run by ONNX Runtime, float32, and its int8 dynamically quantised copy
  (in batches of 8 like ``encode_texts``, and of 1, which makes every int8 vector independent
  of its batch-mates);
* PCA to 64 numbers per text (``PcaProjection``, fitted on the full vectors of the catalog) on
  top of the full and of the int8 vectors; and, to show why the course's projection does not
  centre, sklearn's (centred) PCA.

Columns: texts per second (after one warm-up batch; loading excluded), the seconds 2,000 texts
take at that rate, the model file, the memory loading the model adds to the process and the
process's peak (each encoder runs in its own fresh process that imports the same libraries
first, so the numbers compare), bytes per stored item vector, and quality against the
reference vectors of the same texts: the cosine of the two vectors of a text (mean, min; for
PCA the reconstructed 384-dimensional vector), the mean error of the cosine of two texts
(20,000 random pairs), and notebook 02's similar items (the share of the full model's 10 most
similar items the cheap vectors keep, over every item).

The cold cost (loading the torch model, exporting, quantising, the first session) is measured
in a fresh cache folder, deleted at the end, as a first notebook run would pay it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from contention import Contention
from encoder_bench import catalog_texts
from report import emit

import recutils
from recutils import encoder_compression as compression
from recutils import text

SEED = 0
PCA_DIMS = 64
#: The encoders run each in a fresh process: name -> (row label, precision, batch size).
ENCODERS = {
    "torch": ("full model, torch float32 (reference)", None, text.DEFAULT_BATCH_SIZE),
    "onnx-float32": ("ONNX Runtime float32", "float32", text.DEFAULT_BATCH_SIZE),
    "onnx-int8": ("ONNX Runtime int8", "int8", text.DEFAULT_BATCH_SIZE),
    "onnx-int8-b1": ("ONNX Runtime int8, batches of 1", "int8", 1),
}
WARM_UP_TEXTS = 16


def _status_mb(field: str) -> float | None:
    """A memory field of this process from Linux ``/proc/self/status`` (kB there), in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1e3
    except (OSError, ValueError, IndexError):
        return None
    return None


def resident_mb() -> float | None:
    """This process's resident memory now (``VmRSS``), in MB; None off Linux."""
    return _status_mb("VmRSS")


def peak_resident_mb() -> float | None:
    """This process's peak resident memory (``VmHWM``), in MB; None off Linux. (Not
    ``ru_maxrss``: on Linux a child process starts with its parent's peak.)"""
    return _status_mb("VmHWM")


def run_encoder(
    name: str, texts_file: Path, vectors_file: Path, cache_dir: str, threads: int
) -> dict:
    """In a fresh process: load one encoder, encode the texts, save the vectors; the costs."""
    import onnxruntime  # noqa: F401 -- every process imports the same libraries before measuring
    import torch  # noqa: F401

    recutils.setup(model_cache=False, seed=SEED, torch_threads=threads)
    texts = texts_file.read_text(encoding="utf-8").split("\n")
    text.load_tokenizer()
    before = resident_mb()
    _, precision, batch_size = ENCODERS[name]
    start = time.perf_counter()
    if precision is None:
        text.load_encoder()

        def encode(values: list[str]) -> np.ndarray:
            return text.encode_texts(values, batch_size=batch_size, cache=False)

        file_bytes = (text.model_dir() / "model.safetensors").stat().st_size
    else:
        encoder = compression.OnnxTextEncoder(precision, batch_size=batch_size, cache_dir=cache_dir)
        encode, file_bytes = encoder.encode, encoder.file_bytes
    load_s = time.perf_counter() - start
    loaded = resident_mb()
    encode(texts[:WARM_UP_TEXTS])
    start = time.perf_counter()
    vectors = encode(texts)
    encode_s = time.perf_counter() - start
    np.save(vectors_file, vectors)
    return {
        "load_s": load_s,
        "encode_s": encode_s,
        "file_bytes": int(file_bytes),
        "model_mb": None if before is None or loaded is None else loaded - before,
        "peak_mb": peak_resident_mb(),
    }


def in_fresh_process(
    name: str, texts_file: Path, cache_dir: str, work: Path, threads: int
) -> tuple[dict, np.ndarray]:
    vectors_file = work / f"{name}.npy"
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            name,
            "--texts-file",
            str(texts_file),
            "--vectors-file",
            str(vectors_file),
            "--cache-dir",
            cache_dir,
            "--threads",
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(vectors_file)


def cold_costs(cache_dir: str) -> dict[str, float]:
    """Seconds of what a first run pays: torch model, export, int8 copy, first sessions."""
    costs = {}
    start = time.perf_counter()
    text.load_encoder()
    costs["load the torch model"] = time.perf_counter() - start
    start = time.perf_counter()
    compression.onnx_encoder_file("float32", cache_dir)
    costs["export to ONNX (float32)"] = time.perf_counter() - start
    start = time.perf_counter()
    compression.onnx_encoder_file("int8", cache_dir)
    costs["quantise to int8"] = time.perf_counter() - start
    compression._verified.clear()  # as a new process: the checksums are verified again
    start = time.perf_counter()
    compression.OnnxTextEncoder("int8", cache_dir=cache_dir)
    costs["warm: verify the int8 file and open a session"] = time.perf_counter() - start
    return costs


def quality(reference: np.ndarray, candidate: np.ndarray, same_text: np.ndarray) -> dict:
    agreement = compression.cosine_agreement(reference, same_text)
    return {
        "cos_mean": float(agreement.mean()),
        "cos_min": float(agreement.min()),
        "pair_error": compression.pair_cosine_error(reference, candidate, seed=SEED),
        "overlap": float(compression.similar_items_overlap(reference, candidate, k=10).mean()),
    }


def centred_pca(reference: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's PCA (centred), re-normalised, and its reconstruction: the road not taken."""
    from sklearn.decomposition import PCA

    pca = PCA(dims, random_state=SEED).fit(reference)
    reduced = pca.transform(reference)
    reconstructed = pca.inverse_transform(reduced)
    unit = np.linalg.norm
    return (
        reduced / unit(reduced, axis=1, keepdims=True),
        reconstructed / unit(reconstructed, axis=1, keepdims=True),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**9, help="first n catalog texts (all)")
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    parser.add_argument("--child", choices=sorted(ENCODERS), help=argparse.SUPPRESS)
    parser.add_argument("--texts-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--vectors-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        costs = run_encoder(
            args.child, args.texts_file, args.vectors_file, args.cache_dir, args.threads
        )
        print(json.dumps(costs))
        return 0

    recutils.setup(model_cache=False, seed=SEED)
    threads = recutils.environment.configured_threads()[1]  # the same in every process
    meter = Contention()
    texts, source = catalog_texts(args.n)
    n = len(texts)
    lengths = np.clip(text.count_tokens(texts), None, text.MAX_LENGTH)

    rows = []
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        cache_dir = str(work / "cache")
        texts_file = work / "texts.txt"
        texts_file.write_text("\n".join(texts), encoding="utf-8")  # item texts have no newlines
        cold = cold_costs(cache_dir)
        results = {
            name: in_fresh_process(name, texts_file, cache_dir, work, threads) for name in ENCODERS
        }

    reference = results["torch"][1]
    for name, (label, _, _) in ENCODERS.items():
        costs, vectors = results[name]
        rows.append((label, costs, 4 * vectors.shape[1], quality(reference, vectors, vectors)))

    start = time.perf_counter()
    projection = compression.PcaProjection(PCA_DIMS, seed=SEED).fit(reference)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    reduced = projection.transform(reference)
    transform_s = time.perf_counter() - start
    item_bytes = 4 * PCA_DIMS
    for base, vectors, projected in [
        ("torch", reference, reduced),
        ("onnx-int8", results["onnx-int8"][1], None),
    ]:
        projected = projection.transform(vectors) if projected is None else projected
        label = f"{ENCODERS[base][0].removesuffix(' (reference)')} + PCA-{PCA_DIMS}"
        measures = quality(reference, projected, projection.reconstruct(vectors))
        rows.append((label, results[base][0], item_bytes, measures))
    centred, centred_back = centred_pca(reference, PCA_DIMS)
    rows.append(
        (
            f"full model + centred PCA-{PCA_DIMS} (sklearn PCA; not used)",
            results["torch"][0],
            item_bytes,
            quality(reference, centred, centred_back),
        )
    )

    import onnxruntime
    import torch

    int8 = results["onnx-int8"][0]
    int8_rate = n / int8["encode_s"]
    cold_total = sum(s for what, s in cold.items() if not what.startswith("warm"))
    lines = [
        (
            f"Texts: {n:,} from {source}; tokens per text (with [CLS]/[SEP], cut at "
            f"{text.MAX_LENGTH}): mean {lengths.mean():.0f}, min {lengths.min()}, "
            f"max {lengths.max()}."
        ),
        (
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, torch {torch.__version__}, onnxruntime "
            f"{onnxruntime.__version__}; {threads} threads "
            "(torch and ONNX Runtime)."
        ),
        meter.report(),
        "",
        (
            "| encoder | texts / s | s per 2,000 texts | model file MB | model in RAM MB "
            "| peak RSS MB | bytes per item vector | same-text cosine mean / min "
            "| pair cosine error | similar items kept @10 |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, costs, vector_bytes, measures in rows:
        rate = n / costs["encode_s"]
        model_mb = "n/a" if costs["model_mb"] is None else f"{costs['model_mb']:.0f}"
        peak_mb = "n/a" if costs["peak_mb"] is None else f"{costs['peak_mb']:.0f}"
        lines.append(
            f"| {label} | {rate:,.0f} | {2000 / rate:.1f} | {costs['file_bytes'] / 1e6:.1f} "
            f"| {model_mb} | {peak_mb} | {vector_bytes:,} "
            f"| {measures['cos_mean']:.4f} / {measures['cos_min']:.4f} "
            f"| {measures['pair_error']:.4f} | {measures['overlap']:.3f} |"
        )
    lines += [
        "",
        (
            'Texts per second exclude loading the model and one warm-up batch; "s per 2,000 '
            'texts" is 2,000 divided by that rate. Model in RAM: what loading the model adds '
            "to the resident memory of a process that already imported torch, transformers "
            "and ONNX Runtime (peak RSS includes those libraries, about the same in every row)."
        ),
        (
            f"PCA rows: encoder costs as the row above them; fitting the projection on the "
            f"{n:,} vectors took {fit_s:.2f} s, projecting them {transform_s * 1e3:.1f} ms; it "
            f"keeps {projection.kept_share_:.1%} of the vectors' squared length. Their "
            "same-text cosine is with the 384-dimensional reconstruction."
        ),
        "",
        "Cold cost, once per machine (fresh cache folder; the files are then reused):",
        "",
        "| step | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {what} | {seconds:.1f} |" for what, seconds in cold.items()]
    lines += [
        "",
        (
            f"A notebook section that starts cold (no ONNX files yet) and encodes 2,000 texts "
            f"with int8: about {cold_total:.0f} s to build the files + "
            f"{2000 / int8_rate:.0f} s to encode = {cold_total + 2000 / int8_rate:.0f} s; "
            "the reference vectors come from encode_texts' cache (warm after notebook 02)."
        ),
    ]
    table = "\n".join(lines)
    emit(table, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
