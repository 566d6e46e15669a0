"""A streamfan consumer in Python: joins a topic as its own consumer group and settles every
delivery through streamfan's own Lua scripts, so status, waitFor, dead letters and the CLI see
this group like any TypeScript group. Every step below is a section of docs/PROTOCOL.md.

One delivery at a time (concurrency 1), to keep the example short: run several processes with
different consumer names for more. What it does, per loop turn:

1. promote due retries of this group (``promoteDue``: retry set -> redelivery stream);
2. reclaim deliveries idle past the visibility timeout (XAUTOCLAIM on both streams);
3. read: the redelivery stream first, then both streams with a blocking XREADGROUP;
4. run the handler, renewing the lease (``extendLease``) while it runs;
5. settle: ``ackBatch`` (succeeded, with the result), ``failEntry`` (retry after a backoff),
   or ``deadLetter`` (attempts exhausted, ``DeadLetter`` raised, malformed entry, hung).
"""
from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import redis

from . import lua

#: The wire protocol version this consumer speaks (docs/PROTOCOL.md).
PROTOCOL_VERSION = 2

#: Width of a success bucket in ms (docs/PROTOCOL.md §5.2): one second of event ids.
BUCKET_MS = 1000


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def success_record(event_id: str, attempts: int) -> tuple[int, str]:
    """The success bucket (second) of an event id and its record (docs/PROTOCOL.md §5.2):
    ``<ms within the second, base 36>[-<seq>][:<attempts>];``."""
    ms_text, seq = event_id.split("-")
    ms = int(ms_text)
    second = ms // BUCKET_MS
    token = _base36(ms - second * BUCKET_MS) + ("" if seq == "0" else f"-{seq}")
    return second, token + (f":{attempts}" if attempts > 1 else "") + ";"


class DeadLetter(Exception):
    """Raise from a handler to skip the retries: the event goes to dead letters at once."""


class ProtocolVersionError(Exception):
    """The prefix's data uses a protocol version this consumer does not speak."""


class GroupRetiredError(Exception):
    """The group was retired for good (listed in the topic's retired hash): it is not recreated."""


@dataclass
class Context:
    """What a handler learns about the delivery."""

    id: str  #: the event id (the topic entry id, also for retries)
    topic: str
    group: str
    consumer: str
    attempt: int  #: 1 for the first delivery
    max_attempts: int
    headers: dict[str, str]
    published_at_ms: int


Handler = Callable[[Any, Context], Any]


def exponential_backoff(base_ms: int = 1000, factor: float = 2, max_ms: int = 300_000, jitter: float = 0.2) -> Callable[[int], int]:
    """streamfan's default backoff: delay before the retry that follows failed attempt `attempt` (1-based)."""

    def delay(attempt: int) -> int:
        raw = min(max_ms, base_ms * factor ** max(0, attempt - 1))
        spread = raw * jitter * (random.random() * 2 - 1)
        return int(max(0, min(max_ms, round(raw + spread))))

    return delay


@dataclass
class Keys:
    """Key names (docs/PROTOCOL.md, "Keys"): every key of a topic shares the hash tag {topic}."""

    prefix: str
    topic: str
    group: str
    base: str = field(init=False)

    def __post_init__(self) -> None:
        self.base = f"{self.prefix}:{{{self.topic}}}"

    @property
    def protocol(self) -> str:
        return f"{self.prefix}:protocol"

    @property
    def stream(self) -> str:
        return f"{self.base}:stream"

    @property
    def redeliver(self) -> str:
        return f"{self.base}:redeliver:{self.group}"

    @property
    def retry(self) -> str:
        return f"{self.base}:retry:{self.group}"

    @property
    def dlq(self) -> str:
        return f"{self.base}:dlq:{self.group}"

    @property
    def retired(self) -> str:
        return f"{self.base}:retired"

    def ok(self, second: int) -> str:
        """This group's success bucket of one second of event ids (protocol 2)."""
        return f"{self.base}:ok:{self.group}:{second}"

    @property
    def waiters(self) -> str:
        return f"{self.base}:waiters"

    @property
    def done(self) -> str:
        return f"{self.base}:done"

    def status(self, event_id: str) -> str:
        return f"{self.base}:status:{event_id}"


def describe_error(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= 2000 else text[:2000] + "…"


def encode_result(result: Any, max_bytes: int) -> str:
    """The status hash's `result` field: JSON, '' for None, capped like the TypeScript library."""
    if result is None:
        return ""
    try:
        text = json.dumps(result, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as err:
        return json.dumps({"unserialisable": str(err)})
    size = len(text.encode("utf-8"))
    if size <= max_bytes:
        return text
    return json.dumps({"truncated": True, "bytes": size, "preview": text[: max(0, max_bytes - 100)]})


class Consumer:
    """One consumer of one group on one topic. Call :meth:`start`, then :meth:`run` (or :meth:`run_once`)."""

    def __init__(
        self,
        client: redis.Redis,
        topic: str,
        group: str,
        handler: Handler,
        *,
        prefix: str = "streamfan",
        consumer: str | None = None,
        start_from: str = "latest",
        visibility_timeout_ms: int = 30_000,
        max_attempts: int = 5,
        backoff: Callable[[int], int] | None = None,
        status_ttl_seconds: int = 86_400,
        dead_letter_max_len: int = 100_000,
        max_result_bytes: int = 8192,
        block_ms: int = 1000,
        reclaim_interval_ms: int | None = None,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.r = client
        self.keys = Keys(prefix, topic, group)
        self.topic, self.group = topic, group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.handler = handler
        self.start_from = start_from
        self.vt = visibility_timeout_ms
        self.max_attempts = max_attempts
        self.backoff = backoff or exponential_backoff()
        self.ttl = status_ttl_seconds
        self.dlq_cap = dead_letter_max_len
        self.max_result_bytes = max_result_bytes
        self.block_ms = block_ms
        self.reclaim_interval_ms = reclaim_interval_ms or min(self.vt // 2, 5000)
        self.log = log
        self.stopping = threading.Event()
        self._next_reclaim = 0.0
        self._next_promote = 0.0
        # Every script is the repository's own text (lua.py); register_script runs EVALSHA and
        # falls back to EVAL on NOSCRIPT.
        self.scripts = {name: client.register_script(text) for name, text in lua.all_sources().items()}

    # -- setup -------------------------------------------------------------------------------

    def start(self) -> None:
        """Check the protocol version, then create the group on both streams (docs/PROTOCOL.md, "Joining")."""
        kind, stored = self.scripts["ensureProtocol"](keys=[self.keys.protocol], args=[PROTOCOL_VERSION])
        if str(stored) != str(PROTOCOL_VERSION):
            raise ProtocolVersionError(
                f"{self.keys.protocol} says protocol version {stored!r}; this consumer speaks {PROTOCOL_VERSION} only: "
                + ("upgrade the prefix once every version 1 program on it is stopped: "
                   f"redis-cli HSET {self.keys.protocol} version 2 (docs/PROTOCOL.md, 'Upgrading')"
                   if str(stored) == "1" else "update this consumer (docs/PROTOCOL.md)")
            )
        start = {"latest": "$", "beginning": "0"}.get(self.start_from, self.start_from)
        for stream, at in ((self.keys.stream, start), (self.keys.redeliver, "0")):
            # Script createGroup: creates the group (MKSTREAM) unless it was retired for good,
            # atomically with a retirement, and registers this consumer in it.
            state, detail = self.scripts["createGroup"](keys=[stream, self.keys.retired], args=[self.group, at, self.consumer])
            if state == "retired":
                raise GroupRetiredError(
                    f"group {self.group!r} of topic {self.topic!r} was retired for good (at {detail} ms): "
                    f"un-retire it first (`streamfan unretire {self.topic} {self.group}`)"
                )

    # -- main loop ---------------------------------------------------------------------------

    def run(self) -> None:
        """Handle deliveries until :meth:`stop`."""
        while not self.stopping.is_set():
            self.run_once()

    def stop(self) -> None:
        self.stopping.set()

    def run_once(self) -> bool:
        """One loop turn: promote, reclaim, read and handle at most one delivery. True when it handled one."""
        now = time.monotonic()
        if now >= self._next_promote:
            self._promote()
        if now >= self._next_reclaim:
            self._next_reclaim = now + self.reclaim_interval_ms / 1000
            for stream in (self.keys.stream, self.keys.redeliver):
                taken = self._reclaim(stream)
                if taken:
                    self._handle(stream, *taken)
                    return True
        # Retries first, without blocking; then block on both streams, redelivery stream first.
        got = self._read({self.keys.redeliver: ">"}, block=None)
        if got is None:
            wait = max(1, min(self.block_ms, int((self._next_promote - time.monotonic()) * 1000)))
            got = self._read({self.keys.redeliver: ">", self.keys.stream: ">"}, block=wait)
        if got is None:
            return False
        stream, entry_id, fields = got
        self._handle(stream, entry_id, fields, 1)
        return True

    def _read(self, streams: dict[str, str], block: int | None) -> tuple[str, str, dict[str, str] | None] | None:
        reply = self.r.xreadgroup(self.group, self.consumer, streams, count=1, block=block)
        for stream, entries in reply or []:
            for entry_id, fields in entries:
                return stream, entry_id, fields
        return None

    def _promote(self) -> None:
        """Move due retries of this group into its redelivery stream (script promoteDue)."""
        _, next_due = self.scripts["promoteDue"](keys=[self.keys.retry, self.keys.redeliver], args=[500])
        wait = self.reclaim_interval_ms if int(next_due) < 0 else min(int(next_due), self.reclaim_interval_ms)
        self._next_promote = time.monotonic() + wait / 1000

    def _reclaim(self, stream: str) -> tuple[str, dict[str, str] | None, int] | None:
        """Take one delivery idle past the visibility timeout (a dead or stuck consumer's) with XAUTOCLAIM."""
        reply = self.r.xautoclaim(stream, self.group, self.consumer, self.vt, "0-0", count=1)
        entries = reply[1]
        deleted = list(reply[2]) if len(reply) > 2 else []
        if deleted:
            self._lost_while_pending(stream, deleted)
        for entry_id, fields in entries:
            if entry_id is None:
                continue  # Redis 6.2: a deleted pending entry (see docs/PROTOCOL.md, "Reclaim")
            rows = self.r.xpending_range(stream, self.group, entry_id, entry_id, 1, consumername=self.consumer)
            deliveries = int(rows[0]["times_delivered"]) if rows else 1
            self.log(f"reclaimed {entry_id} from {stream} (delivery {deliveries})")
            return entry_id, fields, deliveries
        return None

    def _lost_while_pending(self, stream: str, ids: list[str]) -> None:
        """Entries XAUTOCLAIM found deleted from the stream while pending: a topic entry's id is its
        event id, so record it lost; a retry copy's event id went with the copy, so just ack it."""
        if stream != self.keys.stream:
            self.r.xack(stream, self.group, *ids)
            return
        self._mark_lost(stream, [(i, i) for i in ids])

    def _mark_lost(self, stream: str, entries: list[tuple[str, str]]) -> None:
        """Script markLost: ack what is left of deleted entries and record their events `lost`."""
        args: list[Any] = [self.group, self.consumer, self.ttl, self.keys.done, "entry deleted from the stream while pending (trimmed or XDEL); its payload is gone", "P"]
        for entry_id, event_id in entries:
            args += [entry_id, event_id]
        self.scripts["markLost"](keys=[stream, self.keys.waiters, *[self.keys.status(e) for _, e in entries]], args=args)

    # -- one delivery ------------------------------------------------------------------------

    def _handle(self, stream: str, entry_id: str, fields: dict[str, str] | None, deliveries: int) -> None:
        from_redelivery = stream == self.keys.redeliver
        fields = fields or {}
        orig = fields.get("orig", "")
        event_id = orig if from_redelivery and _is_id(orig) else entry_id
        base = int(fields["base"]) if from_redelivery and fields.get("base", "").isdigit() else 0
        attempt = base + deliveries
        payload_text = fields.get("payload")
        if payload_text is None:
            self._dead_letter(stream, entry_id, event_id, attempt, f'malformed entry: no "payload" field (fields: {", ".join(list(fields)[:8]) or "none"})', "malformed")
            return
        try:
            payload = json.loads(payload_text)
            headers = json.loads(fields["headers"]) if fields.get("headers") else {}
            if not isinstance(headers, dict):
                raise ValueError("the headers are not a JSON object")
        except ValueError as err:
            self._dead_letter(stream, entry_id, event_id, attempt, f"malformed entry: {err}", "malformed")
            return
        if fields.get("delayed"):
            headers = {**headers, "streamfan-delayed-id": fields["delayed"]}
        if attempt > self.max_attempts:
            err = f"attempt {attempt - 1} of {self.max_attempts} never finished: its worker crashed or hung past the visibility timeout ({self.vt}ms)"
            self._dead_letter(stream, entry_id, event_id, attempt - 1, err, "hung")
            return
        if from_redelivery:
            # A retry or replay shows `processing` while it runs (a first delivery shows it from the PEL).
            self.scripts["startAttempt"](keys=[stream, self.keys.status(event_id)], args=[self.group, self.consumer, entry_id, base, self.ttl])
        ctx = Context(event_id, self.topic, self.group, self.consumer, attempt, self.max_attempts, headers, int(event_id.split("-")[0]))
        keeper = _LeaseKeeper(self, stream, entry_id, event_id)
        keeper.start()
        try:
            result = self.handler(payload, ctx)
        except DeadLetter as err:
            keeper.stop()
            if not keeper.lost:
                self._dead_letter(stream, entry_id, event_id, attempt, str(err) or "dead-lettered by the handler", "handler")
            return
        except Exception as err:  # noqa: BLE001 - any handler failure is retried or dead-lettered
            keeper.stop()
            if keeper.lost:
                return
            message = describe_error(err)
            if attempt >= self.max_attempts:
                self._dead_letter(stream, entry_id, event_id, attempt, message, "attempts")
            else:
                self._fail(stream, entry_id, event_id, base, attempt, message)
            return
        keeper.stop()
        if keeper.lost:
            self.log(f"{event_id}: lease lost while the handler ran; another consumer has it now")
            return
        self._succeed(stream, entry_id, event_id, base, attempt - base, encode_result(result, self.max_result_bytes))

    def _succeed(self, stream: str, entry_id: str, event_id: str, base: int, deliveries: int, result: str) -> None:
        """Script ackBatch (docs/PROTOCOL.md §6.2): a plain success (no result) as a record in the
        group's success bucket; a success with a result, or one the script says is no longer
        simply ours, through the per-entry path (status hash, refusal and resend checks)."""
        head = [self.group, self.consumer, self.ttl, self.keys.done, "1", "P"]
        same = "1" if stream == self.keys.stream else "0"
        plain = result == ""
        reply: list[Any] = []
        for _ in range(4):
            if plain:
                second, record = success_record(event_id, base + deliveries)
                expect = [entry_id, deliveries] if deliveries != 1 else []
                args = head + [1, 0, 1, len(expect) // 2, entry_id, entry_id, same, second * BUCKET_MS, record, entry_id]
                args += ([] if same == "1" else [event_id]) + expect
                reply = self.scripts["ackBatch"](keys=[stream, self.keys.waiters, self.keys.ok(second)], args=args)
            else:
                reply = self.scripts["ackBatch"](
                    keys=[stream, self.keys.waiters, self.keys.status(event_id)],
                    args=head + [0, 1, 0, 0, entry_id, entry_id, same, entry_id, event_id, base, result],
                )
            if int(reply[0]) != -1:
                break
            # Nothing written: not ours any more (per-entry path), or delivered again meanwhile.
            if int(reply[1]) > 0:
                plain = False
            else:
                deliveries = int(reply[3])
        acked, failed_writes, *refused = reply
        if refused:
            self.log(f"{event_id}: ack refused (another consumer owns it now)")
        else:
            self.log(f"{event_id}: succeeded")

    def _fail(self, stream: str, entry_id: str, event_id: str, base: int, attempt: int, message: str) -> None:
        delay = int(self.backoff(attempt))
        reply = self.scripts["failEntry"](
            keys=[stream, self.keys.retry, self.keys.redeliver, self.keys.status(event_id), self.keys.waiters],
            args=[self.group, self.consumer, entry_id, event_id, base, message, delay, self.ttl, "1", self.keys.done, "P"],
        )
        if int(reply[0]) == 1:
            self.log(f"{event_id}: attempt {attempt} failed, retry in {delay}ms")
            self._next_promote = min(self._next_promote, time.monotonic() + delay / 1000)
        elif int(reply[0]) == 2:
            self.log(f"{event_id}: lost (deleted from the stream while the handler ran)")
        else:
            self.log(f"{event_id}: not ours any more (stale)")

    def _dead_letter(self, stream: str, entry_id: str, event_id: str, attempts: int, error: str, reason: str) -> None:
        reply = self.scripts["deadLetter"](
            keys=[stream, self.keys.dlq, self.keys.status(event_id), self.keys.waiters],
            args=[self.group, self.consumer, entry_id, event_id, attempts, error, reason, self.dlq_cap, self.ttl, self.keys.done, "1", "1", "P"],
        )
        self.log(f"{event_id}: {reply[0]}" + (f" ({reply[1]}, reason {reason})" if reply[0] == "dead" else ""))


class _LeaseKeeper:
    """Renews one delivery's lease while its handler runs (script extendLease, every visibility timeout / 4)."""

    def __init__(self, c: Consumer, stream: str, entry_id: str, event_id: str) -> None:
        self.c, self.stream, self.entry_id, self.event_id = c, stream, entry_id, event_id
        self.lost = False
        self.renewals = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._done.wait(self.c.vt / 4000):
            lost, deleted = self.c.scripts["extendLease"](keys=[self.stream], args=[self.c.group, self.c.consumer, self.entry_id])
            self.renewals += 1
            if deleted:
                self.lost = True
                self.c._mark_lost(self.stream, [(self.entry_id, self.event_id)])
                return
            if lost:
                self.lost = True
                return
            self.c.log(f"{self.entry_id}: lease renewed")


def _is_id(value: str) -> bool:
    ms, _, seq = value.partition("-")
    return ms.isdigit() and seq.isdigit()
