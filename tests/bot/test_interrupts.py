"""Ctrl-C and SIGTERM inside `interruptible()`: exceptions in the main thread, whatever the
process inherited; the old handlers back afterwards; forked children untouched."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from bot.cli import main
from bot.interrupts import Terminated, exit_code, what

SIGNAL_ITSELF = """
import os, signal, sys, time
from bot.interrupts import Terminated, interruptible

sig = getattr(signal, sys.argv[1])
with interruptible():
    try:
        os.kill(os.getpid(), sig)
        time.sleep(30)
        print("not stopped")
    except Terminated:
        print("Terminated")
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
print("restored", signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
      signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
"""


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        # As in a shell's background job: Python itself would not raise KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


@pytest.mark.parametrize(
    ("sig", "raised"), [("SIGINT", "KeyboardInterrupt"), ("SIGTERM", "Terminated")]
)
def test_signals_raise_in_the_main_thread_even_when_sigint_was_ignored(
    sig: str, raised: str
) -> None:
    done = _run(SIGNAL_ITSELF, sig)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [raised, "restored True True"]


def test_a_forked_child_still_dies_of_sigterm() -> None:
    done = _run(
        """
        import os, signal, time
        from bot.interrupts import interruptible

        with interruptible():
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            time.sleep(0.2)
            os.kill(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
        print(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM)
        """
    )
    assert done.stdout.strip() == "True" and "Traceback" not in done.stderr, done.stderr


def test_exit_codes_and_words() -> None:
    assert (exit_code(KeyboardInterrupt()), what(KeyboardInterrupt())) == (130, "interrupted")
    assert (exit_code(Terminated()), what(Terminated())) == (143, "terminated")


@pytest.mark.parametrize(("error", "code"), [(KeyboardInterrupt(), 130), (Terminated(), 143)])
def test_the_cli_exits_like_a_shell_reports_the_signal(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: KeyboardInterrupt,
    code: int,
) -> None:
    def stopped(args: object) -> int:
        raise error

    monkeypatch.setattr("bot.commands.simulate.run", stopped)
    assert main(["simulate"]) == code
    assert capsys.readouterr().err.strip() == what(error)


SWALLOWED = """
import os, signal, sys, time
from bot.interrupts import check, interruptible

sig = getattr(signal, sys.argv[1])
with interruptible():
    check()  # nothing received yet: no-op
    try:  # what a library's catch-all can do to the handler's exception
        os.kill(os.getpid(), sig)
        time.sleep(30)
    except BaseException:
        pass
    for _ in range(2):  # each safe point raises it again
        try:
            check()
            print("not stopped")
        except KeyboardInterrupt as exc:
            print(type(exc).__name__)
check()  # outside: forgotten
print("after")
"""


@pytest.mark.parametrize(
    ("sig", "raised"), [("SIGINT", "KeyboardInterrupt"), ("SIGTERM", "Terminated")]
)
def test_a_signal_whose_exception_was_swallowed_stops_at_the_next_check(
    sig: str, raised: str
) -> None:
    done = _run(SWALLOWED, sig)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == [raised, raised, "after"]
