"""Skip, a whole record batch at a time, what a worker's own producer wrote to a topic its
consumer reads.

The tickets stage consumes ``ticket.events`` for the other stages' events and writes its own
there too: 1.33 of every 2.33 records it fetched were its own, each parsed by aiokafka into a
``ConsumerRecord`` only for the runner to drop it by its header (its share of the stage:
benchmarks/README.md). Kafka says who wrote a record batch in the batch's header (the
idempotent producer's id), so such a batch can be stepped over without reading its records.

How: a consumer started under :func:`skipping_own_batches` gets, for every fetched partition,
its record batches through :class:`_WithoutOwnBatches`, which steps over the batches whose
producer id belongs to the given producer (and moves the partition's position past them, as
aiokafka does for aborted transactions). Only that consumer: aiokafka parses fetches in its
fetcher's task, which copies the context when the consumer starts, so the setting travels in
a :class:`~contextvars.ContextVar` set around ``start()`` and nowhere else.

Safe by construction: the runner writes every record with its replica's header and already
drops those one by one; a batch of its producer holds nothing else. (A transactional producer
that takes over from another replica gets that replica's producer id with a new epoch: those
batches carry this stage's header too, and were dropped by it before.) If aiokafka's internals
are not what this expects (``aiokafka>=0.12,<0.15`` is pinned), nothing is skipped here and
the header check does the work as before (:func:`installed` says which).
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

log = logging.getLogger("helpline.runner")


class OwnProducer:
    """The producer ids a worker's producer has had, read when each fetch is parsed. The
    producer may be replaced (a single-writer stage starts a transactional one each time its
    replica becomes active); ids seen before stay: their batches are this stage's own too."""

    __slots__ = ("_ids", "producer")

    def __init__(self, producer: Any = None) -> None:
        self.producer = producer
        self._ids: set[int] = set()

    def ids(self) -> set[int]:
        txn = getattr(self.producer, "_txn_manager", None)
        pid = getattr(txn, "producer_id", -1) if txn is not None else -1
        if isinstance(pid, int) and pid >= 0:
            self._ids.add(pid)
        return self._ids


_SKIP: ContextVar[OwnProducer | None] = ContextVar("helpline_skip_own_batches", default=None)


class _WithoutOwnBatches:
    """aiokafka's fetched ``MemoryRecords`` of one partition, less the batches ``ids`` wrote.
    ``PartitionRecords`` only calls ``has_next`` and ``next_batch``."""

    __slots__ = ("_ids", "_next", "_owner", "_records")

    def __init__(self, records: Any, owner: Any, ids: set[int]) -> None:
        self._records = records
        self._owner = weakref.ref(owner)  # (it holds this: no cycle keeping fetches alive)
        self._ids = ids
        self._next: Any = None

    def has_next(self) -> bool:
        if self._next is not None:
            return True
        records, ids = self._records, self._ids
        while records.has_next():
            batch = records.next_batch()
            if batch.producer_id in ids and not batch.is_control_batch:
                # past it, as aiokafka steps past an aborted transaction's batch
                owner = self._owner()
                if owner is not None and batch.next_offset > owner.next_fetch_offset:
                    owner.next_fetch_offset = batch.next_offset
                continue
            self._next = batch
            return True
        return False

    def next_batch(self) -> Any:
        batch, self._next = self._next, None
        return batch


_installed = False


def install() -> bool:
    """Hook aiokafka's per-partition fetch parsing (once per process); False if its internals
    are not the expected ones, and then nothing is skipped."""
    global _installed
    if _installed:
        return True
    try:
        from aiokafka.consumer import fetcher
        from aiokafka.record.memory_records import MemoryRecords
    except ImportError:  # pragma: no cover - aiokafka is a dependency
        return False
    base = getattr(fetcher, "PartitionRecords", None)
    if base is None or not all(hasattr(MemoryRecords, m) for m in ("has_next", "next_batch")):
        log.warning("aiokafka internals changed: own record batches are not skipped whole")
        return False

    class PartitionRecords(base):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            own = _SKIP.get()
            records = getattr(self, "_records", None)
            if own is not None and records is not None:
                ids = own.ids()
                if ids:
                    self._records = _WithoutOwnBatches(records, self, ids)

    PartitionRecords.__qualname__ = base.__qualname__
    fetcher.PartitionRecords = PartitionRecords
    _installed = True
    return True


def installed() -> bool:
    return _installed


@contextlib.contextmanager
def skipping_own_batches(own: OwnProducer) -> Iterator[bool]:
    """Start a consumer inside this block: its fetches skip the batches written by the
    producer ``own`` names (then or later). Yields whether the hook is in place."""
    ok = install()
    token = _SKIP.set(own if ok else None)
    try:
        yield ok
    finally:
        _SKIP.reset(token)
