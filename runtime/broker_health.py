"""Whether a worker can write to the broker: the state its readiness endpoint and metrics
report (:class:`WriteHealth`), the test for a producer that can no longer write, and the probe
of the stage workers (:class:`ClusterWatch`). The connectors' publisher that keeps it,
:class:`runtime.kafka_io.KafkaPublisher`, replaces a dead producer.

Why a replacement: an idempotent aiokafka producer whose sender task died (a broker restarted
under load answered ``OutOfOrderSequenceNumber``; ``ProducerFenced``; an unexpected error)
accepts records forever and never sends them. The SMTP receiver then answered 451 to every
mail until someone restarted it, while ``/readyz`` said ready (issue #17 item 1). Now a dead
producer is noticed (on the next write, and by the probe) and a new one started.

Readiness (:class:`WriteHealth`): a write that fails makes the process not-writable at once; a
write that succeeds, or a probe that reaches the cluster and finds a leader for every partition
this process writes (and no write failing since), makes it writable again. The probe runs every
``probe_interval_s``, so a broker that goes away while no traffic flows is noticed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from schemas.stage import KafkaConnection

log = logging.getLogger(__name__)

# Errors after which this producer instance can never write again (its sender task ended or
# its producer id/sequence numbers are no longer valid): only a new producer helps.
FATAL_PRODUCER_ERRORS: tuple[type[BaseException], ...] = (
    OutOfOrderSequenceNumber, ProducerFenced, UnknownProducerId, InvalidProducerEpoch)
PROBE_INTERVAL_S = 2.0  # how often an idle connector checks it can still write (its readiness)
# A stage worker's probe only feeds the outage metrics (its readiness is the runner's, and the
# alert waits 2 min): every 2 s, nine processes' metadata requests were a third of the idle
# broker's CPU (bench_e2e idle: broker 4 -> 6.4 % of a core)
STAGE_PROBE_INTERVAL_S = 15.0
PROBE_TIMEOUT_S = 3.0  # a probe slower than this (a frozen broker) counts as a failure
RESTART_BACKOFF_S = 1.0  # at most one new producer a second while the broker is away
STOP_TIMEOUT_S = 5.0  # closing a dead producer must not hold up its replacement


@dataclass
class WriteHealth:
    """Whether this process can write to the broker, as its writes and probes say. ``outages``
    counts transitions to not-writable; ``outage_seconds`` the time spent not writable (both
    exported as metrics); ``producer_restarts`` the producers replaced after a fatal error."""

    writable: bool = True
    since: float = 0.0  # when ``writable`` last changed (monotonic seconds)
    last_failure: float | None = None
    last_error: str | None = None
    outages: int = 0
    outage_seconds: float = 0.0  # of outages that ended
    producer_restarts: int = 0

    def succeeded(self, now: float) -> None:
        """A write was acknowledged."""
        if not self.writable:
            log.warning("broker writable again", extra={"outage_s": round(now - self.since, 1)})
            self.outage_seconds += now - self.since
            self.writable, self.since = True, now

    def failed(self, now: float, error: str) -> None:
        """A write (or a probe) failed."""
        self.last_failure, self.last_error = now, error
        if self.writable:
            self.writable, self.since = False, now
            self.outages += 1
            log.warning("broker not writable", extra={"error": error[:300]})

    def probed(self, now: float, quiet_s: float) -> None:
        """A probe reached the cluster: writable again unless a write failed within
        ``quiet_s`` (the cluster answers metadata but refuses writes, e.g. too few replicas)."""
        if self.last_failure is None or now - self.last_failure >= quiet_s:
            self.succeeded(now)

    def down_seconds(self, now: float) -> float:
        """Time spent not writable, the current outage included."""
        return self.outage_seconds + (0.0 if self.writable else now - self.since)

    def report(self, now: float) -> dict[str, object]:
        return {"writable": self.writable, "broker_outages": self.outages,
                "broker_down_s": round(self.down_seconds(now), 3),
                "producer_restarts": self.producer_restarts,
                **({"broker_error": self.last_error} if not self.writable else {})}


class ClusterWatch:
    """The broker as a stage worker sees it, for its metrics: a metadata request every
    ``interval_s`` on a client of its own (the runner's clients retry by themselves; this
    only counts the outages). Stage readiness stays the runner's."""

    def __init__(self, conn: KafkaConnection, interval_s: float = PROBE_INTERVAL_S,
                 timeout_s: float = PROBE_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._conn, self._interval_s, self._timeout_s = conn, interval_s, timeout_s
        self._clock = clock
        self.health = WriteHealth(since=clock())

    async def run(self, stop: asyncio.Event) -> None:
        from aiokafka.client import AIOKafkaClient

        client = AIOKafkaClient(**self._conn.options())
        try:
            while not stop.is_set():
                try:
                    async with asyncio.timeout(self._timeout_s):
                        if not client.cluster.brokers():
                            await client.bootstrap()
                        await client.fetch_all_metadata()
                    self.health.succeeded(self._clock())
                except (KafkaError, TimeoutError, OSError) as exc:
                    self.health.failed(self._clock(), f"probe: {exc!r}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval_s)
        finally:
            await client.close()


def producer_broken(producer: AIOKafkaProducer) -> bool:
    """True once the producer's sender task has ended: it will never send again."""
    sender = getattr(producer, "_sender", None)
    task = getattr(sender, "sender_task", None)
    return task is not None and task.done()
