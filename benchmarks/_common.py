"""Helpers shared by the benchmark scripts (not a benchmark itself).

Both validators are run as subprocesses in fresh interpreters:
- ours through `_bot_runner.py` in the project venv (or the `bot` console script),
- the anchor, instructlab-schema 0.4.2, through `_anchor_runner.py` in a throwaway
  venv at `.bot/bench-venv` that is created on first use.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# BOT_BENCH_CORPUS points elsewhere (a folder of taxonomies), e.g. to test the skip path.
CORPUS = Path(os.environ.get("BOT_BENCH_CORPUS") or REPO.parent / "shared" / "corpus")
BENCH_VENV = REPO / ".bot" / "bench-venv"
ANCHOR_PIN = "instructlab-schema==0.4.2"
ANCHOR_REQS = (ANCHOR_PIN, "yamllint")


def corpus_roots() -> list[Path]:
    """The taxonomies in ../shared/corpus, or [] (with a message) when it is absent."""
    if not CORPUS.is_dir():
        print(
            f"SKIP: {CORPUS} is not here (it ships in the shared/ folder beside the "
            "checkout); nothing to compare against."
        )
        return []
    return sorted(p for p in CORPUS.iterdir() if p.is_dir())


def leaves(root: Path) -> list[Path]:
    """Every qna.yaml under `root`, sorted (the same list is given to both validators)."""
    return sorted(root.rglob("qna.yaml"))


def bot_command() -> list[str]:
    """How to start `bot`: the console script next to this interpreter, else on PATH."""
    here = Path(sys.executable).parent / "bot"
    if here.exists():
        return [str(here)]
    found = shutil.which("bot")
    if found:
        return [found]
    sys.exit("FAIL: the `bot` console script is missing; run `.venv/bin/pip install -e .`")


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_anchor_venv(quiet: bool = False) -> Path:
    """Create .bot/bench-venv with instructlab-schema + yamllint once; return its python."""
    py = venv_python(BENCH_VENV)
    marker = BENCH_VENV / ".bench-ready"
    if py.exists() and marker.exists() and marker.read_text() == "\n".join(ANCHOR_REQS):
        return py
    if not quiet:
        print(f"Creating {BENCH_VENV} with {' '.join(ANCHOR_REQS)} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(BENCH_VENV)], check=True)
    pip = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *ANCHOR_REQS],
        capture_output=True,
        text=True,
        check=False,
    )
    if pip.returncode != 0:
        sys.exit(f"FAIL: could not install {' '.join(ANCHOR_REQS)}:\n{pip.stderr[-3000:]}")
    marker.write_text("\n".join(ANCHOR_REQS))
    return py


def _is_go_yq(path: str) -> bool:
    """True for mikefarah's yq (what their CI installs); Debian's python `yq` (a jq
    wrapper) fails on `... | line`, costing a subprocess per error for nothing."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return "mikefarah" in (out.stdout + out.stderr)


def anchor_env() -> tuple[dict[str, str], str]:
    """Environment for the anchor, which shells out to `yamllint` and `yq`: the bench venv
    first on PATH; PATH entries holding an incompatible `yq` are left out so that their
    parser takes its documented no-yq path (every line 1). Returns (env, yq description)."""
    env = dict(os.environ)
    dirs = [str(venv_python(BENCH_VENV).parent)]
    yq = "absent: every location is line 1"
    for d in env.get("PATH", "").split(os.pathsep):
        cand = Path(d) / "yq"
        if d and cand.is_file() and os.access(cand, os.X_OK):
            if not _is_go_yq(str(cand)):
                continue
            yq = f"{cand} (mikefarah): one subprocess per schema error"
        dirs.append(d)
    env["PATH"] = os.pathsep.join(dirs)
    return env, yq


@dataclass
class AnchorRun:
    import_s: float
    parse_s: float  # all files, after imports, inside the subprocess
    wall_s: float  # the whole subprocess, interpreter start-up included
    results: dict[str, dict[str, Any]]  # path -> errors, warnings, version, messages
    yq: str
    cpu_s: (
        float  # CPU of imports + parsing, yamllint children included  # which yq their parser found
    )


def run_anchor(files: list[Path], cwd: Path | None = None) -> AnchorRun:
    """Parse `files` with TaxonomyParser(schema_version=0) in a fresh bench-venv process."""
    py = ensure_anchor_venv()
    env, yq = anchor_env()
    payload = json.dumps({"files": [str(f) for f in files]})
    t0 = _now()
    proc = subprocess.run(
        [str(py), str(HERE / "_anchor_runner.py")],
        input=payload,
        text=True,
        capture_output=True,
        env=env,
        cwd=cwd or REPO,
        check=False,
    )
    wall = _now() - t0
    if proc.returncode != 0:
        sys.exit(f"FAIL: the anchor runner failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout)
    return AnchorRun(out["import_s"], out["parse_s"], wall, out["results"], yq, out["cpu_s"])


@dataclass
class BotRun:
    rc: int
    import_s: float  # `import bot.cli` (0 when run through the console script)
    run_s: float  # bot.cli.main(...) after the import, inside the subprocess
    wall_s: float  # the whole subprocess, interpreter start-up included
    stdout: str
    stderr: str
    cpu_s: float = 0.0  # user+system CPU of the process and its children (console script)

    def json(self) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            sys.exit(
                f"FAIL: `bot ... --format json` did not print one JSON document ({exc}); "
                f"rc={self.rc}\nstdout: {self.stdout[:2000]}\nstderr: {self.stderr[-2000:]}"
            )
        return doc


def run_bot_inprocess(args: list[str], cwd: Path | None = None) -> BotRun:
    """Run `bot ARGS` in a fresh project-venv process, timing main() after the import."""
    with tempfile.TemporaryDirectory() as tmp:
        res, cap = Path(tmp) / "result.json", Path(tmp) / "stdout.txt"
        cmd = [sys.executable, str(HERE / "_bot_runner.py"), str(res), str(cap), "--", *args]
        t0 = _now()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd or REPO, check=False)
        wall = _now() - t0
        if not res.exists():
            sys.exit(f"FAIL: bot runner crashed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
        out = json.loads(res.read_text())
        return BotRun(
            out["rc"],
            out["import_s"],
            out["run_s"],
            wall,
            cap.read_text(encoding="utf-8", errors="replace"),
            proc.stderr,
            out["cpu_s"],
        )


def run_bot_cli(args: list[str], cwd: Path | None = None) -> BotRun:
    """Run the `bot` console script as a user would; only wall time is known."""
    before = _child_cpu()
    t0 = _now()
    proc = subprocess.run(
        [*bot_command(), *args], capture_output=True, text=True, cwd=cwd or REPO, check=False
    )
    wall = _now() - t0
    cpu = _child_cpu() - before
    return BotRun(proc.returncode, 0.0, wall, wall, proc.stdout, proc.stderr, cpu)


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def busy() -> str | None:
    """A warning when other work competes for the CPUs (load average above half of them)."""
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > cpus / 2:
        return (
            f"load average {load:.2f} on {cpus} CPUs: other processes compete for the "
            "CPUs, so wall times are inflated; compare the cpu columns, or rerun when idle"
        )
    return None


def bot_paths(doc: dict[str, Any], cwd: Path) -> dict[Path, dict[str, Any]]:
    """`files` of a bot JSON report keyed by resolved path."""
    return {(cwd / f["path"]).resolve(): f for f in doc.get("files", [])}


def _now() -> float:
    import time

    return time.perf_counter()


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"
