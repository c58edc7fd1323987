"""`bot validate --changed`: the working-tree scan (bot/git/scan.py) against libgit2's status.

    .venv/bin/python benchmarks/changed_speed.py [--runs 15] [--leaves 10000] [--seed 1]
        [--json-out FILE]

On the synthetic taxonomy of validate_speed.py --scale (the same cached tree), one leaf is
edited and left uncommitted, and one warm-up run per side builds the caches. Then `--runs`
rounds, the sides alternating within each, every run a fresh process
(benchmarks/_changed_runner.py):
a. the whole command, `bot validate --changed --base-ref HEAD`: wall time of the process;
b. the status step alone: the call that answers `git status`, timed inside the process
   after the imports and opening the repository.
Sides (see _changed_runner.py): scan (what `bot` runs); libgit2 (libgit2's status through its
two diffs, which release the GIL, so the background thread in bot/stages/validate.py overlaps
them with the imports); libgit2-cached (the same, the staged half cached); status
(pygit2's Repository.status, which holds the GIL). Every run must find the edited
leaf and nothing else. Ends with PASS/FAIL for the scan's median (a) < 0.5 s, exit 1 on a
FAIL; the other sides' medians against the same target are printed as INFO.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.*
from rich.console import Console
from rich.table import Table

from benchmarks import _common as c
from benchmarks import _synth

con = Console(highlight=False, width=max(shutil.get_terminal_size().columns, 120))
TARGET = 0.5
SIDES = ("scan", "libgit2", "libgit2-cached", "status")
RUNNER = str(c.HERE / "_changed_runner.py")
COMMAND = ["validate", "--changed", "--base-ref", "HEAD"]


def _child_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_command(side: str, root: Path) -> tuple[float, float]:
    """(wall s, cpu s) of one `bot validate --changed`; exits on a wrong answer."""
    cpu0, t0 = _child_cpu(), c._now()
    proc = subprocess.run(
        [sys.executable, RUNNER, side, "command", *COMMAND],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    wall, cpu = c._now() - t0, _child_cpu() - cpu0
    if proc.returncode != 0 or "1 changed leaf file(s) vs HEAD" not in proc.stdout:
        tail = proc.stdout[-2000:] + proc.stderr[-2000:]
        sys.exit(f"FAIL: {side}: exit {proc.returncode}\n{tail}")
    return wall, cpu


def run_status(side: str, root: Path, edited: str) -> float:
    """Seconds of the status step alone; exits unless it found exactly the edited leaf."""
    proc = subprocess.run(
        [sys.executable, RUNNER, side, "status", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"FAIL: {side} status step: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout)
    if out["paths"] != [edited]:
        sys.exit(f"FAIL: {side} status step found {out['paths'][:5]}, expected [{edited}]")
    return float(out["s"])


def measure(root: Path, edited: str, runs: int) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {
        s: {"command_s": [], "cpu_s": [], "status_s": []} for s in SIDES
    }
    for side in SIDES:  # warm-up: caches (the cross-leaf index, the scan's memo), page cache
        run_command(side, root)
        run_status(side, root, edited)
    for i in range(runs):
        order = SIDES if i % 2 == 0 else SIDES[::-1]  # no side always runs first
        for side in order:
            wall, cpu = run_command(side, root)
            times[side]["command_s"].append(wall)
            times[side]["cpu_s"].append(cpu)
        for side in order:
            times[side]["status_s"].append(run_status(side, root, edited))
    return times


def report(times: dict[str, dict[str, list[float]]], runs: int, n: int) -> dict[str, Any]:
    """Medians, and each side's median difference from the scan within a round (pairs
    run seconds apart, so a load that drifts over the run cancels out)."""
    t = Table(
        title=f"`bot validate --changed`, one edited leaf of {n:,}, caches warm: "
        f"median (min-max) of {runs} fresh processes per side, sides alternating"
    )
    heads = ("side", "a. command wall s", "cpu s", "b. status step s", "a. minus scan, paired")
    for col in heads:
        t.add_column(col, justify="left" if col == "side" else "right")
    out: dict[str, Any] = {}
    scan = times["scan"]["command_s"]
    for side, fig in times.items():
        med = {k: c.median(v) for k, v in fig.items()}
        paired = c.median([x - y for x, y in zip(fig["command_s"], scan, strict=True)])
        out[side] = {**{f"median_{k}": v for k, v in med.items()}, "paired_minus_scan_s": paired}
        out[side]["runs"] = fig
        cells = [f"{med[k]:.3f} ({min(v):.3f}-{max(v):.3f})" for k, v in fig.items()]
        t.add_row(side, *cells, f"{paired:+.3f}")
    con.print(t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--leaves", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json-out", type=Path, help="write every figure here as JSON")
    a = ap.parse_args()
    root, paths, _gen_s, _reused = _synth.cached_tree(c.REPO / ".bot" / "bench", a.leaves, a.seed)
    leaf = paths[a.leaves // 2]
    edited = leaf.relative_to(root).as_posix()
    load_start = os.getloadavg()
    _synth.restore(root, leaf)
    try:
        _synth.edit_leaf(leaf)
        times = measure(root, edited, a.runs)
    finally:
        _synth.restore(root, leaf)
    load_end = os.getloadavg()
    out = {"leaves": a.leaves, "runs": a.runs, "cpus": os.cpu_count(), "sides": {}}
    out.update(loadavg_start=load_start, loadavg_end=load_end)
    out["sides"] = report(times, a.runs, a.leaves)
    loads = " / ".join(f"{x:.2f}" for x in load_start)
    con.print(
        f"load average (1/5/15 min) at the start {loads}, at the end "
        + " / ".join(f"{x:.2f}" for x in load_end)
        + f", on {os.cpu_count()} CPUs"
    )
    if a.json_out:
        a.json_out.write_text(json.dumps(out, indent=2) + "\n")
    ok = True
    for side in SIDES:
        med = out["sides"][side]["median_command_s"]
        if side == "scan":
            ok = med < TARGET
            verdict = "PASS" if ok else "FAIL"
            con.print(f"{verdict}: --changed one leaf, scan: {med:.3f} s < {TARGET} s")
        else:
            by = f"{med - TARGET:+.3f} s ({(med - TARGET) / TARGET:+.0%}) against the target"
            con.print(f"INFO: --changed one leaf, {side}: {med:.3f} s, {by}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
