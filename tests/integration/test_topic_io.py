"""The runtime's TopicIO port against the real broker: a topic read from its beginning to the
end offsets seen when asked (undecodable records come back as data, a missing topic reads as
empty), a reader that catches up and then reads on, and the acks=all publisher."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from runtime.topic_io import KafkaTopicIO, KafkaTopicReader
from schemas.directory import Agent
from schemas.stage import KafkaConnection
from schemas.topics import AGENTS, CUSTOMERS, TopicSpec
from tests.support.kafka import produce_raw

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MISSING = TopicSpec("not.created", Agent, key="agent id")


def _agent(name: str) -> Agent:
    return Agent(agent_id=name, updated_at=NOW)


def test_read_to_end_decodes_and_reports_what_does_not_decode(kafka_conn) -> None:  # type: ignore[no-untyped-def]
    conn: KafkaConnection = kafka_conn
    topics = KafkaTopicIO(conn)

    async def go() -> None:
        await topics.publish(AGENTS, [(b"a1", _agent("a1")), (b"a2", _agent("a2"))], 30)
        await produce_raw(conn, AGENTS, [(b"a3", b"not json")])
        records = await topics.read_to_end(AGENTS, 30)
        assert [(r.key, r.offset) for r in records] == [(b"a1", 0), (b"a2", 1), (b"a3", 2)]
        assert [r.value for r in records[:2]] == [_agent("a1"), _agent("a2")]
        assert records[0].error is None and records[0].raw is not None
        bad = records[2]
        assert bad.value is None and bad.raw == b"not json" and bad.error
        assert bad.topic is AGENTS

        assert await topics.read_to_end(MISSING, 5) == []

    asyncio.run(go())


def test_a_reader_catches_up_to_the_ends_it_saw_then_reads_on(kafka_conn) -> None:  # type: ignore[no-untyped-def]
    conn: KafkaConnection = kafka_conn
    topics = KafkaTopicIO(conn)

    async def go() -> None:
        await topics.publish(AGENTS, [(f"a{i}".encode(), _agent(f"a{i}")) for i in range(30)],
                             30)
        reader = await topics.open_reader([AGENTS, CUSTOMERS], 30)
        try:
            assert isinstance(reader, KafkaTopicReader)
            assert sum(reader.ends.values()) == 30 and reader.missing == ()
            caught = [r async for batch in reader.catch_up() for r in batch]
            assert sorted(r.key for r in caught if r.key) == sorted(
                f"a{i}".encode() for i in range(30))

            await topics.publish(AGENTS, [(b"late", _agent("late"))], 30)
            later = []
            for _ in range(50):
                later += await reader.poll(0.2)
                if later:
                    break
            assert [r.key for r in later] == [b"late"]
        finally:
            await reader.close()

    asyncio.run(go())


def test_catching_up_is_bounded_by_the_timeout(kafka_conn) -> None:  # type: ignore[no-untyped-def]
    conn: KafkaConnection = kafka_conn

    async def go() -> None:
        await KafkaTopicIO(conn).publish(AGENTS, [(b"a1", _agent("a1"))], 30)
        reader = await KafkaTopicReader(conn, [AGENTS], 0.0).open()  # its time is up at once
        try:
            assert sum(reader.ends.values()) == 1
            with pytest.raises(TimeoutError, match="not read to the end within"):
                [r async for batch in reader.catch_up() for r in batch]
        finally:
            await reader.close()

    asyncio.run(go())
