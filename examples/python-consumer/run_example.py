"""Run a streamfan consumer group in Python.

    .venv/bin/python run_example.py --topic user.signup --group py-mailer [--prefix streamfan]

The handler below stands for a service's work. Its payloads steer it, so the interop test
(test/interop.python.ts) can drive every path of the protocol:

    {"action": "ok", ...}             returns {"handledBy": "python", "echo": <payload>}
    {"action": "fail-once", ...}      raises on attempt 1, succeeds on attempt 2 (a retry)
    {"action": "always-fail", ...}    raises every time: dead-lettered after --max-attempts
    {"action": "poison", ...}         raises DeadLetter: dead-lettered at once
    {"action": "slow", "ms": 1500}    sleeps past the visibility timeout; the lease keeper renews it

Prints "ready" on stdout once both groups exist, then one line per outcome. Stops on SIGTERM or
SIGINT after the delivery in hand (exit 0).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

import redis

from streamfan_consumer import Consumer, Context, DeadLetter


def handler(payload: dict, ctx: Context) -> dict:
    action = payload.get("action", "ok") if isinstance(payload, dict) else "ok"
    if action == "fail-once" and ctx.attempt == 1:
        raise RuntimeError("temporary failure on the first attempt")
    if action == "always-fail":
        raise RuntimeError(f"cannot handle this (attempt {ctx.attempt})")
    if action == "poison":
        raise DeadLetter("poison payload: never retried")
    if action == "slow":
        time.sleep(int(payload.get("ms", 1000)) / 1000)
    return {"handledBy": "python", "attempt": ctx.attempt, "echo": payload, "traceId": ctx.headers.get("traceId")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    p.add_argument("--prefix", default=os.environ.get("STREAMFAN_PREFIX", "streamfan"))
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--consumer")
    p.add_argument("--start-from", default="latest", help="latest (default), beginning, or a stream id")
    p.add_argument("--max-attempts", type=int, default=5)
    p.add_argument("--retry-ms", type=int, help="fixed backoff in ms (default: exponential from 1 s)")
    p.add_argument("--visibility-timeout-ms", type=int, default=30_000)
    a = p.parse_args()

    client = redis.Redis.from_url(a.url, decode_responses=True)
    backoff = (lambda attempt: a.retry_ms) if a.retry_ms is not None else None
    c = Consumer(
        client, a.topic, a.group, handler, prefix=a.prefix, consumer=a.consumer, start_from=a.start_from,
        max_attempts=a.max_attempts, backoff=backoff, visibility_timeout_ms=a.visibility_timeout_ms, block_ms=200,
        log=lambda line: print(line, flush=True),
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: c.stop())
    c.start()
    print("ready", flush=True)
    c.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
