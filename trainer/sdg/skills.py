"""Skills (LAB): new instructions from seed examples -> judge each instruction -> respond ->
judge the pair on a 3-point scale. Grounded skills first write new contexts in the style
of the seed contexts, and ground every step in one of them."""

from __future__ import annotations

import math
from collections.abc import Callable

from trainer.sdg.config import INSTRUCTION_SCALE, PAIR_SCALE, Bucket
from trainer.sdg.filters import BUCKET, LeafDeduper, NearIndex, near
from trainer.sdg.parse import parse_list, parse_score, parse_text
from trainer.sdg.stage import Sample, StageRunner

# Token caps for pieces of seed examples shown in prompts (the embedded teacher's context
# is small and its attention to long prompts weak).
QUESTION_TOKENS, ANSWER_TOKENS, CONTEXT_TOKENS = 120, 160, 250


def _context_block(run: StageRunner, context: str | None) -> str:
    return "" if context is None else f"\nText:\n{run.fit(CONTEXT_TOKENS * 2, context)}\n"


def write_contexts(run: StageRunner, rnd: int, n: int, dedupe: LeafDeduper) -> list[str]:
    """n new contexts in the style of the seed contexts; unusable ones are counted."""
    grounded = [s for s in run.leaf.seeds if s.context]
    prompts = []
    for i in range(n):
        examples = [
            f"Text {j}:\n{run.fit(CONTEXT_TOKENS, s.context or '')}"
            for j, s in enumerate(run.pick(grounded, "contexts", rnd, i), start=1)
        ]
        prompts.append(
            run.prompt("grounded_context", examples, "\n\n", task=run.leaf.task_description.strip())
        )
    out: list[str] = []
    written = NearIndex()
    for gen in run.generate("contexts", rnd, prompts, run.config.max_new_tokens.context):
        run.stats.contexts_generated += 1
        parsed = parse_text(
            gen.text, gen.finish_reason == "length", min_words=12, cut_truncated=True
        )
        if not parsed.items:
            run.stats.contexts_failed += 1
            run.rejects("contexts", parsed.rejects, bucket=None)
            continue
        context = parsed.items[0]
        if dedupe.copies_seed_context(context) or written.find(context):
            run.stats.contexts_failed += 1
            run.reject("contexts", "copy", context, bucket=None)
            continue
        written.add(context)
        out.append(context)
    return out


def propose(
    run: StageRunner, rnd: int, contexts: list[str | None], per: int, dedupe: LeafDeduper
) -> list[Sample]:
    """One prompt per context (None: freeform), each asking for `per` new instructions."""
    leaf, stage = run.leaf, "instructions"
    task = leaf.task_description.strip()
    prompts = []
    for i, context in enumerate(contexts):
        examples = [
            f"{j}. {run.fit(QUESTION_TOKENS, s.question)}"
            for j, s in enumerate(run.pick(leaf.seeds, stage, rnd, i), start=1)
        ]
        if context is None:
            prompts.append(run.prompt("skills_instructions", examples, task=task, count=str(per)))
        else:
            prompts.append(
                run.prompt(
                    "grounded_instructions", examples, task=task, count=str(per), context=context
                )
            )
    out: list[Sample] = []
    gens = run.generate(stage, rnd, prompts, run.config.max_new_tokens.instructions)
    for context, gen in zip(contexts, gens, strict=True):
        parsed = parse_list(gen.text, gen.finish_reason == "length")
        run.rejects(stage, parsed.rejects)
        for question in parsed.items[per:]:  # rambling replies: the rest is not needed
            run.reject(stage, "beyond_count", question, bucket="surplus")
        for question in parsed.items[:per]:
            if near(question, task):  # the skill's description parroted back
                run.reject(stage, "task_echo", question)
                continue
            if verdict := dedupe.admit(question, context):
                run.reject(stage, verdict, question, BUCKET[verdict])
            else:
                out.append(Sample(question, context=context))
    return out


def _judge(
    run: StageRunner,
    rnd: int,
    candidates: list[Sample],
    stage: str,
    scale: tuple[int, int],
    threshold: int,
    bucket: Bucket,
    fields: Callable[[Sample], dict[str, str]],
    shown: Callable[[Sample], str],
) -> list[Sample]:
    """One batched judge call; keep the candidates scored at or above `threshold`."""
    task = run.leaf.task_description.strip()
    prompts = [
        run.prompt(
            f"skills_{stage}", task=task, **fields(c), context_block=_context_block(run, c.context)
        )
        for c in candidates
    ]
    gens = run.generate(
        stage, rnd, prompts, run.config.max_new_tokens.judge, judge=True, prefill="Score:"
    )
    out = []
    key = stage.removeprefix("judge_")
    for c, gen in zip(candidates, gens, strict=True):
        score = parse_score(gen.text, *scale)
        if score is None:
            run.reject(stage, "unparseable", gen.text, "judge_parse_failed")
        elif score < threshold:
            run.reject(stage, f"score_{score}", shown(c), bucket)
        else:
            c.scores[key] = score
            out.append(c)
    return out


def judge_instructions(run: StageRunner, rnd: int, candidates: list[Sample]) -> list[Sample]:
    return _judge(
        run,
        rnd,
        candidates,
        "judge_instruction",
        INSTRUCTION_SCALE,
        run.config.thresholds.instruction,
        "judged_out_instruction",
        lambda c: {"instruction": c.question},
        lambda c: c.question,
    )


def respond(run: StageRunner, rnd: int, candidates: list[Sample]) -> list[Sample]:
    stage, leaf = "responses", run.leaf
    prompts = []
    for i, c in enumerate(candidates):
        examples = []
        for s in run.pick(leaf.seeds, stage, rnd, i):
            ctx = f"Text:\n{run.fit(CONTEXT_TOKENS // 2, s.context)}\n" if s.context else ""
            examples.append(
                f"{ctx}Task: {run.fit(QUESTION_TOKENS, s.question)}\n"
                f"Answer: {run.fit(ANSWER_TOKENS, s.answer)}\n"
            )
        prompts.append(
            run.prompt(
                "skills_response",
                examples,
                task=leaf.task_description.strip(),
                instruction=c.question,
                context_block=_context_block(run, c.context),
            )
        )
    out = []
    gens = run.generate(stage, rnd, prompts, run.config.max_new_tokens.response, stop=("\nTask:",))
    for c, gen in zip(candidates, gens, strict=True):
        parsed = parse_text(gen.text, gen.finish_reason == "length")
        if not parsed.items:
            run.rejects(stage, parsed.rejects)
            continue
        answer = parsed.items[0]
        if near(answer, c.question):
            run.reject(stage, "echo", answer)
            continue
        c.answer = answer
        out.append(c)
    return out


def judge_pairs(run: StageRunner, rnd: int, candidates: list[Sample]) -> list[Sample]:
    return _judge(
        run,
        rnd,
        candidates,
        "judge_pair",
        PAIR_SCALE,
        run.config.thresholds.pair,
        "judged_out_pair",
        lambda c: {"instruction": c.question, "response": c.answer},
        lambda c: f"{c.question}\n{c.answer}",
    )


def skill_round(run: StageRunner, rnd: int, need: int, dedupe: LeafDeduper) -> list[Sample]:
    """One generate -> filter round aiming at `need` more samples (over-generating)."""
    cfg = run.config
    want = math.ceil(need * cfg.overgenerate)
    if run.leaf.kind == "grounded_skill":
        per = cfg.per_context
        contexts: list[str | None] = list(write_contexts(run, rnd, math.ceil(want / per), dedupe))
    else:
        per = cfg.per_prompt
        contexts = [None] * math.ceil(want / per)
    candidates = propose(run, rnd, contexts, per, dedupe)
    candidates = judge_instructions(run, rnd, candidates)
    candidates = respond(run, rnd, candidates)
    return judge_pairs(run, rnd, candidates)
