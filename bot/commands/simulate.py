"""`bot simulate`: play the contributor -> maintainer -> release lifecycle locally
(bot/simulate/): the GitHub emulator, a bare git repository, tiny sample counts."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bot.commands._common import usage


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="play a PR's whole lifecycle locally against the GitHub emulator",
        description="A PR adding a leaf from a fork: validation (with annotations), the "
        "gate, approval, generation, merge, retrain, the benchmark comment, /release, the "
        "tag and manifest. Prints each step; the bot's comments are kept in OUT/comments/.",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="workspace (default: a new temp dir)")
    p.add_argument("--fast", action="store_true", help="tiny random Llama as teacher and student")


def run(args: argparse.Namespace) -> int:
    from bot.github.emulator import EmulatorError
    from bot.release.state import ReleaseError
    from bot.simulate.play import Sim, SimulationError, lifecycle

    out = (args.out or Path(tempfile.mkdtemp(prefix="bot-simulate-"))).absolute()
    if out.exists() and any(out.iterdir()):
        return usage("simulate", f"{out} is not empty; pass an empty --out")
    out.mkdir(parents=True, exist_ok=True)
    sim = Sim(out, args.fast)
    try:
        lifecycle(sim)
    except (SimulationError, EmulatorError, ReleaseError) as exc:
        print(f"bot simulate: {exc} (workspace kept in {out})", file=sys.stderr)
        return 1
    finally:
        if sim.emu is not None:
            sim.emu.stop()
    print(f"simulation done; workspace {out}, comments in {out / 'comments'}")
    return 0
