"""Test helpers around a real broker: produce records, read a topic back, decoded."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from runtime import topic_io
from runtime.kafka_io import KafkaPublisher
from schemas.codec import DecodeError, decode
from schemas.stage import KafkaConnection
from schemas.topics import TopicSpec


@dataclass(frozen=True)
class Consumed:
    key: bytes | None
    value: Any  # decoded record, or None for a tombstone
    raw: bytes | None
    partition: int
    offset: int
    headers: tuple[tuple[str, bytes], ...] = ()


async def produce(
    conn: KafkaConnection, spec: TopicSpec, records: list[tuple[bytes, Any]],
    timeout_s: float = 30.0,
) -> None:
    async with KafkaPublisher(conn, timeout_s=timeout_s) as pub:
        for key, value in records:
            await pub.publish(spec, key, value)


async def produce_raw(
    conn: KafkaConnection, spec: TopicSpec, records: list[tuple[bytes, bytes]]
) -> None:
    """Produce bytes as they are (e.g. garbage, for dead-letter tests)."""
    from runtime.kafka_io import make_producer, start_client

    producer = make_producer(conn)
    await start_client(producer, conn)
    try:
        for key, value in records:
            await producer.send_and_wait(conn.topic(spec), value, key=key)
    finally:
        await producer.stop()


async def read_topic(
    conn: KafkaConnection,
    spec: TopicSpec,
    *,
    expect: int | None = None,
    timeout_s: float = 20.0,
    idle_s: float = 1.0,
    decode_values: bool = True,
) -> list[Consumed]:
    """Read a topic from the beginning without a consumer group.

    Returns once ``expect`` records were read (if given) or after ``idle_s`` without new
    records once the end was reached, and at the latest after ``timeout_s``.
    """
    consumer = AIOKafkaConsumer(**conn.options(), enable_auto_commit=False,
                                auto_offset_reset="earliest", isolation_level="read_committed")
    await consumer.start()
    try:
        name = conn.topic(spec)
        parts = consumer.partitions_for_topic(name)
        deadline = time.monotonic() + timeout_s
        while not parts and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(name)
        tps = [TopicPartition(name, p) for p in sorted(parts or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Consumed] = []
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp, msgs in batch.items():
                for m in msgs:
                    value = m.value
                    if decode_values and value is not None:
                        value = decode(spec.value_type, value)
                    out.append(Consumed(m.key, value, m.value, tp.partition, m.offset,
                                        tuple(m.headers or ())))
                    last_new = time.monotonic()
            if expect is not None and len(out) >= expect:
                break
            if expect is None and time.monotonic() - last_new > idle_s:
                ends = await consumer.end_offsets(tps)
                positions = [await _position(consumer, tp) for tp in tps]
                if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                    break
        return out
    finally:
        await consumer.stop()


async def read_to_end(
    conn: KafkaConnection, spec: TopicSpec, timeout_s: float = 30.0
) -> list[Consumed]:
    """Every record of ``spec`` up to the end offsets seen when called, decoded (``value`` is
    None for a tombstone; a record that does not decode raises). Raises TimeoutError if the
    end is not reached in time. The runtime's own reader, waiting for the topic to appear."""
    out: list[Consumed] = []
    for r in await topic_io.read_to_end(conn, spec, timeout_s, wait_for_topics=True):
        if r.error is not None:
            raise DecodeError(f"{spec.name} offset {r.offset}: {r.error}")
        out.append(Consumed(r.key, r.value, r.raw, r.partition, r.offset, tuple(r.headers)))
    return out


async def values_to_end(
    conn: KafkaConnection, spec: TopicSpec, timeout_s: float = 30.0
) -> list[Any]:
    """The decoded values of :func:`read_to_end`, tombstones left out."""
    return [c.value for c in await read_to_end(conn, spec, timeout_s) if c.value is not None]


async def run_until(runner: Any, done: Any, limit_s: float = 60.0) -> None:
    """Run a StageRunner until ``done()`` is true (or ``limit_s`` passed), then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + limit_s
        while not done() and asyncio.get_running_loop().time() < deadline:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int:
    pos: int = await consumer.position(tp)
    return pos


def run(coro: Any) -> Any:
    """Run a coroutine from sync test code."""
    return asyncio.run(coro)
