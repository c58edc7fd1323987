"""How fast is `bot validate`? Start-up, the real corpus against instructlab-schema, and scale.

    .venv/bin/python benchmarks/validate_speed.py [--startup] [--corpus] [--scale]
        [--runs 10] [--reps 5] [--leaves 10000] [--seed 1] [--json-out FILE]

No part flag means all parts. Ends with one PASS/FAIL line per target; exit 1 on a FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.*
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchmarks import _common as c
from benchmarks import _synth

con = Console(highlight=False, width=max(shutil.get_terminal_size().columns, 120))
STARTUP_TARGET, SPEEDUP_TARGET, FULL_TARGET, CHANGED_TARGET = 0.25, 5.0, 10.0, 0.5
Check = tuple[str, str, bool]  # (what, measured vs target, ok)


def startup(runs: int, checks: list[Check]) -> dict[str, Any]:
    """One leaf on the command line; wall time of the whole `bot` process."""
    base = c.REPO / ".bot" / "bench" / "startup" / "compositional_skills" / "writing" / "one"
    base.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    (base / "qna.yaml").write_text(_synth.skill(rng, False), encoding="utf-8")
    (base / "attribution.txt").write_text(_synth.attribution(rng, "one"), encoding="utf-8")
    leaf = base / "qna.yaml"
    args = ["validate", str(leaf)]
    first = c.run_bot_cli(args)  # warms the page cache and .pyc files; not counted
    if first.rc != 0:
        sys.exit(f"FAIL: `bot validate {leaf}` exited {first.rc}:\n{first.stdout}{first.stderr}")
    times = [c.run_bot_cli(args).wall_s for _ in range(runs)]
    bare = [_wall([sys.executable, "-c", "pass"]) for _ in range(runs)]
    med = c.median(times)
    t = Table(title=f"a. start-up: `bot validate <one leaf>`, {runs} runs, wall incl. start-up")
    for col in ("what", "median s", "min s", "max s"):
        t.add_column(col, justify="right" if col != "what" else "left")
    for what, xs in (("bot validate (console script)", times), ("python -c pass", bare)):
        t.add_row(what, *(f"{f(xs):.3f}" for f in (c.median, min, max)))
    con.print(t)
    out: dict[str, Any] = {"runs": runs, "median_s": med, "min_s": min(times)}
    out.update(max_s=max(times), python_floor_s=c.median(bare), runs_s=times)
    if med >= STARTUP_TARGET:
        out["importtime_top"] = importtime(args)
    checks.append(
        ("start-up (one leaf, wall)", f"{med:.3f} s < {STARTUP_TARGET} s", med < STARTUP_TARGET)
    )
    return out


def _wall(cmd: list[str]) -> float:
    t0 = c._now()
    subprocess.run(cmd, check=False, capture_output=True)
    return c._now() - t0


def importtime(args: list[str], top: int = 15) -> list[dict[str, Any]]:
    """`python -X importtime` of the same command: the slowest imports by cumulative time."""
    script = c.bot_command()[0]
    cmd = [sys.executable, "-X", "importtime", script, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=c.REPO)
    rows: list[dict[str, Any]] = []
    for line in proc.stderr.splitlines():
        if m := re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line):
            ms, cum = int(m[1]) / 1000, int(m[2]) / 1000
            rows.append(
                {"module": m[4], "self_ms": ms, "cumulative_ms": cum, "depth": len(m[3]) // 2}
            )
    rows.sort(key=lambda r: -r["cumulative_ms"])
    shown = rows[:top]
    t = Table(title="python -X importtime: top imports by cumulative time (over target)")
    for col in ("module", "depth", "self ms", "cumulative ms"):
        t.add_column(col, justify="left" if col == "module" else "right")
    for r in shown:
        t.add_row(r["module"], str(r["depth"]), f"{r['self_ms']:.1f}", f"{r['cumulative_ms']:.1f}")
    con.print(t)
    return shown


def corpus(reps: int, checks: list[Check]) -> dict[str, Any] | None:
    """Both corpus taxonomies, the same files, both validators in fresh processes."""
    roots = c.corpus_roots()
    if not roots:
        return None
    c.ensure_anchor_venv()
    out: dict[str, Any] = {"reps": reps, "taxonomies": {}}
    t = Table(title=f"b. corpus: median of {reps} fresh processes per side (after 1 warm-up)")
    heads = "taxonomy,files,anchor s,bot s,speed-up,anchor cpu,bot cpu,ratio,anchor wall,"
    for col in (heads + "bot wall,ratio").split(","):
        t.add_column(col, justify="left" if col == "taxonomy" else "right")
    pairs = {"": ("import_s+parse_s", "import_s+run_s"), "cpu_": ("cpu_s", "cpu_s")}
    pairs["wall_"] = ("wall_s", "wall_s")
    total: dict[str, Any] = {"files": 0}
    for root in roots:
        files = c.leaves(root)
        anchor: list[c.AnchorRun] = []
        bot: list[c.BotRun] = []
        for i in range(reps + 1):  # alternate the sides so drift hits both alike
            a = c.run_anchor(files)
            b = c.run_bot_inprocess(["validate", "--format", "json", str(root)])
            if i == 0:  # warm-up; check that both examined the same files
                seen = set(c.bot_paths(b.json(), c.REPO))
                if seen != {f.resolve() for f in files} or b.rc not in (0, 1):
                    sys.exit(
                        f"FAIL: bot examined {len(seen)} files (rc {b.rc}), the anchor "
                        f"{len(files)}: {sorted(map(str, seen ^ set(files)))[:5]}"
                    )
                continue
            anchor.append(a)
            bot.append(b)
        fig: dict[str, Any] = {"files": len(files)}
        for pre, (ak, bk) in pairs.items():
            for side, runs, key in (("anchor", anchor, ak), ("bot", bot, bk)):
                xs = [sum(getattr(r, k) for k in key.split("+")) for r in runs]
                fig[f"{side}_{pre}s"], fig[f"{side}_{pre}runs_s"] = c.median(xs), xs
                total[f"{side}_{pre}s"] = total.get(f"{side}_{pre}s", 0) + c.median(xs)
        out["taxonomies"][root.name] = fig
        total["files"] += len(files)
    for name, fig in [*out["taxonomies"].items(), ("both", total)]:
        cells = []
        for pre in pairs:
            fig[f"{pre}speedup"] = fig[f"anchor_{pre}s"] / fig[f"bot_{pre}s"]
            cells += [f"{fig[f'anchor_{pre}s']:.3f}", f"{fig[f'bot_{pre}s']:.3f}"]
            cells.append(f"{fig[f'{pre}speedup']:.1f}x")
        t.add_row(name.removeprefix("instructlab-taxonomy-"), str(fig["files"]), *cells)
        x = fig["speedup"]
        checks.append(
            (f"corpus {name} speed-up", f"{x:.1f}x >= {SPEEDUP_TARGET}x", x >= SPEEDUP_TARGET)
        )
    out["both"] = total
    con.print(t)
    out["anchor_yq"] = anchor[-1].yq
    out["method"] = (
        "Both sides run in fresh processes on the same files. s (the target): time inside the "
        "process after interpreter start-up, i.e. imports + validation. cpu: user+system CPU "
        "of that span, child processes (yamllint; bot workers) included. wall: the whole "
        "subprocess incl. interpreter start-up. anchor: instructlab-schema 0.4.2 in "
        ".bot/bench-venv, `import instructlab.schema.taxonomy`, then "
        "TaxonomyParser(schema_version=0).parse() of every qna.yaml (incl. its yamllint "
        f"subprocess per v2+ file; yq {anchor[-1].yq}). bot: `import bot.cli`, then "
        "bot.cli.main(['validate','--format','json',ROOT]) (incl. its lazy imports, discovery "
        "of the same files, all rules incl. cross-leaf duplicates, worker processes, JSON output)."
    )
    con.print(f"[dim]{out['method']}[/dim]")
    return out


def scale(n: int, seed: int, checks: list[Check]) -> dict[str, Any]:
    """A synthetic taxonomy of n leaves in a git repo: full run, then --changed after one edit.
    Timed runs use the default text output, as typed by a user; a JSON run follows each
    pair to verify what was examined (file count, no errors)."""
    root, paths, gen_s, reused = _synth.cached_tree(c.REPO / ".bot" / "bench", n, seed)
    how = f"reused the cached tree, which took {gen_s:.1f} s to generate" if reused else ""
    how = how or f"generated in {gen_s:.1f} s, cached for later runs"
    con.print(f"c. synthetic taxonomy: {n:,} leaves in {root} ({how})")
    leaf = paths[n // 2]
    _synth.restore(root, leaf)
    runs: dict[str, dict[str, Any]] = {}

    def timed(label: str, args: list[str], files: int | None = None) -> dict[str, Any]:
        r = c.run_bot_cli(args if files is None else [*args, "--format", "json"], cwd=root)
        row: dict[str, Any] = {"wall_s": r.wall_s, "cpu_s": r.cpu_s, "rc": r.rc}
        runs[label] = row
        if files is not None:
            doc = r.json()
            row.update(doc["summary"])
            row["error_rules"] = sorted({p["rule"] for f in doc["files"] for p in f["errors"]})
            row["ok"] = doc["summary"]["files"] == files and r.rc == 0
            row["paths"] = [f["path"] for f in doc["files"]][:3]
        if r.rc != 0:
            con.print(
                f"[red]{label}: exit {r.rc}[/red] {escape(r.stdout[-800:] + r.stderr[-800:])}"
            )
        return row

    full, changed = ["validate", str(root)], ["validate", "--changed", "--base-ref", "HEAD"]
    shutil.rmtree(root / ".bot", ignore_errors=True)  # as in a fresh clone
    cold = timed("full, cold (no .bot/)", full)
    timed("full, again", full)
    verify_full = timed("full, --format json (check)", full, n)
    try:
        _synth.edit_leaf(leaf)
        shutil.rmtree(root / ".bot", ignore_errors=True)
        ch1 = timed("--changed, 1st (no .bot/)", changed)
        ch2 = timed("--changed, 2nd", changed)
        verify_ch = timed("--changed, --format json (check)", changed, 1)
    finally:
        _synth.restore(root, leaf)
    t = Table(
        title=f"c. scale: {n:,} synthetic v3 leaves (seed {seed}), wall time of `bot` incl. "
        "interpreter start, run from inside the repo"
    )
    for col in ("run", "wall s", "cpu s", "exit", "files", "errors", "warnings", "error rules"):
        t.add_column(col, justify="left" if col in ("run", "error rules") else "right")
    for label, r in runs.items():
        cells = [str(r.get(k, "")) for k in ("rc", "files", "errors", "warnings")]
        t.add_row(
            label,
            f"{r['wall_s']:.3f}",
            f"{r['cpu_s']:.2f}",
            *cells,
            ", ".join(r.get("error_rules", [])),
        )
    con.print(t)
    full_ok = cold["rc"] == 0 and verify_full["ok"]
    checks.append(
        (
            f"full {n:,} leaves, cold",
            f"{cold['wall_s']:.2f} s < {FULL_TARGET} s"
            + ("" if full_ok else " [json check failed]"),
            full_ok and cold["wall_s"] < FULL_TARGET,
        )
    )
    edited = leaf.relative_to(root).as_posix()
    ch_ok = ch2["rc"] == 0 and verify_ch["ok"] and verify_ch["paths"][0].endswith(edited)
    checks.append(
        (
            "--changed one leaf, 2nd run",
            f"{ch2['wall_s']:.3f} s < {CHANGED_TARGET} s"
            + ("" if ch_ok else " [json check failed]"),
            ch_ok and ch2["wall_s"] < CHANGED_TARGET,
        )
    )
    checks.append(
        (
            "--changed one leaf, 1st run (info, builds .bot/cache)",
            f"{ch1['wall_s']:.3f} s, exit {ch1['rc']}",
            ch1["rc"] == 0,
        )
    )
    out = {"leaves": n, "seed": seed, "generated_s": gen_s, "reused": reused, "tree": str(root)}
    return {**out, "runs": runs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--startup", action="store_true", help="part a: start-up with one leaf")
    ap.add_argument("--corpus", action="store_true", help="part b: corpus vs instructlab-schema")
    ap.add_argument("--scale", action="store_true", help="part c: synthetic 10k-leaf taxonomy")
    ap.add_argument("--runs", type=int, default=10, help="start-up runs (default 10)")
    ap.add_argument("--reps", type=int, default=5, help="corpus repetitions (default 5)")
    ap.add_argument("--leaves", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json-out", type=Path, help="write every figure here as JSON")
    a = ap.parse_args()
    every = not (a.startup or a.corpus or a.scale)
    checks: list[Check] = []
    if warn := c.busy():
        con.print(f"[yellow]WARNING at start: {warn}[/yellow]")
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "loadavg_start": os.getloadavg(),
        }
    }
    if every or a.startup:
        report["startup"] = startup(a.runs, checks)
    if every or a.corpus:
        report["corpus"] = corpus(a.reps, checks)
    if every or a.scale:
        report["scale"] = scale(a.leaves, a.seed, checks)
    report["machine"]["loadavg_end"] = os.getloadavg()
    if warn := c.busy():
        con.print(f"[yellow]WARNING at end: {warn}[/yellow]")
    report["checks"] = [{"what": w, "result": r, "pass": ok} for w, r, ok in checks]
    if a.json_out:
        a.json_out.write_text(json.dumps(report, indent=2) + "\n")
        con.print(f"figures written to {a.json_out}")
    for what, result, ok in checks:
        con.print(f"{'PASS' if ok else 'FAIL'}: {what}: {result}", style="green" if ok else "red")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
