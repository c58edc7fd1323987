"""Per-item metrics, from the raw scores a model produced for an item.

- nll: mean negative log-likelihood per token of the reference answer (nats; lower is better).
- mc_acc / doc_mc_acc: 1 when the highest-scoring option is the right one, else 0. Answer
  options (mc_acc) are compared by log-likelihood per UTF-8 byte, as lm-evaluation-harness's
  acc_norm does, so a long distractor is not penalised for its length alone; document
  sentences (doc_mc_acc) differ only in one blanked term and are compared by their total
  log-likelihood (the joint probability of the sentence).
- nll_vs_placebo: the change of the reference's nll minus the change of its placebo twin's
  (a knowledge item's answer with its fact swapped for one in no document); below zero, the
  candidate learnt the fact, not just the answer's form.
- rouge_l: ROUGE-L F-measure (beta 1) between the greedy answer and the reference, over
  lower-cased word tokens (Google's `rouge-score`, with this module's Unicode word tokens:
  its own tokenizer keeps only a-z and 0-9, which would drop every non-English word).
- exact: 1 when the greedy answer has exactly the reference's words.
- judge: the judge model's 1-10 rating (see judge.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any, Literal

Better = Literal["lower", "higher"]

METRICS: dict[str, Better] = {
    "nll": "lower",
    "nll_vs_placebo": "lower",
    "mc_acc": "higher",
    "doc_mc_acc": "higher",
    "rouge_l": "higher",
    "exact": "higher",
    "judge": "higher",
}
METRIC_ORDER = tuple(METRICS)

_WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """ROUGE tokens: runs of letters/digits, lower-cased (punctuation dropped)."""
    return [t.lower() for t in _WORD.findall(text)]


class _Words:
    """rouge-score's tokenizer interface over `tokens`."""

    def tokenize(self, text: str) -> list[str]:
        return tokens(text)


@functools.cache
def _scorer() -> Any:
    # Imported on first use: rouge-score pulls in nltk (about 1.5 s), which only a benchmark
    # that generates answers needs.
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"], tokenizer=_Words())


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1: 2PR / (P + R) with P = LCS / |candidate|, R = LCS / |reference|."""
    return float(_scorer().score(reference, candidate)["rougeL"].fmeasure)


def exact_match(candidate: str, reference: str) -> float:
    """1.0 when the answer says exactly the reference (same words, case and punctuation
    aside), else 0.0."""
    return float(tokens(candidate) == tokens(reference))


def nll_per_token(logprob: float, num_tokens: int) -> float | None:
    return -logprob / num_tokens if num_tokens > 0 else None


def choose_option(
    logprobs: Sequence[float], options: Sequence[str], *, normalize: bool
) -> int | None:
    """Index of the best option (first on ties), or None without options.

    normalize: divide each log-likelihood by the option's length in UTF-8 bytes.
    """
    if not logprobs:
        return None
    if len(logprobs) != len(options):
        raise ValueError(f"{len(logprobs)} scores for {len(options)} options")
    values = [
        lp / max(1, len(opt.encode("utf-8"))) if normalize else lp
        for lp, opt in zip(logprobs, options, strict=True)
    ]
    return max(range(len(values)), key=lambda i: (values[i], -i))


def oriented(metric: str, delta: float) -> float:
    """A delta turned so that positive always means better."""
    return -delta if METRICS[metric] == "lower" else delta
