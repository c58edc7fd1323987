"""End to end through the real CLI, in subprocesses, as a contributor or CI runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pygit2.enums import FileStatus

from tests.conftest import LeafWriter, dump, knowledge_doc, run_bot, run_json, skill_doc
from tests.gitrepo import SIG, Repo


def test_json_lists_every_file_and_exit_codes(write_leaf: LeafWriter, tmp_path: Path) -> None:
    write_leaf("compositional_skills/good", skill_doc())
    (tmp_path / "taxonomy/knowledge/k/documents").mkdir(parents=True)
    write_leaf("knowledge/k", knowledge_doc(seed=3))
    code, out = run_json("validate", cwd=tmp_path)
    assert code == 0
    assert out["summary"] == {"files": 2, "errors": 0, "warnings": 0}
    assert sorted(f["path"] for f in out["files"]) == [
        "taxonomy/compositional_skills/good/qna.yaml",
        "taxonomy/knowledge/k/qna.yaml",
    ]
    write_leaf("compositional_skills/bad", skill_doc(n=2, seed=9))
    code, out = run_json("validate", cwd=tmp_path)
    assert code == 1 and out["summary"]["errors"] == 1
    bad = next(f for f in out["files"] if "bad" in f["path"])
    assert bad["errors"] == [
        {
            "line": 5,
            "column": 1,
            "rule": "schema",
            "message": "seed_examples needs at least 5 items (it has 2)",
        }
    ]


BAD_FILES: dict[str, bytes] = {
    "syntax": b"created_by: [me\n",
    "tabs": b"created_by: me\nseed_examples:\n\t- question: q\n",
    "latin1": b"created_by: caf\xe9\n",
    "bom": b"\xef\xbb\xbf" + dump(skill_doc(seed=40)).encode(),
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00",
    "empty": b"",
    "list": b"- a\n- b\n",
    "bomb": b"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
    "huge": b"created_by: '" + b"x" * (1024 * 1024 + 10) + b"'\n",
    "deep": b"a: " + b"[" * 100 + b"]" * 100 + b"\n",
    "dupkey": dump(skill_doc(seed=41)).encode() + b"created_by: again\n",
    "types": dump({**skill_doc(seed=42), "seed_examples": "none"}).encode(),
    "unknown": dump({**skill_doc(seed=43), "tags": ["x"]}).encode(),
}


def test_bad_input_is_located_and_never_a_traceback(write_leaf: LeafWriter, tmp_path: Path) -> None:
    for name, raw in BAD_FILES.items():
        write_leaf(f"compositional_skills/{name}", raw)
    write_leaf("compositional_skills/yml", skill_doc(seed=44), name="qna.yml")
    outside = tmp_path.parent / f"{tmp_path.name}-secret.yaml"
    outside.write_text("password: hunter2\n")
    link_dir = tmp_path / "taxonomy/compositional_skills/link"
    link_dir.mkdir(parents=True)
    os.symlink(outside, link_dir / "qna.yaml")
    write_leaf("compositional_skills/good", skill_doc(seed=45))
    proc = run_bot("validate", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    import json

    files = {Path(f["path"]).parent.name: f for f in json.loads(proc.stdout)["files"]}
    assert len(files) == len(BAD_FILES) + 3
    expect = {
        "syntax": "yaml-syntax",
        "tabs": "yaml-tabs",
        "latin1": "encoding",
        "bom": "encoding",
        "binary": "encoding",
        "empty": "yaml-empty",
        "list": "schema",
        "bomb": "yaml-anchors",
        "huge": "file-size",
        "deep": "yaml-limits",
        "dupkey": "yaml-duplicate-key",
        "types": "schema",
        "unknown": "schema",
        "yml": "file-name",
        "link": "symlink",
    }
    for name, rule in expect.items():
        errors = files[name]["errors"]
        assert rule in [e["rule"] for e in errors], (name, errors)
        assert all(e["line"] >= 1 and e["column"] >= 1 for e in errors)
    assert files["good"]["errors"] == []
    assert "hunter2" not in proc.stdout


def test_text_and_github_formats(write_leaf: LeafWriter, tmp_path: Path) -> None:
    write_leaf("compositional_skills/a", dump(skill_doc()).replace("tester", "tester "))
    write_leaf("compositional_skills/b", skill_doc(seed=1), attribution=False)
    proc = run_bot("validate", cwd=tmp_path)
    assert proc.returncode == 1
    assert (
        "taxonomy/compositional_skills/b/qna.yaml:1:1: error [attribution] "
        "taxonomy/compositional_skills/b/attribution.txt is missing"
    ) in proc.stdout
    assert "taxonomy/compositional_skills/a/qna.yaml:2:19: warning [yaml-trailing-spaces]" in (
        proc.stdout
    )
    assert proc.stdout.rstrip().endswith("1 error, 1 warning in 1 of 2 files")
    summary = tmp_path / "summary.md"
    proc = run_bot(
        "validate", "--format", "github", cwd=tmp_path, env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert (
        "::error file=taxonomy/compositional_skills/b/qna.yaml,line=1,col=1,title=attribution::"
    ) in proc.stdout
    md = summary.read_text()
    assert md.startswith("### ❌ Taxonomy validation: 1 error")
    assert "| `taxonomy/compositional_skills/b/qna.yaml` | 1:1 | error | `attribution` |" in md


def test_disable_summary_and_usage_errors(write_leaf: LeafWriter, tmp_path: Path) -> None:
    write_leaf("compositional_skills/b", skill_doc(seed=1), attribution=False)
    assert run_bot("validate", "--disable", "attribution", cwd=tmp_path).returncode == 0
    proc = run_bot("validate", "--disable", "attribution", "--summary", cwd=tmp_path)
    assert "compositional_skills" in proc.stdout and "v3" in proc.stdout
    for args in (
        ["--disable", "nope"],
        ["--base-ref", "main"],
        ["missing/dir"],
        ["--require-version", "9"],
        ["--format", "xml"],
    ):
        proc = run_bot("validate", *args, cwd=tmp_path)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr and "error" in proc.stderr
    (tmp_path / "bot.yaml").write_text("validate:\n  disabel: [attribution]\n")
    proc = run_bot("validate", cwd=tmp_path)
    assert proc.returncode == 2 and "bot.yaml:2:3: unknown key validate.disabel" in proc.stderr
    (tmp_path / "bot.yaml").write_text("validate:\n  disable: [attribution]\n")
    assert run_bot("validate", cwd=tmp_path).returncode == 0


def test_bare_instructlab_layout_is_found(tmp_path: Path) -> None:
    leaf = tmp_path / "compositional_skills" / "a"
    leaf.mkdir(parents=True)
    (leaf / "qna.yaml").write_text(dump(skill_doc()))
    (leaf / "attribution.txt").write_text("x\n")
    code, out = run_json("validate", cwd=tmp_path)
    assert code == 0 and out["files"][0]["path"] == "compositional_skills/a/qna.yaml"


def test_changed_checks_against_unchanged_leaves(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    docs = {f"l{i}": skill_doc(seed=i) for i in range(8)}
    for name, doc in docs.items():
        repo.write(f"taxonomy/compositional_skills/{name}/qna.yaml", dump(doc))
        repo.write(f"taxonomy/compositional_skills/{name}/attribution.txt", "x\n")
    repo.commit("init")
    changed = skill_doc(seed=100)
    changed["seed_examples"][0] = docs["l3"]["seed_examples"][1]
    repo.write("taxonomy/compositional_skills/l5/qna.yaml", dump(changed))
    (repo.path / "taxonomy/compositional_skills/l6/qna.yaml").unlink()
    for attempt in range(2):  # the second run reads the cached index
        code, out = run_json("validate", "--changed", "--base-ref", "main", cwd=repo.path)
        assert code == 0, attempt
        [f] = out["files"]
        assert f["path"] == "taxonomy/compositional_skills/l5/qna.yaml"
        [w] = f["warnings"]
        assert w["rule"] == "duplicate-across-leaves"
        assert "identical to seed_examples[1] in taxonomy/compositional_skills/l3" in w["message"]
        assert out["deleted"] == ["taxonomy/compositional_skills/l6/qna.yaml"]
    assert (repo.path / ".bot/cache/dupindex-v4.bin").is_file()
    # A leaf committed after the index was built is compared too (from HEAD's blob).
    late = skill_doc(seed=200)
    late["seed_examples"][3] = changed["seed_examples"][2]
    repo.write("taxonomy/compositional_skills/late/qna.yaml", dump(late))
    repo.write("taxonomy/compositional_skills/late/attribution.txt", "x\n")
    repo.stage(
        "taxonomy/compositional_skills/late/qna.yaml",
        "taxonomy/compositional_skills/late/attribution.txt",
    )
    tree = repo.repo.index.write_tree()
    repo.repo.create_commit("HEAD", SIG, SIG, "late", tree, [repo.repo.head.target])
    code, out = run_json("validate", "--changed", "--base-ref", "main", cwd=repo.path)
    messages = sorted(w["message"][:40] for f in out["files"] for w in f["warnings"])
    assert any(
        "in taxonomy/compositional_skills/late" in w["message"]
        for f in out["files"]
        for w in f["warnings"]
    ), messages


def test_validate_path_imports_no_torch(write_leaf: LeafWriter, tmp_path: Path) -> None:
    path = write_leaf("compositional_skills/a", skill_doc())
    code = (
        "import sys; from bot.cli import main; rc = main(['validate', sys.argv[1]]); "
        "bad = [m for m in ('torch', 'transformers', 'numpy') if m in sys.modules]; "
        "print(bad); sys.exit(rc or bool(bad))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_named_files_count_for_their_leaf_or_are_skipped_once(
    write_leaf: LeafWriter, tmp_path: Path
) -> None:
    """pre-commit names attribution.txt and documents too: each checks its leaf's qna.yaml,
    never itself as one; a file that belongs to no leaf gets one line saying so."""
    good = write_leaf("knowledge/k", knowledge_doc(seed=3))
    docs = good.parent / "documents"
    docs.mkdir()
    (docs / "a.md").write_text("# A document\n")
    bad = write_leaf("compositional_skills/bad", skill_doc(n=2, seed=9))
    (tmp_path / "README.md").write_text("# A taxonomy\n")
    code, out = run_json(
        "validate",
        "taxonomy/knowledge/k/attribution.txt",
        "taxonomy/knowledge/k/documents/a.md",
        "taxonomy/knowledge/k/qna.yaml",
        str(bad.parent / "attribution.txt"),
        "README.md",
        cwd=tmp_path,
    )
    assert code == 1
    assert [f["path"] for f in out["files"]] == [
        "taxonomy/knowledge/k/qna.yaml",
        "taxonomy/compositional_skills/bad/qna.yaml",
    ]
    assert [e["rule"] for e in out["files"][1]["errors"]] == ["schema"]
    [skipped] = out["skipped"]
    assert skipped["path"] == "README.md" and "not part of a leaf" in skipped["reason"]
    proc = run_bot("validate", "README.md", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "bot validate: error: README.md: not part of a leaf (no qna.yaml in its folder or above "
        "it); a leaf is a folder with qna.yaml and attribution.txt"
    ]


def test_no_leaves_found_is_said_aloud(tmp_path: Path) -> None:
    (tmp_path / "taxonomy" / "knowledge").mkdir(parents=True)
    proc = run_bot("validate", cwd=tmp_path)
    assert proc.returncode == 0
    assert "no leaves found under taxonomy/" in proc.stdout
    assert "valid" not in proc.stdout
    proc = run_bot("validate", "taxonomy/knowledge", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "bot validate: error: no leaves found in taxonomy/knowledge"


def test_leaves_in_hidden_folders_are_reported(write_leaf: LeafWriter, tmp_path: Path) -> None:
    write_leaf("compositional_skills/a", skill_doc())
    write_leaf("compositional_skills/.drafts/b", skill_doc(seed=2))
    write_leaf(".archive/compositional_skills/c", skill_doc(seed=3))
    proc = run_bot("validate", cwd=tmp_path)
    assert proc.returncode == 0
    assert (
        "taxonomy/compositional_skills/.drafts/b/qna.yaml: skipped: in the hidden folder "
        ".drafts/, which is not part of the taxonomy: not validated"
    ) in proc.stdout
    assert (
        "taxonomy/.archive/compositional_skills/c/qna.yaml: skipped: in the hidden folder "
        ".archive/" in proc.stdout
    )
    assert proc.stdout.rstrip().endswith("1 file valid")
    proc = run_bot("validate", "--format", "github", cwd=tmp_path)
    assert "::warning file=taxonomy/compositional_skills/.drafts/b/qna.yaml,title=skipped::" in (
        proc.stdout
    )


def test_a_bad_flag_shows_the_sub_command_usage(tmp_path: Path) -> None:
    proc = run_bot("validate", "--no-such-flag", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: bot validate ")
    assert "bot validate: error: unrecognized arguments: --no-such-flag" in proc.stderr


def test_the_work_folder_keeps_itself_out_of_git(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("taxonomy/compositional_skills/a/qna.yaml", dump(skill_doc()))
    repo.write("taxonomy/compositional_skills/a/attribution.txt", "x\n")
    repo.commit("init")
    repo.write("taxonomy/compositional_skills/b/qna.yaml", dump(skill_doc(seed=2)))
    repo.write("taxonomy/compositional_skills/b/attribution.txt", "x\n")
    code, _ = run_json("validate", "--changed", "--base-ref", "main", cwd=repo.path)
    assert code == 0 and (repo.path / ".bot/cache").is_dir()
    assert (repo.path / ".bot/.gitignore").read_text().splitlines()[-1] == "*"
    untracked = {p for p, flags in repo.repo.status().items() if flags & FileStatus.WT_NEW}
    assert untracked == {
        "taxonomy/compositional_skills/b/qna.yaml",
        "taxonomy/compositional_skills/b/attribution.txt",
    }
    work = tmp_path / "elsewhere"
    proc = run_bot("generate", "--dry-run", "--work", str(work), "--teacher", "nope", cwd=repo.path)
    assert "Traceback" not in proc.stderr
    assert (work / ".gitignore").is_file()


def test_piped_text_is_rich_s_text_without_importing_rich(
    write_leaf: LeafWriter, tmp_path: Path
) -> None:
    write_leaf("compositional_skills/a", dump(skill_doc()).replace("tester", "tester "))
    write_leaf("compositional_skills/b", skill_doc(seed=1), attribution=False)
    code = (
        "import sys; from bot.cli import main; rc = main(['validate']); "
        "sys.stderr.write(str('rich' in sys.modules)); sys.exit(rc)"
    )
    plain = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert plain.returncode == 1 and plain.stderr.endswith("False"), plain.stderr
    # --summary renders through rich (a table follows the same lines)
    styled = run_bot("validate", "--summary", cwd=tmp_path, env={"COLUMNS": "200"})
    assert styled.stdout.startswith(plain.stdout), (plain.stdout, styled.stdout)
    assert "✗ 1 error, 1 warning in 1 of 2 files" in plain.stdout
