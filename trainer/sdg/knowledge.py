"""Knowledge (LAB): each document chunk, with the leaf's seed Q&A as in-context examples,
yields Q&A pairs grounded in it. Then the filters: answers whose words are mostly not in
the chunk go (grounding.py), and three teacher judges read by probability, each with a pass
mark calibrated on the leaf's seed pairs (judge.py): is it a clear question the chunk
answers, is the answer supported by the chunk, does it answer the question."""

from __future__ import annotations

import math
from functools import partial

from trainer.models import Generation
from trainer.sdg import prompts
from trainer.sdg.chunking import Chunk
from trainer.sdg.config import Bucket
from trainer.sdg.filters import BUCKET, LeafDeduper
from trainer.sdg.grounding import grounded_share
from trainer.sdg.judge import judge
from trainer.sdg.parse import QAPair, parse_qa_pairs
from trainer.sdg.stage import Sample, StageRunner

QUESTION_TOKENS, ANSWER_TOKENS, OUTLINE_TOKENS = 80, 120, 120


def chunk_order(run: StageRunner, chunks: list[Chunk], rnd: int, n: int) -> list[Chunk]:
    """n chunks for round rnd: a walk through all chunks from a seed-chosen start, so
    successive rounds (and prompts within one) visit different chunks."""
    start = run.seed("chunks", 0, 0) % len(chunks)
    return [chunks[(start + rnd * n + i) % len(chunks)] for i in range(n)]


def write_qa(run: StageRunner, rnd: int, chunks: list[Chunk], dedupe: LeafDeduper) -> list[Sample]:
    stage, leaf, cfg = "qa", run.leaf, run.config
    prompts = []
    for i, chunk in enumerate(chunks):
        examples = [
            f"Q: {run.fit(QUESTION_TOKENS, s.question)}\nA: {run.fit(ANSWER_TOKENS, s.answer)}"
            for s in run.pick(leaf.seeds, stage, rnd, i)
        ]
        prompts.append(
            run.prompt(
                "knowledge_qa",
                examples,
                "\n\n",
                chunk=chunk.text,
                domain=leaf.domain or "general",
                outline=run.fit(OUTLINE_TOKENS, leaf.task_description.strip()),
                count=str(cfg.per_prompt),
            )
        )
    out = []
    for chunk, gen in zip(
        chunks, run.generate(stage, rnd, prompts, cfg.max_new_tokens.qa), strict=True
    ):
        for pair in admit_pairs(run, stage, gen, cfg.per_prompt, dedupe):
            out.append(Sample(pair.question, pair.answer, context=chunk.text, chunk=chunk))
    return out


def admit_pairs(
    run: StageRunner, stage: str, gen: Generation, count: int, dedupe: LeafDeduper
) -> list[QAPair]:
    """A reply's Q/A pairs, the first `count` of them that are no duplicate; the rest and
    what did not parse are counted where they end."""
    pairs, rejects = parse_qa_pairs(gen.text, gen.finish_reason == "length")
    run.rejects(stage, rejects)
    for pair in pairs[count:]:
        run.reject(stage, "beyond_count", pair.question, bucket="surplus")
    out = []
    for pair in pairs[:count]:
        if verdict := dedupe.admit(pair.question):
            run.reject(stage, verdict, pair.question, BUCKET[verdict])
        else:
            out.append(pair)
    return out


# LAB's knowledge filters, in order: question verification, faithfulness, relevance. Each
# judge: (stage, prompt, bucket of what it drops, the score field a kept row records).
JUDGES: tuple[tuple[str, str, Bucket, str], ...] = (
    ("question", "knowledge_question", "unverified_question", ""),
    ("faithfulness", "knowledge_faithfulness", "unfaithful", "faithful"),
    ("relevance", "knowledge_relevance", "irrelevant", ""),
)


def check_grounded(run: StageRunner, candidates: list[Sample]) -> list[Sample]:
    """Drop answers whose content words are mostly not in their chunk (no model call)."""
    out = []
    for c in candidates:
        if grounded_share(c.answer, c.context or "") < run.config.judges.grounding:
            run.reject("grounding", "words_not_in_chunk", f"{c.question}\n{c.answer}", "ungrounded")
        else:
            out.append(c)
    return out


def _judge_prompt(run: StageRunner, name: str, chunk: str, question: str, answer: str) -> str:
    given = {"chunk": chunk, "question": question, "answer": answer}
    return run.prompt(name, **{k: v for k, v in given.items() if k in prompts.load(name).fields})


def _seed_prompts(run: StageRunner, name: str) -> list[str]:
    """The judge's prompts for the leaf's seed pairs: true by construction, they calibrate."""
    return [
        _judge_prompt(run, name, s.context or "", s.question, s.answer)
        for s in run.leaf.seeds
        if s.context
    ]


def check_judges(
    run: StageRunner, rnd: int, candidates: list[Sample], only: tuple[str, ...] = ()
) -> list[Sample]:
    """Each judge (of `only`, when given) in turn over the survivors of the one before
    (trainer/sdg/judge.py)."""
    for stage, name, bucket, field in JUDGES:
        if only and stage not in only:
            continue
        if not candidates:
            break
        prompts_ = [
            _judge_prompt(run, name, c.context or "", c.question, c.answer) for c in candidates
        ]
        verdicts = judge(run, stage, rnd, prompts_, partial(_seed_prompts, run, name))
        survivors = []
        for c, score, ok in zip(candidates, verdicts.scores, verdicts.passed, strict=True):
            text = f"{c.question}\n{c.answer}"
            if math.isnan(score):
                run.reject(stage, "unparseable", text, "judge_parse_failed")
            elif not ok:
                run.reject(stage, "below_mark", text, bucket)
            else:
                if field:
                    c.scores[field] = 1
                survivors.append(c)
        candidates = survivors
    return candidates


def knowledge_round(
    run: StageRunner, rnd: int, need: int, chunks: list[Chunk], dedupe: LeafDeduper
) -> list[Sample]:
    n = math.ceil(math.ceil(need * run.config.overgenerate) / run.config.per_prompt)
    candidates = write_qa(run, rnd, chunk_order(run, chunks, rnd, n), dedupe)
    return check_judges(run, rnd, check_grounded(run, candidates))
