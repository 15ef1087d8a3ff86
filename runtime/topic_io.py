"""Topics read from their beginning without a consumer group, and the :class:`TopicIO` port
on aiokafka: the one implementation behind a stage's tables (``runtime.tables``), the query
views (``tickets.feed``), the package CLIs (through ``StageContext.topics``) and the tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, aclosing, contextmanager
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from runtime.kafka_io import KafkaPublisher, start_client
from schemas.builders import constructor
from schemas.codec import DecodeError, decoder
from schemas.errors import BrokerUnavailable
from schemas.stage import KafkaConnection, NoSuchRecord, Publisher, TopicReader, TopicRecord
from schemas.topics import TopicSpec

CATCH_UP_POLL_S = 0.2  # a poll while catching up; positions are checked after each
TOPIC_WAIT_POLL_S = 0.2  # between metadata refreshes while waiting for a topic to appear
READ_MAX_RECORDS = 5000  # records a poll hands over at most

# A table restore builds one per record: a slot-storing constructor (benchmarks/README.md).
_new_record = constructor(TopicRecord)

# Where each partition is read from, given the reader with both ends known (see ``open``).
Starts = Callable[["KafkaTopicReader"], Awaitable[Mapping[TopicPartition, int]]]


class KafkaTopicReader:
    """Reads ``specs`` from their beginning: :meth:`open` finds their partitions and asks
    both ends before ``assign()``, :meth:`catch_up` reads up to the end offsets seen then, and
    :meth:`poll` reads on. ``timeout_s`` bounds opening and catching up together.

    ``group_id``: a consumer group whose committed offsets :meth:`committed` reads and
    :meth:`commit` writes (partitions are still assigned here, never by the group)."""

    def __init__(self, conn: KafkaConnection, specs: Sequence[TopicSpec], timeout_s: float, *,
                 wait_for_topics: bool = True, max_records: int = READ_MAX_RECORDS,
                 decoders: Mapping[str, Callable[[bytes], Any]] | None = None,
                 group_id: str | None = None) -> None:
        self.conn = conn
        self.timeout_s = timeout_s
        self._specs = {conn.topic(s): s for s in specs}
        given = decoders or {}
        self._decoders = {name: given.get(name) or decoder(s.value_type)
                          for name, s in self._specs.items()}
        self._wait_for_topics = wait_for_topics
        self._max_records = max_records
        self._deadline = 0.0
        self.missing: tuple[TopicSpec, ...] = ()  # topics without partitions when opened
        self.begins: dict[TopicPartition, int] = {}
        self.ends: dict[TopicPartition, int] = {}
        self.starts: dict[TopicPartition, int] = {}  # the partitions read, from where
        self._opened_ends: dict[tuple[str, int], int] = {}
        self._consumer = AIOKafkaConsumer(**conn.options(), enable_auto_commit=False,
                                          isolation_level="read_committed",
                                          auto_offset_reset="earliest", group_id=group_id)

    async def open(self, starts: Starts | None = None) -> KafkaTopicReader:
        """Find the partitions and both their ends, then read every partition from its
        beginning, or only those ``starts`` gives, from where it says."""
        self._deadline = time.monotonic() + self.timeout_s
        consumer = self._consumer
        await start_client(consumer, self.conn)
        try:
            tps: list[TopicPartition] = []
            missing: list[TopicSpec] = []
            for name, spec in self._specs.items():
                parts = await self._partitions(name)
                if not parts:
                    missing.append(spec)
                tps.extend(TopicPartition(name, p) for p in sorted(parts))
            self.missing = tuple(missing)
            if tps:
                # Both ends asked before assign(): once partitions are assigned the fetcher's
                # long poll (fetch_max_wait_ms) holds the broker connection, and an offsets
                # request queued behind it took ~0.5 s of every worker's start-up even with
                # empty tables. An offset gone meanwhile (retention) resets to the earliest.
                self.begins = await consumer.beginning_offsets(tps)
                self.ends = await consumer.end_offsets(tps)
                self._opened_ends = {(tp.topic, tp.partition): e for tp, e in self.ends.items()}
                self.starts = dict(self.begins) if starts is None else dict(await starts(self))
                consumer.assign(list(self.starts))
                for tp, offset in self.starts.items():
                    consumer.seek(tp, offset)
        except BaseException:
            await consumer.stop()
            raise
        return self

    async def _partitions(self, name: str) -> set[int]:
        consumer = self._consumer
        parts = consumer.partitions_for_topic(name)
        while not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(name)
            if parts or not self._wait_for_topics or time.monotonic() >= self._deadline:
                break
            await asyncio.sleep(TOPIC_WAIT_POLL_S)
        return set(parts or ())

    async def catch_up(self) -> AsyncGenerator[list[TopicRecord], None]:
        consumer = self._consumer
        pending = {tp for tp, start in self.starts.items() if self.ends[tp] > start}
        while pending and time.monotonic() < self._deadline:
            records = await self.poll(CATCH_UP_POLL_S)
            if records:
                yield records
            for tp in list(pending):
                if await consumer.position(tp) >= self.ends[tp]:
                    pending.discard(tp)
        if pending:
            names = ", ".join(sorted({tp.topic for tp in pending}))
            raise TimeoutError(f"{names} not read to the end within {self.timeout_s}s")

    async def poll(self, timeout_s: float,
                   skip_header: tuple[str, bytes] | None = None) -> list[TopicRecord]:
        """What came since the last poll, decoded; records carrying ``skip_header`` (a
        replica's own writes, which it holds already) are left out before decoding."""
        if not self.starts:  # nothing assigned: nothing will come
            await asyncio.sleep(timeout_s)
            return []
        try:
            batch = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000),
                                                 max_records=self._max_records)
        except KafkaError as exc:  # the port raises the tree's errors (see _broker_errors)
            raise _unavailable(self.conn, exc) from exc
        out: list[TopicRecord] = []
        append = out.append
        new = _new_record
        for tp, msgs in batch.items():
            spec = self._specs[tp.topic]
            decode = self._decoders[tp.topic]
            partition = tp.partition
            for m in msgs:  # inline: a table restore passes every record of its topics here
                if skip_header is not None and m.headers and skip_header in m.headers:
                    continue
                raw = m.value
                value: Any = None
                error: str | None = None
                if raw is not None:
                    try:
                        value = decode(raw)
                    except DecodeError as exc:
                        error = str(exc)
                append(new(spec, m.key, value, raw, partition, m.offset, m.headers or (),
                           error))
        return out

    async def end_offsets(self) -> dict[TopicPartition, int]:
        """The topics' end offsets now (what was written up to this moment)."""
        return (dict(await self._consumer.end_offsets(list(self.starts))) if self.starts
                else {})

    async def read_up_to(self, ends: Mapping[TopicPartition, int]) -> bool:
        """Whether the records before ``ends`` have all been handed out by :meth:`poll`."""
        consumer = self._consumer
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    def pause(self, names: Iterable[str]) -> None:
        """Stop fetching these topics (full names) until :meth:`resume`; positions stay."""
        tps = [tp for tp in self.starts if tp.topic in set(names)]
        if tps:
            self._consumer.pause(*tps)

    def resume(self, names: Iterable[str]) -> None:
        tps = [tp for tp in self.starts if tp.topic in set(names)]
        if tps:
            self._consumer.resume(*tps)

    def written_before_open(self, record: TopicRecord) -> bool:
        end = self._opened_ends.get((self.conn.topic(record.topic), record.partition), 0)
        return record.offset < end

    async def since(self, times: Mapping[TopicSpec, datetime]) -> dict[TopicPartition, int]:
        """Starts (for :meth:`open`): a topic of ``times`` from its first record written at
        or after that time (its end when there is none), the others from their beginning."""
        at = {tp: max(0, int(times[self._specs[tp.topic]].timestamp() * 1000))
              for tp in self.begins if self._specs[tp.topic] in times}
        found = await self._consumer.offsets_for_times(at) if at else {}
        starts = dict(self.begins)
        for tp in at:
            hit = found.get(tp)
            starts[tp] = self.ends[tp] if hit is None else hit.offset
        return starts

    async def committed(self) -> dict[TopicPartition, int]:
        """Starts (for :meth:`open`): each partition from the group's committed offset, from
        its beginning where there is none (or it is gone)."""
        starts = {}
        for tp, begin in self.begins.items():
            offset = await self._consumer.committed(tp)
            starts[tp] = begin if offset is None else max(offset, begin)
        return starts

    async def commit(self, records: Sequence[TopicRecord]) -> None:
        """Commit the group's offsets past ``records`` (the last of each partition)."""
        offsets = {TopicPartition(self.conn.topic(r.topic), r.partition): r.offset + 1
                   for r in records}
        if offsets:
            await self._consumer.commit(offsets)

    async def close(self) -> None:
        await self._consumer.stop()


async def read_to_end(conn: KafkaConnection, spec: TopicSpec, timeout_s: float, *,
                      wait_for_topics: bool = False) -> list[TopicRecord]:
    """Every record of ``spec`` up to its end offsets when called (a topic that does not
    exist reads as empty, after waiting for it until ``timeout_s`` if ``wait_for_topics``);
    raises TimeoutError when the end is not reached in time."""
    reader = await KafkaTopicReader(conn, [spec], timeout_s,
                                    wait_for_topics=wait_for_topics).open()
    try:
        ends = {tp.partition: end for tp, end in reader.ends.items()}
        return [r async for batch in reader.catch_up() for r in batch
                if r.offset < ends[r.partition]]
    finally:
        await reader.close()


async def read_record(conn: KafkaConnection, spec: TopicSpec, partition: int, offset: int,
                      timeout_s: float) -> TopicRecord:
    """The record of ``spec`` at ``partition`` / ``offset`` (see TopicIO.read_record)."""
    tp = TopicPartition(conn.topic(spec), partition)

    async def at_offset(reader: KafkaTopicReader) -> dict[TopicPartition, int]:
        if tp not in reader.begins:
            raise NoSuchRecord("no such partition")
        first, end = reader.begins[tp], reader.ends[tp]
        if not first <= offset < end:
            raise NoSuchRecord(
                f"no such record (the partition holds offsets {first}..{end - 1})")
        return {tp: offset}

    reader = await KafkaTopicReader(conn, [spec], timeout_s, wait_for_topics=False,
                                    max_records=1).open(at_offset)
    try:
        if reader.missing:  # no partitions at all: ``at_offset`` was not asked
            raise NoSuchRecord("no such partition")
        async with aclosing(reader.catch_up()) as batches:
            async for records in batches:
                if records:
                    break
            else:
                records = []
    finally:
        await reader.close()
    if not records or records[0].offset != offset:  # compacted or deleted meanwhile
        raise NoSuchRecord("no such record")
    return records[0]


def _unavailable(conn: KafkaConnection, exc: KafkaError) -> BrokerUnavailable:
    return BrokerUnavailable(conn.bootstrap_servers, f"{type(exc).__name__}: {exc}")


@contextmanager
def _broker_errors(conn: KafkaConnection) -> Iterator[None]:
    """aiokafka's errors as the port's (:class:`schemas.errors.BrokerUnavailable`): package
    code behind the port tells a broker failure by ``isinstance(exc, HelplineError)``."""
    try:
        yield
    except KafkaError as exc:
        raise _unavailable(conn, exc) from exc


class KafkaTopicIO:
    """The :class:`schemas.stage.TopicIO` port on one broker connection."""

    def __init__(self, conn: KafkaConnection) -> None:
        self.conn = conn

    async def read_to_end(self, spec: TopicSpec, timeout_s: float) -> list[TopicRecord]:
        with _broker_errors(self.conn):
            return await read_to_end(self.conn, spec, timeout_s)

    async def open_reader(self, specs: Sequence[TopicSpec], timeout_s: float, *,
                          since: Mapping[TopicSpec, datetime] | None = None) -> TopicReader:
        reader = KafkaTopicReader(self.conn, specs, timeout_s)
        with _broker_errors(self.conn):
            if not since:
                return await reader.open()
            times = dict(since)
            return await reader.open(lambda r: r.since(times))

    async def read_record(self, spec: TopicSpec, partition: int, offset: int,
                          timeout_s: float) -> TopicRecord:
        with _broker_errors(self.conn):
            return await read_record(self.conn, spec, partition, offset, timeout_s)

    async def publish(self, spec: TopicSpec, records: Sequence[tuple[bytes, Any]],
                      timeout_s: float) -> None:
        async with KafkaPublisher(self.conn, timeout_s=timeout_s) as publisher:
            outcomes = await publisher.publish_many(spec, records)
        failed = next((e for e in outcomes if e is not None), None)
        if failed is not None:
            raise failed

    def publisher(self, timeout_s: float) -> AbstractAsyncContextManager[Publisher]:
        return KafkaPublisher(self.conn, timeout_s=timeout_s)
