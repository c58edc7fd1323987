"""bot/git/scan.py must report exactly what libgit2's status reports, on both of its paths:
the first run over an index (compare with the index, hash, remember) and the later
runs from the memo. Every case compares with `repo.status()` on a real repository."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pygit2
import pytest

from bot.git import memo as gitmemo
from bot.git import scan as gitscan
from bot.git.index import IndexFile, Unsupported, read_index
from tests.gitrepo import Repo

A = "taxonomy/skills/a/qna.yaml"
B = "taxonomy/skills/b/qna.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "repo")
    r.write(A, "question: one\n")
    r.write(A.replace("qna.yaml", "attribution.txt"), "me\n")
    r.write(B, "question: two\n")
    r.write("README.md", "hi\n")
    r.commit("init")
    return r


def scan(repo: Repo) -> set[str]:
    head = None if repo.repo.head_is_unborn else repo.repo.head.peel(pygit2.Commit).tree
    return gitscan.status_paths(repo.repo, head, repo.path.parent / "cache")


def memo_file(repo: Repo) -> Path:
    return repo.path.parent / "cache" / gitmemo.NAME


def check(repo: Repo) -> set[str]:
    """The scan agrees with libgit2: from the memo of earlier runs (if the index is the
    same), from scratch, and from the memo that run wrote."""
    expected = set(repo.repo.status(untracked_files="all"))
    assert scan(repo) == expected
    memo_file(repo).unlink(missing_ok=True)  # none after a fallback to libgit2
    assert scan(repo) == expected
    assert scan(repo) == expected
    return expected


def age(root: Path, seconds: float = 60) -> None:
    """Backdate files and folders (not .git), as if edited a while ago: the memo only
    trusts stat data older than its margin."""
    past = time.time() - seconds
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            os.utime(os.path.join(folder, name), (past, past), follow_symlinks=False)
        os.utime(folder, (past, past))


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Records every file the scan hashes."""
    calls: list[bytes] = []
    real = gitscan.blob_id

    def spy(data: bytes) -> bytes:
        calls.append(data)
        return real(data)

    monkeypatch.setattr(gitscan, "blob_id", spy)
    return calls


def test_clean_tree_and_memo_skips_hashing(repo: Repo, hashed: list[bytes]) -> None:
    age(repo.path)
    assert check(repo) == set()
    hashed.clear()
    assert scan(repo) == set()
    assert hashed == []  # nothing moved: the memo's stat data answer for every file


def test_modified_same_size_from_the_memo(repo: Repo, hashed: list[bytes]) -> None:
    age(repo.path)
    check(repo)
    repo.write(A, "question: ONE\n")
    hashed.clear()
    assert scan(repo) == {A}
    assert hashed == [b"question: ONE\n"]  # only the file whose stat data moved
    assert check(repo) == {A}


def test_touched_but_unchanged(repo: Repo) -> None:
    age(repo.path)
    check(repo)
    os.utime(repo.path / A)  # new mtime, same content
    assert check(repo) == set()
    age(repo.path)
    assert check(repo) == set()


def test_racily_clean_entry_is_hashed(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry whose stat data match the file is clean, unless the file is as new as
    the index: then it may have changed in the same timestamp tick (git's racy rule)."""
    repo.write(A, "question: 1ne\n")  # same size as committed
    real = read_index

    def matching(path: str) -> IndexFile:
        """The index as git would write it had it recorded A's stat data now."""
        index = real(path)
        st = os.lstat(repo.path / A)
        entries = [
            (p, st.st_ctime_ns, st.st_mtime_ns, st.st_ino, st.st_size, *e[5:])
            if (p := e[0]) == A
            else e
            for e in index.entries
        ]
        return IndexFile(entries, index.checksum, mtime_ns)

    monkeypatch.setattr(gitscan, "read_index", matching)
    mtime_ns = os.lstat(repo.path / A).st_mtime_ns
    assert scan(repo) == {A}  # racy: hashed, found changed
    memo_file(repo).unlink()
    mtime_ns += 1  # the index is newer than the file: its stat data are trusted
    assert scan(repo) == set()


def test_only_old_stat_data_are_remembered(repo: Repo) -> None:
    """A file changed within the trust margin could change again in the same timestamp
    tick with equal stat data: the memo does not vouch for it, so it is hashed again."""
    age(repo.path)
    repo.write(B, "question: two\n")  # rewritten as committed: clean, but just now
    check(repo)
    memo = gitmemo.load(memo_file(repo).parent)
    assert memo is not None
    expected = dict(zip(memo.paths, memo.expected, strict=True))
    assert expected[B] is None and expected[A] is not None
    assert memo.folder_keys[memo.folders.index("taxonomy/skills/a")] is not None


def test_untracked_files_new_and_existing_folders(repo: Repo) -> None:
    age(repo.path)
    check(repo)
    repo.write("taxonomy/skills/new/deep/qna.yaml", "x\n")
    repo.write("taxonomy/skills/a/notes.md", "x\n")
    assert check(repo) == {"taxonomy/skills/new/deep/qna.yaml", "taxonomy/skills/a/notes.md"}
    (repo.path / "taxonomy/skills/new/deep/qna.yaml").unlink()
    assert check(repo) == {"taxonomy/skills/a/notes.md"}


def test_ignored_files_and_folders(repo: Repo) -> None:
    repo.write(".gitignore", "*.log\nbuild/\n")
    repo.commit("ignore")
    repo.write("taxonomy/skills/a/run.log", "x\n")
    repo.write("build/out/qna.yaml", "x\n")
    repo.write("taxonomy/skills/a/keep.txt", "x\n")
    age(repo.path)
    assert check(repo) == {"taxonomy/skills/a/keep.txt"}
    memo = gitmemo.load(memo_file(repo).parent)
    assert memo is not None and "build" not in memo.folders  # ignored: never listed
    repo.write(".gitignore", "*.log\n")  # build/ becomes visible: walked now
    assert check(repo) == {".gitignore", "taxonomy/skills/a/keep.txt", "build/out/qna.yaml"}
    repo.write(".gitignore", "*.log\nbuild/\n")
    assert check(repo) == {"taxonomy/skills/a/keep.txt"}


def test_deleted_files_and_folders(repo: Repo) -> None:
    age(repo.path)
    check(repo)
    (repo.path / B).unlink()
    assert check(repo) == {B}
    shutil.rmtree(repo.path / "taxonomy/skills/a")
    assert check(repo) == {B, A, A.replace("qna.yaml", "attribution.txt")}
    (repo.path / "taxonomy/skills/a").write_text("now a file\n")
    assert "taxonomy/skills/a" in check(repo)


def test_staged_only_changes(repo: Repo) -> None:
    repo.write(A, "question: staged\n")
    repo.write("taxonomy/skills/c/qna.yaml", "new\n")
    repo.stage(A, "taxonomy/skills/c/qna.yaml")
    (repo.path / B).unlink()
    repo.stage(B)
    age(repo.path)
    assert check(repo) == {A, B, "taxonomy/skills/c/qna.yaml"}


def test_unborn_head(tmp_path: Path) -> None:
    r = Repo(tmp_path / "repo")
    r.write(A, "x\n")
    r.write(B, "y\n")
    r.stage(A)
    assert check(r) == {A, B}


def test_symlinks(repo: Repo) -> None:
    (repo.path / "link").symlink_to("README.md")
    repo.commit("link")
    age(repo.path)
    check(repo)
    (repo.path / "link").unlink()
    (repo.path / "link").symlink_to("taxonomy")  # retargeted
    assert check(repo) == {"link"}
    (repo.path / B).unlink()
    (repo.path / B).symlink_to("../a/qna.yaml")  # a file replaced by a link
    assert check(repo) == {"link", B}


def test_tracked_folder_replaced_by_a_link(repo: Repo) -> None:
    """lstat would follow the link to identical files; libgit2 calls them deleted."""
    age(repo.path)
    check(repo)
    shutil.copytree(repo.path / "taxonomy/skills/b", repo.path / "copy")
    shutil.rmtree(repo.path / "taxonomy/skills/b")
    (repo.path / "taxonomy/skills/b").symlink_to("../../copy")
    assert B in check(repo)


def test_mode_changes_follow_core_filemode(repo: Repo) -> None:
    age(repo.path)
    check(repo)
    os.chmod(repo.path / A, 0o755)
    assert check(repo) == {A}
    repo.repo.config["core.filemode"] = False
    assert check(repo) == set()


def test_filters_are_left_to_libgit2(repo: Repo) -> None:
    repo.write(".gitattributes", "*.txt text eol=crlf\n")
    repo.commit("attributes")
    (repo.path / "doc.txt").write_bytes(b"line\r\n")  # CRLF in the tree, LF in the blob
    repo.stage_all()
    repo.commit("doc")
    (repo.path / "doc.txt").write_bytes(b"line\r\n")  # rewritten identically: clean
    os.utime(repo.path / "doc.txt", (1, 1))
    assert check(repo) == set()
    repo.repo.config["core.autocrlf"] = "true"
    (repo.path / B).write_bytes(b"question: two\r\n")
    assert check(repo) == set(repo.repo.status())


def test_conflicts_are_reported(repo: Repo) -> None:
    ours = repo.repo.create_blob(b"ours\n")
    theirs = repo.repo.create_blob(b"theirs\n")
    index = repo.repo.index
    mode = pygit2.enums.FileMode.BLOB
    index.add_conflict(None, pygit2.IndexEntry(A, ours, mode), pygit2.IndexEntry(A, theirs, mode))
    index.write()
    assert A in check(repo)


def test_cache_inside_an_unignored_tree(repo: Repo) -> None:
    """The memo is then an untracked file too, seen from the run after the one writing it."""
    head = repo.repo.head.peel(pygit2.Commit).tree
    for _ in range(3):
        before = set(repo.repo.status(untracked_files="all"))
        assert gitscan.status_paths(repo.repo, head, repo.path / ".bot" / "cache") == before
    assert before == {".bot/cache/" + gitmemo.NAME}


def test_nested_repository_falls_back(repo: Repo) -> None:
    pygit2.init_repository(str(repo.path / "vendor" / "other"))
    (repo.path / "vendor" / "other" / "f").write_text("x\n")
    check(repo)


def test_unsupported_settings_fall_back(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: str) -> object:
        raise AssertionError("the index should not be read")

    monkeypatch.setattr(gitscan, "read_index", refuse)
    repo.write(A, "changed\n")
    for name in ("core.ignorecase", "core.sparseCheckout", "core.fsmonitor"):
        repo.repo.config[name] = True
        assert check(repo) == {A}
        del repo.repo.config[name]


def test_unsupported_index_falls_back(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    def unsupported(path: str) -> object:
        raise Unsupported("version 5")

    monkeypatch.setattr(gitscan, "read_index", unsupported)
    repo.write(A, "changed\n")
    repo.write("untracked.txt", "x\n")
    assert check(repo) == {A, "untracked.txt"}


def _index_bytes(repo: Repo) -> bytes:
    return (repo.path / ".git" / "index").read_bytes()


def test_read_index_refuses_what_it_does_not_parse(repo: Repo, tmp_path: Path) -> None:
    data = _index_bytes(repo)
    assert [e[0] for e in read_index(repo.path / ".git" / "index").entries] == sorted(
        e.path for e in repo.repo.index
    )
    assert read_index(tmp_path / "none").entries == []
    bad = tmp_path / "index"
    for variant in (
        data[:4] + struct.pack(">I", 5) + data[8:],  # unknown version
        data[:-20] + b"link" + struct.pack(">I", 0) + data[-20:],  # split index
        data[:40],  # truncated
    ):
        bad.write_bytes(variant)
        with pytest.raises(Unsupported):
            read_index(bad)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_index_version_4(repo: Repo) -> None:
    repo.write("taxonomy/skills/a/more/qna.yaml", "x\n")
    repo.commit("more")
    subprocess.run(["git", "update-index", "--index-version", "4"], cwd=repo.path, check=True)
    assert _index_bytes(repo)[4:8] == struct.pack(">I", 4)
    assert [e[0] for e in read_index(repo.path / ".git" / "index").entries] == sorted(
        e.path for e in repo.repo.index
    )
    repo.write(A, "question: 0ne\n")
    assert check(repo) == {A}
