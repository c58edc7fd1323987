"""Starting GPU work: dispatch the workflow that does it, from the default branch.

`workflow_dispatch` on the default branch's ref means the workflow file (and the
bot code it checks out) comes from the default branch, never from the PR. The
inputs name the PR and the exact head SHA that was approved; the dispatched
workflow runs `bot gh gate --pr N --sha SHA` before it touches a GPU.

Where the dispatch endpoint answers 404 (the workflow file is not on the base
branch, or a server, such as the test emulator, cannot register workflows) the
request is recorded as a `bot:ACTION` label on the PR instead, and the reply
says so: the fallback is visible, never silent.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from bot.config import GithubConfig
from bot.github.client import ApiError, Client
from bot.github.trust import set_label

Action = Literal["generate", "benchmark", "retrain", "release"]


class Started(NamedTuple):
    action: str
    how: Literal["dispatched", "labelled"]
    workflow: str
    ref: str

    def describe(self) -> str:
        if self.how == "dispatched":
            return f"started workflow `{self.workflow}` on `{self.ref}`"
        return (
            f"workflow `{self.workflow}` could not be dispatched on `{self.ref}` (404), "
            f"so the request is recorded as label `bot:{self.action}`"
        )


def workflow_for(cfg: GithubConfig, action: Action) -> str:
    return {
        "generate": cfg.generate_workflow,
        "benchmark": cfg.benchmark_workflow,
        "retrain": cfg.retrain_workflow,
        "release": cfg.release_workflow,
    }[action]


def start(
    client: Client,
    cfg: GithubConfig,
    action: Action,
    ref: str,
    inputs: dict[str, str],
    pr: int | None = None,
) -> Started:
    workflow = workflow_for(cfg, action)
    try:
        client.post(
            client.repo("actions", "workflows", workflow, "dispatches"),
            {"ref": ref, "inputs": inputs},
        )
    except ApiError as exc:
        if exc.status != 404 or pr is None:
            raise
        set_label(client, pr, f"bot:{action}", present=True)
        return Started(action, "labelled", workflow, ref)
    return Started(action, "dispatched", workflow, ref)
