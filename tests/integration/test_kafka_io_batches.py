"""BatchSender against the real broker (idempotent producer, acks=all): keyed records land on
the partition ``send()`` would have chosen, in order, across full batches; a record bigger than
a batch goes the old way; one too large for a request is refused alone; publish_many reports
one outcome per record."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError

from runtime.errors import RecordTooLarge
from runtime.kafka_io import BatchSender, KafkaPublisher, make_producer, start_client
from schemas.raw import RawEmail
from schemas.stage import KafkaConnection
from schemas.topics import RAW_EMAIL, TopicSpec
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

PARTITIONS = 5
SMALL_BATCH = 4096  # so a few hundred records need several batches per partition

Got = dict[int, list[tuple[bytes, bytes]]]  # partition -> (key, value) in offset order


async def _topics(conn: KafkaConnection, *names: str) -> None:
    admin = AIOKafkaAdminClient(**conn.options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def _read(conn: KafkaConnection, name: str, n: int) -> Got:
    consumer = AIOKafkaConsumer(**conn.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(name, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        got: Got = {p: [] for p in range(PARTITIONS)}
        seen = 0
        async with asyncio.timeout(30):
            while seen < n:
                for tp, msgs in (await consumer.getmany(timeout_ms=200)).items():
                    for m in msgs:
                        assert m.key is not None and m.value is not None
                        got[tp.partition].append((m.key, m.value))
                        assert dict(m.headers) == {"h": b"1"}
                    seen += len(msgs)
        return got
    finally:
        await consumer.stop()


def _records(n: int) -> list[tuple[bytes, bytes]]:
    # keys of many lengths (murmur2 has a tail for 1-3 trailing bytes); values ~100-400 B
    return [(f"k{i % 37}-{'x' * (i % 7)}".encode(), b"v%05d" % i + b"." * (100 + i % 300))
            for i in range(n)]


def test_batched_records_land_where_send_puts_them_in_order(kafka_conn: KafkaConnection) -> None:
    async def go() -> None:
        via_send, via_batch = (f"{kafka_conn.topic_prefix}{uuid.uuid4().hex[:6]}.{s}"
                               for s in ("send", "batch"))
        await _topics(kafka_conn, via_send, via_batch)
        records = _records(600)
        big = (b"k3-xxx", b"B" * (SMALL_BATCH * 3))  # bigger than a batch: sent by send()
        records.insert(300, big)
        producer = make_producer(kafka_conn, max_batch_size=SMALL_BATCH)
        await start_client(producer, kafka_conn)
        try:
            futs = [await producer.send(via_send, v, key=k, headers=[("h", b"1")])
                    for k, v in records]
            await asyncio.gather(*futs)
            sender = BatchSender(producer, batch_bytes=SMALL_BATCH)
            sent = await sender.send([(via_batch, k, v) for k, v in records],
                                     headers=[("h", b"1")])
            assert all(isinstance(s, asyncio.Future) for s in sent)
            assert len({id(s) for s in sent}) > 2 * PARTITIONS  # several batches a partition
            await asyncio.gather(*sent)
        finally:
            await producer.stop()
        expected = await _read(kafka_conn, via_send, len(records))
        got = await _read(kafka_conn, via_batch, len(records))
        assert got == expected  # same partition per key, same order within each
        assert sum(map(len, got.values())) == len(records)
        assert big in got[next(p for p, rs in got.items() if big in rs)]

    asyncio.run(go())


def test_a_record_too_large_for_a_request_is_refused_alone(kafka_conn: KafkaConnection) -> None:
    async def go() -> None:
        name = f"{kafka_conn.topic_prefix}{uuid.uuid4().hex[:6]}.large"
        await _topics(kafka_conn, name)
        producer = make_producer(kafka_conn, max_batch_size=SMALL_BATCH,
                                 max_request_size=64 * 1024)
        await start_client(producer, kafka_conn)
        try:
            sent = await BatchSender(producer, batch_bytes=SMALL_BATCH).send(
                [(name, b"a", b"1"), (name, b"a", b"x" * 100_000), (name, b"a", b"3")],
                headers=[("h", b"1")])
            assert isinstance(sent[1], MessageSizeTooLargeError)
            await asyncio.gather(sent[0], sent[2])  # type: ignore[arg-type]
        finally:
            await producer.stop()
        got = await _read(kafka_conn, name, 2)
        assert [v for rs in got.values() for _, v in rs] == [b"1", b"3"]

    asyncio.run(go())


def _mail(i: int, body: bytes = b"hello") -> RawEmail:
    from datetime import UTC, datetime

    return RawEmail(source="file", mailbox=f"box{i % 3}", raw=b"Subject: %d\r\n\r\n" % i + body,
                    received_at=datetime(2026, 1, 1, tzinfo=UTC), uid=i)


def test_publish_many_one_outcome_per_record(kafka_conn: KafkaConnection) -> None:
    async def go() -> list[BaseException | None]:
        huge = b"x" * (65 * 1024 * 1024)  # over the 64 MiB request limit: refused alone
        records = [(b"box%d" % (i % 3), _mail(i)) for i in range(50)]
        records.insert(10, (b"box1", _mail(99, huge)))
        async with KafkaPublisher(kafka_conn) as pub:
            return await pub.publish_many(RAW_EMAIL, records)

    outcomes = asyncio.run(go())
    assert outcomes[:10] == [None] * 10 and outcomes[11:] == [None] * 40
    too_large = outcomes[10]
    assert isinstance(too_large, RecordTooLarge)
    assert too_large.size > 65 * 1024 * 1024  # the encoded record's own size
    got = asyncio.run(read_topic(kafka_conn, RAW_EMAIL, expect=50))
    assert sorted(c.value.uid for c in got) == list(range(50))


class _CountingPublisher(KafkaPublisher):
    """The real publisher, counting its writes (one per broker round trip)."""

    writes = 0

    async def publish_many(self, topic: TopicSpec, records: Sequence[tuple[bytes, Any]]
                           ) -> list[BaseException | None]:
        self.writes += 1
        return await super().publish_many(topic, records)


def test_concurrent_publishes_are_written_together(kafka_conn: KafkaConnection) -> None:
    """Sessions publishing at once (the SMTP receiver's) share broker round trips: each call
    returns once its own record is acknowledged, every record is there once, a refused one
    fails its own caller only."""
    kafka_conn = KafkaConnection(kafka_conn.bootstrap_servers, f"g{uuid.uuid4().hex[:6]}.",
                                 kafka_conn.client_options)

    async def go() -> tuple[list[BaseException | None], int]:
        from runtime.kafka_io import create_topics

        await create_topics(kafka_conn, [RAW_EMAIL], partitions=1)
        async with _CountingPublisher(kafka_conn) as pub:
            huge = _mail(99, b"x" * (65 * 1024 * 1024))
            calls = [pub.publish(RAW_EMAIL, b"support", _mail(i)) for i in range(60)]
            calls.insert(30, pub.publish(RAW_EMAIL, b"support", huge))
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            return [o if isinstance(o, BaseException) else None for o in outcomes], pub.writes

    outcomes, writes = asyncio.run(go())
    assert isinstance(outcomes[30], RecordTooLarge)
    assert outcomes[:30] + outcomes[31:] == [None] * 60
    assert writes < 10, f"{writes} writes for 61 concurrent publishes"
    got = asyncio.run(read_topic(kafka_conn, RAW_EMAIL, expect=60))
    assert sorted(c.value.uid for c in got) == list(range(60))
