"""`bot train` under `accelerate launch` with two CPU processes: the same losses as one
process (token-weighted gradient reduction), and shared files written once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.trainer.train.test_train_cli import LEAVES, export

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "runners" / "accelerate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train(cwd: Path, base: Path, launcher: list[str]) -> dict[str, object]:
    (cwd / ".git").mkdir(parents=True)
    export(cwd / ".bot", LEAVES, rows=9)
    done = subprocess.run(
        [*launcher, "-m", "bot", "train", "--base-model", str(base), "--format", "json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)  # one JSON document: only the main process prints


@pytest.mark.parametrize("config", sorted(CONFIG.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_accelerate_config_is_valid(config: Path) -> None:
    from accelerate.commands.config.config_args import ClusterConfig

    parsed = ClusterConfig.from_yaml_file(str(config))
    assert parsed.num_processes >= 1


def test_two_processes_train_exactly_like_one(tiny_base: Path, tmp_path: Path) -> None:
    accelerate = Path(sys.executable).with_name("accelerate")
    two = train(
        tmp_path / "two",
        tiny_base,
        [
            str(accelerate),
            "launch",
            "--config_file",
            str(CONFIG / "cpu-multiprocess.yaml"),
            "--main_process_port",
            str(free_port()),
        ],
    )
    one = train(tmp_path / "one", tiny_base, [sys.executable])
    losses = [[p["final_loss"] for p in run["phases"]] for run in (one, two)]  # type: ignore[index, union-attr]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert [p["samples"] for p in two["phases"]] == [p["samples"] for p in one["phases"]]  # type: ignore[index, union-attr]
    replay = tmp_path / "two" / ".bot" / "replay" / "versions"
    assert len(list(replay.glob("*.json"))) == 1  # the buffer was updated once
