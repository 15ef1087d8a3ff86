"""The tickets stage: messages, agent commands and other stages' events in; ticket events,
ticket state, customer records and agent-reply notifications out.

A thin shell over the pure core (:mod:`tickets.intake`, :mod:`tickets.commands`,
:mod:`tickets.state`). State is the :class:`~tickets.book.TicketBook`, restored from the
compacted ``ticket.state`` table (the stage is its single writer) and the customer directory
from the ``customers`` table. Each batch is all-or-nothing on that state (journaled), so when
the runner retries a failed batch record by record nothing is applied twice.

``ticket.events`` is consumed too so that classify / route / notify events are folded into
ticket state; the stage's own events are stepped over by the runner (whole record batches of
its producer, :mod:`runtime.own_batches`; another replica's by header), and would be no-ops
anyway (the fold is idempotent by event id). An event whose id the ticket already holds is
never emitted again, so reprocessing a message after a crash does not duplicate the log.

Replicas: the stage's state is global (a reply may thread onto any ticket) and it is the one
writer of ``ticket.state``, so it declares ``single_writer``: of its replicas one is active and
the others are warm standbys that follow ``ticket.state`` and take over when the active goes
away (:mod:`runtime.group`). Scaling it adds failover, not throughput.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from schemas.bin import BinnedMessage
from schemas.builders import constructor
from schemas.codec import from_primitive
from schemas.commands import AgentAction
from schemas.directory import CustomerRecord
from schemas.events import TicketEvent
from schemas.message import InboundMessage
from schemas.stage import NO_METER, In, Meter, Out, Stage, StageContext
from schemas.ticket import Ticket
from schemas.ticket_events import Created
from schemas.topics import (
    CUSTOMERS,
    NOTIFY_OUTBOX,
    STAGE_TOPICS,
    TICKET_EVENTS,
    TICKET_STATE,
    TICKETS_BIN,
    TopicSpec,
)
from tickets.book import TicketBook
from tickets.commands import CommandRules, handle
from tickets.identity import CustomerDirectory
from tickets.intake import IntakeRules, take_in
from tickets.lifecycle import due_closures
from tickets.settings import TicketsSettings
from tickets.state import apply
from tickets.threading import Attach, Binned, Decision, DeliveryFailure, Duplicate, ThreadingRules

# ``ticket.events`` read as plain JSON: most records there are this stage's own events, already
# folded, so they are recognised by id and skipped without building the dataclasses; the rest
# are decoded here (a malformed one raises DecodeError and is dead-lettered like any other).
EVENTS_AS_JSON = dataclasses.replace(TICKET_EVENTS, value_type=object)
_new_out = constructor(Out)  # 1-2 per message


class TicketsStage(Stage):
    name = "tickets"
    # (tickets.bin is an input too: an operator's restore of a binned message comes in there)
    inputs: tuple[TopicSpec, ...] = tuple(EVENTS_AS_JSON if t is TICKET_EVENTS else t
                                          for t in STAGE_TOPICS["tickets"].inputs)
    tables: tuple[TopicSpec, ...] = STAGE_TOPICS["tickets"].tables
    single_writer = True  # one active replica, the others standbys (see the module doc)
    own_tables: tuple[TopicSpec, ...] = (TICKET_STATE,)  # nobody else writes it
    tick_interval: float | None = None

    def __init__(
        self, settings: TicketsSettings, signing_key: bytes, stride: int,
        meter: Meter = NO_METER,
    ) -> None:
        self.settings = settings
        self.meter = meter
        self._decided: list[Decision] = []  # this batch's intake decisions, for the meter
        self.auto_close_after = timedelta(days=settings.auto_close_after_days)
        if settings.auto_close_after_days > 0:
            self.tick_interval = settings.auto_close_check_s
        self.book = TicketBook(stride)
        self.directory = CustomerDirectory()
        self.intake_rules = IntakeRules(
            threading=ThreadingRules(
                key=signing_key,
                number_prefix=settings.number_prefix,
                reopen_window=timedelta(days=settings.reopen_window_days),
                max_references=settings.max_references_checked,
            ),
            number_digits=settings.number_digits,
            own_addresses=frozenset(a.lower() for a in settings.own_addresses),
            max_participants=settings.max_participants,
            bin=settings.bin.rules(frozenset(a.lower() for a in settings.own_addresses)),
        )
        self.command_rules = CommandRules(reply_references_limit=settings.reply_references_limit)

    # -- tables ------------------------------------------------------------------------------

    def restore(self, topic: TopicSpec, key: bytes, value: Any | None) -> None:
        if topic.name == TICKET_STATE.name:
            if value is None:
                self.book.forget(key.decode())
            elif isinstance(value, Ticket):
                self.book.put(value)
        elif topic.name == CUSTOMERS.name:
            if value is None:
                self.directory.remove(key.decode())
            elif isinstance(value, CustomerRecord):
                self.directory.put(value)

    # -- records -----------------------------------------------------------------------------

    def process(self, batch: Sequence[In], now: datetime) -> list[Out]:
        self._decided.clear()
        out = self._atomically(lambda: self._process(batch))
        if self.meter is not NO_METER:  # counted once the batch held (a retry would recount)
            for decision in self._decided:
                self.meter.count("tickets_intake", **intake_labels(decision))
        return out

    def tick(self, now: datetime) -> list[Out]:
        """Close solved tickets whose auto-close time has come."""
        if self.auto_close_after <= timedelta(0):
            return []
        return self._atomically(lambda: self._close_due(now))

    def _atomically(self, work: Callable[[], list[Out]]) -> list[Out]:
        self.book.journal.begin()
        self.directory.journal.begin()
        try:
            out = work()
        except BaseException:
            self.book.journal.rollback()
            self.directory.journal.rollback()
            raise
        self.book.journal.commit()
        self.directory.journal.commit()
        return out

    def _close_due(self, now: datetime) -> list[Out]:
        out: list[Out] = []
        dirty: dict[str, None] = {}
        for event in due_closures(self.book.solved(), now, self.auto_close_after):
            if self._fold(event, dirty):
                out.append(_new_out(TICKET_EVENTS, event.ticket_id.encode(), event))
        return out + self._states(dirty)

    def _states(self, dirty: dict[str, None]) -> list[Out]:
        out = []
        for tid in dirty:
            ticket = self.book.get(tid)
            if ticket is not None:
                out.append(_new_out(TICKET_STATE, tid.encode(), ticket))
        return out

    def _process(self, batch: Sequence[In]) -> list[Out]:
        out: list[Out] = []
        dirty: dict[str, None] = {}
        customers: dict[str, CustomerRecord] = {}  # compacted: the batch's last write per key
        for rec in batch:
            value = rec.value
            restored = isinstance(value, BinnedMessage)
            if isinstance(value, BinnedMessage):
                if not value.restored:
                    continue  # our own bin writes coming back
                value = value.message  # an operator put it back: it becomes a ticket
            if isinstance(value, InboundMessage):
                intake = take_in(value, rec.partition, self.book, self.directory,
                                 self.intake_rules, restored=restored)
                self._decided.append(intake.decision)
                if intake.binned is not None:
                    out.append(_new_out(TICKETS_BIN, value.message_id.encode(), intake.binned))
                for customer in intake.customers:
                    self.directory.put(customer)
                    customers.pop(customer.customer_id, None)  # keep the order of last writes
                    customers[customer.customer_id] = customer
                for event in self._fold_all(intake.events, dirty):
                    out.append(_new_out(TICKET_EVENTS, event.ticket_id.encode(), event))
            elif isinstance(value, AgentAction):
                handled = handle(value, self.book, self.command_rules)
                for event in self._fold_all(handled.events, dirty):
                    out.append(_new_out(TICKET_EVENTS, event.ticket_id.encode(), event))
                for note in handled.notifications:
                    out.append(_new_out(NOTIFY_OUTBOX, note.ticket_id.encode(), note))
            elif isinstance(value, Mapping):
                if not self._already_folded(value):
                    self._fold(from_primitive(TicketEvent, value), dirty)
            elif isinstance(value, TicketEvent):
                self._fold(value, dirty)
            else:
                raise TypeError(f"unexpected record {type(value).__name__} on {rec.topic.name}")
        out.extend(_new_out(CUSTOMERS, cid.encode(), c) for cid, c in customers.items())
        return out + self._states(dirty)

    def _already_folded(self, event: Mapping[str, Any]) -> bool:
        ticket = self.book.get(str(event.get("ticket_id")))
        return ticket is not None and event.get("event_id") in ticket.event_ids

    def _fold_all(
        self, events: Sequence[TicketEvent], dirty: dict[str, None]
    ) -> list[TicketEvent]:
        """:meth:`_fold` for one message's (or command's) events, in order; those folded.
        Consecutive events of one ticket (created + message-added, message-added + reopened)
        are applied in turn and the ticket is stored once: nothing reads the book between
        them, and ``put`` indexes what the last version adds to the held one."""
        folded: list[TicketEvent] = []
        tid: str | None = None
        ticket: Ticket | None = None
        changed = False
        for event in events:
            if event.ticket_id != tid:
                if changed and ticket is not None:
                    self.book.put(ticket)
                    dirty[ticket.ticket_id] = None
                tid, ticket, changed = event.ticket_id, self.book.get(event.ticket_id), False
            if ticket is None and not isinstance(event.payload, Created):
                continue
            if ticket is not None and event.event_id in ticket.event_ids:
                continue
            ticket, changed = apply(ticket, event), True
            folded.append(event)
        if changed and ticket is not None:
            self.book.put(ticket)
            dirty[ticket.ticket_id] = None
        return folded

    def _fold(self, event: TicketEvent, dirty: dict[str, None]) -> bool:
        """Fold an event into the book; False if it was already folded (or names a ticket we
        do not hold and does not create it: another stage's event about a ticket whose state
        has not reached us is still in the log, and is folded when replayed)."""
        return bool(self._fold_all((event,), dirty))


def intake_labels(decision: Decision) -> dict[str, str]:
    """Where an inbound message went, as metric labels: a new ticket (or a follow-up of a
    closed one), threaded into one (and by what), a duplicate, a bounce of our own mail."""
    if isinstance(decision, Attach):
        return {"decision": "reopened" if decision.reopen else "threaded", "via": decision.via}
    if isinstance(decision, Duplicate):
        return {"decision": "duplicate", "via": "none"}
    if isinstance(decision, DeliveryFailure):
        return {"decision": "bounce", "via": "none"}
    if isinstance(decision, Binned):
        return {"decision": "binned", "via": decision.reason}
    return {"decision": "follow-up" if decision.follow_up_of else "new", "via": "none"}


def sending_addresses(notify: Any) -> tuple[str, ...]:
    """The addresses notify sends from (its mailboxes and aliases): mail from them is ours,
    whether or not ``tickets.own_addresses`` repeats them. Read from the ``[notify]`` section
    without importing notify (a sibling stage)."""
    if notify is None:
        return ()
    mailboxes = [getattr(notify, "default_mailbox", None),
                 *getattr(notify, "mailboxes", {}).values()]
    found = [str(getattr(m, "address", "")) for m in mailboxes if m is not None]
    found += [str(a) for a in getattr(notify, "own_addresses", ())]
    return tuple(dict.fromkeys(a.strip().lower() for a in found if "@" in a))


def build_stage(ctx: StageContext) -> TicketsStage:
    settings: TicketsSettings = ctx.section("tickets")
    stride = settings.number_stride or int(ctx.section("kafka").partitions)
    ours = sending_addresses(getattr(ctx.sections, "notify", None))
    if ours:
        own = tuple(dict.fromkeys((*settings.own_addresses, *ours)))
        settings = settings.model_copy(update={"own_addresses": own})
    return TicketsStage(settings, ctx.signing_key, stride, ctx.meter)
