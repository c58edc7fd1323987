"""Every check the validator runs, each under a stable rule id.

The table here is the single source of truth for rule ids and severities;
schema/README.md documents each one and a test keeps the two in step.
"""

from __future__ import annotations

from typing import NamedTuple

from bot.validation.problems import Severity

E, W = Severity.ERROR, Severity.WARNING


class Rule(NamedTuple):
    id: str
    severity: Severity
    summary: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("schema", E, "the file does not match the JSON Schema of its version and kind"),
        Rule("version", E, "version is missing where required, or not 1, 2 or 3"),
        Rule(
            "version-required",
            E,
            "a new or changed leaf declares a lower version than --require-version",
        ),
        Rule("knowledge-version", E, "knowledge leaves need version 3"),
        Rule("encoding", E, "not UTF-8 text: binary, UTF-16, invalid bytes or a byte-order mark"),
        Rule("file-size", E, "file larger than 1 MiB"),
        Rule("yaml-syntax", E, "YAML that does not parse, or more than one document"),
        Rule("yaml-empty", E, "empty file or no YAML document"),
        Rule("yaml-duplicate-key", E, "the same key twice in one mapping"),
        Rule("yaml-anchors", E, "anchors and aliases (&a, *a)"),
        Rule("yaml-tags", E, "explicit tags other than the standard scalar, map and seq tags"),
        Rule("yaml-limits", E, "nesting deeper than 32 levels or more than 100,000 nodes"),
        Rule("yaml-tabs", E, "a tab character in indentation"),
        Rule("yaml-trailing-spaces", W, "whitespace at the end of a line"),
        Rule("yaml-final-newline", W, "no newline at the end of the file"),
        Rule("file-name", E, "a leaf file not named exactly qna.yaml"),
        Rule("symlink", E, "a symbolic link that points outside the repository"),
        Rule(
            "layout-branch",
            W,
            "a leaf outside knowledge/, compositional_skills/, foundational_skills/",
        ),
        Rule("leaf-nesting", E, "a leaf folder inside another leaf folder"),
        Rule("attribution", E, "attribution.txt missing or empty beside a version >= 2 leaf"),
        Rule("blank-text", E, "a question, answer, context or description that is only whitespace"),
        Rule("unknown-key", W, "extra keys in knowledge questions_and_answers items (ignored)"),
        Rule("document-commit", E, "document.commit is not a full 40-hex commit id"),
        Rule(
            "document-patterns",
            E,
            "a document pattern that is blank, absolute, escapes the tree or cannot match markdown",
        ),
        Rule(
            "document-fetch",
            E,
            "with --documents: repository or commit not found, or no markdown "
            "document matches the patterns",
        ),
        Rule(
            "size-limit",
            W,
            "text longer than the student's context window allows (error when it "
            "cannot fit at all)",
        ),
        Rule(
            "duplicate-example", E, "two seed examples of one leaf are identical or near-identical"
        ),
        Rule("duplicate-across-leaves", W, "a seed example near-identical to one in another leaf"),
    )
}
