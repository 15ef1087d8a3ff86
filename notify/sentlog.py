"""The sent-log: how the notifier sends each notification exactly once in effect.

``notify.sentlog`` is a compacted topic keyed by notification id; the stage lists it in
``tables``, so the runner replays it into :meth:`SentLog.apply` (through ``restore``) before
any input. The notifier writes to it through a :class:`SentLogJournal` whose ``write`` returns
only once the broker acknowledged the records.

The protocol for every mail or webhook post:

1. **intent** — a record with phase ``intent``, the whole Notification and its deterministic
   Message-ID is made durable *before* the SMTP transaction starts;
2. **send** — the relay accepts (250) or refuses;
3. **final** — a record with phase ``final`` (sent / failed / suppressed) is made durable right
   after, per mail, before the next step of the batch.

A worker killed at any point then restarts from the table:

* no intent: the notification was never tried; the input is redelivered (the runner commits
  offsets only after ``process`` returned) and it is sent — nothing is skipped;
* final: never sent again, whatever is redelivered. A sent ack's follow-up records (ack-sent
  event, result, chat reply) were published before its final record, so they are not emitted
  again; other notifications' follow-ups are re-emitted with the same ids (consumers dedupe);
* intent without final ("in doubt": killed between 2 and 3, a window of one broker round trip):
  at most ``send_concurrency`` of them (intents are written per group of concurrent sends);
  the rule is ``in_doubt`` — ``resend`` (default) sends it again with the *same* Message-ID
  (counted in ``helpline_notify_resends_total``; the ack-sent event says ``resent``),
  so the customer's mail system (Gmail, Exchange, Dovecot duplicate elimination, our test sink)
  collapses it into one message; ``skip`` records it as ``failed`` with detail ``in-doubt``
  for a human. An unsent ack is a worse failure than a duplicate that has the same Message-ID,
  hence the default. The intent carries the Notification, so a deferred ack (waiting for its
  SLA) or a held alert (waiting for its digest) survives a restart too (phase ``deferred``).

Hard bounces are kept here as well (phase ``hard-bounce``, keyed by the address's hash), and
final records carry their recipient, so per-recipient caps are rebuilt on restart.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from aiokafka.errors import KafkaError

from notify.loop_guard import normalize_address
from notify.transport import JournalUnavailable
from schemas.codec import encode
from schemas.notification import NotificationResult
from schemas.stage import KafkaConnection, Out
from schemas.topics import NOTIFY_SENTLOG

_RANK = {"deferred": 1, "intent": 2}


def bounce_key(address: str) -> str:
    return "bounce:" + hashlib.sha256(normalize_address(address).encode()).hexdigest()[:32]


def record_key(r: NotificationResult) -> bytes:
    if r.phase == "hard-bounce" and r.recipient:
        return bounce_key(r.recipient).encode()
    return r.notification_id.encode()


@dataclass(slots=True)
class SentLog:
    """The notifier's memory, rebuilt from the compacted topic."""

    finals: dict[str, NotificationResult] = field(default_factory=dict)
    open: dict[str, NotificationResult] = field(default_factory=dict)  # deferred / intent
    bounced: set[str] = field(default_factory=set)

    def apply(self, r: NotificationResult) -> None:
        nid = r.notification_id
        if r.phase == "hard-bounce":
            if r.recipient:
                self.bounced.add(normalize_address(r.recipient))
            return
        if r.phase == "final":
            self.finals[nid] = r
            self.open.pop(nid, None)
            return
        if r.notification is None:
            return
        done = self.finals.get(nid)
        if done is not None:
            if done.outcome != "failed" or r.at <= done.at:
                return
            del self.finals[nid]  # a failed notification put back on the outbox: retried
        old = self.open.get(nid)
        if old is not None and (_RANK[old.phase], old.attempts) > (_RANK[r.phase], r.attempts):
            return  # a stale record restored after we moved on
        self.open[nid] = r

    def slim_before(self, cutoff: datetime) -> int:
        """Drop the Notification carried by final records older than ``cutoff`` (memory stays
        bounded; only what is still redelivered needs its follow-ups re-emitted in full)."""
        slimmed = 0
        for nid, r in self.finals.items():
            if r.notification is not None and r.at < cutoff:
                self.finals[nid] = replace(r, notification=None)
                slimmed += 1
        return slimmed

    def final(self, nid: str) -> NotificationResult | None:
        return self.finals.get(nid)

    def in_doubt(self) -> list[NotificationResult]:
        return [r for r in self.open.values() if r.phase == "intent"]

    def deferred(self) -> list[NotificationResult]:
        return [r for r in self.open.values() if r.phase == "deferred"]


class SentLogJournal(Protocol):
    async def write(self, records: Sequence[NotificationResult]) -> None:
        """Durable when it returns (the broker acknowledged every record)."""
        ...

    async def publish(self, outs: Sequence[Out]) -> None:
        """Produce records of other topics (results, events, chat replies) for work the stage
        does on its own timer, where no runner batch carries the outputs. Durable on return."""
        ...

    async def close(self) -> None: ...


class MemoryJournal:
    """A journal that keeps records in lists (unit tests, benchmarks)."""

    def __init__(self) -> None:
        self.records: list[NotificationResult] = []
        self.published: list[Out] = []

    async def write(self, records: Sequence[NotificationResult]) -> None:
        self.records.extend(records)

    async def publish(self, outs: Sequence[Out]) -> None:
        self.published.extend(outs)

    async def close(self) -> None:
        return None


class KafkaJournal:
    """Writes sent-log records with an idempotent aiokafka producer, ``acks=all``."""

    def __init__(self, kafka: KafkaConnection, *, linger_ms: int, timeout_s: float) -> None:
        self._kafka = kafka
        self._topic = kafka.topic(NOTIFY_SENTLOG)
        self._linger_ms = linger_ms
        self._timeout_s = timeout_s
        self._producer: Any = None

    async def _started(self) -> Any:
        if self._producer is None:
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(
                **self._kafka.options(), acks="all", enable_idempotence=True,
                linger_ms=self._linger_ms,
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def write(self, records: Sequence[NotificationResult]) -> None:
        await self._send([(self._topic, record_key(r), encode(r)) for r in records])

    async def publish(self, outs: Sequence[Out]) -> None:
        await self._send([
            (self._kafka.topic(o.topic), o.key, None if o.value is None else encode(o.value))
            for o in outs
        ])

    async def _send(self, items: list[tuple[str, bytes, bytes | None]]) -> None:
        if not items:
            return
        try:
            producer = await self._started()
            pending = [await producer.send(t, value=v, key=k) for t, k, v in items]
            await asyncio.wait_for(asyncio.gather(*pending), self._timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise JournalUnavailable(f"sent-log not written: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
