"""Notification commands (the outbox), their results, and the ``ack-sent`` event payload."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal

from schemas.base import Extra, empty_map, extra_field, record
from schemas.message import Address

NotificationKind = Literal[
    "auto-ack",
    "agent-reply",
    "escalation-alert",
    "sla-warning",
    "sla-breach",
    "supervisor-alert",
    "assignment",
]
NotificationChannel = Literal["email", "chat", "webhook"]
Outcome = Literal["sent", "suppressed", "retrying", "failed"]
# What a notify.sentlog record is. Only "final" records go to notify.results; the others are the
# notifier's own durable state (see notify/sentlog.py): a decided ack waiting for its SLA or for
# a digest window ("deferred"), a send about to happen with its Message-ID ("intent"), an
# address that hard-bounced ("hard-bounce", keyed by address hash).
SentLogPhase = Literal["final", "deferred", "intent", "hard-bounce"]


@record
class Notification:
    """A command to tell someone something. ``notification_id`` is deterministic (hash of the
    cause), so a replayed cause produces the same id and the sent-log stops a second send."""

    schema_version: int = 1
    notification_id: str
    kind: NotificationKind
    channel: NotificationChannel
    ticket_id: str
    ticket_number: str
    created_at: datetime
    recipient: Address | None = None  # email / chat visitor
    webhook: str | None = None  # the configured webhook's name, never a raw URL
    mailbox: str | None = None  # brand / support mailbox it is sent from
    language: str | None = None
    template: str | None = None
    subject: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    conversation_id: str | None = None
    context: Mapping[str, Any] = empty_map()
    extra: Extra = extra_field()


@record
class NotificationResult:
    schema_version: int = 1
    notification_id: str
    ticket_id: str
    outcome: Outcome
    at: datetime
    attempts: int = 1
    detail: str = ""
    server_reply: str | None = None  # the SMTP server's own words on failure
    message_id: str | None = None  # Message-ID of what we sent
    phase: SentLogPhase = "final"
    notification: Notification | None = None  # carried by deferred/intent sent-log records
    recipient: str | None = None  # who it went to (caps are rebuilt from the sent-log)
    extra: Extra = extra_field()


# ``context["via"]`` of a chat service's receipt on notify.outbox: the visitor saw this reply in
# the widget, so notify records the id as suppressed and the fallback email (same id) that
# another chat replica may decide later is never sent.
DELIVERED_IN_CHAT = "chat-delivered"


@record
class AckSent:
    TAG: ClassVar[str] = "ack-sent"
    notification_id: str
    channel: NotificationChannel
    message_id: str | None = None
    # sent again by a worker that found this ack in doubt after a crash (intent recorded, no
    # final): the customer may have it twice, under the same Message-ID
    resent: bool = False
    extra: Extra = extra_field()


@record
class ChatReply:
    """A message for an open chat widget session (auto-ack, agent reply); the chat service
    pushes it to the visitor, or falls back to email when the visitor left an address."""

    schema_version: int = 1
    notification_id: str
    site_id: str
    conversation_id: str
    ticket_id: str
    ticket_number: str
    kind: NotificationKind
    text: str
    at: datetime
    author: str = ""
    fallback_email: str | None = None
    language: str | None = None
    extra: Extra = extra_field()
