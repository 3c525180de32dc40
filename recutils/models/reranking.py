"""Re-ranking a model's candidates with a generative language model (LLMRank's setting).

Hou et al. (2024, "Large Language Models are Zero-Shot Rankers for Recommender Systems") give
an LLM a user's history as item titles and a short list of candidates from a conventional
recommender, and let it order them. :class:`LLMReranker` does this with the course's
:class:`~recutils.llm.LanguageModel`, scoring each candidate ``c`` of user ``u`` in one of two
ways (both read the last ``history_length`` titles of the user, oldest first):

* ``method="title"``: the mean log-probability per token of ``c``'s title as the answer to
  "which product will they buy next?" (length-normalised, so long titles are not penalised)::

      s(u, c) = (1 / |t_c|) sum_j log p(t_c,j | prompt(u), t_c,<j)

* ``method="yes"``: the question "would they buy ``c``?" and the log-odds of the answer::

      s(u, c) = log p("Yes" | prompt(u, c)) - log p("No" | prompt(u, c))

With ``list_candidates=True`` the prompt also lists all candidates (the listwise prompt of
LLMRank), in the order ``candidate_order`` says: the order then changes the prompt, which is how
the model's position bias is measured.

The final score blends the candidate model and the LLM, each z-normalised within the user's
candidate list (mean 0, sd 1 over the ``n_candidates`` items)::

    score(u, c) = (1 - llm_weight) * z(cf(u, .))_c + llm_weight * z(s(u, .))_c

``llm_weight = 0`` keeps the candidate model's order, 1 is the LLM alone; tune it on validation
(:meth:`LLMReranker.blend` re-blends stored scores without running the LLM again). Items outside
the candidate list keep the candidate model's order below every candidate, so ``score`` is a
full ranking, as the contract wants.

Cost: one forward pass over the prompt per user (its key/value cache is shared by the
candidates) plus one short pass per candidate; ``bench/llm_bench.py`` measures it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recutils import checks
from recutils.environment import DEFAULT_SEED
from recutils.models.base import Recommender, fit_model
from recutils.models.sequential import checked_sequences

#: Scoring methods of :class:`LLMReranker`.
METHODS = ("title", "yes")
#: Orders the candidates can be listed in, when the prompt lists them.
CANDIDATE_ORDERS = ("model", "reversed", "shuffled")
#: The system message of every prompt.
SYSTEM_MESSAGE = "You are a shop assistant who predicts what a customer will buy."


def history_block(titles: list[str]) -> str:
    """The history as the prompt shows it: one ``- title`` line per product, oldest first."""
    return "\n".join(f"- {title}" for title in titles)


def zscore(values: np.ndarray) -> np.ndarray:
    """``(x - mean) / sd`` along the last axis (sd 0 gives zeros), float32."""
    values = np.asarray(values, dtype=np.float64)
    centred = values - values.mean(axis=-1, keepdims=True)
    spread = centred.std(axis=-1, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0).astype(
        np.float32
    )


class LLMReranker(Recommender):
    """A candidate model's top ``n_candidates`` items, re-ordered by a language model.

    Side data of ``fit``: whatever ``candidate_model`` takes, plus
        item_texts: one short text per item (its title), as the prompt shows it.
        sequences: ``sequences[u]`` = the items of user row ``u``, oldest first (as for SASRec):
            the history the prompt shows.

    Args:
        candidate_model: the model that proposes the candidates (fitted by ``fit``, with
            ``valid`` if it uses it).
        language_model: a :class:`~recutils.llm.LanguageModel` (default: the course's
            SmolLM2, loaded by ``fit``).
        method: ``"title"`` or ``"yes"`` (module docstring).
        n_candidates: the candidate list's length (>= 2).
        history_length: the most recent history items shown in the prompt.
        llm_weight: the LLM's weight in the blend, in [0, 1].
        list_candidates: also list every candidate in the prompt (listwise prompt).
        candidate_order: the listed order: ``"model"`` (the candidate model's, best first),
            ``"reversed"`` or ``"shuffled"`` (seeded per user).
        seed: the shuffles of ``candidate_order="shuffled"``.

    Users without history keep the candidate model's order (there is nothing to prompt with).
    LLM scores are remembered per user and prompt settings until the next ``fit`` (so
    :meth:`blend` and repeated calls are free; changing ``method`` or another prompt setting
    computes new ones).

    Attributes set by ``fit``: ``language_model_`` (the model used), ``titles_``,
    ``histories_``.

    Example::

        reranker = LLMReranker(ALS(), n_candidates=10, llm_weight=0.5)
        reranker.fit(train, item_texts=titles, sequences=sequences)
        reranker.recommend(users, k=10)
    """

    name = "LLM re-ranker"
    new_users = "own"  # no history: the candidate model's order
    transient_attributes = ("memo_",)  # remembered LLM scores, recomputed when asked
    cache_fits = False  # loading would load the language model again: slower than fitting
    uses_valid = True  # passed on to the candidate model if it uses it (as Switching does)

    def __init__(
        self,
        candidate_model: Recommender,
        language_model: Any = None,
        *,
        method: str = "title",
        n_candidates: int = 10,
        history_length: int = 10,
        llm_weight: float = 1.0,
        list_candidates: bool = False,
        candidate_order: str = "model",
        seed: int = DEFAULT_SEED,
    ) -> None:
        if not isinstance(candidate_model, Recommender):
            raise TypeError(
                "candidate_model must be a recutils model (a Recommender), got "
                f"{type(candidate_model).__name__}"
            )
        self.candidate_model = candidate_model
        self.language_model = language_model
        self.method = checks.one_of(method, "method", METHODS)
        self.n_candidates = checks.positive_int(n_candidates, "n_candidates")
        if self.n_candidates < 2:
            raise ValueError(f"n_candidates must be at least 2 to re-rank, got {n_candidates}")
        self.history_length = checks.positive_int(history_length, "history_length")
        self.llm_weight = checks.fraction(llm_weight, "llm_weight", one=True)
        self.list_candidates = checks.boolean(list_candidates, "list_candidates")
        self.candidate_order = checks.one_of(candidate_order, "candidate_order", CANDIDATE_ORDERS)
        self.seed = checks.seed(seed)
        self.side_data = {
            **candidate_model.side_data,
            "item_texts": "one short text per item (its title), shown in the prompt",
            "sequences": "one array of item numbers per user row, oldest first",
        }

    def __repr__(self) -> str:
        return (
            f"LLMReranker({self.candidate_model.name}, method={self.method!r}, "
            f"n_candidates={self.n_candidates}, llm_weight={self.llm_weight})"
        )

    # -- fitting -----------------------------------------------------------------------------

    def _fit(self, train: sp.csr_matrix, *, valid: Any = None, **side_data: Any) -> None:
        texts = side_data.get("item_texts")
        sequences = side_data.get("sequences")
        if texts is None or sequences is None:
            raise TypeError(
                "LLMReranker.fit needs item_texts (one title per item) and sequences (each "
                "user's items, oldest first)"
            )
        titles = checks.text_list(texts)
        self._check_item_rows(len(titles), "item_texts")
        empty = [i for i, title in enumerate(titles) if not title.strip()]
        if empty:
            raise ValueError(
                f"item_texts has {len(empty)} empty titles (e.g. items {empty[:3]}); the prompt "
                "shows each candidate's title: give every item one"
            )
        histories = checked_sequences(sequences, self.n_users_, self.n_items_)
        used = {k: v for k, v in side_data.items() if k in self.candidate_model.side_data}
        fit_model(self.candidate_model, train, valid=valid, side_data=used)
        language_model = self.language_model
        if language_model is None:
            from recutils.llm import load_language_model

            language_model = load_language_model()
        self.language_model_ = language_model
        self.titles_ = titles
        self.histories_ = histories
        self.memo_: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    # -- the LLM's scores ----------------------------------------------------------------------

    def prompts(self, user: int, candidates: Any) -> tuple[str, list[str], list[int]]:
        """The shared prompt of ``user``, the continuation of each of ``candidates`` (item
        numbers) and the tokens read after them (the ids of "Yes" and "No" for
        ``method="yes"``, none for ``"title"``)."""
        self._check_fitted()
        user = int(checks.positions([user], self.n_users_, "user")[0])
        candidates = checks.positions(candidates, self.n_items_, "item")
        lm = self.language_model_
        history = [self.titles_[i] for i in self.histories_[user][-self.history_length :]]
        listed = ""
        if self.list_candidates:
            order = np.arange(candidates.size)
            if self.candidate_order == "reversed":
                order = order[::-1]
            elif self.candidate_order == "shuffled":
                order = np.random.default_rng([self.seed, user]).permutation(candidates.size)
            listed = "\n\nCandidate products:\n" + history_block(
                [self.titles_[i] for i in candidates[order]]
            )
        intro = (
            "A customer bought or viewed these products, oldest first:\n"
            f"{history_block(history)}{listed}\n\n"
        )
        if self.method == "title":
            question = f"{intro}Which product will the customer buy next? Answer with its name."
            prompt = lm.chat_prompt(question, system=SYSTEM_MESSAGE)
            return prompt, [self.titles_[i] for i in candidates], []
        # "yes": the candidate sits inside the question, after the shared part (the prompt
        # ends at "Product:", each continuation starts with " " + title, then closes the turn)
        marker = "\x00candidate\x00"
        question = f"{intro}Would the customer buy this product next? Answer Yes or No.\nProduct:"
        shared, after = lm.chat_prompt(question + marker, system=SYSTEM_MESSAGE).split(marker)
        yes, no = lm.encode("Yes"), lm.encode("No")
        if len(yes) != 1 or len(no) != 1:
            raise ValueError(
                "method='yes' needs 'Yes' and 'No' to be single tokens; this tokenizer gives "
                f"{yes} and {no}: use method='title'"
            )
        return shared, [f" {self.titles_[i]}{after}" for i in candidates], [yes[0], no[0]]

    def _prompt_settings(self) -> tuple[Any, ...]:
        return (
            self.method,
            self.history_length,
            self.list_candidates,
            self.candidate_order,
            self.seed,
            self.n_candidates,
        )

    def llm_scores(self, users: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each user: the candidates (best first by the candidate model; -1 = empty slot),
        their candidate model scores and their LLM scores, each ``(len(users), n_candidates)``.
        Users without history and empty slots get NaN LLM scores (nothing was prompted)."""
        self._check_fitted()
        rows = checks.positions(users, self.n_users_, "user")
        settings = self._prompt_settings()
        for user in np.unique(rows):
            if (settings, int(user)) not in self.memo_:
                self.memo_[(settings, int(user))] = self._score_user(int(user))
        stacked = [self.memo_[(settings, int(u))] for u in rows]
        candidates, cf, llm = (np.stack([s[part] for s in stacked]) for part in range(3))
        return candidates, cf, llm

    def _score_user(self, user: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        top = self.candidate_model.recommend([user], k=self.n_candidates)
        candidates, cf = top.items[0], top.scores[0].astype(np.float32)
        llm = np.full(self.n_candidates, np.nan, dtype=np.float32)
        filled = candidates >= 0
        if self.histories_[user].size and filled.sum() >= 2:
            prompt, continuations, answers = self.prompts(user, candidates[filled])
            result = self.language_model_.continuations(prompt, continuations, answers)
            if self.method == "title":
                llm[filled] = result.mean
            else:
                llm[filled] = result.next_log_probs[:, 0] - result.next_log_probs[:, 1]
        return candidates, cf, llm

    @staticmethod
    def blend(cf: Any, llm: Any, llm_weight: float) -> np.ndarray:
        """``(1 - w) z(cf) + w z(llm)`` row by row over the filled slots (module docstring);
        float32 ``(n, n_candidates)``. Slots without a candidate (NaN ``cf``) get -inf; rows
        whose LLM scores are all NaN (nothing was prompted) keep the candidate order
        (``w = 0``)."""
        weight = checks.fraction(llm_weight, "llm_weight", one=True)
        cf = np.asarray(cf, dtype=np.float64)
        llm = np.asarray(llm, dtype=np.float64)
        if cf.ndim != 2 or cf.shape != llm.shape:
            raise ValueError(
                f"cf and llm must be 2-D arrays of one shape (users, candidates), got {cf.shape} "
                f"and {llm.shape}"
            )
        blended = np.full(cf.shape, -np.inf, dtype=np.float32)
        for row in range(cf.shape[0]):
            keep = np.isfinite(cf[row])
            if not keep.any():
                continue
            prompted = np.isfinite(llm[row, keep]).all()
            row_weight = weight if prompted else 0.0
            llm_z = zscore(llm[row, keep]) if prompted else 0.0
            blended[row, keep] = (1 - row_weight) * zscore(cf[row, keep]) + row_weight * llm_z
        return blended

    def _score(self, users: np.ndarray) -> np.ndarray:
        base = self.candidate_model.score(users).astype(np.float32)
        candidates, cf, llm = self.llm_scores(users)
        blended = self.blend(cf, llm, self.llm_weight)
        # every candidate above every other item; the others keep the candidate model's order
        # (ties: lower item number first, as recutils.ranking does); -inf stays -inf
        floor = np.nanmin(np.where(np.isfinite(blended), blended, np.nan), axis=1, initial=0.0)
        scores = np.empty_like(base)
        for row in range(users.size):
            order = np.argsort(-base[row], kind="stable")
            ranks = np.empty(self.n_items_, dtype=np.float64)
            ranks[order] = np.arange(self.n_items_)
            scores[row] = floor[row] - 1.0 - ranks / self.n_items_
            never = ~np.isfinite(base[row])
            scores[row, never] = base[row, never]
            keep = candidates[row] >= 0
            scores[row, candidates[row, keep]] = blended[row, keep]
        return scores
