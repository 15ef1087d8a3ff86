"""A single-writer stage on two replicas (runtime.group): the active one processes and fires
timers, the standby does neither while it keeps its tables current; when the active stops, the
standby takes every partition, holds what the active wrote to its table, and goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.directory import CustomerRecord
from schemas.message import Address, InboundMessage
from schemas.raw import RawEmail
from schemas.stage import In, KafkaConnection, Out, Stage
from schemas.topics import CUSTOMERS, MESSAGES, RAW_EMAIL, TopicSpec
from tests.integration.test_runner import T0, _raw
from tests.support.kafka import produce, read_topic

pytestmark = pytest.mark.integration


class CountingStage(Stage):
    """Raw email in, a message out; every tick a ``tick-<replica>-<n>`` customer record out;
    the customers table (its own writes included) counted per key."""

    name = "tickets"  # a stage name with a dead-letter topic; the group is the test's own
    inputs = (RAW_EMAIL,)
    tables = (CUSTOMERS,)
    tick_interval: float | None = 0.1
    single_writer = True
    own_tables = (CUSTOMERS,)  # here: only the active replica writes it

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self.customers: dict[bytes, Any] = {}
        self.ticks = 0

    def restore(self, topic: TopicSpec, key: bytes, value: Any) -> None:
        self.customers[key] = value

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        outs = []
        for rec in batch:
            raw: RawEmail = rec.value
            msg = InboundMessage(message_id=f"m-{raw.uid}", channel="email",
                                 mailbox=self.replica, received_at=T0,
                                 sender=Address(address="a@example.org"), subject=f"s{raw.uid}")
            outs.append(Out(MESSAGES, msg.partition_key, msg))
            # what the stage's next owner must find in its table: one record per input
            record = CustomerRecord(customer_id=f"seen-{raw.uid}", name=self.replica)
            outs.append(Out(CUSTOMERS, record.customer_id.encode(), record))
        return outs

    def tick(self, now: datetime) -> list[Out]:
        self.ticks += 1
        return []


async def fetched_to_end(runner: StageRunner) -> bool:
    reader = runner._table_feed._reader  # (internals: what its table follower has fetched)
    assert reader is not None
    return await reader.read_up_to(await reader.end_offsets())


def test_standby_fires_no_timers_follows_the_table_and_takes_over(
    kafka_conn: KafkaConnection,
) -> None:
    async def wait_for(cond: Any, what: str, timeout_s: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not cond():
            assert asyncio.get_running_loop().time() < deadline, what
            await asyncio.sleep(0.05)

    async def go() -> None:
        settings = RunnerSettings(batch_timeout_ms=20, session_timeout_ms=6000)
        sa, sb = CountingStage("a"), CountingStage("b")
        a = StageRunner(sa, kafka_conn, settings, instance_id="a")
        b = StageRunner(sb, kafka_conn, settings, instance_id="b")
        stop_a, stop_b = asyncio.Event(), asyncio.Event()
        ta = asyncio.create_task(a.run(stop_a))
        await wait_for(lambda: a.status.state == "running", "a never became active")
        tb = asyncio.create_task(b.run(stop_b))
        await wait_for(lambda: b.status.state == "standby", "b did not stand by")
        await produce(kafka_conn, RAW_EMAIL, [(f"mb{i % 5}".encode(), _raw(i))
                                              for i in range(40)])
        await wait_for(lambda: a.status.records_in >= 40, "a did not process")
        # the standby's table follows the active's writes; it processes and ticks nothing
        await wait_for(lambda: len(sb.customers) >= 40, "b's table did not follow a's writes")
        ticks_b = sb.ticks
        await asyncio.sleep(0.5)
        assert sa.ticks > 0 and sb.ticks == ticks_b == 0
        assert b.status.records_in == 0 and b.status.records_out == 0
        assert b.status.ready  # a standby is healthy: a rollout does not wait on it
        # the active replica does not even fetch its own table back (nobody else writes it)
        assert await fetched_to_end(a) is False and await fetched_to_end(b) is True

        stop_a.set()  # a clean stop: a leaves the group, b is given every partition at once
        await asyncio.wait_for(ta, 30)
        await wait_for(lambda: b.status.state == "running", "b did not take over")
        await produce(kafka_conn, RAW_EMAIL, [(f"mb{i % 5}".encode(), _raw(i))
                                              for i in range(40, 60)])
        await wait_for(lambda: b.status.records_in >= 20, "b did not go on")
        await wait_for(lambda: sb.ticks > 0, "b fires no timers once active")
        stop_b.set()
        await asyncio.wait_for(tb, 30)

        out = await read_topic(kafka_conn, MESSAGES, expect=60, timeout_s=60)
        by = {m.value.subject: m.value.mailbox for m in out}
        assert sorted(by) == sorted(f"s{i}" for i in range(60))  # each once: a committed first
        assert len(out) == 60
        assert {by[f"s{i}"] for i in range(40)} == {"a"}
        assert {by[f"s{i}"] for i in range(40, 60)} == {"b"}
        assert all(sb.customers.get(f"seen-{i}".encode()) is not None for i in range(40))

    asyncio.run(go())
