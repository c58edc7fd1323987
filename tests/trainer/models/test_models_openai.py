"""The openai: backend against `bot serve`'s server (tiny model) and against scripted
servers that misbehave, all real HTTP on loopback."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.trainer.models.conftest import CONVERSATIONS
from trainer.models import ChatModel, GenerationParams, ModelError, load_model, model_fingerprint
from trainer.models.openai import OpenAIChatModel
from trainer.models.server import ModelServer, make_server
from trainer.models.spec import OpenAISpec

GREEDY = GenerationParams(max_new_tokens=12)
TRIES = 3  # the openai client's backoff starts at 0.5 s


@pytest.fixture(scope="module")
def remote(tiny_server: ModelServer) -> Iterator[ChatModel]:
    model = load_model(f"openai:{tiny_server.url}")
    yield model
    model.close()


def test_generation_matches_the_local_model(remote: ChatModel, tiny: ChatModel) -> None:
    assert remote.generate(CONVERSATIONS, GREEDY) == tiny.generate(CONVERSATIONS, GREEDY)
    sampled = GenerationParams(max_new_tokens=12, temperature=0.8, seed=3, stop=("e",))
    # Seeds travel with each request, so remote sampling reproduces local sampling.
    assert remote.generate(CONVERSATIONS, sampled) == tiny.generate(CONVERSATIONS, sampled)


def test_scoring_and_tokenizer_match_the_local_model(remote: ChatModel, tiny: ChatModel) -> None:
    requests = [(c, " the capital of France") for c in CONVERSATIONS] + [(CONVERSATIONS[0], "")]
    for a, b in zip(remote.loglikelihood(requests), tiny.loglikelihood(requests), strict=True):
        assert (a.num_tokens, a.is_greedy) == (b.num_tokens, b.is_greedy)
        assert a.logprob == pytest.approx(b.logprob, abs=1e-5)
    for conversation in CONVERSATIONS:
        assert remote.tokenizer.encode_chat(conversation) == tiny.tokenizer.encode_chat(
            conversation
        )
        ids = tiny.tokenizer.encode_chat(conversation, add_generation_prompt=False)
        assert remote.tokenizer.encode_chat(conversation, add_generation_prompt=False) == ids
        assert remote.tokenizer.decode(ids) == tiny.tokenizer.decode(ids)
    assert remote.tokenizer.encode("Paris") == tiny.tokenizer.encode("Paris")


def test_fingerprint_and_model_choice(
    tiny_server: ModelServer, remote: ChatModel, tiny: ChatModel
) -> None:
    assert remote.fingerprint == f"openai:{tiny.fingerprint}"
    assert load_model(f"openai:{tiny_server.url}#tiny").fingerprint == remote.fingerprint
    assert model_fingerprint(f"openai:{tiny_server.url}") == remote.fingerprint
    with pytest.raises(ModelError, match="no model 'other'"):
        load_model(f"openai:{tiny_server.url}#other")


def test_concurrent_clients_are_batched_together(tiny_server: ModelServer, tiny: ChatModel) -> None:
    expected = tiny.generate(CONVERSATIONS * 4, GREEDY)
    results: list[Any] = [None] * 4

    def client(i: int) -> None:
        with load_model(f"openai:{tiny_server.url}", concurrency=8) as model:
            results[i] = model.generate(CONVERSATIONS * 4, GREEDY)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [expected] * 4


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_server_rejects_what_it_does_not_do(tiny_server: ModelServer) -> None:
    base = tiny_server.url
    messages = [{"role": "user", "content": "hi"}]
    status, body = _post(f"{base}/completions", {"prompt": "hi", "max_tokens": 5})
    assert status == 400 and "echo=true and max_tokens=0" in body["error"]["message"]
    status, body = _post(f"{base}/chat/completions", {"messages": messages, "stream": True})
    assert status == 400 and "streaming" in body["error"]["message"]
    status, body = _post(f"{base}/chat/completions", {"messages": messages, "model": "x"})
    assert status == 404 and body["error"]["type"] == "model_not_found"
    status, body = _post(f"{base}/chat/completions", {"messages": messages, "top_p": 2})
    assert status == 400 and "top_p" in body["error"]["message"]
    status, body = _post(f"{base}/chat/completions", {"messages": "hi"})
    assert status == 400
    status, body = _post(f"{base}/nothing", {})
    assert status == 404


def test_server_echo_logprobs_shape(tiny_server: ModelServer, tiny: ChatModel) -> None:
    status, body = _post(
        f"{tiny_server.url}/completions",
        {"prompt": ["Paris is", "x"], "echo": True, "max_tokens": 0, "logprobs": 1},
    )
    assert status == 200
    first, single = body["choices"]
    assert first["text"] == "Paris is" and first["logprobs"]["token_logprobs"][0] is None
    assert len(first["logprobs"]["tokens"]) == len(tiny.tokenizer.encode("Paris is"))
    assert all(v <= 0 for v in first["logprobs"]["token_logprobs"][1:])
    assert single["logprobs"]["token_logprobs"] == [None]


def test_api_key(tiny: ChatModel, monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_server(tiny, "127.0.0.1", 0, model_id="tiny", api_key="sesame")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        with pytest.raises(ModelError, match="HTTP 401"):
            load_model(f"openai:{server.url}")
        monkeypatch.setenv("OPENAI_API_KEY", "sesame")
        with load_model(f"openai:{server.url}") as model:
            assert model.generate(CONVERSATIONS[:1], GREEDY)[0].text
    finally:
        server.shutdown()
        server.close()


# --- scripted servers --------------------------------------------------------------------

Script = Callable[[str, str, int], tuple[int, dict[str, str], dict[str, Any]]]
MODELS = {"object": "list", "data": [{"id": "m", "object": "model"}]}
REPLY = {
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1},
}


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], tuple[str, list[tuple[str, float]]]]]:
    """Start a server whose answer to the n-th request is script(method, path, n)."""
    servers: list[ThreadingHTTPServer] = []

    def start(script: Script) -> tuple[str, list[tuple[str, float]]]:
        log: list[tuple[str, float]] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                if method == "POST":
                    self.rfile.read(int(self.headers["Content-Length"]))
                log.append((self.path, time.monotonic()))
                status, headers, body = script(method, self.path, len(log))
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in {**headers, "Content-Length": str(len(data))}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}/v1", log

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_retries_503_honouring_retry_after(scripted: Any) -> None:
    def script(method: str, path: str, n: int) -> tuple[int, dict[str, str], dict[str, Any]]:
        if path.endswith("/models"):
            return 200, {}, MODELS
        if n == 2:  # the first chat request
            return 503, {"Retry-After": "1"}, {"error": {"message": "warming up"}}
        return 200, {}, REPLY

    url, log = scripted(script)
    model = OpenAIChatModel(OpenAISpec(url), attempts=TRIES)
    [reply] = model.generate(CONVERSATIONS[:1], GREEDY)
    assert reply.text == "ok" and reply.prompt_tokens == 3
    (_, first), (_, second) = log[1:]
    assert second - first >= 1.0  # waited as told, although the backoff alone is ~0.5 s


def test_gives_up_and_does_not_retry_client_errors(scripted: Any) -> None:
    def script(method: str, path: str, n: int) -> tuple[int, dict[str, str], dict[str, Any]]:
        if path.endswith("/models"):
            return 200, {}, MODELS
        if path.endswith("/chat/completions"):
            return 500, {}, {"error": {"message": "boom"}}
        return 400, {}, {"error": {"message": "bad input"}}

    url, log = scripted(script)
    model = OpenAIChatModel(OpenAISpec(url, "m"), attempts=TRIES)
    with pytest.raises(ModelError, match=r"HTTP 500: boom \(after 3 attempts\)"):
        model.generate(CONVERSATIONS[:1], GREEDY)
    assert len(log) == 1 + 3
    with pytest.raises(ModelError, match=r"/tokenize: HTTP 400: bad input$"):
        model.tokenizer.encode("x")  # the server root's /tokenize
    assert len(log) == 1 + 3 + 1


def test_scoring_needs_server_support(scripted: Any) -> None:
    def script(method: str, path: str, n: int) -> tuple[int, dict[str, str], dict[str, Any]]:
        if path.endswith("/models"):
            return 200, {}, MODELS
        return 404, {}, {"error": {"message": "not found"}}

    url, _ = scripted(script)
    model = OpenAIChatModel(OpenAISpec(url), attempts=TRIES)
    with pytest.raises(ModelError, match="local backend"):
        model.loglikelihood([(CONVERSATIONS[0], "Paris")])
    with pytest.raises(ModelError, match="local backend"):
        model.score_tokens([([1, 2, 3], 1)])


def test_unreachable_server() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelError, match=r"refused.*after 3 attempts"):
        OpenAIChatModel(OpenAISpec(f"http://127.0.0.1:{port}/v1"), attempts=TRIES)


def test_server_with_several_models_needs_a_name(scripted: Any) -> None:
    two = {"data": [{"id": "a"}, {"id": "b"}]}
    url, _ = scripted(lambda method, path, n: (200, {}, two))
    with pytest.raises(ModelError, match="name one"):
        OpenAIChatModel(OpenAISpec(url))
    assert OpenAIChatModel(OpenAISpec(url, "b")).fingerprint == "openai:b"
