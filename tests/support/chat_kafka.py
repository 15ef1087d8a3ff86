"""Read a whole topic as it is now: everything below the current end offsets, decoded.

Deterministic for "nothing was published" assertions: the chat service answers 202 only after
the broker acknowledged the write, so every accepted record is below the end offsets read after
the requests; there is no idle timeout to guess.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.codec import decode
from schemas.stage import KafkaConnection
from schemas.topics import TopicSpec

READ_TIMEOUT_S = 30.0


async def read_all(conn: KafkaConnection, spec: TopicSpec) -> list[Any]:
    consumer = AIOKafkaConsumer(**conn.options(), enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        name = conn.topic(spec)
        deadline = time.monotonic() + READ_TIMEOUT_S
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
            batch = await consumer.getmany(*pending, timeout_ms=200)
            for tp, records in batch.items():
                out.extend(decode(spec.value_type, r.value) for r in records
                           if r.offset < ends[tp] and r.value is not None)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        if pending:
            raise TimeoutError(f"could not read {name} to its end")
        return out
    finally:
        await consumer.stop()


def topic_now(conn: KafkaConnection, spec: TopicSpec) -> list[Any]:
    return asyncio.run(read_all(conn, spec))
