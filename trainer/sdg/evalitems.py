"""Evaluation items the teacher writes for a skill leaf from its held-out seed examples.

A skill leaf has a few seed examples and only one or two of them are held out, too few for
any verdict; the teacher writes more in their image. It is the same LAB pipeline as the
training data (trainer/sdg/pipeline.py), given a view of the leaf whose only in-context
examples are the held-out ones, and its own store, so the items are generated once per
leaf version, teacher and settings, and the same items are scored for every later model.
An item is kept only when it shares no word 8-gram with a training row of its leaf
(trainer/text/overlap.py): the held-out seeds never reach a training prompt, and what the
teacher wrote from them never repeats what training teaches.

Exported one JSON line per item ({"question", "answer", "context"}) to
`<work>/evaluation/<leaf>.jsonl`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from trainer.leaves import LeafData, SeedExample
from trainer.sdg.store import Store, read_rows, write_atomic
from trainer.text.overlap import shares_ngram, training_ngrams

_QUESTION = "\n\nQuestion:\n"


def heldout_view(leaf: LeafData) -> LeafData | None:
    """The leaf as the pipeline should see it to write evaluation items: the held-out
    examples as its seeds (None for knowledge leaves, or skills with nothing held out)."""
    if leaf.kind == "knowledge" or not leaf.heldout:
        return None
    return replace(leaf, seeds=list(leaf.heldout), heldout=[])


def _example(row: Mapping[str, Any]) -> SeedExample:
    turns = {m["role"]: m["content"] for m in row["messages"]}
    user, answer = str(turns.get("user", "")), str(turns.get("assistant", ""))
    if user.startswith("Context:\n") and _QUESTION in user:
        context, question = user.removeprefix("Context:\n").split(_QUESTION, 1)
        return SeedExample(question, answer, context)
    return SeedExample(user, answer)


def items_for(
    generated: Iterable[Mapping[str, Any]], training: Sequence[Mapping[str, Any]]
) -> list[SeedExample]:
    """The teacher's generated rows as items, those that repeat a training task dropped."""
    grams = training_ngrams(training)
    out = []
    for row in generated:
        if row["metadata"]["source"] == "seed":
            continue  # the held-out seeds themselves: items already
        ex = _example(row)
        if not shares_ngram([ex.question, ex.answer, ex.context or ""], grams):
            out.append(ex)
    return out


def export_items(store: Store, leaves: list[str], data: Path, out_dir: Path) -> dict[str, int]:
    """Each leaf's current items, filtered against its exported training rows, to
    `out_dir/<leaf>.jsonl`; files of other leaves removed. Returns items per leaf."""
    counts: dict[str, int] = {}
    for leaf in sorted(leaves):
        entry = store.current(leaf)
        if entry is None:
            continue
        train = data / f"{leaf}.jsonl"
        rows = (
            [json.loads(x) for x in train.read_text("utf-8").splitlines() if x.strip()]
            if train.is_file()
            else []
        )
        items = items_for(read_rows(entry.data), rows)
        lines = "".join(
            json.dumps(
                {"question": e.question, "answer": e.answer, "context": e.context},
                ensure_ascii=False,
            )
            + "\n"
            for e in items
        )
        write_atomic(out_dir / f"{leaf}.jsonl", lines)
        counts[leaf] = len(items)
    for stale in out_dir.rglob("*.jsonl") if out_dir.exists() else ():
        if str(stale.relative_to(out_dir))[: -len(".jsonl")] not in counts:
            stale.unlink()
    return counts


def read_items(out_dir: Path, leaf: str) -> list[SeedExample]:
    path = out_dir / f"{leaf}.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            doc = json.loads(line)
            out.append(SeedExample(doc["question"], doc["answer"], doc.get("context")))
    return out
