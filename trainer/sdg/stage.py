"""What every pipeline stage shares: one batched teacher call per stage, with seeds derived
from (config.seed, leaf, stage, round, index), token accounting, progress events, reject
bookkeeping and prompts fitted to the token budget."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from trainer.leaves import LeafData, SeedExample
from trainer.models import ChatModel, Generation, GenerationParams
from trainer.sdg import prompts
from trainer.sdg.chunking import Chunk, count, truncate_tokens
from trainer.sdg.config import Bucket, PipelineConfig, ProgressEvent, Stats
from trainer.sdg.judge import NO, YES, p_yes
from trainer.sdg.parse import Reject

KEEP_REJECTED = 3  # example texts kept per (stage, reason), for humans reading a report


@dataclass
class Sample:
    """A candidate on its way through the filters."""

    question: str
    answer: str = ""
    context: str | None = None
    chunk: Chunk | None = None
    scores: dict[str, int] = field(default_factory=dict)
    closed_book: bool = False  # the row leaves the context out (document rows, augment.py)


@dataclass(frozen=True)
class Rejected:
    stage: str
    reason: str
    text: str


def derive_seed(*parts: object) -> int:
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class StageRunner:
    def __init__(
        self,
        leaf: LeafData,
        teacher: ChatModel,
        config: PipelineConfig,
        progress: Callable[[ProgressEvent], None] | None = None,
    ) -> None:
        self.leaf, self.teacher, self.config = leaf, teacher, config
        self.stats = Stats()
        self.rejected: list[Rejected] = []
        self.kept = 0  # maintained by the pipeline, for progress events
        self._progress = progress

    def seed(self, stage: str, rnd: int, index: int) -> int:
        return derive_seed(self.config.seed, self.leaf.path, stage, rnd, index)

    def rng(self, stage: str, rnd: int, index: int) -> random.Random:
        return random.Random(self.seed(f"{stage}/pick", rnd, index))

    def pick(
        self, seeds: Sequence[SeedExample], stage: str, rnd: int, index: int
    ) -> list[SeedExample]:
        """Up to icl_examples seed examples for one prompt, varied per prompt."""
        k = min(self.config.icl_examples, len(seeds))
        return self.rng(stage, rnd, index).sample(list(seeds), k)

    def generate(
        self,
        stage: str,
        rnd: int,
        prompts_: Sequence[str],
        max_new_tokens: int,
        *,
        judge: bool = False,
        stop: tuple[str, ...] = (),
        prefill: str = "",
    ) -> list[Generation]:
        """All of a stage's prompts in one call; judges decode greedily.

        prefill starts the assistant's reply (given config.judge_prefill) and is put back in
        front of each returned text, so parsers see the whole reply.
        """
        if not prompts_:
            return []
        cfg = self.config
        prefill = prefill if cfg.judge_prefill else ""
        params = GenerationParams(
            max_new_tokens=max_new_tokens,
            temperature=0.0 if judge else cfg.temperature,
            top_p=1.0 if judge else cfg.top_p,
            stop=stop,
            seed=cfg.seed,
        )
        conversations = [[{"role": "user", "content": p}] for p in prompts_]
        if prefill:
            conversations = [[*c, {"role": "assistant", "content": prefill}] for c in conversations]
        self._emit(stage, rnd, 0, len(prompts_))
        out = self.teacher.generate(
            conversations, params, seeds=[self.seed(stage, rnd, i) for i in range(len(prompts_))]
        )
        if prefill:
            out = [replace(g, text=prefill + g.text) for g in out]
        s = self.stats
        s.batches += 1
        s.model_calls += len(prompts_)
        s.prompt_tokens += sum(g.prompt_tokens for g in out)
        s.completion_tokens += sum(g.completion_tokens for g in out)
        self._emit(stage, rnd, len(prompts_), len(prompts_))
        return out

    def yes_scores(self, stage: str, rnd: int, prompts_: Sequence[str]) -> list[float]:
        """P(yes) of each prompt's reply (trainer/sdg/judge.py), all in one scoring call."""
        if not prompts_:
            return []
        words = (*YES, *NO)
        requests = [([{"role": "user", "content": p}], w) for p in prompts_ for w in words]
        self._emit(stage, rnd, 0, len(prompts_))
        scores = self.teacher.loglikelihood(requests)
        s = self.stats
        s.batches += 1
        s.model_calls += len(prompts_)
        s.prompt_tokens += sum(count(self.teacher.tokenizer, p) for p in prompts_)
        self._emit(stage, rnd, len(prompts_), len(prompts_))
        n = len(words)
        return [
            p_yes([x.logprob for x in scores[i * n : (i + 1) * n]]) for i in range(len(prompts_))
        ]

    def _emit(self, stage: str, rnd: int, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(
                ProgressEvent(
                    self.leaf.path,
                    stage,
                    rnd,
                    done,
                    total,
                    self.stats.prompt_tokens,
                    self.stats.completion_tokens,
                    self.kept,
                    self.config.samples,
                )
            )

    def reject(
        self, stage: str, reason: str, text: str, bucket: Bucket | None = "parse_failed"
    ) -> None:
        """Count a failure under "stage/reason", and the candidate into its Stats bucket
        (None: not a candidate, e.g. a context). A few texts are kept for reports."""
        if bucket is not None:
            setattr(self.stats, bucket, getattr(self.stats, bucket) + 1)
            self.stats.generated += 1
        self.stats.reasons[f"{stage}/{reason}"] += 1
        if sum(r.stage == stage and r.reason == reason for r in self.rejected) < KEEP_REJECTED:
            self.rejected.append(Rejected(stage, reason, text[:500]))

    def rejects(
        self, stage: str, rejects: Sequence[Reject], bucket: Bucket | None = "parse_failed"
    ) -> None:
        for r in rejects:
            self.reject(stage, r.reason, r.text, bucket)

    def fit(self, tokens: int, text: str) -> str:
        return truncate_tokens(self.teacher.tokenizer, text, tokens)

    def prompt(
        self, name: str, examples: Sequence[str] = (), joiner: str = "\n", **fields: str
    ) -> str:
        """Render `name`, with as many of `examples` (into $examples) as fit the budget."""
        template = prompts.load(name)
        if "examples" not in template.fields:
            return template.render(**fields)
        for k in range(len(examples), 0, -1):
            text = template.render(examples=joiner.join(examples[:k]), **fields)
            if count(self.teacher.tokenizer, text) <= self.config.max_prompt_tokens:
                return text
        return template.render(examples=examples[0] if examples else "", **fields)
