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
