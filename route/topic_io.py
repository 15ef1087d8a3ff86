"""Small aiokafka helpers for the route CLI: read a topic to its current end, produce records.
(The package may not import ``runtime``; these take the StageContext's connection.)"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.codec import DecodeError, decoder, encode
from schemas.stage import KafkaConnection
from schemas.topics import TopicSpec

T = TypeVar("T")


async def read_to_end(
    conn: KafkaConnection, spec: TopicSpec, timeout_s: float
) -> list[tuple[bytes | None, Any | None]]:
    """Every record of a topic from the beginning to its end now, decoded (undecodable
    records are skipped: this is a view, the stage's dead-letter topic keeps them)."""
    decode: Callable[[bytes], Any] = decoder(spec.value_type)
    consumer = AIOKafkaConsumer(**conn.options(), enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        name = conn.topic(spec)
        parts = consumer.partitions_for_topic(name)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(name) or set()
        tps = [TopicPartition(name, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        out: list[tuple[bytes | None, Any | None]] = []
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for msgs in batch.values():
                for m in msgs:
                    try:
                        out.append((m.key, decode(m.value) if m.value is not None else None))
                    except DecodeError:
                        continue
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        if pending:
            raise TimeoutError(f"{name} not read to its end within {timeout_s}s")
        return out
    finally:
        await consumer.stop()


def latest(records: Sequence[tuple[bytes | None, Any | None]]) -> dict[bytes, Any]:
    """The compacted view: the last value per key, tombstones removed."""
    table: dict[bytes, Any] = {}
    for key, value in records:
        if key is None:
            continue
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return table


async def produce(conn: KafkaConnection, spec: TopicSpec, records: Sequence[tuple[bytes, Any]],
                  timeout_s: float) -> None:
    options = {"request_timeout_ms": int(timeout_s * 1000), **conn.options()}
    producer = AIOKafkaProducer(**options, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(conn.topic(spec), encode(value), key=key)
    finally:
        await producer.stop()
