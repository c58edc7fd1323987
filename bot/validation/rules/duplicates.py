"""Rules duplicate-example (within a leaf) and duplicate-across-leaves.

Two seed examples are near-identical when the Jaccard similarity of their word
3-gram sets is at least NEAR. Shingles are hashed to 64-bit integers
(deterministic across processes and runs, so they can be cached). Within a leaf
every pair is compared. Across leaves, the join in simjoin.py finds every pair at or
above NEAR without comparing all pairs. Every reported similarity is exact (up to
64-bit hash collisions).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import combinations
from typing import Any, NamedTuple

from bot.taxonomy.yamlload import Loaded
from bot.taxonomy.yamlload import Path as YPath
from bot.validation.problems import Problem, error, warning
from bot.validation.rules.schema import dotted
from trainer.text.shingles import NEAR, NEAR_DEN, NEAR_NUM, Entry, jaccard, shingles

# Compared across leaves: examples and Q&A. Knowledge contexts are long passages whose
# near-copies within a leaf are caught by duplicate-example; across leaves they would
# cost as much as everything else together.
CROSS_LEAF_KINDS = frozenset({"skill", "qa"})


class Unit(NamedTuple):
    """One thing that must not be duplicated: a skill example, a knowledge Q&A or context.

    A grounded skill example is its question + answer; `context` is compared too,
    so examples that ask different things about one shared context are distinct.
    """

    kind: str
    path: YPath
    text: str
    context: str = ""


def units(data: Any, kind: str) -> list[Unit]:
    out: list[Unit] = []
    examples = data.get("seed_examples") if isinstance(data, dict) else None
    for i, ex in enumerate(examples if isinstance(examples, list) else []):
        if not isinstance(ex, dict):
            continue
        if kind == "skill":
            text = f"{ex.get('question', '')}\n{ex.get('answer', '')}"
            out.append(Unit("skill", ("seed_examples", i), text, str(ex.get("context", ""))))
            continue
        if isinstance(ctx := ex.get("context"), str):
            out.append(Unit("context", ("seed_examples", i, "context"), ctx))
        qas = ex.get("questions_and_answers")
        for j, qa in enumerate(qas if isinstance(qas, list) else []):
            if isinstance(qa, dict):
                text = f"{qa.get('question', '')}\n{qa.get('answer', '')}"
                out.append(Unit("qa", ("seed_examples", i, "questions_and_answers", j), text))
    return out


def within_leaf(
    doc: Loaded,
    items: list[Unit],
    sets: Sequence[set[int]] | None = None,
    legacy: bool = False,
) -> list[Problem]:
    """legacy: a version 1 leaf, whose format allowed repeats: warn rather than fail, so
    InstructLab taxonomies keep validating unchanged."""
    out: list[Problem] = []
    report = warning if legacy else error
    sets = sets if sets is not None else [shingles(u.text) for u in items]
    sizes = [len(s) for s in sets]
    contexts: dict[int, set[int]] = {}  # computed only when the question + answer match

    def context(i: int) -> set[int]:
        if i not in contexts:
            contexts[i] = shingles(items[i].context) if items[i].context else set()
        return contexts[i]

    reported: set[int] = set()
    for i, j in combinations(range(len(items)), 2):
        si, sj = sizes[i], sizes[j]  # Jaccard <= smaller / larger: sizes must be near too
        if NEAR_DEN * si < NEAR_NUM * sj or NEAR_DEN * sj < NEAR_NUM * si or j in reported:
            continue
        a, b = items[i], items[j]
        if a.kind != b.kind:
            continue
        sim = jaccard(sets[i], sets[j])
        if sim >= NEAR and jaccard(context(i), context(j)) >= NEAR:
            reported.add(j)
            how = "repeats" if sim == 1.0 else f"is {sim:.0%} similar to"
            out.append(
                report(
                    "duplicate-example",
                    f"{dotted(b.path)} {how} {dotted(a.path)} "
                    f"(line {doc.where(a.path)[0]}); seed examples should each teach "
                    "something different: rewrite or remove one",
                    *doc.where(b.path),
                )
            )
    return out


# --- across leaves ------------------------------------------------------------------------


def across_leaves(
    entries: Sequence[Entry], sets: Sequence[array[int]], focus: set[str] | None = None
) -> dict[str, list[Problem]]:
    """Warnings per file. With `focus`, only files in it are reported on."""
    from trainer.text.simjoin import matches  # lazily: numpy only for large joins

    best = matches(entries, sets, focus)
    return warnings_for(entries, best, focus)


def warnings_for(
    entries: Sequence[Entry], best: dict[int, tuple[float, int]], focus: set[str] | None
) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {}
    for idx, (sim, other) in sorted(best.items()):
        e, o = entries[idx], entries[other]
        if focus is not None and e.file not in focus:
            continue
        how = "is identical to" if sim == 1.0 else f"is {sim:.0%} similar to"
        out.setdefault(e.file, []).append(
            warning(
                "duplicate-across-leaves",
                f"{dotted(e.path)} {how} {dotted(o.path)} in {o.file} "
                f"(line {o.line}); the same example in two leaves is trained twice: keep it in "
                "the leaf where it belongs",
                e.line,
                1,
            )
        )
    return out
