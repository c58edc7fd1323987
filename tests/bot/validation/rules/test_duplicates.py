from __future__ import annotations

from pathlib import Path

from bot.taxonomy.find import place
from bot.validation.check import Options
from bot.validation.engine import check_all, cross_leaf
from tests.conftest import LeafWriter, skill_doc


def test_exact_and_near_duplicates_within_leaf(write_leaf: LeafWriter, tmp_path: Path) -> None:
    doc = skill_doc(n=6)
    ex = doc["seed_examples"]
    ex[3] = {"question": ex[0]["question"].upper(), "answer": ex[0]["answer"] + "!"}
    ex[5] = {"question": ex[1]["question"], "answer": ex[1]["answer"] + " indeed"}
    path = write_leaf("compositional_skills/a", doc)
    [res] = check_all([place(path)], Options(repo_root=tmp_path))
    got = [(p.rule, p.message.split(";")[0]) for p in res.problems]
    assert got[0] == ("duplicate-example", "seed_examples[3] repeats seed_examples[0] (line 5)")
    assert got[1][0] == "duplicate-example" and "seed_examples[5] is 96% similar" in got[1][1]


def test_shared_context_is_not_a_duplicate(write_leaf: LeafWriter, tmp_path: Path) -> None:
    doc = skill_doc(grounded=True)
    for ex in doc["seed_examples"]:
        ex["context"] = doc["seed_examples"][0]["context"]
    path = write_leaf("compositional_skills/grounded/a", doc)
    [res] = check_all([place(path)], Options(repo_root=tmp_path))
    assert res.problems == []


def test_near_duplicate_across_leaves_warns_later_leaf(
    write_leaf: LeafWriter, tmp_path: Path
) -> None:
    a = skill_doc(seed=1)
    b = skill_doc(seed=2)
    b["seed_examples"][2] = dict(a["seed_examples"][4])
    b["seed_examples"][2]["answer"] += " Really."
    paths = [write_leaf("compositional_skills/a", a), write_leaf("compositional_skills/b", b)]
    results = check_all([place(p) for p in paths], Options(repo_root=tmp_path, shingles=True))
    cross_leaf(results)
    assert results[0].problems == []
    [p] = results[1].problems
    assert p.rule == "duplicate-across-leaves" and "seed_examples[2]" in p.message
    assert "seed_examples[4] in" in p.message and str(paths[0]) in p.message


def test_distinct_leaves_have_no_cross_warnings(write_leaf: LeafWriter, tmp_path: Path) -> None:
    paths = [write_leaf(f"compositional_skills/l{i}", skill_doc(seed=i)) for i in range(20)]
    results = check_all([place(p) for p in paths], Options(repo_root=tmp_path, shingles=True))
    cross_leaf(results)
    assert [p for r in results for p in r.problems] == []


def test_version_1_repeats_only_warn(write_leaf: LeafWriter, tmp_path: Path) -> None:
    from bot.validation.problems import Severity

    doc = skill_doc(1, n=3)
    doc["seed_examples"].append(dict(doc["seed_examples"][0]))
    path = write_leaf("compositional_skills/a", doc, attribution=False)
    [res] = check_all([place(path)], Options(repo_root=tmp_path))
    assert [(p.rule, p.severity) for p in res.problems] == [("duplicate-example", Severity.WARNING)]


def test_near_duplicates_at_exactly_near_within_a_leaf(
    write_leaf: LeafWriter, tmp_path: Path
) -> None:
    doc = skill_doc(n=5)
    ex = doc["seed_examples"]
    words = [f"w{i}" for i in range(37)]  # 35 distinct 3-grams
    ex[0] = {"question": " ".join(words[:18]), "answer": " ".join(words[18:])}
    ex[1] = {"question": " ".join(words[:18]), "answer": " ".join(words[18:30])}  # 28 of them
    path = write_leaf("compositional_skills/a", doc)
    [res] = check_all([place(path)], Options(repo_root=tmp_path))
    assert [p.message.split(";")[0] for p in res.problems] == [
        "seed_examples[1] is 80% similar to seed_examples[0] (line 5)"
    ]
