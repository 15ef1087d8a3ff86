"""aiokafka adapters: the Publisher port for connectors, and topic administration."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupCoordinatorNotAvailableError,
    KafkaConnectionError,
    KafkaError,
    MessageSizeTooLargeError,
    TopicAlreadyExistsError,
)
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from runtime.broker_health import (
    FATAL_PRODUCER_ERRORS,
    PROBE_INTERVAL_S,
    PROBE_TIMEOUT_S,
    RESTART_BACKOFF_S,
    STOP_TIMEOUT_S,
    WriteHealth,
    producer_broken,
)
from runtime.errors import BrokerUnavailable, RecordTooLarge
from schemas.codec import encode
from schemas.stage import KafkaConnection
from schemas.topics import ALL, DEAD_LETTER_MAX_BYTES, TopicSpec

# Larger batches than aiokafka's 16 KiB default: a raw email is often bigger than that, and
# one mail per request made the IMAP connector publish at ~4 % of a bare FETCH loop.
PRODUCER_BATCH_BYTES = 1024 * 1024
MAX_REQUEST_BYTES = DEAD_LETTER_MAX_BYTES


def make_producer(conn: KafkaConnection, linger_ms: int = 5, **extra: Any) -> AIOKafkaProducer:
    opts = conn.options()
    opts.update(acks="all", enable_idempotence=True, linger_ms=linger_ms,
                max_batch_size=PRODUCER_BATCH_BYTES, max_request_size=MAX_REQUEST_BYTES)
    opts.update(extra)
    return AIOKafkaProducer(**opts)


# Keys hashed per process, bounded: murmur2 is pure Python (benchmarks/README.md) and the
# same ticket / customer / mailbox keys come back batch after batch.
PARTITION_HASH_CACHE_MAX = 100_000
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (the Java client's ``Utils.murmur2``, as ``aiokafka.partitioner``'s):
    the same values, property-tested against aiokafka's, faster (whole 32-bit words
    unpacked at once, masks only where a product can overflow). Every new ticket or customer
    key is hashed once on its way to a partition."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    words = length >> 2
    if words:
        for k in struct.unpack_from(f"<{words}I", data):
            k = (k * _M) & _MASK
            k = ((k ^ (k >> 24)) * _M) & _MASK
            h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail:
        base = length - tail
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)

OutRecord = tuple[str, bytes | None, bytes | None]  # full topic name, key, encoded value
Headers = Sequence[tuple[str, bytes]]
_NOT_SENT = RuntimeError("record not handed to the producer")


class BatchSender:
    """Hands many records to an aiokafka producer as one ``BatchBuilder`` per partition
    (``send_batch``) instead of one ``send()`` (and one future) per record: no per-record
    coroutine, future or murmur2 in the producer, and no linger wait, since a complete builder
    is sent at once (bench_runner: 0.57-0.64 -> 0.70-0.72 of the bare relay).

    Keyed records land on the partition aiokafka's default partitioner picks for their key
    (murmur2 of the key over the topic's sorted partitions, as the Java client), so switching
    from ``send()`` moves no key. Records without a key, and records bigger than one batch,
    go through ``send()`` as before (which refuses what exceeds ``max_request_size``).

    Outcomes: one entry per record, in order: the future of the batch it travelled in (every
    record of a failed batch shares that failure) or the exception that refused it at once.
    """

    def __init__(self, producer: AIOKafkaProducer, batch_bytes: int = PRODUCER_BATCH_BYTES
                 ) -> None:
        self._producer = producer
        self._batch_bytes = batch_bytes
        self._hashes: dict[bytes, int] = {}

    def _hash(self, key: bytes) -> int:
        h = self._hashes.get(key)
        if h is None:
            if len(self._hashes) >= PARTITION_HASH_CACHE_MAX:
                self._hashes.clear()
            h = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return h

    async def send(self, records: Sequence[OutRecord], headers: Headers = ()
                   ) -> list[asyncio.Future[Any] | BaseException]:
        producer, hashes = self._producer, self._hashes
        hdrs = list(headers)
        sent: list[asyncio.Future[Any] | BaseException] = [_NOT_SENT] * len(records)
        partitions: dict[str, list[int] | KafkaError] = {}
        building: dict[tuple[str, int], tuple[BatchBuilder, list[int]]] = {}
        # a record this much smaller than a batch surely fits an empty one: only bigger ones
        # are sized exactly (the estimate is a fraction of the per-record path)
        small = self._batch_bytes // 2 - sum(len(k) + len(v) for k, v in hdrs)
        for i, (topic, key, value) in enumerate(records):
            parts = partitions.get(topic)
            if parts is None:
                try:
                    parts = sorted(await producer.partitions_for(topic))
                except KafkaError as exc:
                    parts = exc
                partitions[topic] = parts
            if isinstance(parts, KafkaError):
                sent[i] = parts
                continue
            if key is None:
                sent[i] = await self._send_one(topic, key, value, hdrs)
                continue
            h = hashes.get(key)
            tp = (topic, parts[(self._hash(key) if h is None else h) % len(parts)])
            slot = building.get(tp)
            if len(key) + (len(value) if value is not None else 0) > small and \
                    DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, hdrs) > \
                    self._batch_bytes:
                if slot is not None:  # what is before it on its partition goes first
                    await self._submit(tp, *building.pop(tp), sent)
                sent[i] = await self._send_one(topic, key, value, hdrs)
                continue
            if slot is None:
                slot = building[tp] = (producer.create_batch(), [])
            if slot[0].append(timestamp=None, key=key, value=value, headers=hdrs) is None:
                await self._submit(tp, *slot, sent)  # full: send it, start the next one
                slot = building[tp] = (producer.create_batch(), [])
                slot[0].append(timestamp=None, key=key, value=value, headers=hdrs)
            slot[1].append(i)
        for tp, slot in building.items():
            await self._submit(tp, *slot, sent)
        return sent

    async def _send_one(self, topic: str, key: bytes | None, value: bytes | None,
                        headers: list[tuple[str, bytes]]) -> asyncio.Future[Any] | BaseException:
        try:
            fut: asyncio.Future[Any] = await self._producer.send(topic, value, key=key,
                                                                 headers=headers)
        except KafkaError as exc:  # refused before sending, e.g. too large
            refused: BaseException = exc
            return refused
        return fut

    async def _submit(self, tp: tuple[str, int], builder: BatchBuilder, members: list[int],
                      sent: list[asyncio.Future[Any] | BaseException]) -> None:
        builder.close()  # complete: the sender takes it without lingering
        outcome: asyncio.Future[Any] | BaseException
        try:
            outcome = await self._producer.send_batch(builder, tp[0], partition=tp[1])
        except KafkaError as exc:
            outcome = exc
        for i in members:
            sent[i] = outcome


async def start_client(client: Any, conn: KafkaConnection) -> None:
    """Start an aiokafka client; a broker that is not there is a readable error, not a trace."""
    try:
        await client.start()
    except KafkaConnectionError as exc:
        raise BrokerUnavailable(conn.bootstrap_servers, str(exc)) from None
    except KafkaError as exc:
        raise BrokerUnavailable(conn.bootstrap_servers, f"{type(exc).__name__}: {exc}") from None


log = logging.getLogger(__name__)

# a publish() caller's record, waiting for the next write: topic, key, value, its outcome
_Waiting = tuple[TopicSpec, bytes, Any, "asyncio.Future[None]"]


class KafkaPublisher:
    """Publishes records and returns only after the broker acknowledged them (acks=all).

    Replaces its producer after a fatal producer error: an idempotent aiokafka producer whose
    sender task died (a broker restarted under load answered ``OutOfOrderSequenceNumber``)
    takes records forever and never sends them; the SMTP receiver then answered 451 to every
    mail until restarted by hand while ``/readyz`` said ready (issue #17 item 1). Keeps
    :attr:`health` (see :mod:`runtime.broker_health`): a failed write makes it unwritable at
    once; a write that succeeds, or the probe started by :meth:`watch` (every
    ``probe_interval_s``: metadata, a leader for every partition written, each leader
    reachable), makes it writable again."""

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


@dataclass(frozen=True)
class TopicStatus:
    name: str
    key: str
    cleanup: str
    partitions: int
    end_offsets: int
    lag: dict[str, int]


# Replicas per partition when none is configured, on a cluster with at least that many
# brokers; writes (acks=all) then need MIN_INSYNC_REPLICAS of them, so an acknowledged record
# survives the loss of one broker and a cluster missing one broker still takes writes.
REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2


async def create_topics(
    conn: KafkaConnection,
    specs: Iterable[TopicSpec] = ALL,
    partitions: int = 4,
    replication_factor: int | None = 1,
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Idempotent.

    ``replication_factor=None``: :data:`REPLICATION_FACTOR` with ``min.insync.replicas``
    :data:`MIN_INSYNC_REPLICAS` on a cluster of that many brokers or more, else 1."""
    admin = AIOKafkaAdminClient(**conn.options())
    await start_client(admin, conn)
    try:
        existing = set(await admin.list_topics())
        extra: dict[str, str] = {}
        if replication_factor is None:
            brokers = len((await admin.describe_cluster()).get("brokers", ()))
            replication_factor = REPLICATION_FACTOR if brokers >= REPLICATION_FACTOR else 1
        if replication_factor >= REPLICATION_FACTOR:
            extra["min.insync.replicas"] = str(MIN_INSYNC_REPLICAS)
        new = [
            NewTopic(conn.topic(s), s.partitions or partitions, replication_factor,
                     topic_configs={**s.configs(), **extra})
            for s in specs if conn.topic(s) not in existing
        ]
        created: list[str] = []
        for topic in new:  # one by one: a concurrent creator must not fail the whole batch
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        await _wait_for_metadata(admin, [t.name for t in new])
        return created
    finally:
        await admin.close()


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: Sequence[str]) -> None:
    for _ in range(100):
        if set(names) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)


async def committed_offsets(admin: AIOKafkaAdminClient, gid: str
                            ) -> dict[TopicPartition, int]:
    """Committed offsets of a group; empty while the broker has no group coordinator yet
    (a fresh broker creates ``__consumer_offsets`` on first use)."""
    for attempt in range(5):
        try:
            offsets = await admin.list_consumer_group_offsets(gid)
            return {tp: om.offset for tp, om in offsets.items()}
        except GroupCoordinatorNotAvailableError:
            await asyncio.sleep(0.2 * (attempt + 1))
    return {}


def group_id(conn: KafkaConnection, stage: str) -> str:
    """Consumer group of a stage; prefixed so deployments sharing a cluster stay apart."""
    return f"{conn.topic_prefix}{stage}"


async def topic_status(
    conn: KafkaConnection, specs: Iterable[TopicSpec], consumers: dict[str, Sequence[str]]
) -> list[TopicStatus]:
    """End offsets per topic and the lag of each stage consuming it.

    ``consumers`` maps a topic name to the stages that consume it.
    """
    admin = AIOKafkaAdminClient(**conn.options())
    await start_client(admin, conn)
    consumer = AIOKafkaConsumer(**conn.options(), enable_auto_commit=False)
    await start_client(consumer, conn)
    try:
        existing = set(await admin.list_topics())
        out: list[TopicStatus] = []
        group_offsets: dict[str, dict[TopicPartition, int]] = {}
        for spec in specs:
            name = conn.topic(spec)
            if name not in existing:
                out.append(TopicStatus(spec.name, spec.key, spec.cleanup, 0, -1, {}))
                continue
            parts = consumer.partitions_for_topic(name) or set()
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(name) or set()
            tps = [TopicPartition(name, p) for p in sorted(parts)]
            ends = await consumer.end_offsets(tps) if tps else {}
            lag: dict[str, int] = {}
            for stage in consumers.get(spec.name, ()):
                gid = group_id(conn, stage)
                if gid not in group_offsets:
                    group_offsets[gid] = await committed_offsets(admin, gid)
                committed = group_offsets[gid]
                lag[stage] = sum(max(0, ends[tp] - max(committed.get(tp, 0), 0)) for tp in tps)
            out.append(TopicStatus(spec.name, spec.key, spec.cleanup, len(tps),
                                   sum(ends.values()), lag))
        return out
    finally:
        await consumer.stop()
        await admin.close()

