"""`bot serve SPEC`: expose a model over a minimal OpenAI-compatible HTTP API.

Lets several CI runners share one teacher, and gives the openai: backend a real server to
talk to in tests. Exit 0 on Ctrl-C / SIGTERM, 1 if the model cannot load, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model over an OpenAI-compatible HTTP API",
        description="Serve SPEC (embedded, hf:DIR, openai:URL#name, vllm:MODEL) "
        "at /v1/models, /v1/chat/completions, /v1/completions (echo + logprobs "
        "scoring), /tokenize and /detokenize. Concurrent requests are batched.",
    )
    p.add_argument("spec", metavar="SPEC", help="the model to serve")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; anything else exposes the model)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free one)")
    p.add_argument(
        "--model-name", metavar="NAME", help="model id clients use (default: SPEC as given)"
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("BOT_SERVE_API_KEY"),
        help="require 'Authorization: Bearer KEY' (default $BOT_SERVE_API_KEY)",
    )
    p.add_argument("--device", help="cpu, cuda, cuda:N (default: a GPU if there is one)")
    p.add_argument("--dtype", help="float32, bfloat16, float16 (default: bf16 on GPU, fp32 on CPU)")
    p.add_argument(
        "--max-batch-tokens", type=int, metavar="N", help="padded tokens per batch for local models"
    )
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")


def run(args: argparse.Namespace) -> int:
    # Imported here: `bot validate` and friends must never pay for this.
    from trainer.models import ModelError, SpecError, load_model, parse_spec
    from trainer.models.server import make_server

    try:
        spec = parse_spec(args.spec)
    except SpecError as exc:
        print(f"bot serve: error: {exc}", file=sys.stderr)
        return 2
    if args.port < 0 or args.port > 65535:
        print("bot serve: error: --port must be 0..65535", file=sys.stderr)
        return 2
    print(f"loading {spec} ...", file=sys.stderr, flush=True)
    try:
        model = load_model(
            spec, device=args.device, dtype=args.dtype, max_batch_tokens=args.max_batch_tokens
        )
    except ModelError as exc:
        print(f"bot serve: error: {exc}", file=sys.stderr)
        return 1
    try:
        server = make_server(
            model,
            args.host,
            args.port,
            model_id=args.model_name or args.spec,
            api_key=args.api_key,
            verbose=args.verbose,
        )
    except OSError as exc:
        model.close()
        print(f"bot serve: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.api_key:
        print(
            f"bot serve: warning: {args.host} is reachable from other machines and there is "
            "no --api-key",
            file=sys.stderr,
        )

    def stop(signum: int, frame: FrameType | None) -> None:
        # serve_forever blocks this thread; shutdown() must come from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    # The line CI scripts wait for; with --port 0 it is the only way to learn the port.
    print(f"serving {spec} as {server.app.model_id!r} at {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        model.close()
    return 0
