"""The baseline every stage benchmark compares with: a bare aiokafka relay of the same records
(getmany → orjson → send → wait for acks → commit), no helpline code in the path; and a second,
stronger one (:func:`batched_relay`) with the runner's producer path, for benchmarks to report
beside it."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from runtime.kafka_io import BatchSender, make_producer
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


async def batched_relay(conn: KafkaConnection, src: str, dst: str, n: int) -> RelayTiming:
    """A stronger baseline than :func:`bare_relay`, with the producer path helpline's runner
    uses: records handed to the producer one batch per partition (``BatchSender``) and one
    batch in flight (batch N acknowledged and committed while N+1 is converted). Still no
    helpline record types: orjson loads + dumps per record, as the bare relay."""
    consumer = AIOKafkaConsumer(src, **conn.options(), group_id=f"batched-{uuid.uuid4().hex}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_poll_records=2000)
    producer = make_producer(conn, linger_ms=5)
    sender = BatchSender(producer)
    await consumer.start()
    await producer.start()
    done = first = 0
    in_flight: tuple[list[asyncio.Future[Any]], dict[Any, int]] | None = None
    started = steady_from = time.monotonic()
    try:
        while done < n:
            batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            records = [(dst, m.key, orjson.dumps(orjson.loads(m.value)))
                       for msgs in batch.values() for m in msgs]
            if in_flight is not None:
                await asyncio.gather(*in_flight[0])
                await consumer.commit(in_flight[1])
                in_flight = None
            if records:
                sent = await sender.send(records)
                acks = list({id(f): f for f in sent if isinstance(f, asyncio.Future)}.values())
                in_flight = (acks, {tp: msgs[-1].offset + 1 for tp, msgs in batch.items()})
                if not done:
                    steady_from, first = time.monotonic(), len(records)
                done += len(records)
        if in_flight is not None:
            await asyncio.gather(*in_flight[0])
            await consumer.commit(in_flight[1])
        ended = time.monotonic()
        return RelayTiming(n / (ended - started), (n - first) / max(ended - steady_from, 1e-9))
    finally:
        await producer.stop()
        await consumer.stop()
