from __future__ import annotations

from pathlib import Path

import pytest

import bot.validation.engine
from bot.taxonomy.find import place
from bot.validation.check import Options
from bot.validation.engine import check_all, cross_leaf
from tests.conftest import LeafWriter, skill_doc


def test_worker_pool_gives_the_same_results(
    write_leaf: LeafWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [
        write_leaf(f"compositional_skills/l{i}", skill_doc(seed=i, n=4 + i % 3)) for i in range(12)
    ]
    paths.append(write_leaf("compositional_skills/copy", skill_doc(seed=3)))
    leaves = [place(p) for p in paths]
    opts = Options(repo_root=tmp_path, shingles=True)
    serial = check_all(leaves, opts, jobs=1)
    monkeypatch.setattr(bot.validation.engine, "PARALLEL_FROM", 2)
    parallel = check_all(leaves, opts, jobs=2)
    assert parallel == serial
    cross_leaf(parallel)
    # "copy" sorts before "l3", so the later path, l3, carries the warnings.
    rules = [p.rule for p in parallel[3].problems]
    assert rules.count("duplicate-across-leaves") == 4  # l3 has 4 examples, all in "copy"
    assert sum(p.rule == "schema" for r in parallel for p in r.problems) == 4
