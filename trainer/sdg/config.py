"""The pipeline's settings, counters and progress events (plain data, no model code)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

# Where a candidate ends (the Stats fields of the same names).
Bucket = Literal[
    "parse_failed",
    "duplicates",
    "duplicates_of_seeds",
    "judged_out_instruction",
    "judged_out_pair",
    "ungrounded",
    "unverified_question",
    "unfaithful",
    "irrelevant",
    "judge_parse_failed",
    "copied",
    "surplus",
    "kept",
]
BUCKETS: tuple[Bucket, ...] = get_args(Bucket)

# Judge scales: instructions pass/fail; pairs on LAB's 3-point scale.
INSTRUCTION_SCALE = (0, 1)
PAIR_SCALE = (1, 3)


@dataclass(frozen=True)
class MaxTokens:
    """New-token budget per call kind; judges only need a few words."""

    instructions: int = 256
    context: int = 320
    response: int = 320
    qa: int = 384
    judge: int = 24
    faithfulness: int = 12
    fact_questions: int = 320
    rephrase: int = 200


@dataclass(frozen=True)
class Thresholds:
    instruction: int = 1  # keep instructions scored >= this on INSTRUCTION_SCALE
    pair: int = 2  # keep pairs scored >= this on PAIR_SCALE (LAB keeps >= 2 of 3)


@dataclass(frozen=True)
class JudgeConfig:
    """The knowledge filters (trainer/sdg/judge.py): yes/no judges read from the teacher's
    probabilities, each leaf's pass mark calibrated on its own seed pairs."""

    mode: Literal["logprob", "greedy"] = "logprob"  # greedy: endpoints without log-probs
    floor: float = 0.2  # P(yes) below this never passes
    calibration: float = 0.25  # pass mark: this quantile of the leaf's seed pairs' P(yes)
    keep_top: int = 1  # per judge and round, the best candidates at or above the floor pass
    grounding: float = 0.5  # share of an answer's content words its chunk must contain

    def __post_init__(self) -> None:
        if not (0 <= self.floor <= 1 and 0 <= self.calibration <= 1 and 0 <= self.grounding <= 1):
            raise ValueError("judges: floor, calibration and grounding must be within [0, 1]")
        if self.keep_top < 0:
            raise ValueError("judges: keep_top must be >= 0")


@dataclass(frozen=True)
class PipelineConfig:
    samples: int = 8  # generated samples to keep per leaf (seed rows come on top)
    seed: int = 0
    temperature: float = 0.7  # for writing; judges decode greedily
    top_p: float = 0.95
    max_new_tokens: MaxTokens = field(default_factory=MaxTokens)
    thresholds: Thresholds = field(default_factory=Thresholds)
    judges: JudgeConfig = field(default_factory=JudgeConfig)
    chunk_tokens: int = 400
    chunk_overlap: int = 48
    icl_examples: int = 3  # seed examples shown per prompt
    max_rounds: int = 3  # generate -> filter rounds before giving up on `samples`
    overgenerate: float = 3.0  # candidates proposed per sample still needed, each round
    per_prompt: int = 5  # instructions (or Q&A pairs) asked for per prompt
    per_context: int = 3  # instructions asked for per generated context (grounded skills)
    max_prompt_tokens: int = 1200  # ICL examples are dropped/truncated to stay under this
    # Start score judges' replies with "Score:" (a continued assistant turn): small teachers
    # otherwise explain instead of scoring. Off for endpoints that cannot continue a turn.
    judge_prefill: bool = True
    # Document-derived knowledge rows (trainer/sdg/augment.py), closed-book; 0: none.
    fact_questions: int = 0  # document facts asked about per knowledge leaf
    questions_per_fact: int = 3  # questions (each with its answer) asked for per fact
    rephrasings: int = 0  # entity-centred rephrasings of a chunk per knowledge leaf

    def __post_init__(self) -> None:
        if self.samples < 0 or self.max_rounds < 1 or self.icl_examples < 1:
            raise ValueError("need samples >= 0, max_rounds >= 1, icl_examples >= 1")
        if min(self.fact_questions, self.rephrasings) < 0 or self.questions_per_fact < 1:
            raise ValueError("need fact_questions, rephrasings >= 0 and questions_per_fact >= 1")
        if self.per_prompt < 1 or self.per_context < 1 or self.overgenerate < 1:
            raise ValueError("need per_prompt, per_context >= 1 and overgenerate >= 1")
        t = self.thresholds
        if not (
            INSTRUCTION_SCALE[0] <= t.instruction <= INSTRUCTION_SCALE[1]
            and PAIR_SCALE[0] <= t.pair <= PAIR_SCALE[1]
        ):
            raise ValueError(
                f"thresholds outside the judges' scales {INSTRUCTION_SCALE} and {PAIR_SCALE}: {t}"
            )
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ValueError("need 0 <= chunk_overlap < chunk_tokens / 2")
        if self.chunk_tokens + 400 > self.max_prompt_tokens:
            raise ValueError(
                "chunk_tokens leaves no room for the rest of the prompt "
                f"(max_prompt_tokens {self.max_prompt_tokens})"
            )

    def key(self) -> str:
        """Stable digest of every setting, for cache keys."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Stats:
    """What happened to every candidate: each one ends in exactly one bucket
    (parse_failed .. kept), so the buckets sum to `generated`."""

    generated: int = 0
    parse_failed: int = 0  # empty, refused, truncated, malformed (see `reasons`)
    duplicates: int = 0  # near-duplicate of an earlier generated sample of this leaf
    duplicates_of_seeds: int = 0  # near-duplicate of a seed question, held-out ones too
    judged_out_instruction: int = 0
    judged_out_pair: int = 0
    ungrounded: int = 0  # knowledge: too few of the answer's words are in its chunk
    unverified_question: int = 0  # knowledge: not a clear question the chunk answers
    unfaithful: int = 0  # knowledge: the teacher said the chunk does not support it
    irrelevant: int = 0  # knowledge: the answer does not answer the question
    judge_parse_failed: int = 0  # a judge reply with no readable score / yes-no
    copied: int = 0  # document rows: half or more of the text's 8-grams are its chunk's
    surplus: int = 0  # beyond what a prompt asked for, or passed all filters beyond `samples`
    kept: int = 0
    document_rows: int = 0  # of the kept: document-derived knowledge rows (augment.py)
    contexts_generated: int = 0  # grounded skills: new contexts written
    contexts_failed: int = 0  # ... of which unusable (also counted in `reasons`)
    rounds: int = 0
    model_calls: int = 0  # conversations sent to the teacher
    batches: int = 0  # teacher.generate invocations (one per stage per round)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # "stage/reason" -> count
    judge_marks: dict[str, float] = field(default_factory=dict)  # judge -> this leaf's pass mark

    def funnel_total(self) -> int:
        return sum(getattr(self, b) for b in BUCKETS)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reasons"] = dict(sorted(self.reasons.items()))
        return out


@dataclass(frozen=True)
class ProgressEvent:
    """Sent before (done=0) and after (done=total) each stage's batched teacher call."""

    leaf: str
    stage: str
    round: int
    done: int
    total: int  # conversations in this stage's batch
    prompt_tokens: int  # leaf totals so far
    completion_tokens: int
    kept: int  # samples kept so far for this leaf
    target: int
