"""Yes/no judges read from the teacher's probabilities, thresholds calibrated per leaf.

A 135M teacher asked "is this answer supported by the passage?" and decoded greedily says
"No" to nearly everything, true seed pairs included: its greedy verdict carries its bias,
not the candidate's quality. Its probability of "Yes" against "No" still ranks candidates.
So each judge here

- scores P(yes) = p("Yes" | prompt) / (p("Yes") + p("No")), both casings summed, from
  the log-likelihood of the first word of the assistant's reply (one scoring pass per
  candidate: the prompt is shared by the four continuations);
- calibrates its threshold per leaf on the leaf's own seed pairs, which are correct by
  construction: threshold = max(floor, the `calibration` quantile of the seeds' P(yes));
  a candidate the teacher finds as convincing as a typical seed passes;
- keeps the `keep_top` best candidates of a round at or above the floor even when none
  reaches the threshold, so a leaf whose seeds the teacher rates highly still yields.

`greedy` mode reads the decoded verdict instead (for endpoints without prompt log-probs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainer.sdg.config import JudgeConfig
from trainer.sdg.parse import parse_yes_no

if TYPE_CHECKING:
    from trainer.sdg.stage import StageRunner

YES, NO = ("Yes", "yes"), ("No", "no")


@dataclass(frozen=True)
class Verdicts:
    """One judge's reading of a round's candidates."""

    scores: list[float]  # P(yes) per candidate
    threshold: float  # what passing took for this leaf
    passed: list[bool]


def p_yes(logprobs: Sequence[float]) -> float:
    """P(yes) from the log-probabilities of (*YES, *NO) continuations, in that order."""
    yes = _logsumexp(logprobs[: len(YES)])
    no = _logsumexp(logprobs[len(YES) :])
    return 1.0 / (1.0 + math.exp(min(no - yes, 700.0)))


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def threshold(seed_scores: Sequence[float], config: JudgeConfig) -> float:
    """The leaf's pass mark: the seeds' `calibration` quantile, never below the floor."""
    if not seed_scores:
        return max(config.floor, 0.5)  # nothing to calibrate on: even odds
    ranked = sorted(seed_scores)
    position = config.calibration * (len(ranked) - 1)
    low, high = math.floor(position), math.ceil(position)
    quantile = ranked[low] + (ranked[high] - ranked[low]) * (position - low)
    return max(config.floor, quantile)


def decide(scores: Sequence[float], mark: float, config: JudgeConfig) -> Verdicts:
    """Pass at or above the mark; if fewer than keep_top pass, the best of the rest at or
    above the floor pass too (earlier candidates first among equals)."""
    passed = [s >= mark for s in scores]
    short = config.keep_top - sum(passed)
    if short > 0:
        rest = sorted(
            (i for i, s in enumerate(scores) if not passed[i] and s >= config.floor),
            key=lambda i: -scores[i],
        )
        for i in rest[:short]:
            passed[i] = True
    return Verdicts(list(scores), mark, passed)


def judge(
    run: StageRunner, stage: str, rnd: int, prompts: list[str], seeds: Callable[[], list[str]]
) -> Verdicts:
    """One judge over a round's prompts. `seeds()` gives the same judge's prompts for the
    leaf's seed pairs; they are scored once per leaf, on first use, to set its pass mark.
    Greedy mode: a readable yes passes, and an unreadable reply scores NaN."""
    cfg = run.config.judges
    if cfg.mode == "greedy":
        budget = run.config.max_new_tokens.faithfulness
        gens = run.generate(stage, rnd, prompts, budget, judge=True)
        read = [parse_yes_no(g.text) for g in gens]
        scores = [math.nan if v is None else float(v) for v in read]
        return Verdicts(scores, 1.0, [v is True for v in read])
    marks = run.stats.judge_marks
    if stage not in marks:
        marks[stage] = threshold(run.yes_scores(f"{stage}_calibration", rnd, seeds()), cfg)
    return decide(run.yes_scores(stage, rnd, prompts), marks[stage], cfg)
