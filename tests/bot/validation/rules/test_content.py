from __future__ import annotations

from pathlib import Path

from bot.taxonomy.find import place
from bot.validation.check import Options, check_file
from bot.validation.problems import Severity
from tests.conftest import LeafWriter, dump, knowledge_doc, skill_doc


def found(path: Path, **opts: object) -> list[tuple[str, Severity, str]]:
    res = check_file(place(path), Options(repo_root=path.parents[3], **opts))  # type: ignore[arg-type]
    return [(p.rule, p.severity, p.message) for p in res.problems]


def test_blank_text(write_leaf: LeafWriter) -> None:
    doc = skill_doc()
    doc["seed_examples"][1]["question"] = "   "
    [(rule, sev, msg)] = found(write_leaf("compositional_skills/a", doc))
    assert (rule, sev) == ("blank-text", Severity.ERROR)
    assert "seed_examples[1].question is only whitespace" in msg


def test_extra_qa_keys_warn(write_leaf: LeafWriter) -> None:
    doc = knowledge_doc()
    doc["seed_examples"][0]["questions_and_answers"][0]["source"] = "page 3"
    assert [(r, s) for r, s, _ in found(write_leaf("knowledge/a", doc))] == [
        ("unknown-key", Severity.WARNING)
    ]


def test_document_commit_and_patterns(write_leaf: LeafWriter) -> None:
    doc = knowledge_doc(
        document={
            "repo": "https://example.org/x",
            "commit": "main",
            "patterns": ["/abs/*.md", "../up.md", "notes.txt", "ok/*.md"],
        }
    )
    rules = [r for r, _, _ in found(write_leaf("knowledge/a", doc))]
    assert rules == [
        "document-commit",
        "document-patterns",
        "document-patterns",
        "document-patterns",
    ]


def test_size_limits_warn_then_error(write_leaf: LeafWriter) -> None:
    doc = skill_doc()
    doc["seed_examples"][0]["answer"] = " ".join(f"w{i}" for i in range(2500))
    doc["seed_examples"][1]["answer"] = " ".join(f"v{i}" for i in range(3200))
    got = [(r, s) for r, s, _ in found(write_leaf("compositional_skills/a", doc))]
    assert got == [("size-limit", Severity.WARNING), ("size-limit", Severity.ERROR)]


def test_size_limit_scales_with_window(write_leaf: LeafWriter) -> None:
    doc = knowledge_doc()
    doc["seed_examples"][0]["context"] = " ".join(f"w{i}" for i in range(300))
    path = write_leaf("knowledge/a", doc)
    assert found(path) == []
    assert [r for r, _, _ in found(path, window=2048)] == ["size-limit"]


def test_tokenizer_counts_tokens(write_leaf: LeafWriter, tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    # A character-level tokenizer: every character is a token.
    vocab = {c: i for i, c in enumerate(sorted(set("abcdefghijklmnopqrstuvwxyz0123456789 ")))}
    vocab["[UNK]"] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.save(str(tmp_path / "tokenizer.json"))
    doc = knowledge_doc()
    doc["seed_examples"][0]["context"] = "abcdefghij " * 80  # 160 words but 880 characters
    path = write_leaf("knowledge/a", doc)
    assert found(path) == []
    assert [r for r, _, _ in found(path, tokenizer=str(tmp_path / "tokenizer.json"))] == [
        "size-limit"
    ]


def test_hygiene_warnings_do_not_block(write_leaf: LeafWriter) -> None:
    text = dump(skill_doc()).replace("tester", "tester  ").rstrip("\n")
    got = sorted({(r, s) for r, s, _ in found(write_leaf("compositional_skills/a", text))})
    assert got == [
        ("yaml-final-newline", Severity.WARNING),
        ("yaml-trailing-spaces", Severity.WARNING),
    ]
