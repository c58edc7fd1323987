from __future__ import annotations

from pathlib import Path

import pytest

from trainer.sdg.store import Store, StoreKey


def key(**kw: object) -> StoreKey:
    base = {
        "leaf": "skills/a",
        "leaf_hash": "h1",
        "teacher": "t",
        "pipeline": "p",
        "samples": 4,
        "seed": 0,
    }
    return StoreKey(**{**base, **kw})  # type: ignore[arg-type]


ROWS = [
    {
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        "metadata": {"source": "seed"},
    }
]


def test_put_get_and_current(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.status(key()) == "missing"
    entry = store.put(key(), ROWS, {"kept": 1})
    assert store.status(key()) == "cached" and entry.rows == 1
    assert entry.record["stats"] == {"kept": 1}
    store.set_current(key())
    assert store.current("skills/a") == entry
    assert store.leaves() == ["skills/a"]


def test_every_key_field_but_the_path_matters(tmp_path: Path) -> None:
    digests = {
        key(**{f: v}).digest
        for f, v in (
            ("leaf_hash", "h2"),
            ("teacher", "t2"),
            ("pipeline", "p2"),
            ("samples", 5),
            ("seed", 1),
        )
    }
    assert len(digests | {key().digest}) == 6
    assert key(leaf="moved/a").digest == key().digest


def test_damaged_entries_are_never_used(tmp_path: Path) -> None:
    store = Store(tmp_path)
    entry = store.put(key(), ROWS, {})
    entry.data.write_text(entry.data.read_text().replace('"q"', '"Q"'))
    assert store.get(key()) is None and store.status(key()) == "corrupt"
    assert store.put(key(), ROWS, {}).rows == 1  # regenerated over the damage
    (entry.data.parent / "record.json").write_text("{not json")
    assert store.status(key()) == "corrupt"
    (entry.data.parent / "record.json").unlink()
    assert store.get(key()) is None


def test_interrupted_write_leaves_no_entry(tmp_path: Path) -> None:
    store = Store(tmp_path)

    def rows() -> object:
        yield ROWS[0]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.put(key(), rows(), {})  # type: ignore[arg-type]
    assert store.status(key()) == "missing"
    assert list((tmp_path / "tmp").iterdir()) == []
