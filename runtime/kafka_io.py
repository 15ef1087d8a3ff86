"""aiokafka adapters: producers and batches, and topic administration. The connectors'
Publisher, :class:`KafkaPublisher`, lives in :mod:`runtime.publisher`."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupCoordinatorNotAvailableError,
    KafkaConnectionError,
    KafkaError,
    TopicAlreadyExistsError,
)
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from runtime.errors import BrokerUnavailable
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

