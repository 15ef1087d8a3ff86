"""An inbound message becomes ticket events. Pure: reads the book and the directory, returns
events and customer records; the stage folds and publishes them.

Timestamps come from the message (``received_at``), ids from hashes of the message id, so the
same message always yields the same events, whenever it is (re)processed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from schemas import reply_token
from schemas.builders import constructor, positional
from schemas.directory import CustomerRecord
from schemas.events import Actor, TicketEvent
from schemas.message import InboundMessage
from schemas.ticket import Ticket
from schemas.ticket_events import (
    Created,
    DeliveryFailed,
    Linked,
    MessageAdded,
    StatusChanged,
)
from tickets import numbers
from tickets.book import TicketBook
from tickets.eventlog import make_event
from tickets.identity import CustomerDirectory
from tickets.threading import (
    Attach,
    Decision,
    DeliveryFailure,
    Duplicate,
    NewTicket,
    ThreadingRules,
    decide,
)

_WAKE_ON_REPLY = frozenset({"pending", "on-hold"})
_SCAN_MAX = 8  # participants looked up in the ticket's tuple itself up to this many
# Built for every inbound message: the records' slot-storing constructors (see codec); the
# message-added one positional (its 18 keyword arguments were most of its cost).
_new_message_added = positional(
    MessageAdded, "message_id", "direction", "channel", "author", "received_at", "subject",
    "text", "internet_message_id", "attachments", "customer_id", "language", "flags",
    "in_reply_to", "references", "to", "cc", "visitor_id", "participants_added",
)
_new_created = constructor(Created)
_new_actor = constructor(Actor)


@dataclass(frozen=True, slots=True)
class IntakeRules:
    threading: ThreadingRules
    number_digits: int = 6
    own_addresses: frozenset[str] = frozenset()
    max_participants: int = 50


@dataclass(frozen=True, slots=True)
class Intake:
    decision: Decision
    events: tuple[TicketEvent, ...] = ()
    customers: tuple[CustomerRecord, ...] = ()


_new_intake = constructor(Intake)


def _new_participants(
    msg: InboundMessage, ticket: Ticket | None, rules: IntakeRules
) -> tuple[str, ...]:
    held: Collection[str] = ticket.participants if ticket else ()
    room = rules.max_participants - len(held)
    if len(held) > _SCAN_MAX:
        held = set(held)
    out: list[str] = []
    for who in (msg.sender, *msg.to, *msg.cc):
        addr = who.address.strip().lower()
        if (not addr or "@" not in addr or addr in held or addr in out
                or addr in rules.own_addresses
                or ("+" in addr and reply_token.TOKEN_PATTERN.search(addr))):
            continue
        if len(out) >= room:
            break
        out.append(addr)
    return tuple(out)


def _message_added(
    msg: InboundMessage, customer_id: str, ticket: Ticket | None, rules: IntakeRules
) -> MessageAdded:
    return _new_message_added(
        msg.message_id, "inbound", msg.channel, msg.sender, msg.received_at, msg.subject,
        msg.text, msg.internet_message_id, msg.attachments, customer_id, msg.language,
        msg.flags, msg.in_reply_to, msg.references, msg.to, msg.cc, msg.visitor_id,
        _new_participants(msg, ticket, rules),
    )


def _open_ticket(
    msg: InboundMessage, partition: int, customer_id: str, follow_up_of: Ticket | None,
    book: TicketBook, rules: IntakeRules,
) -> tuple[TicketEvent, ...]:
    tid = numbers.ticket_id_for(msg.message_id)
    seq = numbers.allocate(partition, book.next_number_index(partition), book.stride)
    number = numbers.format_number(
        rules.threading.number_prefix, msg.received_at.year, seq, rules.number_digits
    )
    customer = _new_actor(kind="customer", id=customer_id)
    created = _new_created(
        number=number, subject=msg.subject, channel=msg.channel, mailbox=msg.mailbox,
        customer_id=customer_id, requester=msg.sender, language=msg.language,
        conversation_id=msg.conversation_id,
    )
    cause = msg.message_id
    out = [
        make_event(tid, number, cause, msg.received_at, created, customer),
        make_event(tid, number, cause, msg.received_at,
                   _message_added(msg, customer_id, None, rules), customer),
    ]
    if follow_up_of is not None:
        old = follow_up_of
        out.append(make_event(tid, number, cause, msg.received_at, Linked(
            other_ticket_id=old.ticket_id, other_number=old.number, relation="follow-up-of")))
        out.append(make_event(old.ticket_id, old.number, cause, msg.received_at, Linked(
            other_ticket_id=tid, other_number=number, relation="followed-up-by")))
    return tuple(out)


def _attach(
    msg: InboundMessage, decision: Attach, customer_id: str, book: TicketBook, rules: IntakeRules
) -> tuple[TicketEvent, ...]:
    ticket = book.get(decision.ticket_id)
    assert ticket is not None
    tid, number, cause = ticket.ticket_id, ticket.number, msg.message_id
    customer = _new_actor(kind="customer", id=customer_id)
    added = _message_added(msg, customer_id, ticket, rules)
    out = [make_event(tid, number, cause, msg.received_at, added, customer)]
    wake = ticket.status in _WAKE_ON_REPLY and not msg.flags.auto_reply
    if decision.reopen or wake:
        reason = "customer replied to a closed ticket" if decision.reopen else "customer replied"
        out.append(make_event(tid, number, cause, msg.received_at, StatusChanged(
            from_status=ticket.status, to_status="open", reason=reason)))
    return tuple(out)


def _delivery_failed(
    msg: InboundMessage, decision: DeliveryFailure, book: TicketBook
) -> TicketEvent:
    ticket = book.get(decision.ticket_id)
    assert ticket is not None
    b = decision.bounce
    failed = DeliveryFailed(
        recipient=b.original_recipient, status=b.status, diagnostic=b.diagnostic,
        message_id=b.original_message_id, permanent=b.permanent,
    )
    return make_event(ticket.ticket_id, ticket.number, msg.message_id, msg.received_at, failed)


def take_in(
    msg: InboundMessage, partition: int, book: TicketBook, directory: CustomerDirectory,
    rules: IntakeRules,
) -> Intake:
    """Decide where ``msg`` goes and the events that records it. Reads book and directory."""
    decision = decide(msg, book, rules.threading)
    if isinstance(decision, Duplicate):
        return Intake(decision)
    if isinstance(decision, DeliveryFailure):
        return Intake(decision, (_delivery_failed(msg, decision, book),))
    cid, changed = directory.resolve_id(msg, msg.received_at)
    if isinstance(decision, Attach):
        return _new_intake(decision, _attach(msg, decision, cid, book, rules), changed)
    old = book.get(decision.follow_up_of) if decision.follow_up_of else None
    events = _open_ticket(msg, partition, cid, old, book, rules)
    return _new_intake(decision, events, changed)


__all__ = ["Intake", "IntakeRules", "NewTicket", "take_in"]
