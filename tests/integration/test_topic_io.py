"""The runtime's TopicIO port against the real broker: a topic read from its beginning to the
end offsets seen when asked (undecodable records come back as data, a missing topic reads as
empty), a reader that catches up and then reads on, and the acks=all publisher."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from runtime.topic_io import KafkaTopicIO, KafkaTopicReader
from schemas.directory import Agent
from schemas.stage import KafkaConnection, NoSuchRecord, TopicReader, TopicRecord
from schemas.topics import AGENTS, CUSTOMERS, TopicSpec
from tests.support.kafka import produce_raw

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MISSING = TopicSpec("not.created", Agent, key="agent id")


def _agent(name: str) -> Agent:
    return Agent(agent_id=name, updated_at=NOW)


def _agents(n: int) -> list[tuple[bytes, Agent]]:
    return [(f"a{i}".encode(), _agent(f"a{i}")) for i in range(n)]


async def _publish_late(topics: KafkaTopicIO, reader: TopicReader) -> list[TopicRecord]:
    """Write one more agent ("late") to an open reader's topic; what the reader polls next."""
    await topics.publish(AGENTS, [(b"late", _agent("late"))], 30)
    later: list[TopicRecord] = []
    for _ in range(50):
        later += await reader.poll(0.2)
        if later:
            break
    return later


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
        await topics.publish(AGENTS, _agents(30), 30)
        reader = await topics.open_reader([AGENTS, CUSTOMERS], 30)
        try:
            assert isinstance(reader, KafkaTopicReader)
            assert sum(reader.ends.values()) == 30 and reader.missing == ()
            caught = [r async for batch in reader.catch_up() for r in batch]
            assert sorted(r.key for r in caught if r.key) == sorted(
                f"a{i}".encode() for i in range(30))

            later = await _publish_late(topics, reader)
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


def test_read_record_gives_the_record_at_a_place_or_says_why_there_is_none(kafka_conn) -> None:  # type: ignore[no-untyped-def]
    conn: KafkaConnection = kafka_conn
    topics = KafkaTopicIO(conn)

    async def go() -> None:
        await topics.publish(AGENTS, _agents(3), 30)
        got = await topics.read_record(AGENTS, 0, 1, 30)
        assert (got.key, got.offset, got.value) == (b"a1", 1, _agent("a1"))
        with pytest.raises(NoSuchRecord, match=r"no such record \(the partition holds "
                                               r"offsets 0\.\.2\)"):
            await topics.read_record(AGENTS, 0, 3, 30)
        with pytest.raises(NoSuchRecord, match="no such partition"):
            await topics.read_record(AGENTS, 7, 0, 30)
        with pytest.raises(NoSuchRecord, match="no such partition"):
            await topics.read_record(MISSING, 0, 0, 5)

    asyncio.run(go())


def test_a_reader_since_a_time_starts_there_and_knows_what_was_there_before(kafka_conn) -> None:  # type: ignore[no-untyped-def]
    conn: KafkaConnection = kafka_conn
    topics = KafkaTopicIO(conn)

    async def go() -> None:
        await topics.publish(AGENTS, [(b"old", _agent("old"))], 30)
        await asyncio.sleep(0.05)  # record timestamps are in milliseconds
        cut = datetime.now(UTC)
        await asyncio.sleep(0.05)
        await topics.publish(AGENTS, [(b"recent", _agent("recent"))], 30)
        reader = await topics.open_reader([AGENTS, CUSTOMERS], 30, since={AGENTS: cut})
        try:
            caught = [r async for batch in reader.catch_up() for r in batch]
            assert [r.key for r in caught] == [b"recent"]
            assert reader.written_before_open(caught[0])
            later = await _publish_late(topics, reader)
            assert [r.key for r in later] == [b"late"]
            assert not reader.written_before_open(later[0])
        finally:
            await reader.close()
        # a time after every record: the reader starts at the end
        reader = await topics.open_reader([AGENTS], 30, since={AGENTS: datetime.now(UTC)})
        try:
            assert [r async for batch in reader.catch_up() for r in batch] == []
            assert reader.missing == ()
        finally:
            await reader.close()
        reader = await topics.open_reader([AGENTS, MISSING], 0.5)
        try:
            assert reader.missing == (MISSING,)
        finally:
            await reader.close()

    asyncio.run(go())


def test_a_group_reader_starts_where_its_group_committed(kafka_conn) -> None:  # type: ignore[no-untyped-def]
    conn: KafkaConnection = kafka_conn

    async def read(group: str, commit: bool) -> list[bytes | None]:
        reader = KafkaTopicReader(conn, [AGENTS], 30, group_id=group)
        await reader.open(KafkaTopicReader.committed)
        try:
            records = [r async for batch in reader.catch_up() for r in batch]
            if commit:
                await reader.commit(records[:2])
            return [r.key for r in records]
        finally:
            await reader.close()

    async def go() -> None:
        await KafkaTopicIO(conn).publish(AGENTS, _agents(3), 30)
        group = f"{conn.topic_prefix}test.group"
        assert await read(group, commit=True) == [b"a0", b"a1", b"a2"]
        assert await read(group, commit=False) == [b"a2"]
        assert await read(f"{group}.other", commit=False) == [b"a0", b"a1", b"a2"]

    asyncio.run(go())
