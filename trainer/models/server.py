"""A minimal OpenAI-compatible HTTP server in front of any `ChatModel` (`bot serve`).

Endpoints, in vLLM's shapes so that one client speaks to both:
  GET  /v1/models, /health
  POST /v1/chat/completions  (no streaming, n=1)
  POST /v1/completions       scoring only: echo=true, max_tokens=0, logprobs=N
  POST /tokenize, /detokenize
Concurrent requests are merged into batched model calls by `MicroBatcher`.
"""

from __future__ import annotations

import json
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from trainer.models.base import (
    ChatModel,
    GenerationParams,
    ModelError,
    derive_seeds,
)
from trainer.models.microbatch import MicroBatcher

MAX_BODY = 64 << 20


class RequestError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


class OpenAIApp:
    """Request handling, independent of the HTTP plumbing."""

    def __init__(self, model: ChatModel, model_id: str) -> None:
        self.model = model
        self.model_id = model_id
        self.batcher = MicroBatcher(model)

    def handle(self, method: str, path: str, body: Any) -> dict[str, Any]:
        routes = {
            ("GET", "/v1/models"): self.models,
            ("GET", "/health"): lambda _: {},
            ("POST", "/v1/chat/completions"): self.chat,
            ("POST", "/v1/completions"): self.completions,
            ("POST", "/tokenize"): self.tokenize,
            ("POST", "/detokenize"): self.detokenize,
        }
        route = routes.get((method, path))
        if route is None:
            known = any(p == path for _, p in routes)
            raise RequestError(405 if known else 404, f"{method} {path} is not supported")
        if method == "POST":
            if not isinstance(body, dict):
                raise RequestError(400, "the request body must be a JSON object")
            if body.get("model") not in (None, self.model_id):
                raise RequestError(
                    404,
                    f"model {body.get('model')!r} does not exist; this "
                    f"server has {self.model_id!r}",
                    "model_not_found",
                )
        return route(body)

    def models(self, _: Any) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": self.model_id,
                    "object": "model",
                    "owned_by": "taxonomy-bot",
                    "created": 0,
                    "root": self.model.name,
                    "fingerprint": self.model.fingerprint,
                }
            ],
        }

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = _messages(body.get("messages"))
        if body.get("stream"):
            raise RequestError(400, "streaming is not supported")
        if body.get("n", 1) != 1:
            raise RequestError(400, "only n=1 is supported")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens")) or 512
        try:
            params = GenerationParams(
                max_new_tokens=_int(max_tokens, "max_tokens"),
                temperature=_number(body.get("temperature", 1.0), "temperature"),
                top_p=_number(body.get("top_p", 1.0), "top_p"),
                stop=_stop(body.get("stop")),
            )
        except ValueError as exc:
            raise RequestError(400, str(exc)) from None
        seed = body.get("seed")
        seed = derive_seeds([messages], 0)[0] if seed is None else _int(seed, "seed")
        reply = self.batcher.generate(messages, params, seed)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_id,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": _usage(reply.prompt_tokens, reply.completion_tokens),
        }

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("echo") or body.get("max_tokens", 16) != 0:
            raise RequestError(
                400,
                "this server only scores prompts: /v1/completions needs "
                "echo=true and max_tokens=0; generate with /v1/chat/completions",
            )
        prompts = self._prompts(body.get("prompt"))
        top_n = body.get("logprobs")
        scores = self.batcher.score([(ids, 1) for ids in prompts if len(ids) > 1])
        scores.reverse()
        choices = []
        for index, ids in enumerate(prompts):
            tokens = [self.model.tokenizer.decode([t]) for t in ids]
            logprobs = None
            if top_n is not None:
                row = scores.pop() if len(ids) > 1 else []
                tops: list[dict[str, float] | None] = [None]
                for token, score in zip(tokens[1:], row, strict=True):
                    top = (
                        token
                        if score.top_token is None
                        else self.model.tokenizer.decode([score.top_token])
                    )
                    tops.append({top: score.top_logprob, token: score.logprob})
                offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
                logprobs = {
                    "tokens": tokens,
                    "token_logprobs": [None, *(s.logprob for s in row)],
                    "top_logprobs": tops,
                    "text_offset": offsets,
                }
            choices.append(
                {
                    "index": index,
                    "text": "".join(tokens),
                    "logprobs": logprobs,
                    "finish_reason": "length",
                }
            )
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.model_id,
            "choices": choices,
            "usage": _usage(sum(map(len, prompts)), 0),
        }

    def tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        tokenizer = self.model.tokenizer
        if "messages" in body:
            # vLLM's flags: generation prompt or continuation -> our prompt mode, neither ->
            # the conversation as a finished document.
            open_turn = bool(body.get("add_generation_prompt", True)) or bool(
                body.get("continue_final_message", False)
            )
            ids = tokenizer.encode_chat(
                _messages(body["messages"]), add_generation_prompt=open_turn
            )
        elif isinstance(body.get("prompt"), str):
            ids = tokenizer.encode(body["prompt"])
        else:
            raise RequestError(400, "tokenize needs 'prompt' (a string) or 'messages'")
        context = getattr(self.model, "context_length", None)
        return {"count": len(ids), "max_model_len": context or 0, "tokens": ids}

    def detokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"prompt": self.model.tokenizer.decode(_token_list(body.get("tokens"), "tokens"))}

    def _prompts(self, prompt: Any) -> list[list[int]]:
        single_ids = isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt)
        if isinstance(prompt, str) or single_ids:
            prompt = [prompt]
        if not isinstance(prompt, list) or not prompt:
            raise RequestError(400, "prompt must be a string, a token list, or a list of those")
        return [
            self.model.tokenizer.encode(p) if isinstance(p, str) else _token_list(p, "prompt")
            for p in prompt
        ]

    def close(self) -> None:
        self.batcher.close()


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _messages(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise RequestError(400, "messages must be a non-empty list")
    messages = []
    for i, m in enumerate(value):
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):  # OpenAI content parts: keep the text ones
            content = "".join(
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(content, str)
        ):
            raise RequestError(400, f"messages[{i}] needs a string role and content")
        messages.append({"role": m["role"], "content": content})
    return messages


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise RequestError(400, "stop must be a string or a list of strings")
    return tuple(s for s in stops if s)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, f"{name} must be an integer")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(400, f"{name} must be a number")
    return float(value)


def _token_list(value: Any, name: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in value
    ):
        raise RequestError(400, f"{name} must be a list of token ids")
    return value


class Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            if (
                self.server.api_key
                and path != "/health"
                and self.headers.get("Authorization") != f"Bearer {self.server.api_key}"
            ):
                raise RequestError(401, "missing or wrong API key", "authentication_error")
            body = self._body() if method == "POST" else None
            self._send(200, self.server.app.handle(method, path, body))
        except RequestError as exc:
            self._send(exc.status, _error(str(exc), exc.kind, exc.status))
        except (ModelError, ValueError) as exc:
            self._send(400, _error(str(exc), "invalid_request_error", 400))
        except Exception as exc:
            self.log_error("%s %s failed: %r", method, path, exc)
            self._send(500, _error(f"internal error: {exc}", "internal_error", 500))

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise RequestError(413, f"request body over {MAX_BODY} bytes")
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError as exc:
            raise RequestError(400, f"invalid JSON: {exc}") from None

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


def _error(message: str, kind: str, status: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": status}}


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        app: OpenAIApp,
        host: str,
        port: int,
        *,
        api_key: str | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__((host, port), Handler)
        self.app, self.api_key, self.verbose = app, api_key, verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"

    def close(self) -> None:
        self.server_close()
        self.app.close()


def make_server(
    model: ChatModel,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    model_id: str | None = None,
    api_key: str | None = None,
    verbose: bool = False,
) -> ModelServer:
    """A server for `model` (port 0: any free port; see `.url`). Run `serve_forever()`."""
    return ModelServer(
        OpenAIApp(model, model_id or model.name), host, port, api_key=api_key, verbose=verbose
    )
