"""Runs `bot ARGS` in this interpreter and times it from after `import bot.cli`.

Usage: python _bot_runner.py RESULT.json STDOUT.txt -- ARGS...
File descriptor 1 is redirected to STDOUT.txt for the call (whatever the CLI writes with),
RESULT.json gets {"rc", "import_s", "run_s", "cpu_s"} (cpu_s: user + system CPU from before
the import to the end, worker processes included).
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import sys
import time


def cpu() -> float:
    """User + system CPU seconds of this process and its waited-for children (workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    result, captured, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: _bot_runner.py RESULT STDOUT -- ARGS..."
    cpu0 = cpu()
    t0 = time.perf_counter()
    import bot.cli

    import_s = time.perf_counter() - t0
    saved = os.dup(1)
    rc: object = 0
    with open(captured, "wb") as out:
        sys.stdout.flush()
        os.dup2(out.fileno(), 1)
        sys.argv = ["bot", *args]
        t1 = time.perf_counter()
        try:
            # main(argv) when it takes one, else a main() that reads sys.argv itself
            takes_argv = bool(inspect.signature(bot.cli.main).parameters)
            rc = bot.cli.main(args) if takes_argv else bot.cli.main()
        except SystemExit as exc:
            rc = exc.code
        finally:
            run_s = time.perf_counter() - t1
            sys.stdout.flush()
            os.dup2(saved, 1)
    code = rc if isinstance(rc, int) else (0 if rc is None else 1)
    with open(result, "w") as fh:
        json.dump({"rc": code, "import_s": import_s, "run_s": run_s, "cpu_s": cpu() - cpu0}, fh)


if __name__ == "__main__":
    main()
