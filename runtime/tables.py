"""A stage's tables: compacted topics read from the beginning into the stage before it
consumes any input (``restore``), then followed for updates written by others (``follow``)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from runtime.errors import HelplineError
from runtime.kafka_io import start_client
from schemas.codec import DecodeError
from schemas.stage import KafkaConnection, Stage
from schemas.topics import TopicSpec

log = logging.getLogger("helpline.runner")


class TableFeed:
    def __init__(self, stage: Stage, conn: KafkaConnection, tables: dict[str, TopicSpec],
                 decoders: dict[str, Any], own_header: tuple[str, bytes],
                 catchup_timeout_s: float) -> None:
        self.stage = stage
        self.conn = conn
        self._tables = tables
        self._decoders = decoders
        self._header = own_header
        self.catchup_timeout_s = catchup_timeout_s

    async def restore(self) -> AIOKafkaConsumer:
        """Read every table topic from the beginning up to its current end, into the stage."""
        consumer = AIOKafkaConsumer(**self.conn.options(), enable_auto_commit=False,
                                    isolation_level="read_committed",
                                    auto_offset_reset="earliest")
        await start_client(consumer, self.conn)
        tps: list[TopicPartition] = []
        for name in self._tables:
            parts = consumer.partitions_for_topic(name)
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(name)
            if not parts:
                raise HelplineError(f"table topic {name} missing: run `helpline topics create`")
            tps.extend(TopicPartition(name, p) for p in parts)
        # Both ends asked before assign(): once partitions are assigned the fetcher's long poll
        # (fetch_max_wait_ms) holds the broker connection, and an offsets request queued behind
        # it took ~0.5 s of every worker's start-up even with empty tables. An offset gone
        # meanwhile (retention) resets to the earliest, as configured above.
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, begins[tp])
        pending = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + self.catchup_timeout_s
        restored = 0
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10000)
            for tp, msgs in batch.items():
                restored += self._apply(tp, msgs, own_too=True)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        if pending:
            raise HelplineError(f"tables not restored within {self.catchup_timeout_s}s")
        log.info("tables restored", extra={"stage": self.stage.name, "records": restored})
        return consumer

    async def follow(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Keep feeding table updates written by others (reference data, other replicas)."""
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, msgs in batch.items():
                    self._apply(tp, msgs, own_too=False)
        finally:
            await consumer.stop()

    def _apply(
        self, tp: TopicPartition, msgs: list[ConsumerRecord[bytes, bytes]], own_too: bool
    ) -> int:
        spec = self._tables[tp.topic]
        decode = self._decoders[tp.topic]
        n = 0
        for m in msgs:
            # Our own writes are already in the stage's memory; replaying them live could
            # overwrite newer state with older.
            if not own_too and self._header in (m.headers or ()):
                continue
            if m.key is None:
                continue
            try:
                value = decode(m.value) if m.value is not None else None
            except DecodeError:
                log.warning("undecodable table record skipped",
                            extra={"stage": self.stage.name, "topic": spec.name,
                                   "offset": m.offset})
                continue
            self.stage.restore(spec, m.key, value)
            n += 1
        return n
