"""Which ticket does an inbound message belong to? Pure: a decision from the message and the
ticket book, no I/O, no clock (the message's ``received_at`` is the time that counts).

In order of trust (first hit wins):

1. a signed reply token of ours in In-Reply-To / References or in a recipient plus-address;
2. In-Reply-To / References naming a Message-ID of a ticket's message, or the message's own
   Message-ID being referenced by a ticket's message (so arrival order does not matter) -
   only when the sender is a participant of that ticket;
3. a ticket number in the subject (``[HL-2026-000123]``), only from a participant;
4. the chat conversation id.

Anything else opens a new ticket: a message we cannot thread safely is never attached to a
stranger's ticket. Before all that: a message already on a ticket (or one of our own mails,
recognised by the token in its Message-ID) is a duplicate, and a bounce
of one of our own mails is a delivery failure of its ticket, not a new ticket. A reply to a
solved/closed ticket reopens it within the reopen window, later it opens a linked follow-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from schemas import reply_token
from schemas.builders import constructor
from schemas.message import Bounce, InboundMessage
from schemas.ticket import Ticket
from tickets import numbers
from tickets.book import TicketBook
from tickets.state import DONE_STATUSES

Via = Literal["reply-token", "references", "subject-number", "conversation"]
_MAX_MERGE_HOPS = 16  # merged-into chains are short; this only stops a corrupt cycle


@dataclass(frozen=True, slots=True)
class ThreadingRules:
    key: bytes
    number_prefix: str = "HL"
    reopen_window: timedelta = timedelta(days=14)
    max_references: int = 100


@dataclass(frozen=True, slots=True)
class Duplicate:
    ticket_id: str


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    ticket_id: str
    bounce: Bounce


@dataclass(frozen=True, slots=True)
class Attach:
    ticket_id: str
    via: Via
    reopen: bool = False  # the ticket was solved/closed: this reply reopens it


@dataclass(frozen=True, slots=True)
class NewTicket:
    follow_up_of: str | None = None  # the closed ticket this message followed up on


@dataclass(frozen=True, slots=True)
class Binned:
    """Not a ticket (see :mod:`tickets.robots`): kept in the bin with the reason."""

    reason: str
    detail: str = ""


Decision = Duplicate | DeliveryFailure | Attach | NewTicket | Binned
_NEW_TICKET = NewTicket()
_new_attach = constructor(Attach)


def _message_ids(msg: InboundMessage, limit: int) -> list[str]:
    """In-Reply-To first, then References newest first, bounded."""
    out = [*msg.in_reply_to, *reversed(msg.references)]
    return out if len(out) <= limit else out[:limit]


def _is_participant(msg: InboundMessage, ticket: Ticket) -> bool:
    sender = msg.sender.address.lower()
    return bool(sender) and sender in ticket.participants


def _resolve_merged(book: TicketBook, ticket: Ticket) -> Ticket:
    for _ in range(_MAX_MERGE_HOPS):
        if ticket.merged_into is None:
            break
        into = book.get(ticket.merged_into)
        if into is None:
            break
        ticket = into
    return ticket


def _by_token(
    msg: InboundMessage, mids: list[str], book: TicketBook, rules: ThreadingRules
) -> str | None:
    candidates = [*mids, *(a.address for a in (*msg.to, *msg.cc))] if msg.to or msg.cc else mids
    tid = reply_token.find(candidates, rules.key)
    return tid if tid is not None and book.get(tid) is not None else None


def _reference_candidates(msg: InboundMessage, mids: list[str], book: TicketBook) -> Iterator[str]:
    for mid in mids:
        tid = book.by_internet_id(mid) or book.by_referenced(mid)
        if tid is not None:
            yield tid
    if msg.internet_message_id:
        tid = book.by_referenced(msg.internet_message_id)
        if tid is not None:
            yield tid


def _find(
    msg: InboundMessage, book: TicketBook, rules: ThreadingRules
) -> tuple[Ticket, Via] | None:
    """The ticket (merges followed) the message threads onto, and by what. The ticket, not its
    id: the participant checks have looked it up already (not looked up twice)."""
    mids = _message_ids(msg, rules.max_references)
    tid = _by_token(msg, mids, book, rules)
    if tid is not None:
        return _resolve_merged(book, _held(book, tid)), "reply-token"
    for tid in _reference_candidates(msg, mids, book):
        ticket = book.get(tid)
        if ticket is not None:
            ticket = _resolve_merged(book, ticket)
            if _is_participant(msg, ticket):
                return ticket, "references"
    for number in numbers.subject_numbers(msg.subject, rules.number_prefix):
        num_tid = book.by_number(number)
        ticket = book.get(num_tid) if num_tid else None
        if ticket is not None:
            ticket = _resolve_merged(book, ticket)
            if _is_participant(msg, ticket):
                return ticket, "subject-number"
    if msg.conversation_id:
        conv_tid = book.by_conversation(msg.mailbox, msg.conversation_id)
        if conv_tid is not None:
            return _resolve_merged(book, _held(book, conv_tid)), "conversation"
    return None


def _held(book: TicketBook, tid: str) -> Ticket:
    ticket = book.get(tid)
    assert ticket is not None  # the token's and the conversation's tickets are in the book
    return ticket


def _bounce_target(msg: InboundMessage, book: TicketBook, rules: ThreadingRules) -> str | None:
    """The ticket of the mail a bounce returns, only if that mail was ours: every Message-ID
    we send carries a signed token (notify builds them with :mod:`tickets.reply_token`), so a
    bounce quoting a customer's Message-ID is not mistaken for our delivery failure."""
    bounce = msg.flags.bounce
    if bounce is None:
        return None
    ids = [bounce.original_message_id] if bounce.original_message_id else []
    ids += bounce.original_references[: rules.max_references]
    ids += _message_ids(msg, rules.max_references)
    tid = reply_token.find(ids, rules.key)
    if tid is not None and book.get(tid) is not None:
        return tid
    # no token (a relay rewrote our Message-ID): the returned mail's In-Reply-To/References
    # name a ticket's messages, and the failed recipient is one of that ticket's participants
    recipient = (bounce.original_recipient or "").strip().lower()
    if not recipient:
        return None
    for mid in bounce.original_references[: rules.max_references]:
        found = book.by_internet_id(mid) or book.by_referenced(mid)
        ticket = book.get(found) if found else None
        if ticket is not None and recipient in ticket.participants:
            return ticket.ticket_id
    return None


def decide(msg: InboundMessage, book: TicketBook, rules: ThreadingRules) -> Decision:
    """Where ``msg`` goes. Reads ``book`` only."""
    known = book.by_message(msg.message_id)
    if known is None and msg.internet_message_id:
        known = book.by_internet_id(msg.internet_message_id)
    if known is None and msg.internet_message_id and msg.flags.bounce is None:
        # our own outbound mail coming back in (support CC'd, a forwarding rule): its
        # Message-ID carries our signed token; it is already on its ticket
        known = reply_token.find([msg.internet_message_id], rules.key)
    if known is not None:
        return Duplicate(known)
    bounced = _bounce_target(msg, book, rules)
    if bounced is not None and msg.flags.bounce is not None:
        return DeliveryFailure(bounced, msg.flags.bounce)
    found = _find(msg, book, rules)
    if found is None:
        return _NEW_TICKET
    ticket, via = found
    if ticket.status not in DONE_STATUSES:
        return _new_attach(ticket.ticket_id, via)
    done_at = ticket.solved_at or ticket.closed_at or ticket.updated_at
    if msg.flags.auto_reply or msg.received_at - done_at <= rules.reopen_window:
        # auto-replies are filed on the ticket but never reopen it (the caller checks the flag)
        return Attach(ticket.ticket_id, via, reopen=not msg.flags.auto_reply)
    return NewTicket(follow_up_of=ticket.ticket_id)
