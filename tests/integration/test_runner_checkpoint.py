"""The runner's checkpoints against the real broker: a backlog read in many small batches is
committed by interval, not once per batch; a record arriving at a caught-up runner is committed
at once, not after the interval; every output is there exactly once and a restarted worker
resumes after the committed offsets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from runtime.checkpoint import Checkpoint
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.stage import KafkaConnection
from schemas.topics import MESSAGES, RAW_EMAIL
from tests.integration.test_runner import SubjectStage, _raw
from tests.support.kafka import produce, read_topic, run_until

pytestmark = pytest.mark.integration

BACKLOG = 300
LONG_MS = 600_000  # an interval no test waits for


class CountingRunner(StageRunner):
    """The real runner, counting the checkpoints it commits and the batches in them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commits: list[int] = []  # batches per committed checkpoint

    async def _settle(self, consumer: AIOKafkaConsumer | None, batch: Checkpoint) -> None:
        await super()._settle(consumer, batch)
        if consumer is not None:
            self.commits.append(batch.batches)


def test_a_backlog_is_committed_by_interval_and_a_lone_record_at_once(
    kafka_conn: KafkaConnection,
) -> None:
    settings = RunnerSettings(batch_max_records=10, commit_interval_ms=LONG_MS)

    async def go() -> None:
        await produce(kafka_conn, RAW_EMAIL, [(b"support", _raw(i)) for i in range(BACKLOG)])
        runner = CountingRunner(SubjectStage(), kafka_conn, settings)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            await _until(task, lambda: runner.status.records_in >= BACKLOG and runner.commits)
            assert sum(runner.commits) >= BACKLOG // 10  # read in batches of 10 at most ...
            assert len(runner.commits) <= 3, runner.commits  # ... committed a few times
            before = len(runner.commits)
            # caught up: one more record is committed without waiting for the interval
            await produce(kafka_conn, RAW_EMAIL, [(b"support", _raw(BACKLOG))])
            await _until(task, lambda: len(runner.commits) > before)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
        msgs = await read_topic(kafka_conn, MESSAGES, expect=BACKLOG + 1)
        assert sorted(int(m.value.subject[1:]) for m in msgs) == list(range(BACKLOG + 1))

        # a second worker in the group resumes after the committed offsets: nothing again
        await produce(kafka_conn, RAW_EMAIL, [(b"support", _raw(BACKLOG + 1))])
        stage2 = SubjectStage()
        runner2 = StageRunner(stage2, kafka_conn, settings)
        await run_until(runner2, lambda: runner2.status.records_in >= 1)
        assert stage2.processed == 1

    asyncio.run(go())


async def _until(task: asyncio.Task[None], done: Any, limit_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not done():
        if task.done():
            task.result()
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.05)
