"""The knowledge leaves' validation facts: what the checkpoint chooser (and any tuning)
judges by, on the starter taxonomy. None is ever a reported item, and no generated row may
teach one."""

from __future__ import annotations

from pathlib import Path

from bot.stages.generate import heldout_ngrams, validation_facts
from bot.taxonomy.leaves import Leaves
from bot.workspace import Workspace
from trainer.evaluation.heldout import held_out
from trainer.text.overlap import shares_ngram

ROOT = Path(__file__).resolve().parents[3]


def test_validation_facts_are_never_reported_and_never_taught(tmp_path: Path) -> None:
    ws = Workspace.open(ROOT, work=tmp_path / "work")
    facts = validation_facts(ws)
    by_leaf = {f.group for f in facts}
    assert len(by_leaf) == 3 and all(f.origin == "fact" and f.suite == "branch" for f in facts)
    assert len(facts) >= 3 * 8  # the starter leaves rank at least 8 more facts each
    leaves = Leaves(ws.leaf_files(), ws.root, ws.layout.cache)
    reported = set()
    for path in by_leaf:
        leaf = leaves.read(path)
        assert not isinstance(leaf, str)
        items = held_out(leaf, "branch", lambda: iter(()), facts=ws.config.evaluate.facts).items
        reported |= {i.id for i in items}
        assert sum(i.origin == "fact" for i in items) == ws.config.evaluate.facts
    assert not reported & {f.id for f in facts}
    grams = heldout_ngrams(ws)  # what the export keeps out of the training rows
    assert all(shares_ngram([f.question], grams) for f in facts)
