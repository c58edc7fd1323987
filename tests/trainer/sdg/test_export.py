from __future__ import annotations

import json
from pathlib import Path

from trainer.sdg.export import export
from trainer.sdg.store import Store, StoreKey


def row(q: str, source: str = "generated") -> dict:
    return {
        "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "a"}],
        "metadata": {"source": source},
    }


def put(store: Store, leaf: str, rows: list[dict]) -> None:
    key = StoreKey(leaf, f"hash-{leaf}", "t", "p", 2, 0)
    store.put(key, rows, {})
    store.set_current(key)


def test_cross_leaf_duplicates_leave_the_later_leaf(tmp_path: Path) -> None:
    store = Store(tmp_path / "generate")
    shared = "How many moons does the planet Mars have, and what are their names?"
    put(store, "a/one", [row("Seed question about oceans and tides?", "seed"), row(shared)])
    put(
        store,
        "b/two",
        [row(shared + " "), row("A different question about volcanoes?"), row(shared, "seed")],
    )
    out = export(store, ["a/one", "b/two", "c/missing"], tmp_path / "data")
    assert (out["a/one"].rows, out["a/one"].dropped_across_leaves) == (2, 0)
    assert (out["b/two"].rows, out["b/two"].dropped_across_leaves) == (2, 1)
    kept = [
        json.loads(x)["messages"][0]["content"] for x in out["b/two"].path.read_text().splitlines()
    ]
    assert kept == ["A different question about volcanoes?", shared]  # seed rows stay
    assert "c/missing" not in out
    out = export(store, ["b/two"], tmp_path / "data")  # a/one left the taxonomy
    assert not (tmp_path / "data/a/one.jsonl").exists()
    assert out["b/two"].rows == 3


def knowledge_row(question: str, context: str | None, source: str = "generated") -> dict:
    user = question if context is None else f"Context:\n{context}\n\nQuestion:\n{question}"
    return {
        "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": f"The answer to {question}"},
        ],
        "metadata": {"source": source, "kind": "knowledge"},
    }


def test_closed_book_twins_of_trained_knowledge_rows_only(tmp_path: Path) -> None:
    from trainer.sdg.export import ExportPolicy

    store = Store(tmp_path / "generate")
    passage = "Veloria was founded in 1387 by eleven fishing families."
    rows = [
        knowledge_row("When was Veloria founded?", passage, "seed"),
        *(
            knowledge_row(f"Generated question number {i} about Veloria?", passage)
            for i in range(10)
        ),
        knowledge_row("Who founded Veloria, closed-book already?", None),
    ]
    put(store, "knowledge/veloria", rows)
    put(store, "skills/other", [row("Summarize this text about tides and moons?")])
    policy = ExportPolicy(validation=tmp_path / "validation", closed_book=True)
    out = export(store, ["knowledge/veloria", "skills/other"], tmp_path / "data", policy)
    got = [json.loads(x) for x in out["knowledge/veloria"].path.read_text().splitlines()]
    held = [json.loads(x) for x in (tmp_path / "validation/knowledge/veloria.jsonl").open()]
    assert len(held) == 1  # a tenth of the 11 generated rows: open-book, and no twin of it
    trained = [r for r in got if r["messages"][0]["content"].startswith("Context:")]
    twins = got[len(rows) - 1 :]
    assert out["knowledge/veloria"].closed_book == len(twins) == len(trained) == 10
    for open_row, twin in zip(trained, twins, strict=True):
        assert (
            twin["messages"][0]["content"]
            == open_row["messages"][0]["content"].split("\n\nQuestion:\n")[1]
        )
        assert twin["messages"][1] == open_row["messages"][1]
        assert twin["metadata"]["source"] == open_row["metadata"]["source"]
    assert out["knowledge/veloria"].rows == len(got) == 11 + 10  # 12 rows less 1 held, twins
    assert out["skills/other"].closed_book == 0
    off = export(store, ["knowledge/veloria"], tmp_path / "off", ExportPolicy())
    assert off["knowledge/veloria"].closed_book == 0 and off["knowledge/veloria"].rows == 12
