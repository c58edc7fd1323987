"""`bot doctor`: is this machine ready to run the bot's jobs? Small checks, one report."""

from __future__ import annotations

from bot.doctor.result import Result, Status
from bot.doctor.run import Settings, run_checks

__all__ = ["Result", "Settings", "Status", "run_checks"]
