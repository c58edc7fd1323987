from __future__ import annotations

import os
from pathlib import Path

from bot.taxonomy.find import place
from bot.validation.check import Options, check_file
from tests.conftest import LeafWriter, skill_doc


def rule_ids(path: Path, root: Path) -> list[str]:
    return [p.rule for p in check_file(place(path), Options(repo_root=root)).problems]


def test_file_name_must_be_exact(write_leaf: LeafWriter, tmp_path: Path) -> None:
    path = write_leaf("compositional_skills/a", skill_doc(), name="qna.yml")
    assert rule_ids(path, tmp_path) == ["file-name"]


def test_attribution_required_from_v2(write_leaf: LeafWriter, tmp_path: Path) -> None:
    assert rule_ids(
        write_leaf("compositional_skills/a", skill_doc(2), attribution=False), tmp_path
    ) == ["attribution"]
    assert rule_ids(
        write_leaf("compositional_skills/b", skill_doc(3, seed=2), attribution=" \n"), tmp_path
    ) == ["attribution"]
    assert (
        rule_ids(
            write_leaf("compositional_skills/c", skill_doc(1, seed=3), attribution=False), tmp_path
        )
        == []
    )


def test_nested_leaves_reported_on_both(write_leaf: LeafWriter, tmp_path: Path) -> None:
    outer = write_leaf("compositional_skills/a", skill_doc())
    inner = write_leaf("compositional_skills/a/b", skill_doc(seed=1))
    assert rule_ids(outer, tmp_path) == ["leaf-nesting"]
    assert rule_ids(inner, tmp_path) == ["leaf-nesting"]


def test_outside_branches_warns_and_guesses_kind(tmp_path: Path) -> None:
    from tests.conftest import dump, knowledge_doc

    folder = tmp_path / "stray"
    (folder / "documents").mkdir(parents=True)
    (folder / "qna.yaml").write_text(dump(knowledge_doc()))
    (folder / "attribution.txt").write_text("me\n")
    res = check_file(place(folder / "qna.yaml"), Options(repo_root=tmp_path))
    assert [p.rule for p in res.problems] == ["layout-branch"]
    assert res.kind == "knowledge"


def test_symlink_outside_repo(
    write_leaf: LeafWriter, tmp_path: Path, tmp_path_factory: object
) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    outside.write_text("secret: 1\n")
    folder = tmp_path / "taxonomy" / "compositional_skills" / "evil"
    folder.mkdir(parents=True)
    os.symlink(outside, folder / "qna.yaml")
    assert rule_ids(folder / "qna.yaml", tmp_path) == ["symlink"]
    inside = write_leaf("compositional_skills/real", skill_doc())
    folder2 = tmp_path / "taxonomy" / "compositional_skills" / "link"
    folder2.mkdir()
    os.symlink(inside, folder2 / "qna.yaml")
    (folder2 / "attribution.txt").write_text("x\n")
    assert rule_ids(folder2 / "qna.yaml", tmp_path) == []
