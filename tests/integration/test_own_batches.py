"""A consumer started under ``skipping_own_batches(producer)`` steps over the record batches that
producer wrote (on the real broker, interleaved with another producer's), keeps every other
record in order, ends positioned at the partition's end (no refetch loop), and leaves every
other consumer of the process - started before, after, or in another task - reading all."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from runtime.kafka_io import create_topics, make_producer
from runtime.own_batches import OwnProducer, installed, skipping_own_batches
from schemas.stage import KafkaConnection
from schemas.topics import TICKET_EVENTS

pytestmark = pytest.mark.integration


async def _drain(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int) -> list[bytes]:
    got: list[bytes] = []
    for _ in range(100):
        if await consumer.position(tp) >= end:
            break
        batches = await consumer.getmany(tp, timeout_ms=200)
        got += [m.value or b"" for m in batches.get(tp, [])]
    return got


def test_own_batches_are_skipped_only_by_the_consumer_started_for_them(kafka_conn) -> None:  # type: ignore[no-untyped-def]
    conn: KafkaConnection = kafka_conn

    async def go() -> None:
        await create_topics(conn, [TICKET_EVENTS], partitions=1)
        topic = conn.topic(TICKET_EVENTS)
        tp = TopicPartition(topic, 0)
        mine, theirs = make_producer(conn, linger_ms=0), make_producer(conn, linger_ms=0)
        await mine.start()
        await theirs.start()

        def consumer() -> AIOKafkaConsumer:
            c = AIOKafkaConsumer(**conn.options(), enable_auto_commit=False,
                                 group_id=f"own-{uuid.uuid4().hex}",
                                 auto_offset_reset="earliest")
            c.assign([tp])
            return c

        before = consumer()
        await before.start()
        try:
            expected: list[bytes] = []
            for i in range(6):  # mine and theirs interleaved, a batch each
                await (await mine.send(topic, f"mine {i}".encode(), key=b"k", partition=0))
                await (await theirs.send(topic, f"theirs {i}".encode(), key=b"k", partition=0))
                expected.append(f"theirs {i}".encode())
            for i in range(3):  # the partition ends with batches of mine only
                await (await mine.send(topic, f"mine tail {i}".encode(), key=b"k", partition=0))
            end = (await before.end_offsets([tp]))[tp]
            assert end == 15

            with skipping_own_batches(OwnProducer(mine)) as hooked:
                skipping = consumer()
                await skipping.start()
            assert hooked and installed()
            after = consumer()  # outside the block: reads everything
            await after.start()

            elsewhere: list[bytes] = []

            async def other_task() -> None:
                c = consumer()
                await c.start()
                try:
                    elsewhere.extend(await _drain(c, tp, end))
                finally:
                    await c.stop()

            try:
                assert await _drain(skipping, tp, end) == expected
                assert await skipping.position(tp) == end  # past the tail of mine
                more = await skipping.getmany(tp, timeout_ms=300)
                assert not more.get(tp)  # and it does not fetch them again
                everything = await _drain(after, tp, end)
                assert len(everything) == 15 and everything[-1] == b"mine tail 2"
                assert await _drain(before, tp, end) == everything
                await asyncio.create_task(other_task())
                assert elsewhere == everything
            finally:
                await skipping.stop()
                await after.stop()
        finally:
            await before.stop()
            await mine.stop()
            await theirs.stop()

    asyncio.run(go())
