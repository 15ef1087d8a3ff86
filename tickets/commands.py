"""Agent actions (reply, note, set-status, set-priority, assign, merge, link-master, escalate)
become ticket events and, for replies and solved master tickets, notifications. Pure.

A command names its ticket by id or by number. Commands that cannot apply (unknown ticket,
a reply without text, a merge into itself) raise :class:`InvalidCommand`; the runner sends the
record to the dead-letter topic with the reason. Commands that change nothing (status already
set) produce no events. The command id is the cause of every event and notification, so a
redelivered command yields the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.commands import AgentAction
from schemas.errors import HelplineError
from schemas.events import Actor, EventPayload, TicketEvent
from schemas.message import Address
from schemas.notification import Notification, NotificationChannel
from schemas.route_events import Assigned, Escalated, Tier, Unassigned
from schemas.ticket import Ticket
from schemas.ticket_events import (
    Linked,
    Merged,
    MessageAdded,
    PriorityChanged,
    Status,
    StatusChanged,
)
from tickets import numbers
from tickets.book import TicketBook
from tickets.eventlog import make_event
from tickets.state import DONE_STATUSES

_NEXT_TIER: dict[Tier, Tier] = {"L0": "L1", "L1": "L2", "L2": "L3"}


class InvalidCommand(HelplineError, ValueError):
    """An agent action that cannot be applied; goes to the dead-letter topic."""


@dataclass(frozen=True, slots=True)
class CommandRules:
    reply_references_limit: int = 20


@dataclass(frozen=True, slots=True)
class Handled:
    events: tuple[TicketEvent, ...] = ()
    notifications: tuple[Notification, ...] = ()


def find_ticket(book: TicketBook, ref: str | None) -> Ticket:
    """A ticket by id or number; InvalidCommand if there is none."""
    tid = (book.by_number(ref) or ref) if ref else None
    ticket = book.get(tid) if tid else None
    if ticket is None:
        raise InvalidCommand(f"unknown ticket {ref!r}")
    return ticket


def _channel(ticket: Ticket) -> NotificationChannel:
    return "chat" if ticket.channel == "chat" else "email"


def _subject(ticket: Ticket) -> str:
    base = ticket.subject or "(no subject)"
    if base.lower().startswith("re:"):
        base = base[3:].lstrip()
    return f"Re: [{ticket.number}] {base}"


def _notify(
    cmd: AgentAction, ticket: Ticket, template: str, text: str, rules: CommandRules,
    message_id: str | None = None,
) -> Notification:
    refs = ticket.internet_message_ids[-rules.reply_references_limit:]
    return Notification(
        notification_id=numbers.notification_id(ticket.ticket_id, cmd.command_id, template),
        kind="agent-reply", channel=_channel(ticket), ticket_id=ticket.ticket_id,
        ticket_number=ticket.number, created_at=cmd.at, recipient=ticket.requester,
        mailbox=ticket.mailbox, language=ticket.language, template=template,
        subject=_subject(ticket), in_reply_to=refs[-1] if refs else None, references=refs,
        conversation_id=ticket.conversation_id,
        context={"text": text, "agent_id": cmd.agent_id, "message_id": message_id or ""},
    )


class _Builder:
    def __init__(self, cmd: AgentAction, rules: CommandRules) -> None:
        self.cmd = cmd
        self.rules = rules
        self.actor = Actor(kind="agent", id=cmd.agent_id)
        self.events: list[TicketEvent] = []
        self.notifications: list[Notification] = []

    def emit(self, ticket: Ticket, payload: EventPayload) -> None:
        self.events.append(make_event(
            ticket.ticket_id, ticket.number, self.cmd.command_id, self.cmd.at, payload, self.actor
        ))

    def status(self, book: TicketBook, ticket: Ticket, to: Status, reason: str) -> None:
        if ticket.status == to:
            return
        self.emit(ticket, StatusChanged(from_status=ticket.status, to_status=to, reason=reason))
        if to in DONE_STATUSES:
            self._solve_children(book, ticket, to)

    def _solve_children(self, book: TicketBook, master: Ticket, to: Status) -> None:
        text = self.cmd.text or ""
        for child_id in master.children:
            child = book.get(child_id)
            if child is None or child.status in DONE_STATUSES or child.merged_into:
                continue
            reason = f"master ticket {master.number} {to}"
            self.emit(child, StatusChanged(from_status=child.status, to_status=to, reason=reason))
            self.notifications.append(_notify(self.cmd, child, "master-solved", text, self.rules))

    def result(self) -> Handled:
        return Handled(tuple(self.events), tuple(self.notifications))


def _reply(b: _Builder, book: TicketBook, ticket: Ticket, direction: str) -> None:
    cmd = b.cmd
    if not (cmd.text or "").strip():
        raise InvalidCommand(f"{cmd.action} without text")
    message_id = "m" + numbers.event_id(ticket.ticket_id, cmd.command_id, "message")[1:]
    author = Address(name=cmd.agent_id, address=cmd.agent_id)
    b.emit(ticket, MessageAdded(
        message_id=message_id, direction="outbound" if direction == "outbound" else "note",
        channel=ticket.channel, author=author, received_at=cmd.at, text=cmd.text or "",
        agent_id=cmd.agent_id,
    ))
    if direction != "outbound":
        return
    b.notifications.append(_notify(cmd, ticket, "agent-reply", cmd.text or "", b.rules, message_id))
    to: Status | None = cmd.status or ("open" if ticket.status == "new" else None)
    if to is not None:
        b.status(book, ticket, to, cmd.reason or "agent replied")


def _merge(b: _Builder, book: TicketBook, source: Ticket) -> None:
    target = find_ticket(book, b.cmd.target_ticket_id)
    if target.ticket_id == source.ticket_id:
        raise InvalidCommand("cannot merge a ticket into itself")
    if source.merged_into:
        raise InvalidCommand(f"{source.number} is already merged")
    b.emit(source, Merged(into_ticket_id=target.ticket_id, into_number=target.number))
    b.status(book, source, "closed", f"merged into {target.number}")
    b.emit(target, Linked(
        other_ticket_id=source.ticket_id, other_number=source.number, relation="merged-from"))


def _link_master(b: _Builder, book: TicketBook, child: Ticket) -> None:
    master = find_ticket(book, b.cmd.target_ticket_id)
    if master.ticket_id == child.ticket_id or master.master_id == child.ticket_id:
        raise InvalidCommand("a ticket cannot be its own master")
    if child.children:
        raise InvalidCommand(f"{child.number} is a master ticket itself")
    if child.master_id == master.ticket_id:
        return
    b.emit(child, Linked(
        other_ticket_id=master.ticket_id, other_number=master.number, relation="child-of"))
    b.emit(master, Linked(
        other_ticket_id=child.ticket_id, other_number=child.number, relation="master-of"))


def handle(cmd: AgentAction, book: TicketBook, rules: CommandRules) -> Handled:
    """The events (and notifications) an agent action produces. Reads ``book`` only."""
    ticket = find_ticket(book, cmd.ticket_id)
    b = _Builder(cmd, rules)
    if cmd.action in ("reply", "note"):
        _reply(b, book, ticket, "outbound" if cmd.action == "reply" else "note")
    elif cmd.action == "set-status":
        if cmd.status is None:
            raise InvalidCommand("set-status without status")
        b.status(book, ticket, cmd.status, cmd.reason)
    elif cmd.action == "set-priority":
        if cmd.priority is None:
            raise InvalidCommand("set-priority without priority")
        if cmd.priority != ticket.priority:
            b.emit(ticket, PriorityChanged(
                from_priority=ticket.priority, to_priority=cmd.priority, reason=cmd.reason))
    elif cmd.action == "assign":
        if cmd.assignee:
            b.emit(ticket, Assigned(agent_id=cmd.assignee, strategy="manual", reason=cmd.reason))
        elif ticket.assignee:
            b.emit(ticket, Unassigned(agent_id=ticket.assignee, reason=cmd.reason))
    elif cmd.action == "merge":
        _merge(b, book, ticket)
    elif cmd.action == "link-master":
        _link_master(b, book, ticket)
    elif cmd.action == "escalate":
        to_tier = _NEXT_TIER.get(ticket.tier)
        if to_tier is not None:
            b.emit(ticket, Escalated(from_tier=ticket.tier, to_tier=to_tier,
                                     reason=cmd.reason or "escalated by agent", trigger="agent"))
    else:  # pragma: no cover - the codec only admits the kinds above
        raise InvalidCommand(f"unknown action {cmd.action!r}")
    return b.result()
