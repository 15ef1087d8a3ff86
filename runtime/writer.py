"""Where a runner's outputs go, and how a batch is made final.

Plain (stages whose replicas share the partitions: normalize, classify, notify): an idempotent
producer (acks=all); once a batch's outputs are all acknowledged, the consumer commits its input
offsets. A crash in between replays the batch; the stages' deterministic ids make the repeated
records harmless downstream (at-least-once delivery, exactly-once effect).

Fenced (single-writer stages, whose replicas are one active and warm standbys: tickets, route):
a transactional producer, one ``transactional.id`` per stage. A batch's outputs and its input
offsets are one transaction, so downstream (every reader is ``read_committed``) sees all of a
batch or none of it. The producer is started when the replica becomes the active one, and that
fences the previous active replica: its open transaction is aborted and its next write or
commit fails with ``ProducerFenced``. A replica cut off from its group (a network partition, a
long pause) can therefore no longer write beside its successor; it stops with :class:`Fenced`
and its process restarts as a standby. A killed replica's unfinished transaction is aborted
the same way, so what it had in flight never reaches a reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    IllegalOperation,
    IllegalStateError,
    InvalidProducerEpoch,
    KafkaError,
    ProducerFenced,
)

from runtime.errors import HelplineError
from runtime.kafka_io import BatchSender, Headers, OutRecord, make_producer, start_client
from runtime.own_batches import OwnProducer
from schemas.stage import KafkaConnection

log = logging.getLogger("helpline.runner")

# A transactional writer needs the brokers' transaction coordinator: a cluster whose
# ``transaction.state.log.replication.factor`` exceeds its brokers (3 by default: a one-broker
# cluster left at defaults) never answers, and the worker says so instead of waiting forever.
WRITER_START_TIMEOUT_S = 60.0
ABORT_TIMEOUT_S = 5.0  # an open transaction aborted on the way out, at most this long


class Fenced(HelplineError):
    """Another replica of this single-writer stage took over: this one must stop writing."""


class Writer:
    def __init__(self, conn: KafkaConnection, stage: str, group: str, linger_ms: int,
                 transactional: bool, own: OwnProducer) -> None:
        self.conn = conn
        self.stage = stage
        self.group = group
        self.transactional = transactional
        self._linger_ms = linger_ms
        self._own = own
        self._producer: AIOKafkaProducer | None = None
        self._sender: BatchSender | None = None
        self._in_txn = False
        self._fenced_by: str | None = None  # once fenced, the producer is not used again
        # Once a write or a commit failed, nothing more is written with this writer: the
        # failed batch's outputs must not be committed with the next batch's (the worker stops)
        self._failed: BaseException | None = None

    @property
    def producer(self) -> AIOKafkaProducer | None:
        return self._producer

    async def start(self) -> None:
        """Plain: the producer starts now. Fenced: when this replica becomes active."""
        if not self.transactional:
            await self._start(make_producer(self.conn, linger_ms=self._linger_ms))

    async def activate(self) -> None:
        """This replica became the active one: a new transactional producer, which fences the
        one before it (of another replica, or this replica's own from an earlier term). When it
        returns, the previous producer's transactions are all committed or aborted."""
        if not self.transactional:
            return
        await self.stop()
        producer = make_producer(self.conn, linger_ms=self._linger_ms,
                                 transactional_id=self.group)
        try:  # started once the coordinator gave this writer its epoch (InitProducerId)
            async with asyncio.timeout(WRITER_START_TIMEOUT_S):
                await self._start(producer)
                await producer.begin_transaction()
        except TimeoutError:
            self._producer = self._sender = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5)
            raise HelplineError(
                f"{self.stage}: the brokers did not start a transaction within "
                f"{WRITER_START_TIMEOUT_S:g}s: check transaction.state.log.replication.factor "
                "(<= the number of brokers) and min.isr, or run without fenced writes "
                "(HELPLINE_RUNNER__FENCED_WRITES=false)") from None
        except ProducerFenced as exc:
            raise self._fenced(exc) from None
        self._in_txn = True
        log.info("%s: transactional writer started (previous active replica fenced)",
                 self.stage)

    async def _start(self, producer: AIOKafkaProducer) -> None:
        await start_client(producer, self.conn)
        self._producer, self._sender, self._in_txn = producer, BatchSender(producer), False
        self._fenced_by = self._failed = None
        self._own.producer = producer

    async def stop(self) -> None:
        """Stop the producer; an open transaction is aborted first (bounded: its outputs
        would otherwise hold back every read_committed reader until it times out)."""
        producer, self._producer, self._sender = self._producer, None, None
        if producer is None:
            return
        if self._in_txn and self._fenced_by is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.abort_transaction(), ABORT_TIMEOUT_S)
        self._in_txn = False
        try:
            await producer.stop()
        except KafkaError as exc:  # a fenced producer may fail to flush: nothing to keep
            log.warning("%s: producer stopped with %s", self.stage, type(exc).__name__)

    async def send(self, records: Sequence[OutRecord], headers: Headers
                   ) -> list[asyncio.Future[Any]]:
        """Hand records to the producer (within this batch's transaction when fenced); the
        futures of their acknowledgements. Refused records raise."""
        if not records:
            return []
        self._check()
        if self._sender is None:
            raise Fenced(f"{self.stage}: no writer: this replica is not the active one")
        try:
            await self._begin()
            outcomes = await self._sender.send(records, headers=headers)
            acks: dict[int, asyncio.Future[Any]] = {}
            for s in outcomes:
                if isinstance(s, BaseException):
                    raise s
                acks[id(s)] = s
        except BaseException as exc:
            raise self._fail(exc) from None
        return list(acks.values())

    async def settle(self, acks: Sequence[asyncio.Future[Any]],
                     consumer: AIOKafkaConsumer | None,
                     offsets: dict[TopicPartition, int]) -> None:
        """Make a batch final: every output acknowledged, then its input offsets committed
        (fenced: offsets and outputs committed as one transaction; all of its offsets, owned
        or not: fencing, not the consumer's assignment, decides whose commit counts)."""
        self._check()
        try:
            await asyncio.gather(*acks)
            if self.transactional:
                await self._commit_transaction(offsets if consumer is not None else {})
                return
        except BaseException as exc:
            raise self._fail(exc) from None
        if consumer is not None and offsets:
            assignment = consumer.assignment()
            owned = {tp: o for tp, o in offsets.items() if tp in assignment}
            if owned:
                await self._commit(consumer, owned)

    def _check(self) -> None:
        if self._fenced_by is not None:
            raise self._fenced(self._fenced_by)
        if self._failed is not None:
            raise HelplineError(f"{self.stage}: an earlier write failed "
                                f"({type(self._failed).__name__}: {self._failed})")

    def _fail(self, exc: BaseException) -> BaseException:
        if isinstance(exc, ProducerFenced | Fenced):
            return exc if isinstance(exc, Fenced) else self._fenced(exc)
        if isinstance(exc, IllegalOperation):
            # A transaction stays open across batches until the commit interval: when the
            # producer's sender meets the fence in between, the transaction ends under us and
            # the next send only says "not in transaction". The cause is kept by aiokafka.
            cause = self._transaction_error()
            if isinstance(cause, ProducerFenced | InvalidProducerEpoch):
                return self._fenced(cause)
        if not isinstance(exc, asyncio.CancelledError):
            self._failed = exc
        return exc

    def _transaction_error(self) -> BaseException | None:
        """The error that ended this producer's transaction under it, if one did (aiokafka
        keeps it on its transaction manager, which has no public accessor)."""
        txn = getattr(self._producer, "_txn_manager", None)
        if txn is None or not txn.is_fatal_error():
            return None
        ended = txn.wait_for_transaction_end()
        if not ended.done() or ended.cancelled():
            return None
        error: BaseException | None = ended.exception()
        return error

    async def _begin(self) -> None:
        if self.transactional and not self._in_txn:
            assert self._producer is not None
            await self._producer.begin_transaction()
            self._in_txn = True

    async def _commit_transaction(self, offsets: dict[TopicPartition, int]) -> None:
        if offsets:
            await self._begin()
        if not self._in_txn:
            return
        assert self._producer is not None
        if offsets:
            await self._producer.send_offsets_to_transaction(offsets, self.group)
        await self._producer.commit_transaction()
        self._in_txn = False

    async def _commit(self, consumer: AIOKafkaConsumer,
                      offsets: dict[TopicPartition, int]) -> None:
        """Commit what this replica still owns. Partitions a rebalance gave away meanwhile are
        processed again from their last commit by their new owner: at-least-once, and the
        stages' deterministic ids make the repeated outputs harmless downstream."""
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("%s: offsets not committed, the group rebalanced meanwhile (%s); the "
                        "partitions' next owner processes those records again", self.stage, exc)

    def _fenced(self, cause: BaseException | str) -> Fenced:
        self._in_txn = False
        self._fenced_by = cause if isinstance(cause, str) else type(cause).__name__
        return Fenced(f"{self.stage}: another replica became the active writer (the broker "
                      f"fenced this one: {self._fenced_by}); stopping so that it restarts as "
                      "a standby")
