"""`bot serve` as a user runs it: a real process, a real port, SIGTERM to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.trainer.models.conftest import CONVERSATIONS
from trainer.models import GenerationParams, load_model

REPO = Path(__file__).resolve().parents[3]


def _bot(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ},
    )


def test_serve_answers_and_stops_cleanly(tiny_dir: Path) -> None:
    proc = _bot("serve", f"hf:{tiny_dir}", "--port", "0", "--model-name", "tiny")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving hf:"), (line, proc.stderr.read() if proc.stderr else "")
        url = line.rsplit(" at ", 1)[1].strip()
        with load_model(f"openai:{url}#tiny") as model:
            [reply] = model.generate(CONVERSATIONS[:1], GenerationParams(max_new_tokens=4))
            assert reply.completion_tokens >= 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.communicate()


def test_serve_usage_errors(tmp_path: Path) -> None:
    proc = _bot("serve", "gpt2")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "unknown model spec 'gpt2'" in err
    proc = _bot("serve", f"hf:{tmp_path}", "--port", "0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "no config.json" in err


def test_importing_the_command_does_not_import_torch() -> None:
    code = (
        "import sys, bot.commands.serve, trainer.models; "
        "sys.exit(any(m in sys.modules for m in ('torch', 'transformers')))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
