"""The contract between a stage's logic and the runner that moves its records.

A stage is an object that turns decoded input records into output records. It does no I/O:
the runner (``runtime.runner``) consumes, decodes, calls :meth:`Stage.process`, encodes,
produces, and commits offsets only after the outputs were acknowledged by the broker. So a
stage is tested with plain lists, and the same logic runs under any runner.

State: a stage that needs state keeps it in memory and persists it by emitting records to a
compacted topic listed in ``tables``; at start-up (and while running) the runner feeds every
record of those topics to :meth:`Stage.restore`, before any input is processed. Reference data
(customers, rules, agents) arrives the same way.

Failure: :meth:`Stage.process` must leave its state untouched for a record it raises on. The
runner retries a failed batch record by record and sends each record that still fails to the
stage's dead-letter topic with the error and the original bytes; the worker carries on.

Own output: a record the stage produced itself (any replica; the runner marks each record
with a ``helpline-instance: <stage>/<instance>`` header) is never handed back to ``process``,
so a stage that consumes and produces ``ticket.events`` does not see its own events.

I/O stages (the notifier) may make ``process`` a coroutine; the runner awaits it. Such a stage
does its own I/O through ports passed to its constructor.

Shutdown: a stage may define ``async drain()``; the runner awaits it (bounded by the
``runner.shutdown_timeout_s`` setting) before it stops, so work a stage started on its own
(sends in flight, its own producer) finishes or is closed cleanly.

One writer: a stage whose state is global (the ticket numbers, the route's clocks) sets
``single_writer``; the runner then keeps one active replica and the others warm standbys, and
``own_tables`` names the tables only the active replica writes (not fetched while active).

Everything a stage may declare is on :class:`Stage` with its default: a stage subclasses it
and overrides what it needs, and the runner reads the attributes directly.

Time: ``now`` is a parameter, never read from a clock inside a stage. Stages with timers set
``tick_interval`` and the runner calls :meth:`Stage.tick` with the current time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from schemas.errors import HelplineError
from schemas.topics import TopicSpec


@dataclass(frozen=True, slots=True)
class In:
    """One decoded input record, with where it came from."""

    topic: TopicSpec
    key: bytes | None
    value: Any
    partition: int = 0
    offset: int = 0
    timestamp_ms: int = 0


@dataclass(frozen=True, slots=True)
class Out:
    """One record to produce. ``value=None`` is a tombstone (compacted topics only)."""

    topic: TopicSpec
    key: bytes
    value: Any


class Stage(Protocol):
    """Everything a stage may declare, with the defaults a stage that subclasses it gets."""

    name: str
    inputs: tuple[TopicSpec, ...]  # what it consumes (schemas.topics.PIPELINE)
    tables: tuple[TopicSpec, ...] = ()  # compacted topics fed to restore(), before any input
    tick_interval: float | None = None  # seconds between tick() calls; None: no timers
    single_writer: bool = False  # one active replica, the others standbys (runtime.group)
    own_tables: tuple[TopicSpec, ...] = ()  # tables only the active replica writes

    def restore(self, topic: TopicSpec, key: bytes, value: Any | None) -> None:
        """One record of a table (``value`` None: a tombstone)."""

    def process(
        self, batch: Sequence[In], now: datetime
    ) -> list[Out] | Awaitable[list[Out]]: ...

    def tick(self, now: datetime) -> list[Out]:
        """Timers due at ``now`` (called every ``tick_interval`` seconds)."""
        return []

    async def drain(self) -> None:
        """Finish or close work of its own in flight, before the worker stops."""
        return None


class HealthReport(Protocol):
    """A connector's status board: what /health, /readyz and the metrics read."""

    def report(self) -> Mapping[str, object]:
        """``ready`` (bool) and small per-part details (names from the config, no addresses)."""
        ...


@dataclass(frozen=True, slots=True)
class Connector:
    """What ``helpline worker <service>`` runs for a connector that owns its sockets (IMAP,
    the SMTP receiver, the chat HTTP service): ``run(ctx, publisher, stop)`` until ``stop``
    is set; ``status``, when given, says whether it is ready (else: running means ready)."""

    run: Callable[[StageContext, Publisher, asyncio.Event], Awaitable[None]]
    status: HealthReport | None = None


class Publisher(Protocol):
    """A port to the broker for connectors: ``publish`` returns only once the broker has
    acknowledged the record (so a checkpoint may be committed after it) and raises
    :class:`schemas.errors.BrokerUnavailable` (``retriable``) otherwise."""

    async def publish(self, topic: TopicSpec, key: bytes, value: Any) -> None: ...

    async def publish_many(
        self, topic: TopicSpec, records: Sequence[tuple[bytes, Any]]
    ) -> list[BaseException | None]:
        """Publish records together; one outcome per record (None: acknowledged), in order.
        For connectors that take many at once (an IMAP FETCH batch)."""
        ...


class Meter(Protocol):
    """A port to the worker's metrics, for what only a stage or a connector sees (a send's
    outcome, an SMTP reply). ``name`` is one of the runtime's declared metrics (see
    ``runtime.metrics_catalogue``: the runtime adds the ``helpline_`` prefix and the unit
    suffix); label values must come from small fixed sets (outcome, reason, channel, kind) --
    never an address, a ticket id or free text. The runtime maps unknown values to "other"."""

    def count(self, name: str, n: float = 1, /, **labels: str) -> None: ...

    def observe(self, name: str, value: float, /, **labels: str) -> None: ...


class NoMeter:
    """The default :class:`Meter`: metrics off (unit tests, CLI tools)."""

    def count(self, name: str, n: float = 1, /, **labels: str) -> None:
        return None

    def observe(self, name: str, value: float, /, **labels: str) -> None:
        return None


NO_METER: Meter = NoMeter()


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """One record read back from a topic, its value decoded with the topic's schema.

    ``value`` is None for a tombstone and for a record that did not decode; then ``error``
    says why (failure is data: a view skips it, a table logs it, a test fails on it)."""

    topic: TopicSpec
    key: bytes | None
    value: Any
    raw: bytes | None
    partition: int
    offset: int
    headers: Sequence[tuple[str, bytes]] = ()  # as the client gave them (not copied)
    error: str | None = None


class NoSuchRecord(HelplineError, LookupError):
    """A topic holds no record where one was asked for; the message says why."""


class TopicReader(Protocol):
    """Topics read from their beginning without a consumer group (nothing is committed):
    first up to the end offsets seen when the reader was opened, then on for what comes."""

    missing: tuple[TopicSpec, ...]  # topics without partitions when opened: not read

    def written_before_open(self, record: TopicRecord) -> bool:
        """Whether ``record`` lies below the end offsets seen when the reader was opened
        (it was there before; what :meth:`catch_up` owes), rather than written since."""
        ...

    def catch_up(self) -> AsyncIterator[list[TopicRecord]]:
        """Batches up to the end offsets seen at opening (a batch may reach past them);
        raises TimeoutError when the end is not reached within the reader's timeout."""
        ...

    async def poll(self, timeout_s: float) -> list[TopicRecord]:
        """What arrived since (waits up to ``timeout_s`` for something)."""
        ...

    async def close(self) -> None: ...


class TopicIO(Protocol):
    """A port to the broker for package code outside a stage (CLI commands, query views),
    which may not import ``runtime``: ``runtime.topic_io.KafkaTopicIO`` implements it, and
    the runtime offers it on :class:`StageContext`."""

    async def read_to_end(self, spec: TopicSpec, timeout_s: float) -> list[TopicRecord]:
        """Every record of ``spec`` from its beginning up to its end now (a topic that does
        not exist reads as empty); raises TimeoutError when that takes over ``timeout_s``."""
        ...

    async def open_reader(self, specs: Sequence[TopicSpec], timeout_s: float, *,
                          since: Mapping[TopicSpec, datetime] | None = None) -> TopicReader:
        """A reader of ``specs``, positioned at their beginning; topics not there yet are
        waited for until ``timeout_s`` (which also bounds ``catch_up``). A topic named in
        ``since`` is read from its first record written at or after that time instead (from
        its end when there is none). Close it."""
        ...

    async def read_record(self, spec: TopicSpec, partition: int, offset: int,
                          timeout_s: float) -> TopicRecord:
        """The record of ``spec`` at ``partition`` / ``offset``. Raises :class:`NoSuchRecord`
        when the topic has no such partition or no record there (never written, or removed
        by retention or compaction), TimeoutError when it is not read within ``timeout_s``."""
        ...

    async def publish(self, spec: TopicSpec, records: Sequence[tuple[bytes, Any]],
                      timeout_s: float) -> None:
        """Write ``records`` (key, value) with a :meth:`publisher` of its own; returns once
        all are acknowledged, else raises the first failure (``retriable`` says if trying
        again may help)."""
        ...

    def publisher(self, timeout_s: float) -> AbstractAsyncContextManager[Publisher]:
        """A started :class:`Publisher` (acks=all, idempotent; every write given up after
        ``timeout_s``), stopped on leaving."""
        ...


class NoTopicIO:
    """The default :class:`TopicIO` of a context built without broker access (unit tests of
    stage factories): every call says so."""

    def _refuse(self) -> LookupError:
        return LookupError("this StageContext has no topic access (runtime.cli.get_ctx gives "
                           "one with runtime.topic_io.KafkaTopicIO)")

    async def read_to_end(self, spec: TopicSpec, timeout_s: float) -> list[TopicRecord]:
        raise self._refuse()

    async def open_reader(self, specs: Sequence[TopicSpec], timeout_s: float, *,
                          since: Mapping[TopicSpec, datetime] | None = None) -> TopicReader:
        raise self._refuse()

    async def read_record(self, spec: TopicSpec, partition: int, offset: int,
                          timeout_s: float) -> TopicRecord:
        raise self._refuse()

    async def publish(self, spec: TopicSpec, records: Sequence[tuple[bytes, Any]],
                      timeout_s: float) -> None:
        raise self._refuse()

    def publisher(self, timeout_s: float) -> AbstractAsyncContextManager[Publisher]:
        raise self._refuse()


NO_TOPIC_IO: TopicIO = NoTopicIO()


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """How to reach the broker, as validated settings (aiokafka keyword arguments)."""

    bootstrap_servers: str
    topic_prefix: str = "helpline."
    client_options: tuple[tuple[str, Any], ...] = ()  # security_protocol, sasl_*, ssl_context

    def topic(self, spec: TopicSpec) -> str:
        return self.topic_prefix + spec.name

    def options(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.bootstrap_servers, **dict(self.client_options)}


@dataclass(frozen=True, slots=True)
class StageContext:
    """What the runtime hands a stage factory, a connector service or a package's CLI: its
    validated settings section, the broker connection, the signing key, a metrics port and a
    topic port (for reads and writes outside a stage). Packages never read the environment."""

    kafka: KafkaConnection
    # runtime.settings.Settings: one attribute per section; a package reads its own with
    # section(), never the others
    sections: object
    signing_key: bytes
    instance_id: str = "0"
    meter: Meter = NO_METER  # the worker's metrics (runtime.metrics.PromMeter when exported)
    topics: TopicIO = NO_TOPIC_IO  # runtime.topic_io.KafkaTopicIO on ``kafka``

    def section(self, name: str) -> Any:
        return getattr(self.sections, name)
