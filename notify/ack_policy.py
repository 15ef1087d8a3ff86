"""Which ticket events lead to an auto-acknowledgement, and when. Pure.

A new ticket is acknowledged once: after its ``created`` event and its first inbound
``message-added`` (which carries the normalizer's auto-reply / bounce / list flags), as soon as
the route stage's ``sla-applied`` says when the first response is due — or, when no SLA arrives
within ``sla_wait``, with a generic promise. Time is the events' own ``at`` plus ``now``, given.

Nothing is acknowledged when the sender is a machine or a list (see :mod:`notify.loop_guard`),
when an agent already answered, when the ticket was merged or closed meanwhile, or when the
ticket is older than ``max_age`` (a replay of history never mails customers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from notify import hours
from notify.loop_guard import ack_refusal
from notify.render import summary_of
from schemas.events import (
    AckSent,
    Created,
    Merged,
    MessageAdded,
    SlaApplied,
    StatusChanged,
    TicketEvent,
)
from schemas.message import Address
from schemas.notification import Notification
from schemas.route_events import OpeningHours


def ack_notification_id(ticket_id: str) -> str:
    """One auto-ack per ticket: the id is a hash of the ticket id alone."""
    return "ack-" + hashlib.sha256(f"auto-ack\x00{ticket_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class AckDraft:
    """What the notifier knows about a new ticket that may deserve an acknowledgement."""

    ticket_id: str
    number: str
    channel: str
    mailbox: str
    requester: Address
    subject: str
    created_at: datetime
    language: str | None = None
    conversation_id: str | None = None
    first_message: MessageAdded | None = None
    first_message_at: datetime | None = None
    # when the notifier itself first saw that message: a worker catching up on a backlog waits
    # for the SLA from then, not from the (long past) event time
    seen_at: datetime | None = None
    sla_known: bool = False
    first_response_due: datetime | None = None
    sla_policy: str | None = None
    opening_hours: OpeningHours | None = None  # the SLA calendar the due time came from
    closed_reason: str | None = None  # set when the ticket no longer wants an ack


@dataclass(frozen=True, slots=True)
class AckPolicy:
    own_addresses: frozenset[str]
    sla_wait: timedelta
    max_age: timedelta
    summary_chars: int
    enabled: bool = True
    mailbox_enabled: Callable[[str], bool] = lambda _mailbox: True


@dataclass(frozen=True, slots=True)
class Wait:
    until: datetime | None  # None: waiting for an event, not for time


@dataclass(frozen=True, slots=True)
class Refuse:
    reason: str


@dataclass(frozen=True, slots=True)
class Acknowledge:
    notification: Notification


Decision = Wait | Refuse | Acknowledge


def on_event(draft: AckDraft | None, event: TicketEvent) -> AckDraft | None:
    """Fold one ticket event into the ticket's draft (``None``: nothing to acknowledge)."""
    p = event.payload
    if isinstance(p, Created):
        if draft is not None:
            return draft
        return AckDraft(
            ticket_id=event.ticket_id, number=p.number or event.ticket_number,
            channel=p.channel, mailbox=p.mailbox, requester=p.requester, subject=p.subject,
            created_at=event.at, language=p.language, conversation_id=p.conversation_id,
        )
    if draft is None:
        return None
    if isinstance(p, MessageAdded):
        if p.direction == "outbound" and draft.first_message is None:
            return replace(draft, closed_reason="agent-initiated")
        if p.direction == "outbound":
            return replace(draft, closed_reason="already-answered")
        if p.direction == "inbound" and draft.first_message is None:
            return replace(
                draft, first_message=p, first_message_at=event.at,
                language=draft.language or p.language,
            )
        return draft
    if isinstance(p, SlaApplied):
        return replace(
            draft, sla_known=True, first_response_due=p.first_response_due, sla_policy=p.policy,
            opening_hours=p.hours,
        )
    if isinstance(p, AckSent):
        return replace(draft, closed_reason="already-acknowledged")
    if isinstance(p, Merged):
        return replace(draft, closed_reason="merged")
    if isinstance(p, StatusChanged) and p.to_status in ("solved", "closed"):
        return replace(draft, closed_reason=f"status-{p.to_status}")
    return draft


def decide(
    draft: AckDraft, now: datetime, policy: AckPolicy, suppressed: Collection[str] = frozenset()
) -> Decision:
    if draft.closed_reason is not None:
        return Refuse(draft.closed_reason)
    if not policy.enabled or not policy.mailbox_enabled(draft.mailbox):
        return Refuse("auto-ack-disabled")
    if now - draft.created_at > policy.max_age:
        return Refuse("too-old")
    msg = draft.first_message
    if msg is None or draft.first_message_at is None:
        return Wait(None)
    if draft.channel != "chat":
        reason = ack_refusal(
            draft.requester.address, msg.flags, policy.own_addresses, suppressed=suppressed
        )
        if reason is None and msg.author.address.lower() != draft.requester.address.lower():
            reason = ack_refusal(
                msg.author.address, msg.flags, policy.own_addresses, suppressed=suppressed
            )
        if reason is not None:
            return Refuse(reason)
    elif msg.flags.auto_reply or msg.flags.bounce is not None:
        return Refuse("auto-reply")
    start = max(draft.first_message_at, draft.seen_at or draft.first_message_at)
    deadline = start + policy.sla_wait
    if not draft.sla_known and now < deadline:
        return Wait(deadline)
    return Acknowledge(build_ack(draft, policy))


def build_ack(draft: AckDraft, policy: AckPolicy) -> Notification:
    msg = draft.first_message
    text = msg.text if msg is not None else ""
    context: dict[str, object] = {
        "summary": summary_of(text, policy.summary_chars),
        "customer_name": draft.requester.name,
        "first_response_due": (
            draft.first_response_due.isoformat() if draft.first_response_due else ""
        ),
        "sla_policy": draft.sla_policy or "",
    }
    if draft.opening_hours is not None:
        context["opening_hours"] = hours.to_context(draft.opening_hours)
    return Notification(
        notification_id=ack_notification_id(draft.ticket_id),
        kind="auto-ack",
        channel="chat" if draft.channel == "chat" else "email",
        ticket_id=draft.ticket_id,
        ticket_number=draft.number,
        created_at=draft.first_message_at or draft.created_at,
        recipient=draft.requester,
        mailbox=draft.mailbox,
        language=draft.language,
        template="auto-ack",
        subject=(msg.subject if msg is not None and msg.subject else draft.subject),
        in_reply_to=msg.internet_message_id if msg is not None else None,
        references=msg.references if msg is not None else (),
        conversation_id=draft.conversation_id,
        context=context,
    )
