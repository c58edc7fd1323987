from __future__ import annotations

from pathlib import Path

import pytest

from bot.taxonomy.find import place
from bot.validation.check import Options, check_file
from bot.validation.rules.documents import glob_match
from tests.conftest import LeafWriter, knowledge_doc
from tests.gitrepo import Repo


@pytest.mark.parametrize(
    ("pattern", "path", "ok"),
    [
        ("*.md", "a.md", True),
        ("*.md", "d/a.md", False),
        ("d/*.md", "d/a.md", True),
        ("**/*.md", "x/y/a.md", True),
        ("**/*.md", "a.md", True),
        ("d/a?.md", "d/ab.md", True),
        ("[ab].md", "b.md", True),
        ("[!ab].md", "b.md", False),
        ("docs/", "docs", True),
    ],
)
def test_glob(pattern: str, path: str, ok: bool) -> None:
    assert glob_match(pattern, path) is ok


@pytest.fixture
def docs_repo(tmp_path: Path) -> tuple[Repo, str]:
    r = Repo(tmp_path / "docs")
    r.write("chapters/one.md", "# One\n")
    r.write("notes.txt", "x\n")
    return r, str(r.commit("docs"))


def check(path: Path, root: Path) -> list[tuple[str, str]]:
    res = check_file(
        place(path), Options(repo_root=root, documents=True, cache_dir=root / ".cache")
    )
    return [(p.rule, p.message) for p in res.problems]


@pytest.mark.parametrize("form", ["path", "file-url"])
def test_pinned_commit_in_local_repo(
    write_leaf: LeafWriter, tmp_path: Path, docs_repo: tuple[Repo, str], form: str
) -> None:
    repo, sha = docs_repo
    url = str(repo.path) if form == "path" else repo.path.as_uri()
    ok = write_leaf(
        "knowledge/a",
        knowledge_doc(document={"repo": url, "commit": sha, "patterns": ["chapters/*.md"]}),
    )
    assert check(ok, tmp_path) == []
    assert (tmp_path / ".cache" / "documents").is_dir()
    none = write_leaf(
        "knowledge/b",
        knowledge_doc(
            seed=1,
            document={"repo": url, "commit": sha, "patterns": ["*.txt.md", "chapters/two.md"]},
        ),
    )
    [(rule, msg)] = check(none, tmp_path)
    assert rule == "document-fetch" and "no markdown document matches" in msg
    missing = write_leaf(
        "knowledge/c",
        knowledge_doc(
            seed=2, document={"repo": url, "commit": "0" * 40, "patterns": ["chapters/*.md"]}
        ),
    )
    [(rule, msg)] = check(missing, tmp_path)
    assert rule == "document-fetch" and "is not in" in msg


def test_new_commit_is_fetched_into_existing_cache(
    write_leaf: LeafWriter, tmp_path: Path, docs_repo: tuple[Repo, str]
) -> None:
    repo, sha = docs_repo
    first = write_leaf(
        "knowledge/a",
        knowledge_doc(
            document={"repo": str(repo.path), "commit": sha, "patterns": ["chapters/*.md"]}
        ),
    )
    assert check(first, tmp_path) == []
    repo.write("chapters/two.md", "# Two\n")
    sha2 = str(repo.commit("more"))
    second = write_leaf(
        "knowledge/b",
        knowledge_doc(
            seed=1,
            document={"repo": str(repo.path), "commit": sha2, "patterns": ["chapters/two.md"]},
        ),
    )
    assert check(second, tmp_path) == []


def test_unreachable_repo(write_leaf: LeafWriter, tmp_path: Path) -> None:
    leaf = write_leaf(
        "knowledge/a",
        knowledge_doc(
            document={"repo": str(tmp_path / "nowhere"), "commit": "1" * 40, "patterns": ["*.md"]}
        ),
    )
    [(rule, msg)] = check(leaf, tmp_path)
    assert rule == "document-fetch" and msg.startswith("cannot fetch")


def test_documents_beside_the_leaf(write_leaf: LeafWriter, tmp_path: Path) -> None:
    leaf = write_leaf("knowledge/a", knowledge_doc())
    [(rule, _)] = check(leaf, tmp_path)
    assert rule == "document-fetch"
    (leaf.parent / "documents").mkdir()
    (leaf.parent / "documents" / "topic.md").write_text("# Topic\n")
    assert check(leaf, tmp_path) == []
