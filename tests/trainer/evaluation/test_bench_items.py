"""Items, suites and document questions: deterministic, counted when they cannot be built."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from bot.taxonomy.find import walk
from bot.taxonomy.leaves import Leaves
from tests.conftest import dump
from tests.trainer.evaluation.conftest import TOWN, antonyms_doc, write_taxonomy
from trainer.evaluation.cloze import cloze_items, document_sentences, terms
from trainer.evaluation.items import pick_distractors, shuffle_options
from trainer.evaluation.suites import GENERAL_SET, build, general_items
from trainer.leaves import Document, LeafData, SeedExample


def plan_for(root: Path, *selected: str, **kw: object):  # type: ignore[no-untyped-def]
    files = walk(root / "taxonomy")
    leaves = Leaves(files, root, root / ".bot" / "cache")
    chosen = [leaves.add(f) for f in files if any(s in str(f) for s in selected)]
    return build(chosen, leaves, **kw)  # type: ignore[arg-type]


def test_distractors_come_tier_by_tier_and_options_are_a_hash_order() -> None:
    tiers = [["own 1", "own 2", "REF"], ["sibling 1", "sibling 2"], ["branch"]]
    picked = pick_distractors("k", "ref", tiers)
    assert picked is not None and {"own 1", "own 2"} < set(picked)  # the reference is excluded
    assert picked[2].startswith("sibling")
    assert pick_distractors("k", "ref", [["a", "A ", "b"]]) is None  # near-duplicates count once

    def lazy():  # a later tier is not touched when the first suffices
        yield ["a", "b", "c"]
        raise AssertionError("second tier read")

    assert pick_distractors("k", "ref", lazy()) is not None
    options, correct = shuffle_options("key", "right", ["w1", "w2", "w3"])
    assert options[correct] == "right" and sorted(options) == ["right", "w1", "w2", "w3"]
    assert (options, correct) == shuffle_options("key", "right", ["w3", "w2", "w1"])


def test_suites_of_a_small_taxonomy(repo: Path) -> None:
    plan = plan_for(repo, "antonyms", "tiny", "amberly", doc_mc_per_leaf=50)
    branch = [i for i in plan.items if i.suite == "branch"]
    ant = [i for i in branch if i.group.endswith("antonyms")]
    assert len(ant) == 6 and all(i.type == "qa" and i.has_mc and i.origin == "seed" for i in ant)
    for item in ant:  # distractors are other antonym answers; the reference is among options
        assert item.options[item.correct] == item.answer and len(set(item.options)) == 4
        assert all(o.startswith("The opposite of") for o in item.options)
        assert item.placebo is None  # no placebo for skills
    know = [i for i in branch if i.group.endswith("amberly")]
    seeds = [i for i in know if i.origin == "seed"]
    assert seeds and all(i.prompt == i.question for i in seeds)  # closed-book
    assert all(i.mc_prompt == i.question for i in seeds)
    # these synthetic Q&A repeat word runs: a held-out one sharing 8 words with a kept one
    # would be learnt verbatim, so it is dropped, and counted
    overlap = [s for s in plan.skipped if s.group.endswith("amberly") and "8-gram" in s.reason]
    assert len(seeds) + sum(s.count for s in overlap if s.reason.startswith("seed")) == 3
    facts = [i for i in know if i.origin == "fact"]
    assert facts and all(
        i.question.startswith('Fill in the blank about "The town of') for i in facts
    )
    assert all(i.answer in TOWN and i.placebo and i.placebo != i.answer for i in facts)
    assert all(i.source.startswith("doc:documents/town.md#") for i in facts)
    memo = [i for i in plan.items if i.suite == "memorization"]
    assert memo and all(i.type == "doc_mc" and i.metrics == ("doc_mc_acc",) for i in memo)
    skipped = {(s.group.rsplit("/", 1)[-1], s.what): s for s in plan.skipped}
    assert "[schema]" in skipped[("tiny", "leaf")].reason  # invalid (3 examples): counted
    assert not any(i.group.endswith("tiny") for i in plan.items)
    assert skipped[("amberly", "doc_mc")].count == 50 - len(memo)  # the shortfall is counted
    regression = [i for i in plan.items if i.suite == "regression"]
    groups = {i.group for i in regression}
    assert groups == {"compositional_skills/linguistics/synonyms", GENERAL_SET}
    assert sum(i.group.endswith("synonyms") for i in regression) == 1  # every held-out item
    assert len({(i.suite, i.id) for i in plan.items}) == len(plan.items)


def test_items_are_deterministic_and_content_addressed(repo: Path, tmp_path: Path) -> None:
    first = plan_for(repo, "antonyms", "amberly")
    # reordering the seed examples changes nothing (held-out choice and ranks hash content)
    leaf = repo / "taxonomy/compositional_skills/linguistics/antonyms/qna.yaml"
    doc = antonyms_doc()
    doc["seed_examples"].reverse()
    leaf.write_text(dump(doc))
    again = plan_for(repo, "antonyms", "amberly")
    assert sorted(i.id for i in first.items) == sorted(i.id for i in again.items)
    # a new untouched leaf adds to the regression suite without changing the rest
    other = tmp_path / "other"
    write_taxonomy(other)
    (other / "taxonomy/compositional_skills/linguistics/antonyms/qna.yaml").write_text(dump(doc))
    extra = other / "taxonomy/compositional_skills/linguistics/more"
    extra.mkdir()
    (extra / "qna.yaml").write_text(dump(antonyms_doc([(f"w{i}", f"v{i}") for i in range(6)])))
    (extra / "attribution.txt").write_text("x\n")
    grown = plan_for(other, "antonyms", "amberly")
    old = {i.id for i in again.items if i.group.endswith("synonyms")}
    assert old <= {i.id for i in grown.items}
    assert any(i.group.endswith("more") for i in grown.items)


def test_general_set_is_well_formed() -> None:
    text = resources.files("trainer.evaluation").joinpath("data", "general-v1.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) >= 100 and len({r["id"] for r in rows}) == len(rows)
    assert len({r["question"] for r in rows}) == len(rows)
    assert len({r["topic"] for r in rows}) >= 8
    for r in rows:
        assert len(r["wrong"]) == 3 and len(set(r["wrong"])) == 3 and r["answer"] not in r["wrong"]
    items = general_items()
    assert len(items) == len(rows) and all(i.options[i.correct] == i.answer for i in items)


def test_document_sentences_terms_and_cloze_items() -> None:
    sents = document_sentences(TOWN)
    assert not any(s.startswith("#") for s in sents)
    assert "Amberly was founded in 1432 by the weaver Hugo Brand and nine other families." in sents
    found = {
        (t.text, t.type)
        for t in terms("In 1721 a great fire destroyed houses near the River Ashe.")
    }
    assert found == {("1721", "year"), ("River Ashe", "name")}
    assert {t.type for t in terms("About 4200 people live in Amberly on Monday.")} == {
        "number",
        "name",
        "date",
    }
    leaf = LeafData(
        "knowledge/places/amberly",
        "knowledge",
        "knowledge",
        "",
        None,
        [SeedExample("q", "a", "c")] * 4,
        [],
        [Document("documents/town.md", TOWN)],
    )
    result = cloze_items("branch", leaf, 4)
    assert len(result.items) == 4 and result.eligible >= 4
    for item in result.items:
        right = item.options[item.correct]
        assert right == item.answer and right in TOWN and "_____" in item.question
        assert item.prompt == 'State a fact from the document "The town of Amberly".'
        before, after = item.question.split("_____")
        for option in item.options:  # only the blanked term differs
            assert option.startswith(before) and option.endswith(after)
    assert [i.id for i in cloze_items("branch", leaf, 4).items] == [i.id for i in result.items]
    empty = LeafData("k/x", "knowledge", "knowledge", "", None, [], [], [Document("d.md", "# T\n")])
    assert cloze_items("branch", empty, 4).items == []
