"""Check runs with line annotations, or a commit status where check runs are not permitted.

GitHub takes at most 50 annotations per request: the first batch goes with the
create call, the rest with follow-up updates (GitHub appends them). Check runs
need a GitHub App token (GITHUB_TOKEN is one); a personal token gets 403, and
some servers have no Checks API (404): then a commit status carries the verdict
and the sticky comment carries the details.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal, NamedTuple

from bot.github.client import ApiError, Client

BATCH = 50
SUMMARY_LIMIT = 65_000

Conclusion = Literal["success", "failure", "neutral", "cancelled", "action_required"]


class Annotation(NamedTuple):
    path: str
    line: int
    column: int
    level: Literal["failure", "warning", "notice"]
    title: str
    message: str

    def as_api(self) -> dict[str, Any]:
        line = max(1, self.line)
        return {
            "path": self.path,
            "start_line": line,
            "end_line": line,
            # Columns are only allowed on single-line annotations, which these are.
            "start_column": max(1, self.column),
            "end_column": max(1, self.column),
            "annotation_level": self.level,
            "title": self.title[:255],
            "message": self.message[:60_000],
        }


class Published(NamedTuple):
    kind: Literal["check_run", "status"]
    id: int | None  # the check run's id
    calls: int  # requests that carried annotations


def batches(items: Sequence[Annotation], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield [a.as_api() for a in items[start : start + size]]


def publish(
    client: Client,
    sha: str,
    name: str,
    conclusion: Conclusion,
    title: str,
    summary: str,
    annotations: Sequence[Annotation] = (),
    details_url: str = "",
) -> Published:
    """A completed check run named `name` on `sha`; a commit status if that is refused."""
    groups = list(batches(annotations)) or [[]]
    output = {"title": title[:255], "summary": summary[:SUMMARY_LIMIT], "annotations": groups[0]}
    body: dict[str, Any] = {
        "name": name,
        "head_sha": sha,
        "status": "completed",
        "conclusion": conclusion,
        "output": output,
    }
    if details_url:
        body["details_url"] = details_url
    try:
        run = client.post(client.repo("check-runs"), body)
    except ApiError as exc:
        if exc.status not in (403, 404):
            raise
        client.log(f"check runs not available ({exc.status}); posting a commit status instead")
        status(client, sha, name, conclusion, title, details_url)
        return Published("status", None, 0)
    for group in groups[1:]:
        more = {"title": output["title"], "summary": output["summary"], "annotations": group}
        client.patch(client.repo("check-runs", run["id"]), {"output": more})
    return Published("check_run", int(run["id"]), len(groups) if annotations else 0)


def status(
    client: Client, sha: str, context: str, conclusion: Conclusion, text: str, url: str = ""
) -> None:
    state = {"success": "success", "neutral": "success", "failure": "failure"}.get(
        conclusion, "error"
    )
    body = {"state": state, "context": context, "description": text[:140]}
    if url:
        body["target_url"] = url
    client.post(client.repo("statuses", sha), body)
