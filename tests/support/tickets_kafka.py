"""Reading a topic to its current end (no consumer group), for tickets integration tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.codec import decode
from schemas.stage import KafkaConnection
from schemas.topics import TopicSpec


@dataclass(frozen=True)
class Read:
    key: bytes | None
    value: Any
    raw: bytes | None
    partition: int
    offset: int


async def read_to_end(conn: KafkaConnection, spec: TopicSpec, timeout_s: float = 30) -> list[Read]:
    """Every record of ``spec`` up to the end offsets seen when called, decoded."""
    consumer = AIOKafkaConsumer(**conn.options(), enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        name = conn.topic(spec)
        deadline = time.monotonic() + timeout_s
        parts = consumer.partitions_for_topic(name)
        while not parts and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(name)
        tps = [TopicPartition(name, p) for p in sorted(parts or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[Read] = []
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp, msgs in batch.items():
                for m in msgs:
                    if m.offset < ends[tp]:
                        value = decode(spec.value_type, m.value) if m.value is not None else None
                        out.append(Read(m.key, value, m.value, tp.partition, m.offset))
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        if pending:
            raise TimeoutError(f"{name} not read to its end in {timeout_s}s")
        return out
    finally:
        await consumer.stop()
