"""Fenced writes of single-writer stages (runtime.writer), on the real broker: a writer that
becomes active fences the one before it; the fenced one's open transaction never reaches a
read_committed reader and its next write or commit fails; a runner whose writer is fenced
stops with that error, and what it committed is exactly its outputs with their input offsets
(one transaction: outputs visible if and only if their inputs are committed)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError
from prometheus_client import CollectorRegistry

from runtime.errors import HelplineError
from runtime.kafka_io import committed_offsets, group_id
from runtime.metrics import StageMetrics
from runtime.own_batches import OwnProducer
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from runtime.writer import Fenced, Writer
from schemas.message import Address, InboundMessage
from schemas.raw import RawEmail
from schemas.stage import In, KafkaConnection, Out, Stage
from schemas.topics import CUSTOMERS, MESSAGES, RAW_EMAIL
from tests.integration.test_runner import T0, _raw
from tests.support.kafka import produce, read_topic

pytestmark = pytest.mark.integration

HEADER = [("helpline-instance", b"tickets/test")]


def _writer(conn: KafkaConnection) -> Writer:
    return Writer(conn, "tickets", group_id(conn, "tickets"), 0, True, OwnProducer())


def test_a_new_active_writer_fences_the_previous_one(kafka_conn: KafkaConnection) -> None:
    conn = kafka_conn
    topic = conn.topic(CUSTOMERS)

    async def go() -> None:
        first, second = _writer(conn), _writer(conn)
        await first.start()
        assert first.producer is None  # transactional: nothing until the replica is active
        await first.activate()
        try:
            await first.settle(await first.send([(topic, b"k", b'"committed"')], HEADER),
                               None, {})
            unfinished = await first.send([(topic, b"k", b'"in flight"')], HEADER)
            await asyncio.gather(*unfinished)  # written and acknowledged, not committed

            await second.activate()  # the replica that takes over
            with pytest.raises(Fenced, match="another replica"):
                await first.settle(unfinished, None, {})
            with pytest.raises(Fenced):
                await first.send([(topic, b"k", b'"after"')], HEADER)
            await second.settle(await second.send([(topic, b"k", b'"successor"')], HEADER),
                                None, {})
        finally:
            await first.stop()
            await second.stop()
        seen = await read_topic(conn, CUSTOMERS, decode_values=False, idle_s=1.0)
        assert [r.raw for r in seen] == [b'"committed"', b'"successor"']

    asyncio.run(go())


class OneForOne(Stage):
    """A single-writer stage: each raw email in, one message out."""

    name = "tickets"
    inputs = (RAW_EMAIL,)
    tables = ()
    tick_interval: float | None = None
    single_writer = True

    def restore(self, topic: Any, key: bytes, value: Any) -> None:  # pragma: no cover
        raise AssertionError("no tables")

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        outs = []
        for rec in batch:
            raw: RawEmail = rec.value
            msg = InboundMessage(message_id=f"m-{raw.uid}", channel="email", mailbox="support",
                                 received_at=T0, sender=Address(address="a@example.org"),
                                 subject=f"s{raw.uid}")
            outs.append(Out(MESSAGES, msg.partition_key, msg))
        return outs


def test_a_fenced_runner_stops_and_its_commits_are_whole(kafka_conn: KafkaConnection) -> None:
    conn = kafka_conn
    n = 300

    async def go() -> None:
        await produce(conn, RAW_EMAIL, [(f"box{i % 7}".encode(), _raw(i)) for i in range(n)])
        runner = StageRunner(OneForOne(), conn, RunnerSettings(
            batch_max_records=5, batch_timeout_ms=20, session_timeout_ms=6000))
        task = asyncio.create_task(runner.run(asyncio.Event()))
        deadline = asyncio.get_running_loop().time() + 60
        while runner.status.records_out < 40:
            assert not task.done(), runner.status.error
            assert asyncio.get_running_loop().time() < deadline, "the runner did not start"
            await asyncio.sleep(0.01)
        # Input keeps arriving until the runner stops: a runner that had caught up would sit
        # idle and learn of the fence only at its next write (it writes nothing meanwhile)
        sent = n

        async def feed() -> None:
            nonlocal sent
            while not task.done():
                await produce(conn, RAW_EMAIL, [(f"box{i % 7}".encode(), _raw(i))
                                                for i in range(sent, sent + 10)])
                sent += 10
                await asyncio.sleep(0.05)

        feeder = asyncio.create_task(feed())
        successor = _writer(conn)
        await successor.activate()  # as a standby that took over would: fences the runner
        try:
            with pytest.raises(Fenced):
                await asyncio.wait_for(task, 60)
        finally:
            await successor.stop()
            await feeder
        assert runner.status.state == "failed"
        assert "another replica" in (runner.status.error or "")

        visible = await read_topic(conn, MESSAGES, idle_s=1.0)
        uids = [int(r.value.message_id[2:]) for r in visible]
        assert len(uids) == len(set(uids))  # nothing twice
        admin = AIOKafkaAdminClient(**conn.options())
        await admin.start()
        try:
            offsets = await committed_offsets(admin, group_id(conn, "tickets"))
        finally:
            await admin.close()
        committed = sum(offset for offset in offsets.values() if offset > 0)
        # outputs and input offsets are one transaction: every committed input's message is
        # visible and no other (the batches in flight when it was fenced: neither)
        assert 40 <= committed < sent
        assert len(uids) == committed

    asyncio.run(go())


class Pausing(OneForOne):
    """OneForOne that, once it has seen ``after`` records, stops inside ``process`` until
    ``resume`` is set: a worker frozen mid-batch (a long pause: no heartbeats either, its event
    loop is blocked), whose group moves on without it."""

    def __init__(self, after: int) -> None:
        self.after, self.seen = after, 0
        self.paused, self.resume = threading.Event(), threading.Event()

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        self.seen += len(batch)
        if self.seen >= self.after and not self.resume.is_set():
            self.paused.set()
            self.resume.wait(90)
        return super().process(batch, now)


def test_a_worker_that_wakes_up_after_the_takeover_writes_nothing(
    kafka_conn: KafkaConnection,
) -> None:
    conn, n = kafka_conn, 200
    settings = RunnerSettings(batch_max_records=5, batch_timeout_ms=20, session_timeout_ms=6000)
    asyncio.run(produce(conn, RAW_EMAIL, [(f"box{i % 7}".encode(), _raw(i)) for i in range(n)]))
    frozen = Pausing(after=40)
    first = StageRunner(frozen, conn, settings, instance_id="a")
    failure: list[BaseException] = []

    def run_first() -> None:
        try:
            asyncio.run(first.run(asyncio.Event()))
        except BaseException as exc:  # what it stopped with is the point
            failure.append(exc)

    worker = threading.Thread(target=run_first, daemon=True)
    worker.start()
    assert frozen.paused.wait(60), "the first worker never got going"

    async def successor() -> StageRunner:
        stop = asyncio.Event()
        runner = StageRunner(OneForOne(), conn, settings, instance_id="b")
        task = asyncio.create_task(runner.run(stop))
        deadline = asyncio.get_running_loop().time() + 60
        while len(await read_topic(conn, MESSAGES, idle_s=0.3)) < n:  # takes over, finishes
            assert not task.done(), runner.status.error
            assert asyncio.get_running_loop().time() < deadline, "no takeover"
            await asyncio.sleep(0.2)
        frozen.resume.set()  # the first wakes up mid-batch, with more fetched before the pause
        await asyncio.to_thread(worker.join, 60)
        stop.set()
        await task
        return runner

    second = asyncio.run(successor())
    assert second.status.records_out >= n - 40
    assert failure and isinstance(failure[0], Fenced), failure  # it stopped: fenced
    visible = asyncio.run(read_topic(conn, MESSAGES, idle_s=1.0))
    uids = Counter(int(r.value.message_id[2:]) for r in visible)
    assert sorted(uids) == list(range(n)) and set(uids.values()) == {1}  # each input once
    writers: dict[int, list[bytes]] = {}
    for r in visible:
        writers.setdefault(r.partition, []).append(dict(r.headers)["helpline-instance"])
    assert all(w == sorted(w) for w in writers.values())  # a's, then b's, never a's again


class Slow(OneForOne):
    """OneForOne at ~3 ms a batch: rebalances land while batches are in hand and in flight."""

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        time.sleep(0.003)
        return super().process(batch, now)


def test_exactly_once_while_standbys_join_and_leave(kafka_conn: KafkaConnection) -> None:
    """Every join or leave of a standby revokes and reassigns the active replica's partitions;
    the batch it had in hand and the one settling are committed before that, and it goes on
    from its own last commits: no input is processed twice (found in review: 4,120 outputs
    for 4,000 inputs)."""
    conn, n = kafka_conn, 3000
    settings = RunnerSettings(batch_max_records=20, batch_timeout_ms=20, session_timeout_ms=6000,
                              process_slice_records=5)

    async def go() -> None:
        await produce(conn, RAW_EMAIL, [(f"box{i % 7}".encode(), _raw(i)) for i in range(n)])
        active = StageRunner(Slow(), conn, settings, instance_id="a")
        stop = asyncio.Event()
        task = asyncio.create_task(active.run(stop))
        while active.status.records_out < 20:
            assert not task.done(), active.status.error
            await asyncio.sleep(0.05)
        for k in range(5):
            standby = StageRunner(Slow(), conn, settings, instance_id=f"b{k}")
            stop_standby = asyncio.Event()
            joined = asyncio.create_task(standby.run(stop_standby))
            await asyncio.sleep(1.2)
            stop_standby.set()
            await asyncio.wait_for(joined, 30)
            assert standby.status.records_in == 0  # it stood by
        deadline = asyncio.get_running_loop().time() + 120
        while active.status.records_out < n:
            assert not task.done(), active.status.error
            assert asyncio.get_running_loop().time() < deadline, active.status.records_out
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 30)
        assert active.status.records_in == n  # nothing processed twice
        visible = await read_topic(conn, MESSAGES, idle_s=1.0)
        uids = Counter(int(r.value.message_id[2:]) for r in visible)
        assert sorted(uids) == list(range(n)) and set(uids.values()) == {1}

    asyncio.run(go())


def test_a_batch_that_failed_to_write_is_never_committed(kafka_conn: KafkaConnection) -> None:
    """One output refused by the broker (larger than its topic allows): the batch's other
    outputs are not committed, not even with a later batch; the writer refuses to go on
    (the worker stops and restarts from the last commit) and its open transaction is aborted
    when it stops, so readers are not held back."""
    conn = kafka_conn

    async def go() -> None:
        ok, tiny = conn.topic_prefix + "ok", conn.topic_prefix + "tiny"
        admin = AIOKafkaAdminClient(**conn.options())
        await admin.start()
        try:
            await admin.create_topics([
                NewTopic(ok, 1, 1),
                NewTopic(tiny, 1, 1, topic_configs={"max.message.bytes": "2000"})])
        finally:
            await admin.close()
        writer = _writer(conn)
        await writer.activate()
        try:
            acks = await writer.send(
                [(ok, b"k", b"of the failed batch"), (tiny, b"k", b"x" * 5000)], HEADER)
            with pytest.raises(MessageSizeTooLargeError):
                await writer.settle(acks, None, {})
            with pytest.raises(HelplineError, match="an earlier write failed"):
                await writer.send([(ok, b"k", b"of the next batch")], HEADER)
            with pytest.raises(HelplineError, match="an earlier write failed"):
                await writer.settle([], None, {})
        finally:
            await writer.stop()
        consumer = AIOKafkaConsumer(ok, **conn.options(), auto_offset_reset="earliest",
                                    isolation_level="read_committed", enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(ok, 0)
            end = (await consumer.end_offsets([tp]))[tp]
            got: list[bytes] = []
            while await consumer.position(tp) < end:  # the last stable offset: not held back
                got += [m.value or b"" for m in (await consumer.getmany(tp, timeout_ms=300)
                                                 ).get(tp, [])]
        finally:
            await consumer.stop()
        assert got == [] and end >= 1  # the aborted record (and its abort marker) only

    asyncio.run(go())


class ReadsItsOutput(OneForOne):
    """OneForOne that also consumes the topic it writes (as tickets does ticket.events)."""

    inputs = (RAW_EMAIL, MESSAGES)

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        assert all(rec.topic is RAW_EMAIL for rec in batch)  # its own output: never handed in
        return super().process(batch, now)


@pytest.mark.parametrize("fenced", [True, False])
def test_own_output_skipped_unread_still_counts_as_consumed(
    kafka_conn: KafkaConnection, fenced: bool
) -> None:
    """A stage's own records on a topic it reads are stepped over unread; their offsets are
    committed and its lag gauge drops to 0 all the same (else the group's lag and the
    HelplineStageStalled alert would count them as waiting forever)."""
    conn, n = kafka_conn, 60
    registry = CollectorRegistry()
    metrics = StageMetrics.create(registry)

    async def go() -> None:
        await produce(conn, RAW_EMAIL, [(f"box{i % 7}".encode(), _raw(i)) for i in range(n)])
        runner = StageRunner(ReadsItsOutput(), conn, RunnerSettings(
            batch_max_records=7, batch_timeout_ms=20, session_timeout_ms=6000,
            fenced_writes=fenced), metrics)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        admin = AIOKafkaAdminClient(**conn.options())
        await admin.start()
        consumer = AIOKafkaConsumer(**conn.options(), isolation_level="read_committed")
        await consumer.start()
        try:
            tps = [TopicPartition(conn.topic(MESSAGES), p) for p in range(2)]
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                assert not task.done(), runner.status.error
                assert asyncio.get_running_loop().time() < deadline, "own records not committed"
                offsets = await committed_offsets(admin, group_id(conn, "tickets"))
                ends = await consumer.end_offsets(tps)
                if runner.status.records_out >= n and all(
                        tp in offsets and offsets[tp] == end > 0
                        for tp, end in ends.items() if end):
                    break
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            await consumer.stop()
            await admin.close()
        lag = registry.get_sample_value(
            "helpline_consumer_lag", {"stage": "tickets", "topic": MESSAGES.name})
        assert lag == 0

    asyncio.run(go())
