"""Ctrl-C and `kill` stop a long command the same way: as an exception in the main thread,
so each stage fails at a clean point (bot/stages/run.py maps it to "interrupted during
<stage>"), work already written stays (checkpoints and stores are written atomically) and
the next run continues where this one stopped.

Two things need saying to Python for that:
- SIGINT becomes KeyboardInterrupt only when the process started with SIGINT at its default
  disposition. A process started in the background of a non-interactive shell (`bot run &`
  in a script, some CI and job runners) inherits SIGINT *ignored*; Python then installs no
  handler and Ctrl-C, or `kill -INT`, does nothing at all: the run goes on to the end and
  exits 0.
- SIGTERM (what `kill`, CI runners on cancel and systemd send) kills Python on the spot,
  with no message and exit status -15.

An exception raised by a signal handler can also be lost: the handler runs at whatever
Python bytecode the main thread is at, and C code that calls back into Python (a library's
hook, an attribute or dict lookup) may clear the error it sees without a word. CI saw a
SIGTERM sent mid-training vanish that way once in dozens of runs: the run went on to the end
and exited 0. So the handlers also record the signal, and the long stages call `check()` at
their safe points (each training step, the end of each stage), which raises it again.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGINT_EXIT = 128 + signal.SIGINT  # 130, what a shell reports for a process killed by Ctrl-C
SIGTERM_EXIT = 128 + signal.SIGTERM  # 143

_received: list[int] = []  # signals received within interruptible(), oldest first


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so every handler of one handles both."""


def exit_code(exc: KeyboardInterrupt) -> int:
    """The conventional exit status of a process stopped by the signal behind `exc`."""
    return SIGTERM_EXIT if isinstance(exc, Terminated) else SIGINT_EXIT


def what(exc: KeyboardInterrupt) -> str:
    """The word for what stopped the command: "terminated" (SIGTERM) or "interrupted"."""
    return "terminated" if isinstance(exc, Terminated) else "interrupted"


def check() -> None:
    """Raise the stop that a signal received within interruptible() asked for, if any: a
    no-op unless one came, so safe points call it freely. It raises again on every call: a
    process asked to stop keeps stopping at each safe point until interruptible() exits."""
    if _received:
        raise Terminated if _received[-1] == signal.SIGTERM else KeyboardInterrupt


@contextmanager
def interruptible() -> Iterator[None]:
    """Within: SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated in this
    process's main thread, whatever dispositions the process inherited; the previous
    handlers are restored on exit. Outside the main thread (where handlers cannot be set)
    it changes nothing.

    A process forked inside (a multiprocessing pool) keeps SIGTERM's default meaning:
    `Pool.terminate()` ends its workers with SIGTERM, which must not become an exception
    and a traceback in each of them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        _received.append(signum)
        raise KeyboardInterrupt

    def terminate(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:  # a forked child: die of SIGTERM, as without this handler
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        _received.append(signum)
        raise Terminated

    _received.clear()
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, interrupt),
        signal.SIGTERM: signal.signal(signal.SIGTERM, terminate),
    }
    try:
        yield
    finally:
        _received.clear()
        for signum, handler in previous.items():
            # None: a handler not set from Python; the default is the closest there is.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
