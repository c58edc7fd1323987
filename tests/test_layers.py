"""The import rule and the CLI boundary, checked on the source (docs/architecture.md):
`trainer` never imports `bot`; only the command line reads the current directory or calls
the command line."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement in `path` names, with its line (lazy ones too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_trainer_never_imports_bot() -> None:
    upward = [
        f"{f.relative_to(ROOT)}:{line}: import {name}"
        for f in sources("trainer")
        for line, name in imports(f)
        if name == "bot" or name.startswith("bot.")
    ]
    assert upward == []


def test_the_walk_sees_lazy_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from bot.stages import run\n    import bot.cli as c\n")
    assert imports(probe) == [(2, "bot.stages"), (3, "bot.cli")]


CLI = ("bot/cli.py", "bot/__main__.py", "bot/commands/")
# bot simulate plays the workflows, which call the command line; it is a command itself.
PLAYS_THE_CLI = ("bot/simulate/",)


def _below_cli(path: Path) -> bool:
    rel = str(path.relative_to(ROOT))
    return not rel.startswith(CLI + PLAYS_THE_CLI)


def test_only_the_cli_reads_the_current_directory() -> None:
    found = []
    for f in [*sources("bot"), *sources("trainer")]:
        if not _below_cli(f):
            continue
        for node in ast.walk(ast.parse(f.read_text("utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("cwd", "getcwd", "chdir"):
                found.append(f"{f.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
    assert found == []


def test_nothing_below_the_cli_calls_it() -> None:
    found = [
        f"{f.relative_to(ROOT)}:{line}: import {name}"
        for f in [*sources("bot"), *sources("trainer")]
        if _below_cli(f)
        for line, name in imports(f)
        if name == "bot.cli" or name.startswith("bot.commands") or name == "argparse"
    ]
    assert found == []
