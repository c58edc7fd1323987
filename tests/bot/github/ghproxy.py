"""A loopback HTTP proxy in front of the emulator: records every request, injects faults.

emulate@0.11.2 cannot fail on purpose, so a fault rule answers (or forwards and
then answers) with a chosen status for the first N matching requests. It also
keeps the endpoints the emulator lacks that tests need to observe: commit
statuses (a tiny in-memory store), and fixed answers (`answer`) for settings
GitHub keeps outside any repository content (runner groups, fork approval,
environments, registration tokens) — everything else is the real emulator.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    method: str
    path: str  # regex searched in the path (query string excluded)
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = field(default_factory=lambda: {"message": "Bad Gateway"})
    forward: bool = False  # pass the request on first, then fail (a "processed" 5xx)
    hits: int = 0


@dataclass
class Seen:
    method: str
    path: str
    query: str
    body: Any
    status: int
    auth: str


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[Fault] = []
        self.log: list[Seen] = []
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"proxy": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def answer(self, method: str, path: str, body: Any, status: int = 200) -> Fault:
        """Serve an endpoint the emulator lacks (organisation and Actions settings, runner
        registration), with the shape GitHub's REST documentation gives, until reset()."""
        json_type = {"Content-Type": "application/json"}
        return self.inject(Fault(method, path, status, 10**9, json_type, body))

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.log.clear()

    def calls(self, method: str, pattern: str) -> list[Seen]:
        return [s for s in self.log if s.method == method and re.search(pattern, s.path)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault_for(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.method == method and re.search(f.path, path) and f.hits < f.times:
                    f.hits += 1
                    return f
        return None


class _Handler(BaseHTTPRequestHandler):
    proxy: Proxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        fault = self.proxy.fault_for(self.command, path)
        if fault and not fault.forward:
            status, headers, data = fault.status, fault.headers, json.dumps(fault.body).encode()
        elif re.fullmatch(r"/repos/[^/]+/[^/]+/(statuses/[0-9a-f]+|commits/[^/]+/statuses)", path):
            status, headers, data = self._statuses(path, body)
        else:
            status, headers, data = self._forward(raw)
            if fault:
                status, headers = fault.status, fault.headers
                data = json.dumps(fault.body).encode()
        with self.proxy.lock:
            auth = self.headers.get("Authorization", "")
            self.proxy.log.append(Seen(self.command, path, query, body, status, auth))
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def _forward(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.proxy.upstream + self.path, data=raw or None, method=self.command
        )
        for key in ("Authorization", "Accept", "Content-Type"):
            if self.headers.get(key):
                request.add_header(key, self.headers[key])
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def _statuses(self, path: str, body: Any) -> tuple[int, dict[str, str], bytes]:
        sha = path.rsplit("/", 2)[-2] if path.endswith("/statuses") else path.rsplit("/", 1)[-1]
        with self.proxy.lock:
            if self.command == "POST":
                item = {"id": len(self.proxy.statuses) + 1, **(body or {})}
                self.proxy.statuses.setdefault(sha, []).insert(0, item)
                return 201, {"Content-Type": "application/json"}, json.dumps(item).encode()
            items = self.proxy.statuses.get(sha, [])
            return 200, {"Content-Type": "application/json"}, json.dumps(items).encode()
