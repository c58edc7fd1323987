"""One authenticated github3.py session per run: base URL, retries, timeouts, clear errors.

Every call builds its URL from the configured API root; URLs found in API
responses are never followed (except pagination links on the same host), so
neither a PR nor a misbehaving server can point the bot's token elsewhere.

Why a small REST layer on github3.py's public session rather than its objects (Repository,
Issue, ...): github3.py 4.0 has no Actions API (workflow dispatch, runners, runner groups,
permissions, environments); its objects build their follow-up calls from the `url` fields of
earlier responses (an issue's comments from the issue's own `url`), which this client must
never do; and they refuse a response that lacks any field they model (`GitHub.repository`
raises IncompleteResponse on a repository without `network_count`, as the GitHub API
emulator the tests run against returns it, and as GitHub Enterprise versions and
fine-grained tokens may). The session still brings the token, the API media type, the user
agent and the default timeouts; requests' exceptions are the transport errors.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import github3
import github3.exceptions
import requests
from github3.session import GitHubSession

from bot.github.retry import RetryAdapter

# The permission a workflow's `permissions:` block must grant for each kind of call.
SCOPES = (
    ("/check-runs", "checks: write"),
    ("/statuses/", "statuses: write"),
    ("/actions/", "actions: write"),
    ("/contents/", "contents: read"),
    ("/pulls", "pull-requests: read"),
    ("/issues", "issues: write (or pull-requests: write)"),
)


class UsageError(Exception):
    """Bad invocation or environment: exit 2."""


class BotError(Exception):
    """A located, one-line failure the user can act on: exit 1."""


class ApiError(BotError):
    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        self.status, self.method, self.path = status, method, path
        super().__init__(message)


@dataclass(frozen=True)
class Env:
    """What GitHub Actions tells a step about itself."""

    repository: str
    token: str
    api_url: str
    event_name: str = ""
    event_path: str = ""
    server_url: str = "https://github.com"
    run_id: str = ""

    @property
    def run_url(self) -> str:
        if not self.run_id:
            return ""
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"


def read_env(environ: Mapping[str, str], need_event: bool = False) -> Env:
    names = ["GITHUB_REPOSITORY", "GITHUB_TOKEN"]
    if need_event:
        names += ["GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"]
    missing = [n for n in names if not environ.get(n)]
    if missing:
        raise UsageError(f"missing environment variable {', '.join(missing)}")
    repository = environ["GITHUB_REPOSITORY"]
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise UsageError(f"GITHUB_REPOSITORY must be OWNER/NAME, not {repository!r}")
    return Env(
        repository=repository,
        token=environ["GITHUB_TOKEN"],
        api_url=(environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
        event_name=environ.get("GITHUB_EVENT_NAME", ""),
        event_path=environ.get("GITHUB_EVENT_PATH", ""),
        server_url=(environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
        run_id=environ.get("GITHUB_RUN_ID", ""),
    )


def _log(message: str) -> None:
    print(f"bot gh: {message}", file=sys.stderr)


class Client:
    def __init__(
        self,
        env: Env,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 4,
        backoff: float = 1.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.env = env
        self.owner, self.name = env.repository.split("/")
        session = GitHubSession(default_connect_timeout=timeout[0], default_read_timeout=timeout[1])
        kwargs: dict[str, Any] = {"retries": retries, "backoff": backoff, "log": self.log}
        if sleep is not None:
            kwargs["sleep"] = sleep
        adapter = RetryAdapter(**kwargs)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.gh = github3.GitHub(token=env.token, session=session)
        self.gh.session.base_url = env.api_url
        self._login: str | None = None
        self._default: str | None = None
        self._last: Any = None  # the latest response, for its Link header

    def mask(self, text: str) -> str:
        return text.replace(self.env.token, "***") if self.env.token else text

    def log(self, message: str) -> None:
        _log(self.mask(message))

    def repo(self, *parts: object) -> str:
        return "/".join([f"/repos/{self.owner}/{self.name}", *(str(p) for p in parts)]).rstrip("/")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        accept: str | None = None,
        raw: bool = False,
    ) -> Any:
        url = path if path.startswith(("http://", "https://")) else self.gh.session.base_url + path
        headers = {"Accept": accept} if accept else {}
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
        try:
            response = self.gh.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            short = urlsplit(url).path
            raise BotError(self.mask(f"cannot reach GitHub for {method} {short}: {exc}")) from None
        if response.status_code >= 400:
            raise self._error(method, urlsplit(url).path, response)
        self._last = response
        if raw:
            return response.text
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise BotError(f"{method} {urlsplit(url).path}: GitHub answered non-JSON") from None

    def _error(self, method: str, path: str, response: Any) -> ApiError:
        exc = github3.exceptions.error_for(response)
        msg = str(getattr(exc, "msg", "") or response.reason or "")
        status = response.status_code
        where = f"{method} {path}"
        if status == 401:
            text = f"GitHub rejected the token (401 {msg or 'Bad credentials'}) on {where}"
        elif status == 403 and not msg.lower().startswith(("api rate", "you have exceeded")):
            scope = next((s for frag, s in SCOPES if frag in path), "the needed permission")
            text = f"missing permission on {where} (403 {msg}): the token needs {scope}"
        elif status in (403, 429):
            text = f"rate limited on {where} ({status} {msg}); retries exhausted"
        else:
            text = f"{where} failed: {status} {msg}".rstrip()
        return ApiError(status, method, path, self.mask(text))

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body=body if body is not None else {}, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("PATCH", path, body=body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body=body if body is not None else {}, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def paginate(
        self, path: str, params: Mapping[str, str] | None = None, key: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a listing, following Link: rel=next on the API's own host."""
        query = {"per_page": "100", **(params or {})}
        url: str | None = path
        host = urlsplit(self.gh.session.base_url).netloc
        while url:
            page = self.get(url, params=query)
            yield from (page.get(key, []) if key else page) or []
            nxt = self._last.links.get("next", {}).get("url")
            url = nxt if nxt and urlsplit(nxt).netloc == host else None
            query = {}

    def default_branch(self) -> str:
        """The repository's default branch, as GitHub says (never from an event payload)."""
        if self._default is None:
            name = (self.get(self.repo()) or {}).get("default_branch")
            if not isinstance(name, str) or not name:
                raise BotError(
                    f"GitHub did not say which branch of {self.env.repository} is default"
                )
            self._default = name
        return self._default

    def login(self, fallback: str) -> str:
        """Who the bot's comments are written by. GITHUB_TOKEN may not read /user: fallback."""
        if self._login is None:
            try:
                self._login = str(self.get("/user")["login"])
            except ApiError as exc:
                if exc.status not in (403, 404):
                    raise
                self._login = fallback
        return self._login


def connect(environ: Mapping[str, str] | None = None, need_event: bool = False) -> Client:
    env = read_env(os.environ if environ is None else environ, need_event)
    backoff = float(os.environ.get("BOT_GH_BACKOFF", "1.0"))  # tests shorten the waits
    return Client(env, backoff=backoff)
