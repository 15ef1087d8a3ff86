"""The project's own Kafka: a real broker starts, topics are created idempotently with their
retention/compaction, records round-trip through the codec, and a three-node cluster survives
the loss of a node."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from runtime.kafka_io import create_topics
from schemas.raw import RawEmail
from schemas.stage import KafkaConnection
from schemas.topics import ALL, RAW_EMAIL, TICKET_STATE
from tests.support.kafka import produce, read_topic

pytestmark = pytest.mark.integration


def _email(i: int) -> RawEmail:
    return RawEmail(source="file", mailbox="support", raw=f"Subject: {i}\r\n\r\nbody".encode(),
                    received_at=datetime(2026, 1, 1, tzinfo=UTC), uid=i)


def test_topics_created_idempotently_with_configs(kafka_conn: KafkaConnection) -> None:
    async def go() -> None:
        again = await create_topics(kafka_conn, partitions=2)
        assert again == []  # the fixture created them all already
        admin = AIOKafkaAdminClient(**kafka_conn.options())
        await admin.start()
        try:
            names = set(await admin.list_topics())
            assert {kafka_conn.topic(s) for s in ALL} <= names
            res = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, kafka_conn.topic(TICKET_STATE))])
            configs = {c[0]: c[1] for c in res[0].resources[0][4]}
            assert configs["cleanup.policy"] == "compact"
        finally:
            await admin.close()

    asyncio.run(go())


def test_records_round_trip_through_the_broker(kafka_conn: KafkaConnection) -> None:
    records = [(b"support", _email(i)) for i in range(20)]
    asyncio.run(produce(kafka_conn, RAW_EMAIL, records))
    got = asyncio.run(read_topic(kafka_conn, RAW_EMAIL, expect=20))
    assert sorted(c.value.uid for c in got) == list(range(20))
    assert got[0].value.raw.startswith(b"Subject: ")


def test_three_broker_cluster_survives_a_node_kill(kafka_cluster3: object) -> None:
    cluster = kafka_cluster3
    conn = KafkaConnection(bootstrap_servers=cluster.bootstrap, topic_prefix="f.")  # type: ignore[attr-defined]
    asyncio.run(create_topics(conn, [RAW_EMAIL], partitions=3, replication_factor=3))
    asyncio.run(produce(conn, RAW_EMAIL, [(b"m", _email(i)) for i in range(10)]))
    cluster.kill(2)  # type: ignore[attr-defined]
    alive = KafkaConnection(
        bootstrap_servers=",".join(n.address for n in cluster.nodes if n.node_id != 2),  # type: ignore[attr-defined]
        topic_prefix="f.",
    )
    # acks=all with min.insync.replicas=2: the two surviving replicas must take the writes
    asyncio.run(produce(alive, RAW_EMAIL, [(b"m", _email(i)) for i in range(10, 20)],
                        timeout_s=60))
    cluster.restart(2)  # type: ignore[attr-defined]
    got = asyncio.run(read_topic(alive, RAW_EMAIL, expect=20, timeout_s=60))
    assert sorted(c.value.uid for c in got) == list(range(20))
