"""Read a whole topic back, decoded, up to its end offsets at the time of the call."""

from __future__ import annotations

import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.codec import decode
from schemas.stage import KafkaConnection
from schemas.topics import TopicSpec


async def read_all(conn: KafkaConnection, spec: TopicSpec, timeout_s: float = 20.0) -> list[Any]:
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
        out: list[Any] = []
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                out.extend(decode(spec.value_type, m.value) for m in msgs if m.value is not None)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return out
    finally:
        await consumer.stop()
