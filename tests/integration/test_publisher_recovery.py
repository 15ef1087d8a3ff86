"""KafkaPublisher on the real broker after its producer died (issue #17 item 1): the sender
task of an idempotent aiokafka producer ends for good on ``OutOfOrderSequenceNumber`` (a broker
restarted under load), and that producer then takes records and never sends them. The
publisher notices it, starts a new producer and the write goes through; its health counts it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from runtime.broker_health import ClusterWatch, producer_broken
from runtime.kafka_io import KafkaPublisher
from schemas.raw import RawEmail
from schemas.stage import KafkaConnection
from schemas.topics import RAW_EMAIL
from tests.support.kafka import read_to_end

pytestmark = pytest.mark.integration


def _mail(n: int) -> RawEmail:
    return RawEmail(source="smtp", mailbox="support", raw=b"Subject: %d\r\n\r\nhi\r\n" % n,
                    received_at=datetime(2026, 1, 5, tzinfo=UTC))


def _kill_sender(publisher: KafkaPublisher) -> None:
    """End the producer's sender task as a fatal producer error does."""
    producer = publisher._producer
    assert producer is not None
    producer._sender.sender_task.cancel()


def test_a_publisher_whose_producer_died_starts_a_new_one_and_writes(
    kafka_conn: KafkaConnection,
) -> None:
    async def scenario() -> KafkaPublisher:
        async with KafkaPublisher(kafka_conn, timeout_s=5) as publisher:
            await publisher.publish(RAW_EMAIL, b"support", _mail(1))
            _kill_sender(publisher)
            await asyncio.sleep(0)
            assert publisher._producer is not None and producer_broken(publisher._producer)
            await publisher.publish(RAW_EMAIL, b"support", _mail(2))
            assert await publisher.probe()
            return publisher

    publisher = asyncio.run(scenario())
    assert publisher.health.producer_restarts == 1
    assert publisher.health.writable and publisher.health.outages == 0
    assert len(asyncio.run(read_to_end(kafka_conn, RAW_EMAIL))) == 2


def test_the_probe_replaces_a_dead_producer_before_the_next_write(
    kafka_conn: KafkaConnection,
) -> None:
    async def scenario() -> KafkaPublisher:
        async with KafkaPublisher(kafka_conn, timeout_s=5) as publisher:
            _kill_sender(publisher)
            await asyncio.sleep(0)
            assert await publisher.probe()
            assert publisher._producer is not None
            assert not producer_broken(publisher._producer)
            await publisher.publish(RAW_EMAIL, b"support", _mail(3))
            return publisher

    assert asyncio.run(scenario()).health.producer_restarts == 1


def test_a_stage_workers_cluster_watch_counts_an_unreachable_broker(
    kafka_conn: KafkaConnection,
) -> None:
    from runtime.kafka import free_port

    async def watch(conn: KafkaConnection) -> ClusterWatch:
        w = ClusterWatch(conn, interval_s=0.1, timeout_s=2)
        stop = asyncio.Event()
        task = asyncio.create_task(w.run(stop))
        await asyncio.sleep(1.0)
        stop.set()
        await task
        return w

    up = asyncio.run(watch(kafka_conn))
    assert up.health.writable and up.health.outages == 0
    nowhere = KafkaConnection(f"127.0.0.1:{free_port()}", topic_prefix="x.")
    down = asyncio.run(watch(nowhere))
    assert not down.health.writable and down.health.outages == 1
