"""aiokafka adapters: the Publisher port for connectors, and topic administration."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
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


async def start_client(client: Any, conn: KafkaConnection) -> None:
    """Start an aiokafka client; a broker that is not there is a readable error, not a trace."""
    try:
        await client.start()
    except KafkaConnectionError as exc:
        raise BrokerUnavailable(conn.bootstrap_servers, str(exc)) from None
    except KafkaError as exc:
        raise BrokerUnavailable(conn.bootstrap_servers, f"{type(exc).__name__}: {exc}") from None


class KafkaPublisher:
    """Publishes one record and returns only after the broker acknowledged it (acks=all)."""

    def __init__(self, conn: KafkaConnection, timeout_s: float = 10.0, linger_ms: int = 0) -> None:
        self._conn = conn
        self._timeout_s = timeout_s
        self._producer = make_producer(conn, linger_ms=linger_ms,
                                       request_timeout_ms=int(timeout_s * 1000))

    async def start(self) -> None:
        await start_client(self._producer, self._conn)

    async def stop(self) -> None:
        await self._producer.stop()

    async def __aenter__(self) -> KafkaPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def publish_many(
        self, topic: TopicSpec, records: Sequence[tuple[bytes, Any]]
    ) -> list[BaseException | None]:
        """Hand every record to the producer, then wait for all acknowledgements: one future per
        record and no task per record (3x cheaper than gathering ``publish`` calls)."""
        name = self._conn.topic(topic)
        futures: list[asyncio.Future[Any] | BaseException] = []
        sizes: list[int] = []
        for key, value in records:
            data = None if value is None else encode(value)
            sizes.append(len(data or b""))
            try:
                futures.append(await self._producer.send(name, data, key=key))
            except KafkaError as exc:  # refused before sending, e.g. too large
                futures.append(exc)
        waiting = [f for f in futures if isinstance(f, asyncio.Future)]
        try:
            async with asyncio.timeout(self._timeout_s):
                await asyncio.gather(*waiting, return_exceptions=True)
        except TimeoutError:
            pass  # what did not complete in time is reported as not acknowledged below
        return [self._outcome(topic, f, n) for f, n in zip(futures, sizes, strict=True)]

    def _outcome(self, topic: TopicSpec, f: asyncio.Future[Any] | BaseException, size: int
                 ) -> BaseException | None:
        exc: BaseException | None
        if isinstance(f, BaseException):
            exc = f
        elif not f.done():
            exc = TimeoutError()
        elif f.cancelled():
            exc = asyncio.CancelledError()
        else:
            exc = f.exception()
        if exc is None:
            return None
        if isinstance(exc, MessageSizeTooLargeError):
            return RecordTooLarge(topic.name, size)
        return BrokerUnavailable(self._conn.bootstrap_servers,
                                 f"write to {topic.name} not acknowledged: {exc!r}")

    async def publish(self, topic: TopicSpec, key: bytes, value: Any) -> None:
        (outcome,) = await self.publish_many(topic, [(key, value)])
        if outcome is not None:
            raise outcome


@dataclass(frozen=True)
class TopicStatus:
    name: str
    key: str
    cleanup: str
    partitions: int
    end_offsets: int
    lag: dict[str, int]


async def create_topics(
    conn: KafkaConnection,
    specs: Iterable[TopicSpec] = ALL,
    partitions: int = 4,
    replication_factor: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Idempotent."""
    admin = AIOKafkaAdminClient(**conn.options())
    await start_client(admin, conn)
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(conn.topic(s), s.partitions or partitions, replication_factor,
                     topic_configs=s.configs())
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


async def _committed(admin: AIOKafkaAdminClient, gid: str) -> dict[TopicPartition, int]:
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
                    group_offsets[gid] = await _committed(admin, gid)
                committed = group_offsets[gid]
                lag[stage] = sum(max(0, ends[tp] - max(committed.get(tp, 0), 0)) for tp in tps)
            out.append(TopicStatus(spec.name, spec.key, spec.cleanup, len(tps),
                                   sum(ends.values()), lag))
        return out
    finally:
        await consumer.stop()
        await admin.close()
