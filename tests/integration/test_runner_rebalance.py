"""Scaling a stage while records flow: a second replica joins the group and leaves again (two
rebalances), with a batch of the first replica possibly in flight each time. Neither replica
crashes, and every input record's output is on the output topic (at least once: a record
whose batch was not committed before the rebalance is processed again by its new owner)."""

from __future__ import annotations

import asyncio

import pytest

from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.stage import KafkaConnection
from schemas.topics import MESSAGES, RAW_EMAIL
from tests.integration.test_runner import SubjectStage, _raw
from tests.support.kafka import produce, read_topic

pytestmark = pytest.mark.integration

CHUNK = 20


def test_a_replica_joining_and_leaving_loses_nothing_and_crashes_nothing(
    kafka_conn: KafkaConnection,
) -> None:
    async def feed(until: asyncio.Event) -> int:
        sent = 0
        while not until.is_set():
            await produce(kafka_conn, RAW_EMAIL, [(f"mb{i % 7}".encode(), _raw(i))
                                                  for i in range(sent, sent + CHUNK)])
            sent += CHUNK
            await asyncio.sleep(0.03)
        return sent

    async def wait_for(cond: object, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + 60
        while not cond():  # type: ignore[operator]
            assert asyncio.get_running_loop().time() < deadline, what
            await asyncio.sleep(0.1)

    async def go() -> None:
        settings = RunnerSettings(batch_timeout_ms=20)
        first, second = (StageRunner(SubjectStage(), kafka_conn, settings) for _ in range(2))
        stop_first, stop_second, stop_feed = asyncio.Event(), asyncio.Event(), asyncio.Event()
        feeding = asyncio.create_task(feed(stop_feed))
        a = asyncio.create_task(first.run(stop_first))
        await wait_for(lambda: first.status.records_in > 0, "the first replica consumed nothing")
        b = asyncio.create_task(second.run(stop_second))  # rebalance: B takes a partition
        await wait_for(lambda: second.status.records_in > 0 or b.done(),
                       "the second replica never got a partition")
        await asyncio.sleep(1.0)
        stop_second.set()  # rebalance: B leaves, A takes everything back
        await asyncio.wait_for(b, 30)
        before = first.status.records_in
        await wait_for(lambda: first.status.records_in > before + 2 * CHUNK or a.done(),
                       "the first replica did not go on after the second left")
        stop_feed.set()
        sent = await asyncio.wait_for(feeding, 60)
        await wait_for(lambda: first.status.records_in + second.status.records_in >= sent
                       or a.done(), "records were not consumed")
        stop_first.set()
        await asyncio.wait_for(a, 30)  # raises what the first replica died of, if it did
        b.result()

        out = await read_topic(kafka_conn, MESSAGES, expect=sent, timeout_s=60)
        assert {m.value.subject for m in out} == {f"s{i}" for i in range(sent)}

    asyncio.run(go())
