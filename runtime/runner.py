"""Runs one :class:`schemas.stage.Stage` on aiokafka.

The loop, per batch: ``getmany`` → decode → ``stage.process`` → produce every output → wait for
all acknowledgements → commit the input offsets. A crash anywhere before the commit replays the
batch; stages emit deterministic ids, so a replayed batch yields identical records that
downstream folds ignore (at-least-once delivery, exactly-once effect). Single-writer stages
(tickets, route) write each batch and its offsets as one transaction instead, fenced against a
replaced replica (:mod:`runtime.writer`): their outputs are in the log exactly once.

Why not faust agents: faust-streaming is what the stages were first sketched on, but a faust
hop costs ~200 µs of CPU per record in its own event plumbing (STYLE.md's measurements: 3,000 to
5,400 records/s against 25,000 to 38,000 for a bare aiokafka relay on the same machine), which
rules out the stages' targets of 50 to 80 % of a bare relay. This runner keeps what we used
from faust — agents over partitioned streams, tables restored from compacted changelogs,
timers — as explicit, small steps on aiokafka, and ``benchmarks/bench_runner.py`` measures it
against the bare relay in the same run.

Failures are data: an undecodable record, or one the stage raises on, goes to the stage's
dead-letter topic with the original bytes, the error and its position; the worker carries on.
Retriable errors are retried ``max_attempts`` times with backoff before dead-lettering.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from runtime.errors import HelplineError
from runtime.group import ActiveStandbyAssignor, SettleBeforeRevoke
from runtime.kafka_io import group_id, start_client
from runtime.metrics import StageMetrics
from runtime.own_batches import OwnProducer, skipping_own_batches
from runtime.settings import RunnerSettings
from runtime.status import RunnerStatus
from runtime.tables import TableFeed
from runtime.writer import Writer
from schemas.builders import constructor
from schemas.clock import Clock, utcnow
from schemas.codec import DecodeError, decoder, encode
from schemas.deadletter import DeadLetter
from schemas.stage import In, KafkaConnection, Out, Stage
from schemas.topics import STAGE_TOPICS, TopicSpec, dead_letter_topic

log = logging.getLogger("helpline.runner")

INSTANCE_HEADER = "helpline-instance"

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"

# CPython's cyclic GC with its default thresholds (700, 10, 10) cost the tickets worker ~20 % of
# its CPU (py-spy, bench_tickets: 116 -> 94 us per message with it off): a batch allocates tens
# of thousands of records, and those that survive (the stage's state) are re-scanned over and
# over. A worker is one stage per process, so the runner owns this knob: young collections every
# 100k allocations, and the state restored from the tables frozen out of full collections
# (reference counting still frees everything acyclic at once; only cycles wait longer).
GC_THRESHOLDS = (100_000, 20, 20)


_new_in = constructor(In)  # one per record consumed


@dataclass(frozen=True)
class _InFlight:
    """A batch handed to the producer: its outputs, their acknowledgements, and the input
    offsets to commit once they are all acknowledged (see :class:`runtime.writer.Writer`)."""

    outs: Sequence[Out]
    acks: list[asyncio.Future[Any]]
    offsets: dict[TopicPartition, int]


class StageRunner:
    def __init__(
        self,
        stage: Stage,
        conn: KafkaConnection,
        settings: RunnerSettings | None = None,
        metrics: StageMetrics | None = None,
        instance_id: str = "0",
        clock: Clock = utcnow,
    ) -> None:
        self.stage = stage
        self.conn = conn
        self.cfg = settings or RunnerSettings()
        self.metrics = metrics or StageMetrics.disabled()
        self.instance_id = instance_id
        self.clock = clock
        self.status = RunnerStatus(stage=stage.name)
        self._by_topic: dict[str, TopicSpec] = {conn.topic(s): s for s in stage.inputs}
        self._tables: dict[str, TopicSpec] = {conn.topic(s): s for s in stage.tables}
        self._decoders: dict[str, Any] = {name: decoder(s.value_type) for name, s in
                          {**self._by_topic, **self._tables}.items()}
        self._dlq = (STAGE_TOPICS[stage.name].dlq if stage.name in STAGE_TOPICS  # its own DLQ
                     else dead_letter_topic(stage.name))
        self._consumer: AIOKafkaConsumer | None = None
        # One batch in flight: its outputs are acknowledged (and its offsets committed) while
        # the next batch is decoded and processed, so the broker's work overlaps ours instead
        # of the worker idling on every round trip; the next batch is processed in slices,
        # handing the loop to the acknowledgements between them. Its outputs are handed to the
        # producer only after the batch in flight is settled: nothing of them is written if
        # that fails.
        self._settling: asyncio.Future[None] | None = None
        self._letters: list[Out] = []  # dead letters of the batch being handled
        self._failure: BaseException | None = None  # a batch in flight that failed to settle
        # No processed batch is left unsent across a rebalance: the listener waits for this
        # (set while the loop holds no batch it has processed but not handed to the producer)
        self._idle = asyncio.Event()
        self._idle.set()
        self._positions: dict[TopicPartition, int] = {}  # committed by this replica, last
        self._seen: dict[TopicPartition, int] = {}  # each partition's position, last batch
        self._header = (INSTANCE_HEADER, f"{stage.name}/{instance_id}".encode())
        self._stage_prefix = f"{stage.name}/".encode()
        self._out_names: dict[str, str] = {}  # topic spec name -> full name, as outputs go
        # A stage with global state runs one active replica, the others warm standbys
        # (runtime.group); after each assignment its tables are read up to their end
        # before the first batch is processed.
        self._assignor = (ActiveStandbyAssignor(self._assigned)
                          if stage.single_writer else None)
        self._promoted = self._demoted = False  # (set by the assignor, acted on in the loop)
        self._own = OwnProducer()
        self._writer = Writer(conn, stage.name, group_id(conn, stage.name), self.cfg.linger_ms,
                              bool(self._assignor) and self.cfg.fenced_writes, self._own)
        self._table_feed = TableFeed(stage, conn, self._tables, self._decoders, self._header,
                                     self.cfg.table_catchup_timeout_s,
                                     stage.own_tables if self._assignor else ())

    # -- public ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        gc.set_threshold(*GC_THRESHOLDS)
        await self._writer.start()
        table_task: asyncio.Task[None] | None = None
        consumer: AIOKafkaConsumer | None = None
        try:
            if self._tables:
                self.status.state = "restoring"
                await self._table_feed.restore()
                gc.collect()
                gc.freeze()  # the restored state is long-lived: not re-scanned by every full GC
                table_task = asyncio.create_task(self._table_feed.follow(stop))
            strategy: dict[str, Any] = {} if self._assignor is None else {
                "partition_assignment_strategy": (self._assignor,)}
            consumer = AIOKafkaConsumer(
                **self.conn.options(), **strategy,
                group_id=group_id(self.conn, self.stage.name),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=self.cfg.batch_max_records,
                isolation_level="read_committed",
                session_timeout_ms=self.cfg.session_timeout_ms,
                heartbeat_interval_ms=max(100, self.cfg.session_timeout_ms // 3),
            )
            consumer.subscribe(list(self._by_topic),
                               listener=SettleBeforeRevoke(self._before_revoke))
            self._consumer = consumer
            # batches this runner's producer wrote to a topic it reads (a stage's own events on
            # ticket.events) are stepped over whole instead of parsed and dropped one by one
            with skipping_own_batches(self._own):
                await start_client(consumer, self.conn)
            if self._assignor is None:
                self.status.state = "running"
            elif self.status.state not in ("standby", "taking-over"):
                self.status.state = "joining"  # until the group says active or standby
            await self._loop(consumer, stop)
            self.status.state = "stopped"
        except Exception as exc:
            self.status.state = "failed"
            self.status.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            # a stage with work of its own in flight finishes it (Stage.drain: by default none)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.stage.drain(), self.cfg.shutdown_timeout_s)
            if table_task is not None:
                table_task.cancel()
                await asyncio.gather(table_task, return_exceptions=True)
            if self._settling is not None:  # (failed before settling it)
                await asyncio.gather(self._settling, return_exceptions=True)
            if consumer is not None:
                await consumer.stop()
            await self._writer.stop()

    # -- the loop -------------------------------------------------------------------------

    async def _loop(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        tick_every = self.stage.tick_interval
        next_tick = time.monotonic() + tick_every if tick_every else None
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                fetch = asyncio.ensure_future(
                    consumer.getmany(timeout_ms=max(self.cfg.batch_timeout_ms, 50),
                                     max_records=self.cfg.batch_max_records))
                await asyncio.wait({fetch, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    await asyncio.gather(fetch, return_exceptions=True)
                    break
                batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = fetch.result()
                if self._failure is not None:
                    raise self._failure
                self._idle.clear()
                if (self._demoted or self._promoted) and await self._change_role(consumer,
                                                                                  batches):
                    batches = {}  # fetched from positions since reset: fetched again
                skipped = await self._skipped(consumer, batches)
                outs = await self._handle(batches) if batches else []
                await self._settle_in_flight()
                if batches or skipped:
                    offsets = {tp: msgs[-1].offset + 1 for tp, msgs in batches.items()}
                    self._settling = asyncio.ensure_future(self._settle(consumer, await self._send(
                        outs, {**offsets, **skipped})))
                    self.metrics.fetched(self.stage.name, consumer, batches, self._by_topic)
                    for tp, position in skipped.items():
                        self.metrics.lag(self.stage.name, self._by_topic[tp.topic].name,
                                         tp.partition, (consumer.highwater(tp) or 0) - position)
                    self.status.last_batch_at = time.time()
                self._idle.set()
                if next_tick is not None and tick_every and time.monotonic() >= next_tick \
                        and (self._assignor is None or self._assignor.active):
                    await self._settle_in_flight()
                    await self._produce(self.stage.tick(self.clock()))
                    next_tick = time.monotonic() + tick_every
            await self._settle_in_flight()  # stopping: finish the batch in flight
        finally:
            self._idle.set()
            stop_wait.cancel()

    def _assigned(self, partitions: set[TopicPartition]) -> None:
        """A single-writer stage's new assignment (from its assignor, before any record of it
        is fetched): every partition (active) or none (standby)."""
        if not partitions and self.status.state not in ("stopped", "failed"):
            self.status.state = "standby"
        elif partitions and self.status.state not in ("stopped", "failed", "running"):
            self.status.state = "taking-over"  # running once its tables are current
        self._promoted, self._demoted = bool(partitions), not partitions
        if not partitions:
            self._table_feed.follow_own()
        log.info("%s: %s", self.stage.name, "active: every partition assigned" if partitions
                 else "standby: another replica holds the partitions")

    async def _change_role(self, consumer: AIOKafkaConsumer,
                           batches: dict[TopicPartition, list[Record]]) -> bool:
        """Act on the assignor's last word: a standby writes nothing (its writer stops); the
        active replica writes with a writer of its own term (fencing its predecessor) and has
        its tables read up to their end before its first batch. True when the partitions'
        positions were reset, ``batches`` (fetched before, not processed) included."""
        await self._settle_in_flight()
        if self._demoted:
            self._demoted = False
            self._positions.clear()
            if self._writer.transactional:
                await self._writer.stop()
        if not self._promoted:
            return False
        self._promoted = False
        reset = False
        if self._writer.transactional:
            taking_over = self._writer.producer is None
            if taking_over:  # fence the predecessor first: its transactions are then all
                await self._writer.activate()  # committed or aborted, and the group's offsets
                # read next are where it really stopped; staying active, this replica goes on
                # from its own last commits (a transaction's offsets reach the group's reads a
                # moment after it commits: they could be older)
            for tp in consumer.assignment():
                offset = await consumer.committed(tp) if taking_over else self._positions.get(tp)
                if offset is None and tp in batches:  # nothing committed: from the first
                    offset = batches[tp][0].offset  # record fetched (auto_offset_reset)
                if offset is not None:
                    consumer.seek(tp, offset)
            reset = True
        if self._tables:
            await self._table_feed.current()
        if self.status.state == "taking-over":
            self.status.state = "running"
        return reset

    async def _skipped(self, consumer: AIOKafkaConsumer,
                       batches: dict[TopicPartition, list[Record]]) -> dict[TopicPartition, int]:
        """Partitions whose position moved past record batches of this runner's own producer
        only (skipped unread, :mod:`runtime.own_batches`), and where to: committed and
        reported as consumed like any other, so the group's lag (and the alerts on it) do not
        count this stage's own events on ``ticket.events`` as waiting."""
        moved: dict[TopicPartition, int] = {}
        for tp in consumer.assignment():
            if tp in batches:
                self._seen[tp] = batches[tp][-1].offset + 1
                continue
            try:
                position = await consumer.position(tp)
            except IllegalStateError:  # taken away meanwhile (a rebalance)
                continue
            if position > self._seen.get(tp, position):
                moved[tp] = position
            self._seen[tp] = position
        return moved

    async def _handle(self, batches: dict[TopicPartition, list[Record]]) -> list[Out]:
        """Decode and process a batch; its outputs, not yet produced."""
        started = time.perf_counter()
        items: list[tuple[In, ConsumerRecord[bytes, bytes]]] = []
        add, own_stage, mine = items.append, self._own_stage, self._header
        for tp, msgs in batches.items():
            spec = self._by_topic[tp.topic]
            decode = self._decoders[tp.topic]
            self.metrics.records_in(self.stage.name, spec.name, len(msgs))
            for m in msgs:
                # this replica's own records carry exactly its header: no call for them
                if m.headers and (m.headers[0] == mine or own_stage(m)):
                    continue
                try:
                    value = decode(m.value) if m.value is not None else None
                except DecodeError as exc:
                    self._dead_letter(m, spec, exc, retriable=False)
                    continue
                add((_new_in(spec, m.key, value, m.partition, m.offset, m.timestamp), m))
        self.status.records_in += len(items)
        outs: list[Out] = []
        # transactional writers process in slices, so that the batch in flight's commit goes on
        # meanwhile; the other stages get whole batches (classify predicts a batch at a time:
        # slices of 50 took its stage from 0.19 to 0.13 of the relay)
        step = self.cfg.process_slice_records if self._writer.transactional else len(items) or 1
        for lo in range(0, len(items), step):
            if lo:  # the batch in flight's acknowledgements and commit go on meanwhile
                await asyncio.sleep(0)
            part = items[lo:lo + step] if len(items) > step else items
            outs += await self._process([i for i, _ in part], part)
        self.metrics.batch_seconds(self.stage.name, time.perf_counter() - started)
        if self._letters:  # written with the batch's outputs, before its offsets commit
            outs += self._letters
            self._letters = []
        return outs

    def _own_stage(self, m: Record) -> bool:
        """A record this stage (any replica) produced itself, e.g. its own events on
        ``ticket.events``: stages never consume their own output, so it is not even decoded."""
        for key, value in m.headers or ():
            if key == INSTANCE_HEADER and value.startswith(self._stage_prefix):
                return True
        return False

    async def _process(
        self, batch: list[In], items: list[tuple[In, ConsumerRecord[bytes, bytes]]]
    ) -> list[Out]:
        try:
            return await self._call(batch)
        except Exception as exc:  # isolate the bad record(s): one at a time
            if len(batch) > 1:
                log.warning("batch failed, retrying record by record",
                            extra={"stage": self.stage.name, "error": type(exc).__name__})
        outs: list[Out] = []
        for item, msg in items:
            attempt = 0
            while True:
                attempt += 1
                try:
                    outs.extend(await self._call([item]))
                    break
                except Exception as exc:
                    retriable = isinstance(exc, HelplineError) and exc.retriable
                    if retriable and attempt < self.cfg.max_attempts:
                        await asyncio.sleep(self.cfg.retry_backoff_s * 2 ** (attempt - 1))
                        continue
                    self._dead_letter(msg, item.topic, exc, retriable, attempt)
                    break
        return outs

    async def _call(self, batch: Sequence[In]) -> list[Out]:
        result = self.stage.process(batch, self.clock())
        if inspect.isawaitable(result):
            result = await result
        return list(result)

    async def _produce(self, outs: Sequence[Out]) -> None:
        """Produce and wait until every output is acknowledged (and committed, when the
        writer is transactional)."""
        await self._settle(None, await self._send(outs, {}))

    async def _send(self, outs: Sequence[Out], offsets: dict[TopicPartition, int]) -> _InFlight:
        """Hand a batch's outputs to the producer (one future per partition batch)."""
        acks: list[asyncio.Future[Any]] = []
        if outs:
            names = self._out_names
            records = [(names.get(out.topic.name) or self._out_name(out.topic), out.key,
                        None if out.value is None else encode(out.value)) for out in outs]
            acks = await self._writer.send(records, [self._header])
        return _InFlight(outs, acks, offsets)

    async def _settle_in_flight(self) -> None:
        """Settle the batch in flight, if any (the loop and a rebalance listener may both
        wait for it); a batch that failed to settle fails every later call."""
        if self._failure is not None:
            raise self._failure
        settling = self._settling
        if settling is None:
            return
        try:
            await asyncio.shield(settling)
        except BaseException as exc:
            if settling.done() and not settling.cancelled():
                self._failure = exc
            raise
        finally:
            if self._settling is settling and settling.done():
                self._settling = None

    async def _before_revoke(self) -> None:
        """Before partitions are taken away (a rebalance): the batch in hand is handed to the
        producer and everything is committed, so that no processed input is fetched again."""
        await self._idle.wait()
        await self._settle_in_flight()

    def _out_name(self, spec: TopicSpec) -> str:
        name = self._out_names[spec.name] = self.conn.topic(spec)
        return name

    async def _settle(self, consumer: AIOKafkaConsumer | None, batch: _InFlight) -> None:
        """Wait for a batch's acknowledgements, then commit its input offsets."""
        await self._writer.settle(batch.acks, consumer, batch.offsets)
        if consumer is not None:
            self._positions.update(batch.offsets)
        if not batch.outs:
            return
        self.status.records_out += len(batch.outs)
        if self.metrics.registry is None:  # metrics off: no per-record counting either
            return
        counts: dict[str, int] = {}
        for out in batch.outs:
            counts[out.topic.name] = counts.get(out.topic.name, 0) + 1
        for name, n in counts.items():
            self.metrics.records_out(self.stage.name, name, n)
        self.metrics.outputs(self.stage.name, batch.outs)

    def _dead_letter(
        self,
        msg: ConsumerRecord[bytes, bytes],
        spec: TopicSpec,
        exc: BaseException,
        retriable: bool,
        attempts: int = 1,
    ) -> None:
        """Dead-letter a record: written with its batch's outputs (in its transaction, when
        the writer is transactional), before the batch's offsets are committed."""
        error = str(exc) if isinstance(exc, HelplineError | DecodeError | ValueError) else (
            f"{exc!r}\n{''.join(traceback.format_exception(exc, limit=-3))}")
        letter = DeadLetter(
            stage=self.stage.name, source_topic=spec.name, partition=msg.partition,
            offset=msg.offset, key=msg.key, value=msg.value or b"",
            error_type=type(exc).__name__, error=error[:4000], retriable=retriable,
            failed_at=self.clock(), attempts=attempts,
        )
        self._letters.append(Out(self._dlq, msg.key or b"", letter))
        self.status.dead_letters += 1
        self.metrics.dead_letter(self.stage.name, spec.name, type(exc).__name__)
        log.warning("dead-lettered", extra={"stage": self.stage.name, "topic": spec.name,
                                            "partition": msg.partition, "offset": msg.offset,
                                            "error": type(exc).__name__})


async def run_stage(
    stage: Stage,
    conn: KafkaConnection,
    settings: RunnerSettings,
    stop: asyncio.Event,
    metrics: StageMetrics | None = None,
    instance_id: str = "0",
) -> StageRunner:
    runner = StageRunner(stage, conn, settings, metrics, instance_id)
    try:
        await runner.run(stop)
    except KafkaError as exc:
        from runtime.errors import BrokerUnavailable

        raise BrokerUnavailable(conn.bootstrap_servers, f"{type(exc).__name__}: {exc}") from None
    return runner
