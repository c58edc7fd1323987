"""How incremental is `bot generate`? A 50-leaf taxonomy, generated in full, then
again with nothing changed, then after editing one leaf; measured in model calls
(the cost that scales with the teacher) and wall time, side by side in one run.

Targets (issue 3): one edited leaf costs at most 1/40 of the full run; a no-change
re-run makes zero model calls. The teacher is a tiny random Llama built here (the
cost structure does not depend on the teacher's quality; `--teacher SPEC` runs the
same with any other, e.g. `embedded`, much more slowly).

    .venv/bin/python benchmarks/generation_incremental.py [--leaves 50] [--teacher SPEC]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import dump, skill_doc  # noqa: E402  (shared leaf builders)
from tests.tiny import build_tiny_model  # noqa: E402


def make_taxonomy(root: Path, n: int) -> None:
    (root / ".git").mkdir(parents=True)
    (root / "bot.yaml").write_text("generate:\n  max_rounds: 1\n")
    for i in range(n):
        folder = root / "taxonomy" / "compositional_skills" / f"leaf_{i:03d}"
        folder.mkdir(parents=True)
        (folder / "qna.yaml").write_text(dump(skill_doc(seed=1000 + i, grounded=i % 4 == 0)))
        (folder / "attribution.txt").write_text("self-authored\n")


def run(root: Path, teacher: str, samples: int) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "generate",
            "--teacher",
            teacher,
            "--samples",
            str(samples),
            "--format",
            "json",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"FAIL: bot generate exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return seconds, json.loads(proc.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leaves", type=int, default=50)
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--teacher", help="model spec (default: a tiny random Llama)")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        teacher = args.teacher or f"hf:{build_tiny_model(Path(tmp) / 'tiny', max_positions=2048)}"
        make_taxonomy(root, args.leaves)
        runs = [("full run", *run(root, teacher, args.samples))]
        runs.append(("no change", *run(root, teacher, args.samples)))
        leaf = root / "taxonomy/compositional_skills/leaf_007/qna.yaml"
        leaf.write_text(leaf.read_text().replace("Skill number", "Edited skill number"))
        runs.append(("one leaf edited", *run(root, teacher, args.samples)))
    table = Table(title=f"bot generate on {args.leaves} leaves, teacher {teacher.split('/')[-1]}")
    for col in ("run", "model calls", "leaves generated", "leaves cached", "wall s", "vs full"):
        table.add_column(col, justify="right" if col != "run" else "left")
    full_calls = runs[0][2]["summary"]["model_calls"]
    figures = {}
    for name, seconds, doc in runs:
        calls = doc["summary"]["model_calls"]
        status = [leaf["status"] for leaf in doc["leaves"]]
        ratio = calls / full_calls if full_calls else 0.0
        table.add_row(
            name,
            str(calls),
            str(status.count("generated")),
            str(status.count("cached")),
            f"{seconds:.1f}",
            f"{ratio:.4f}",
        )
        figures[name] = {"model_calls": calls, "seconds": seconds, "ratio": ratio}
    console.print(table)
    edited, unchanged = figures["one leaf edited"], figures["no change"]
    checks = [
        (
            edited["ratio"] <= 1 / 40,
            f"one edited leaf costs {edited['ratio']:.4f} of the full "
            f"run's model calls (target <= {1 / 40:.4f})",
        ),
        (
            unchanged["model_calls"] == 0,
            f"no-change re-run: {unchanged['model_calls']} model calls (target 0)",
        ),
    ]
    for ok, text in checks:
        console.print(f"{'PASS' if ok else 'FAIL'}: {text}")
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
