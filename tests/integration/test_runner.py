"""The stage runner against the real broker: records move, bad ones are dead-lettered with
their bytes while the worker goes on, tables are restored before input, offsets are committed
so a restarted worker does not process a record twice."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from runtime.errors import StageError
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.codec import decode
from schemas.deadletter import DeadLetter
from schemas.directory import CustomerRecord
from schemas.message import Address, InboundMessage
from schemas.raw import RawEmail
from schemas.stage import In, KafkaConnection, Out, Stage
from schemas.topics import BY_NAME, CUSTOMERS, MESSAGES, RAW_EMAIL, TopicSpec, dlq_name
from tests.support.kafka import produce, produce_raw, read_topic, run_until

pytestmark = pytest.mark.integration

DLQ = BY_NAME[dlq_name("normalize")]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class SubjectStage(Stage):
    """A small real stage: raw email -> message carrying the customer's name from a table."""

    name = "normalize"
    inputs = (RAW_EMAIL,)
    tables = (CUSTOMERS,)
    tick_interval: float | None = None

    def __init__(self) -> None:
        self.customers: dict[bytes, CustomerRecord] = {}
        self.processed = 0

    def restore(self, topic: TopicSpec, key: bytes, value: Any) -> None:
        if value is None:
            self.customers.pop(key, None)
        else:
            self.customers[key] = value

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        outs = []
        for rec in batch:
            raw: RawEmail = rec.value
            if b"EXPLODE" in raw.raw:
                raise StageError("cannot parse this one")
            subject = raw.raw.split(b"\r\n")[0].removeprefix(b"Subject: ").decode()
            customer = self.customers.get(b"c1")
            msg = InboundMessage(
                message_id=f"m-{raw.uid}", channel="email", mailbox=raw.mailbox,
                received_at=raw.received_at,
                sender=Address(name=customer.name if customer else "", address="a@example.org"),
                subject=subject,
            )
            outs.append(Out(MESSAGES, msg.partition_key, msg))
        self.processed += len(batch)
        return outs

    def tick(self, now: datetime) -> list[Out]:
        return []


def _raw(i: int, body: bytes = b"hello") -> RawEmail:
    return RawEmail(source="file", mailbox="support", raw=b"Subject: s%d\r\n\r\n" % i + body,
                    received_at=T0, uid=i)


def test_records_flow_bad_ones_are_dead_lettered_and_the_worker_goes_on(
    kafka_conn: KafkaConnection,
) -> None:
    async def go() -> None:
        await produce(kafka_conn, CUSTOMERS, [(b"c1", CustomerRecord(customer_id="c1",
                                                                     name="Ada"))])
        await produce(kafka_conn, RAW_EMAIL, [(b"support", _raw(1)), (b"support", _raw(2))])
        await produce_raw(kafka_conn, RAW_EMAIL, [(b"support", b"\x00 not json")])
        await produce(kafka_conn, RAW_EMAIL, [(b"support", _raw(3, b"EXPLODE")),
                                              (b"support", _raw(4))])
        stage = SubjectStage()
        runner = StageRunner(stage, kafka_conn, RunnerSettings(batch_timeout_ms=20))
        await run_until(runner, lambda: runner.status.records_in >= 4
                         and runner.status.dead_letters >= 2)
        assert stage.customers[b"c1"].name == "Ada"  # the table was restored first

        msgs = await read_topic(kafka_conn, MESSAGES, expect=3)
        assert sorted(m.value.subject for m in msgs) == ["s1", "s2", "s4"]
        assert all(m.value.sender.name == "Ada" for m in msgs)

        letters = await read_topic(kafka_conn, DLQ, expect=2)
        by_type = {d.value.error_type: d.value for d in letters}
        assert set(by_type) == {"DecodeError", "StageError"}
        assert by_type["DecodeError"].value == b"\x00 not json"  # the original bytes
        assert b"EXPLODE" in decode(RawEmail, by_type["StageError"].value).raw
        assert by_type["StageError"].error == "cannot parse this one"
        assert isinstance(by_type["StageError"], DeadLetter)

        # A second worker in the same group resumes after the committed offsets.
        await produce(kafka_conn, RAW_EMAIL, [(b"support", _raw(5))])
        stage2 = SubjectStage()
        runner2 = StageRunner(stage2, kafka_conn, RunnerSettings(batch_timeout_ms=20))
        await run_until(runner2, lambda: runner2.status.records_in >= 1)
        assert stage2.processed == 1
        msgs = await read_topic(kafka_conn, MESSAGES, expect=4)
        assert sorted(m.value.subject for m in msgs) == ["s1", "s2", "s4", "s5"]

    asyncio.run(go())
