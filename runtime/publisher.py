"""The connectors' Publisher on aiokafka: writes that wait for the broker's acknowledgement, a
producer that is replaced when it can no longer write, and an honest answer to "can this
process write?" for its readiness endpoint and metrics.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from runtime.errors import BrokerUnavailable, RecordTooLarge
from runtime.kafka_io import BatchSender, make_producer, start_client
from schemas.codec import encode
from schemas.stage import KafkaConnection
from schemas.topics import TopicSpec

log = logging.getLogger(__name__)

# a publish() caller's record, waiting for the next write: topic, key, value, its outcome
_Waiting = tuple[TopicSpec, bytes, Any, "asyncio.Future[None]"]

# Errors after which this producer instance can never write again (its sender task ended or
# its producer id/sequence numbers are no longer valid): only a new producer helps.
FATAL_PRODUCER_ERRORS: tuple[type[BaseException], ...] = (
    OutOfOrderSequenceNumber, ProducerFenced, UnknownProducerId, InvalidProducerEpoch)
PROBE_INTERVAL_S = 2.0  # how often an idle process checks it can still reach the cluster
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


class KafkaPublisher:
    """Publishes records and returns only after the broker acknowledged them (acks=all);
    replaces its producer after a fatal producer error; keeps :attr:`health`."""

    def __init__(self, conn: KafkaConnection, timeout_s: float = 10.0, linger_ms: int = 0,
                 *, probe_interval_s: float = PROBE_INTERVAL_S,
                 probe_timeout_s: float = PROBE_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._conn = conn
        self._timeout_s = timeout_s
        self._linger_ms = linger_ms
        self._probe_interval_s = probe_interval_s
        self._probe_timeout_s = probe_timeout_s
        self._clock = clock
        self.health = WriteHealth(since=clock())
        self._producer: AIOKafkaProducer | None = self._new_producer()
        self._sender = BatchSender(self._producer)
        self._started = False
        self._replacing = asyncio.Lock()
        self._last_restart = float("-inf")
        self._doomed = False  # a write failed with a FATAL_PRODUCER_ERRORS error
        self._written: set[str] = set()  # full topic names written (what the probe checks)
        self._probe: asyncio.Task[None] | None = None
        self._waiting: list[_Waiting] = []  # records of publish() callers not yet written
        self._writing: asyncio.Task[None] | None = None

    def _new_producer(self) -> AIOKafkaProducer:
        return make_producer(self._conn, linger_ms=self._linger_ms,
                             request_timeout_ms=int(self._timeout_s * 1000))

    async def start(self) -> None:
        assert self._producer is not None
        await start_client(self._producer, self._conn)
        self._started = True

    def watch(self) -> None:
        """Start the background probe (workers; short-lived publishers do without)."""
        if self._probe is None:
            self._probe = asyncio.create_task(self._probe_loop())

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        if self._producer is not None:
            await self._producer.stop()

    async def __aenter__(self) -> KafkaPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- writes --------------------------------------------------------------------------

    async def publish_many(
        self, topic: TopicSpec, records: Sequence[tuple[bytes, Any]]
    ) -> list[BaseException | None]:
        """Hand every record to the producer (one batch per partition, see
        :class:`BatchSender`), then wait for all acknowledgements, bounded by the timeout."""
        name = self._conn.topic(topic)
        self._written.add(name)
        if not await self._usable():
            error = BrokerUnavailable(self._conn.bootstrap_servers,
                                      f"no producer (broker away): {self.health.last_error}")
            return [error for _ in records]
        encoded = [(name, key, None if value is None else encode(value))
                   for key, value in records]
        futures = await self._sender.send(encoded)
        waiting = {id(f): f for f in futures if isinstance(f, asyncio.Future)}
        try:
            async with asyncio.timeout(self._timeout_s):
                await asyncio.gather(*waiting.values(), return_exceptions=True)
        except TimeoutError:
            pass  # what did not complete in time is reported as not acknowledged below
        raw = [_raw_outcome(f) for f in futures]
        self._account(raw)
        return [None if exc is None else self._error(topic, exc, len(data or b""))
                for exc, (_, _, data) in zip(raw, encoded, strict=True)]

    async def publish(self, topic: TopicSpec, key: bytes, value: Any) -> None:
        """Publish one record, returning once the broker acknowledged it. Concurrent calls (an
        SMTP session each, a chat request each) are written together, as a mail server's queue
        manager takes many messages per wake-up: the records that arrive while a write is in
        flight go out as one batch as soon as it is acknowledged. A lone record goes at once
        (no linger); without this every message cost a produce request of its own, one after
        the other on the mailbox's partition (the SMTP receiver took ~140 mails/s)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((topic, key, value, done))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_waiting())
        await asyncio.shield(done)  # (a caller giving up does not cancel the others' write)

    async def _write_waiting(self) -> None:
        """Write what callers of :meth:`publish` wait for, a batch per broker round trip,
        until nobody waits."""
        waiting: list[_Waiting] = []
        try:
            while self._waiting:
                waiting, self._waiting = self._waiting, []
                by_topic: dict[str, list[_Waiting]] = {}
                for item in waiting:
                    by_topic.setdefault(item[0].name, []).append(item)
                for items in by_topic.values():
                    try:
                        outcomes = await self.publish_many(items[0][0],
                                                           [(k, v) for _, k, v, _ in items])
                    except Exception as exc:  # e.g. not encodable: every caller hears of it
                        outcomes = [exc] * len(items)
                    for (_, _, _, done), outcome in zip(items, outcomes, strict=True):
                        if done.done():
                            continue
                        if outcome is None:
                            done.set_result(None)
                        else:
                            done.set_exception(outcome)
        except asyncio.CancelledError:  # stopping: nobody is left waiting forever
            for *_, done in (*waiting, *self._waiting):
                if not done.done():
                    done.set_exception(BrokerUnavailable(self._conn.bootstrap_servers,
                                                         "publisher stopped"))
            self._waiting = []
            raise
        finally:
            self._writing = None

    def _account(self, outcomes: Sequence[BaseException | None]) -> None:
        now = self._clock()
        failures = [e for e in outcomes
                    if e is not None and not isinstance(e, MessageSizeTooLargeError)]
        if failures:
            self.health.failed(now, repr(failures[0]))
            self._doomed |= any(isinstance(e, FATAL_PRODUCER_ERRORS) for e in failures)
        elif any(e is None for e in outcomes):
            self.health.succeeded(now)

    def _error(self, topic: TopicSpec, exc: BaseException, size: int) -> BaseException:
        if isinstance(exc, MessageSizeTooLargeError):
            return RecordTooLarge(topic.name, size)
        return BrokerUnavailable(self._conn.bootstrap_servers,
                                 f"write to {topic.name} not acknowledged: {exc!r}")

    # -- a producer that can write -------------------------------------------------------

    async def _usable(self) -> bool:
        """A started producer whose sender is alive, replacing a dead one (at most once per
        ``RESTART_BACKOFF_S``); False while no producer could be started."""
        if self._alive():
            return True
        async with self._replacing:
            if self._alive():
                return True  # another writer replaced it meanwhile
            now = self._clock()
            if now - self._last_restart < RESTART_BACKOFF_S:
                return False
            self._last_restart = now
            await self._replace()
            return self._producer is not None

    def _alive(self) -> bool:
        return self._producer is not None and not self._doomed and \
            not producer_broken(self._producer)

    async def _replace(self) -> None:
        old, self._producer, self._doomed = self._producer, None, False
        if old is not None:
            log.warning("producer can no longer write (sender stopped); starting a new one")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(old.stop(), STOP_TIMEOUT_S)
        fresh = self._new_producer()
        try:
            await asyncio.wait_for(start_client(fresh, self._conn), self._timeout_s)
        except (BrokerUnavailable, TimeoutError, KafkaError, OSError) as exc:
            self.health.failed(self._clock(), f"new producer did not start: {exc}")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(fresh.stop(), STOP_TIMEOUT_S)
            return
        self._producer, self._sender = fresh, BatchSender(fresh)
        self.health.producer_restarts += 1

    # -- the probe -------------------------------------------------------------------------

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(self._probe_interval_s)
            try:
                await self.probe()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a probe never ends the worker; it reports
                self.health.failed(self._clock(), f"probe: {exc!r}")

    async def probe(self) -> bool:
        """Replace a dead producer; then ask the cluster for metadata and check that every
        partition of the topics written so far has a leader this process can connect to."""
        if not await self._usable() or self._producer is None:
            return False
        client = self._producer.client
        try:
            async with asyncio.timeout(self._probe_timeout_s):
                cluster = await client.fetch_all_metadata()
                leaders: set[int] = set()
                for name in self._written:
                    parts = cluster.partitions_for_topic(name) or set()
                    available = cluster.available_partitions_for_topic(name) or set()
                    if parts != available:
                        raise KafkaError(f"{name}: partitions without a leader: "
                                         f"{sorted(parts - available)}")
                    leaders |= {cluster.leader_for_partition(TopicPartition(name, p))
                                for p in parts}
                for node in leaders:
                    if not await client.ready(node):
                        raise KafkaError(f"leader {node} not reachable")
        except (KafkaError, TimeoutError, OSError) as exc:
            self.health.failed(self._clock(), f"probe: {exc!r}")
            return False
        self.health.probed(self._clock(), self._probe_interval_s)
        return self.health.writable


def _raw_outcome(f: asyncio.Future[Any] | BaseException) -> BaseException | None:
    if isinstance(f, BaseException):
        return f
    if not f.done():
        return TimeoutError()
    if f.cancelled():
        return asyncio.CancelledError()
    return f.exception()
