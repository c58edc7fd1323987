"""Knowledge (LAB): each document chunk, with the leaf's seed Q&A as in-context examples,
yields Q&A pairs grounded in it; the teacher then says whether each answer is supported
by the chunk (faithfulness), and unsupported ones are dropped."""

from __future__ import annotations

import math

from trainer.sdg.chunking import Chunk
from trainer.sdg.filters import BUCKET, LeafDeduper
from trainer.sdg.parse import parse_qa_pairs, parse_yes_no
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
        pairs, rejects = parse_qa_pairs(gen.text, gen.finish_reason == "length")
        run.rejects(stage, rejects)
        for pair in pairs[cfg.per_prompt :]:
            run.reject(stage, "beyond_count", pair.question, bucket="surplus")
        for pair in pairs[: cfg.per_prompt]:
            if verdict := dedupe.admit(pair.question):
                run.reject(stage, verdict, pair.question, BUCKET[verdict])
            else:
                out.append(Sample(pair.question, pair.answer, context=chunk.text, chunk=chunk))
    return out


def check_faithful(run: StageRunner, rnd: int, candidates: list[Sample]) -> list[Sample]:
    stage = "faithfulness"
    prompts = [
        run.prompt(
            "knowledge_faithfulness", chunk=c.context or "", question=c.question, answer=c.answer
        )
        for c in candidates
    ]
    out = []
    gens = run.generate(stage, rnd, prompts, run.config.max_new_tokens.faithfulness, judge=True)
    for c, gen in zip(candidates, gens, strict=True):
        verdict = parse_yes_no(gen.text)
        if verdict is None:
            run.reject(stage, "unparseable", gen.text, "judge_parse_failed")
        elif not verdict:
            run.reject(stage, "no", f"{c.question}\n{c.answer}", "unfaithful")
        else:
            c.scores["faithful"] = 1
            out.append(c)
    return out


def knowledge_round(
    run: StageRunner, rnd: int, need: int, chunks: list[Chunk], dedupe: LeafDeduper
) -> list[Sample]:
    n = math.ceil(math.ceil(need * run.config.overgenerate) / run.config.per_prompt)
    candidates = write_qa(run, rnd, chunk_order(run, chunks, rnd, n), dedupe)
    return check_faithful(run, rnd, candidates)
