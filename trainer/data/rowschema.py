"""The one row schema of every training file the tool writes (docs/generate.md, "Rows").

Exported leaf files (`<work>/data/`), the validation split and the mixed phase data
(`runs/<key>/<phase>/data.jsonl`) are read by other tools as well, e.g.
`datasets.load_dataset("json", data_files=...)`, which takes its column types from the
first file and fails on a later file whose types differ. So every row has every field, each
always of one JSON type: a field that does not apply holds its type's empty value (`""`,
`0`, `-1`), never null, never missing, never an empty object.

    {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", ...}],
     "metadata": {"leaf": ..., "scores": {"instruction": 0, ...}, "chunk": {...}, ...}}
"""

from __future__ import annotations

import json
from typing import Any

Row = dict[str, Any]

# Field -> the value it holds when it does not apply; its type is the field's type.
SCORES: dict[str, int] = {
    "instruction": 0,  # the judge's score of a generated skill question (0: not judged)
    "pair": 0,  # the judge's score of a generated skill question-answer pair
    "faithful": 0,  # 1: a generated knowledge answer judged faithful to its chunk
}
CHUNK: dict[str, Any] = {
    "document": "",  # the knowledge document a generated row was written from
    "index": -1,  # the chunk of that document (-1: not from a document)
}
METADATA: dict[str, Any] = {
    "leaf": "",  # taxonomy path
    "leaf_hash": "",  # the leaf's content hash
    "teacher": "",  # the teacher model's fingerprint
    "pipeline": "",  # the generation pipeline's version
    "kind": "",  # knowledge, freeform_skill, grounded_skill
    "source": "",  # seed, generated or distilled
    "scores": SCORES,
    "chunk": CHUNK,
    "distilled_from": "",  # a distilled row: the source it replaced
    "distill_model": "",  # a distilled row: the model that rewrote the answer
}


def stable_row(row: Row) -> Row:
    """`row` in the schema: messages as role/content pairs, every metadata field present
    with its type. Raises ValueError for a field the schema does not know (add it above,
    with its empty value, rather than let one file's columns differ from another's)."""
    meta = row.get("metadata") or {}
    unknown = sorted(set(row) - {"messages", "metadata"}) + sorted(set(meta) - set(METADATA))
    scores = meta.get("scores") or {}
    unknown += sorted(f"scores.{k}" for k in set(scores) - set(SCORES))
    if unknown:
        raise ValueError(f"row fields outside the schema: {', '.join(unknown)}")
    out = {**METADATA, **{k: v for k, v in meta.items() if v is not None}}
    out["scores"] = {**SCORES, **scores}
    out["chunk"] = {**CHUNK, **(meta.get("chunk") or {})}
    messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
    return {"messages": messages, "metadata": out}


def generated_turns(line: str) -> tuple[str, str] | None:
    """(user, assistant) of one JSONL row the teacher generated; None for seed rows and for
    lines that are not such a row (what a comment or a page shows as samples)."""
    try:
        row = json.loads(line)
    except ValueError:
        return None
    meta = row.get("metadata") if isinstance(row, dict) else None
    if not isinstance(meta, dict) or meta.get("source") != "generated":
        return None
    turns = {
        str(m.get("role")): str(m.get("content", ""))
        for m in row.get("messages") or []
        if isinstance(m, dict)
    }
    return turns.get("user", ""), turns.get("assistant", "")
