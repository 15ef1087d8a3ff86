"""An inbound message becomes ticket events. Pure: reads the book and the directory, returns
events and customer records; the stage folds and publishes them.

Timestamps come from the message (``received_at``), ids from hashes of the message id, so the
same message always yields the same events, whenever it is (re)processed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace

from schemas import reply_token
from schemas.bin import BinnedMessage
from schemas.builders import constructor, positional
from schemas.directory import CustomerRecord
from schemas.events import Actor, TicketEvent
from schemas.message import Bounce, InboundMessage
from schemas.ticket import Ticket
from schemas.ticket_events import (
    Created,
    DeliveryFailed,
    Linked,
    MessageAdded,
    StatusChanged,
)
from tickets import numbers, robots
from tickets.book import TicketBook
from tickets.eventlog import make_event
from tickets.identity import CustomerDirectory
from tickets.numbers import customer_id_for
from tickets.robots import BinRules
from tickets.threading import (
    Attach,
    Binned,
    Decision,
    DeliveryFailure,
    Duplicate,
    NewTicket,
    ThreadingRules,
    decide,
)

# A customer record's attribute naming an address that bounced permanently: "failing:<address>"
FAILING_PREFIX = "failing:"
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
    bin: BinRules = field(default_factory=BinRules)


@dataclass(frozen=True, slots=True)
class Intake:
    decision: Decision
    events: tuple[TicketEvent, ...] = ()
    customers: tuple[CustomerRecord, ...] = ()
    binned: BinnedMessage | None = None


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


def _failing_customer(
    msg: InboundMessage, bounce: Bounce, directory: CustomerDirectory
) -> tuple[CustomerRecord, ...]:
    """A permanent bounce marks the address as failing on its customer's record (an agent
    sees it; mail to it is suppressed by notify from the ``delivery-failed`` event)."""
    address = (bounce.original_recipient or "").strip().lower()
    if not bounce.permanent or not address or "@" not in address:
        return ()
    held = directory.by_email(address) or CustomerRecord(
        customer_id=customer_id_for("email", address), emails=(address,))
    key = f"{FAILING_PREFIX}{address}"
    value = " ".join(filter(None, (bounce.status, (bounce.diagnostic or "")[:200]))) or "failed"
    if held.attributes.get(key) == value:
        return ()
    return (replace(held, attributes={**held.attributes, key: value},
                    updated_at=msg.received_at),)


def _binned(msg: InboundMessage, reason: str, detail: str) -> Intake:
    record = BinnedMessage(message_id=msg.message_id, reason=reason,  # type: ignore[arg-type]
                           detail=detail[:300], at=msg.received_at, message=msg)
    return Intake(Binned(reason, detail), binned=record)


def take_in(
    msg: InboundMessage, partition: int, book: TicketBook, directory: CustomerDirectory,
    rules: IntakeRules, restored: bool = False,
) -> Intake:
    """Decide where ``msg`` goes and the events that records it. Reads book and directory.
    ``restored``: an operator took it out of the bin; it is not binned again."""
    decision = decide(msg, book, rules.threading)
    if isinstance(decision, Duplicate):
        return Intake(decision)
    if isinstance(decision, DeliveryFailure):
        return Intake(decision, (_delivery_failed(msg, decision, book),),
                      _failing_customer(msg, decision.bounce, directory))
    if not restored:
        # our own address is a loop even when it names a ticket; other robots only when they
        # thread onto none (an out-of-office answer to our ack is filed on its ticket)
        verdict = robots.is_own(msg, rules.bin)
        if verdict is None and isinstance(decision, NewTicket):
            verdict = robots.verdict(msg, rules.bin)
        if verdict is not None:
            return _binned(msg, verdict.reason, verdict.detail)
    cid, changed = directory.resolve_id(msg, msg.received_at)
    if isinstance(decision, Attach):
        return _new_intake(decision, _attach(msg, decision, cid, book, rules), changed)
    assert isinstance(decision, NewTicket)
    old = book.get(decision.follow_up_of) if decision.follow_up_of else None
    events = _open_ticket(msg, partition, cid, old, book, rules)
    return _new_intake(decision, events, changed)


__all__ = ["Intake", "IntakeRules", "NewTicket", "take_in"]
