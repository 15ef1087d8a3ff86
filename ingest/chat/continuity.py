"""Where replies go: the open widget, or the visitor's email once they left. Pure (no I/O,
time is a parameter); the service pushes what this book says to push.

The rule for "left": a reply arrives (an auto-ack or an agent's answer on chat.outbound). If
an event stream for its conversation is open, it is pushed there at once. Otherwise it waits
in the conversation's backlog, which a widget that reconnects (page reload, network back)
receives first thing. If no stream for the conversation opened during ``left_after_s`` after
the reply arrived, the visitor has left: when an email is known (the reply's
``fallback_email``, else the last email the visitor typed in this conversation) and the
reply's kind is in ``email_fallback_kinds``, the reply becomes a ``Notification`` on
notify.outbox for the email channel, on the same ticket. Its id is a hash of the reply's id, so
a replayed reply (or two replicas deciding alike) is sent once, by notify's sent-log.

Several replicas: each reads all of chat.outbound, and the one holding the visitor's stream is
not the one that would decide "left". So the replica that delivers a reply (live, or in the
backlog of a reconnecting widget) hands notify a *receipt* under the very id the fallback email
would have (``via = "chat-delivered"``, no recipient): notify records it as suppressed, and a
fallback another replica decides later (``left_after_s`` later, same ticket, same partition of
notify.outbox) finds that id final and is never sent (issue #17 item 7).

Replies re-read from chat.outbound at start-up (``replayed``) are served to reconnecting
widgets but never emailed: whether they were pushed before the restart is unknown, and a
duplicate email is worse than a late chat line the visitor will see on their next visit.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ingest.chat.settings import ChatSettings
from schemas.message import Address
from schemas.notification import DELIVERED_IN_CHAT, ChatReply, Notification

ConversationKey = tuple[str, str]  # site id, conversation id


def fallback_notification_id(reply: ChatReply) -> str:
    digest = hashlib.sha256(f"chat-email\x00{reply.notification_id}".encode()).hexdigest()
    return "chatmail-" + digest[:32]


@dataclass(slots=True)
class _Waiting:
    reply: ChatReply
    arrived: datetime
    replayed: bool
    delivered: bool = False
    emailed: bool = False
    receipt_due: bool = False  # delivered here: other replicas must not email it


@dataclass(slots=True)
class _Conversation:
    last_activity: datetime
    open_streams: int = 0
    email: str | None = None
    name: str | None = None
    replies: list[_Waiting] = field(default_factory=list)


class ConversationBook:
    def __init__(self, settings: ChatSettings) -> None:
        self._s = settings
        self._by_key: OrderedDict[ConversationKey, _Conversation] = OrderedDict()

    def _get(self, key: ConversationKey, now: datetime) -> _Conversation:
        conv = self._by_key.get(key)
        if conv is None:
            conv = self._by_key[key] = _Conversation(last_activity=now)
        conv.last_activity = max(conv.last_activity, now)
        self._by_key.move_to_end(key)
        return conv

    def visitor_wrote(
        self, key: ConversationKey, now: datetime, email: str | None, name: str | None
    ) -> None:
        conv = self._get(key, now)
        if email:
            conv.email = email
        if name:
            conv.name = name

    def stream_opened(self, key: ConversationKey, now: datetime) -> list[ChatReply]:
        """A widget is listening; returns the backlog to send it first (now delivered)."""
        conv = self._get(key, now)
        conv.open_streams += 1
        for waiting in conv.replies:
            self._delivered(waiting)
        return [w.reply for w in conv.replies]

    def _delivered(self, waiting: _Waiting) -> None:
        if not waiting.delivered:
            waiting.delivered = True
            waiting.receipt_due = waiting.reply.kind in self._s.email_fallback_kinds

    def stream_closed(self, key: ConversationKey, now: datetime) -> None:
        conv = self._get(key, now)
        conv.open_streams = max(0, conv.open_streams - 1)

    def is_open(self, key: ConversationKey) -> bool:
        conv = self._by_key.get(key)
        return conv is not None and conv.open_streams > 0

    def backlog(self, key: ConversationKey) -> list[ChatReply]:
        conv = self._by_key.get(key)
        return [] if conv is None else [w.reply for w in conv.replies]

    def reply_arrived(self, reply: ChatReply, now: datetime, *, replayed: bool = False) -> bool:
        """Record a reply; True when it should be pushed to the open streams now."""
        key = (reply.site_id, reply.conversation_id)
        conv = self._get(key, now)
        if any(w.reply.notification_id == reply.notification_id for w in conv.replies):
            return False  # a redelivery of chat.outbound
        live = conv.open_streams > 0
        waiting = _Waiting(reply, now, replayed)
        if live:
            self._delivered(waiting)
        conv.replies.append(waiting)
        del conv.replies[: -self._s.max_replies_kept]
        return live

    def receipts(self, now: datetime) -> list[Notification]:
        """Replies delivered here since the last handed-over receipts, as notify receipts."""
        return [delivered_in_chat(w.reply, now) for conv in self._by_key.values()
                for w in conv.replies if w.receipt_due]

    def receipt_handed_over(self, note: Notification) -> None:
        key = (str(note.context.get("site_id", "")), note.conversation_id or "")
        conv = self._by_key.get(key)
        for w in conv.replies if conv else ():
            if w.reply.notification_id == note.context.get("chat_notification_id"):
                w.receipt_due = False

    def due_for_email(self, now: datetime) -> list[Notification]:
        """Replies whose visitor left, as email notifications. A reply stays due until
        :meth:`email_handed_over` says its notification was stored."""
        out: list[Notification] = []
        grace = timedelta(seconds=self._s.left_after_s)
        for conv in self._by_key.values():
            if conv.open_streams:
                continue
            for w in conv.replies:
                if w.delivered or w.emailed or w.replayed or now - w.arrived < grace:
                    continue
                email = w.reply.fallback_email or conv.email
                if email and w.reply.kind in self._s.email_fallback_kinds:
                    out.append(email_fallback(w.reply, email, conv.name, now))
                else:
                    w.emailed = True  # nothing to do for it, ever: stop looking
        return out

    def email_handed_over(self, note: Notification) -> None:
        key = (str(note.context.get("site_id", "")), note.conversation_id or "")
        conv = self._by_key.get(key)
        for w in conv.replies if conv else ():
            if w.reply.notification_id == note.context.get("chat_notification_id"):
                w.emailed = True

    def forget_idle(self, now: datetime) -> int:
        """Drop conversations idle longer than ``conversation_idle_s``; returns how many."""
        idle = timedelta(seconds=self._s.conversation_idle_s)
        dropped = 0
        while self._by_key:
            key, conv = next(iter(self._by_key.items()))
            if conv.open_streams or now - conv.last_activity < idle:
                break
            del self._by_key[key]
            dropped += 1
        return dropped

    def __len__(self) -> int:
        return len(self._by_key)


def email_fallback(
    reply: ChatReply, email: str, name: str | None, now: datetime
) -> Notification:
    return Notification(
        notification_id=fallback_notification_id(reply),
        kind=reply.kind,
        channel="email",
        ticket_id=reply.ticket_id,
        ticket_number=reply.ticket_number,
        created_at=now,
        recipient=Address(name=name or "", address=email),
        mailbox=reply.site_id,  # a chat ticket's mailbox is its site: notify's sender identity
        language=reply.language,
        conversation_id=reply.conversation_id,
        context={
            "text": reply.text,
            "author": reply.author,
            "site_id": reply.site_id,
            "via": "chat-fallback",
            "chat_notification_id": reply.notification_id,
        },
    )


def delivered_in_chat(reply: ChatReply, now: datetime) -> Notification:
    """The receipt of a reply a widget received: the fallback email's id, nobody to send to."""
    return Notification(
        notification_id=fallback_notification_id(reply),
        kind=reply.kind,
        channel="email",
        ticket_id=reply.ticket_id,
        ticket_number=reply.ticket_number,
        created_at=now,
        mailbox=reply.site_id,
        conversation_id=reply.conversation_id,
        context={"site_id": reply.site_id, "via": DELIVERED_IN_CHAT,
                 "chat_notification_id": reply.notification_id},
    )
