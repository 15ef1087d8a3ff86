"""The baseline every stage benchmark compares with: a bare aiokafka relay of the same records
(getmany → orjson → send → wait for acks → commit), no helpline code in the path."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer

from runtime.kafka_io import make_producer
from schemas.stage import KafkaConnection


@dataclass(frozen=True)
class RelayTiming:
    from_start_per_s: float  # from the first fetch on: the group join is included
    steady_per_s: float  # from the first batch relayed to the last: start-up excluded


async def bare_relay(conn: KafkaConnection, src: str, dst: str, n: int) -> RelayTiming:
    """Relay ``n`` records from topic ``src`` to ``dst`` (full names) in a fresh group."""
    consumer = AIOKafkaConsumer(src, **conn.options(), group_id=f"bare-{uuid.uuid4().hex}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_poll_records=2000)
    producer = make_producer(conn, linger_ms=5)
    await consumer.start()
    await producer.start()
    done = first = 0
    started = steady_from = time.monotonic()
    try:
        while done < n:
            batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            futs = []
            for msgs in batch.values():
                for m in msgs:
                    futs.append(await producer.send(dst, orjson.dumps(orjson.loads(m.value)),
                                                    key=m.key))
            await asyncio.gather(*futs)
            if batch:
                await consumer.commit()
            if futs and not done:
                steady_from, first = time.monotonic(), len(futs)
            done += len(futs)
        ended = time.monotonic()
        return RelayTiming(n / (ended - started), (n - first) / max(ended - steady_from, 1e-9))
    finally:
        await producer.stop()
        await consumer.stop()
