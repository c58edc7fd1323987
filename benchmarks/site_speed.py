"""How fast is `bot site`, and how large are its pages, for a 1,000-leaf taxonomy?

    .venv/bin/python benchmarks/site_speed.py [--leaves 1000] [--merges 24] [--seed 1]
        [--runs 3] [--keep DIR]

A synthetic taxonomy (benchmarks/_synth.py, committed in a real git repository) gets a
plausible work folder (tests/bot/site/synth.py): a generation record and exported samples
for every leaf, --merges kept retrain reports covering every leaf learnt so far (one of an
older format), two releases with manifests and a release benchmark. Then the site stage
runs as `bot site` does, validation of the whole taxonomy included, --runs times; the best
and the worst wall time, the page count, the largest page and the whole site's size are
printed.

Targets (issue 19): the whole site in under 60 s; every page under 1 MiB.
Ends with PASS/FAIL lines; exit 1 on a FAIL.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _synth  # noqa: E402
from bot.stages.site import SiteRequest, site  # noqa: E402
from bot.workspace import Workspace  # noqa: E402
from tests.bot.site import synth  # noqa: E402  (the site tests' workspace builder)

TIME_TARGET, PAGE_TARGET = 60.0, 1024 * 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leaves", type=int, default=1000)
    ap.add_argument("--merges", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="build here and keep it (default: a temp folder)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="site-speed-"))
    try:
        folder = args.keep.absolute() if args.keep else tmp
        root = folder / "repo"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        t0 = time.perf_counter()
        files = _synth.generate(root, args.leaves, args.seed)
        ws = Workspace.open(root)
        leaves = sorted(str(f.parent.relative_to(root)) for f in files)
        synth.workspace(root, ws.layout.work, leaves, merges=args.merges, seed=args.seed)
        print(
            f"set-up: {args.leaves} leaves, {args.merges} kept reports in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        times, out = [], folder / "site"
        for _ in range(args.runs):
            t1 = time.perf_counter()
            result = site(ws, SiteRequest(out=out))
            times.append(time.perf_counter() - t1)
        sizes = {p: p.stat().st_size for p in out.rglob("*") if p.is_file()}
        pages = {p: s for p, s in sizes.items() if p.suffix == ".html"}
        largest = max(pages, key=lambda p: pages[p])
        print(
            f"site: {result.pages} pages, {sum(sizes.values()) / 2**20:.1f} MiB in all; "
            f"largest {largest.relative_to(out)} {pages[largest] / 1024:.0f} KiB"
        )
        for name in ("index.html", "history.html", "taxonomy.html"):
            print(f"  {name}: {(out / name).stat().st_size / 1024:.0f} KiB")
        print(
            f"build (validation included): best {min(times):.2f} s, worst {max(times):.2f} s "
            f"of {args.runs}"
        )
        checks = [
            (f"site build < {TIME_TARGET:.0f} s", f"{max(times):.2f} s", max(times) < TIME_TARGET),
            (
                "every page < 1 MiB",
                f"{pages[largest] / 1024:.0f} KiB",
                pages[largest] < PAGE_TARGET,
            ),
        ]
        for what, got, ok in checks:
            print(f"{'PASS' if ok else 'FAIL'}: {what}: {got}")
        return 0 if all(ok for _, _, ok in checks) else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
