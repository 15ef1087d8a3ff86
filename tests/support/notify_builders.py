"""Builders for notify tests: ticket events, outbox records, a recording mail transport, and
a stage wired to in-memory ports. Also the loop flags of a raw mail, for corpus tests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from notify.compose import OutboundMail
from notify.sentlog import MemoryJournal
from notify.settings import MailboxIdentity, NotifySettings
from notify.stage import NotifyStage, build
from notify.transport import DeliveryError
from schemas.errors import HelplineError
from schemas.events import (
    SYSTEM,
    Created,
    DeliveryFailed,
    MessageAdded,
    SlaApplied,
    TicketEvent,
)
from schemas.message import Address, Bounce, MessageFlags
from schemas.notification import Notification
from schemas.stage import In, Out
from schemas.topics import NOTIFY_OUTBOX, TICKET_EVENTS

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
KEY = b"k" * 32


def _eid(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def created(tid: str, *, channel: str = "email", mailbox: str = "acme",
            requester: str = "alice@example.com", name: str = "Alice", language: str | None = None,
            at: datetime = T0, subject: str = "Printer on fire",
            conversation_id: str | None = None) -> TicketEvent:
    return TicketEvent(
        event_id=_eid(tid, "created"), ticket_id=tid, ticket_number=f"HL-2026-{tid[-6:]:0>6}",
        at=at, actor=SYSTEM,
        payload=Created(number=f"HL-2026-{tid[-6:]:0>6}", subject=subject, channel=channel,  # type: ignore[arg-type]
                        mailbox=mailbox, customer_id="c-" + tid,
                        requester=Address(name=name, address=requester), language=language,
                        conversation_id=conversation_id),
    )


def message(tid: str, *, author: str = "alice@example.com", text: str = "It is on fire.",
            flags: MessageFlags | None = None, direction: str = "inbound",
            at: datetime = T0, channel: str = "email", language: str | None = None,
            subject: str = "Printer on fire", mid: str = "<m1@example.com>") -> TicketEvent:
    return TicketEvent(
        event_id=_eid(tid, "msg", mid), ticket_id=tid, ticket_number=f"HL-2026-{tid[-6:]:0>6}",
        at=at, actor=SYSTEM,
        payload=MessageAdded(message_id="m-" + tid, direction=direction,  # type: ignore[arg-type]
                             channel=channel, author=Address(address=author),  # type: ignore[arg-type]
                             received_at=at, subject=subject, text=text,
                             internet_message_id=mid, language=language,
                             flags=flags or MessageFlags(), references=("<root@example.com>",)),
    )


def sla(tid: str, due: datetime | None, *, at: datetime = T0) -> TicketEvent:
    return TicketEvent(
        event_id=_eid(tid, "sla"), ticket_id=tid, ticket_number=f"HL-2026-{tid[-6:]:0>6}",
        at=at, actor=SYSTEM, payload=SlaApplied(policy="standard", first_response_due=due),
    )


def hard_bounce(tid: str, address: str, *, at: datetime = T0) -> TicketEvent:
    return TicketEvent(
        event_id=_eid(tid, "bounce", address), ticket_id=tid,
        ticket_number=f"HL-2026-{tid[-6:]:0>6}", at=at, actor=SYSTEM,
        payload=DeliveryFailed(recipient=address, status="5.1.1", diagnostic="no such user",
                               permanent=True),
    )


def new_ticket(tid: str, **kw: Any) -> list[TicketEvent]:
    at = kw.pop("at", T0)
    msg_kw = {k: kw.pop(k) for k in ("text", "flags", "author", "mid") if k in kw}
    if "requester" in kw and "author" not in msg_kw:
        msg_kw["author"] = kw["requester"]
    return [created(tid, at=at, **kw),
            message(tid, at=at, channel=kw.get("channel", "email"), **msg_kw)]


def alert(nid: str, *, to: str = "sup@example.com", kind: str = "sla-warning",
          channel: str = "email", webhook: str | None = None, at: datetime = T0,
          tid: str = "t000001") -> Notification:
    return Notification(
        notification_id=nid, kind=kind, channel=channel, ticket_id=tid,  # type: ignore[arg-type]
        ticket_number="HL-2026-000001", created_at=at,
        recipient=None if webhook else Address(name="Sup", address=to), webhook=webhook,
        mailbox="acme", subject="Printer on fire",
        context={"reason": "first response due soon", "due_at": "2026-11-25T10:00:00+00:00"},
    )


def records(values: Iterable[Any]) -> list[In]:
    out = []
    for i, v in enumerate(values):
        topic = NOTIFY_OUTBOX if isinstance(v, Notification) else TICKET_EVENTS
        out.append(In(topic, v.ticket_id.encode(), v, 0, i))
    return out


class RecordingTransport:
    """A mail transport that keeps what it was given; ``fail_with`` makes the next sends fail."""

    def __init__(self) -> None:
        self.sent: list[OutboundMail] = []
        self.fail_with: list[DeliveryError] = []

    async def send(self, mail: OutboundMail) -> str:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(mail)
        return "250 2.0.0 queued"

    async def close(self) -> None:
        return None


def settings(**kw: Any) -> NotifySettings:
    base: dict[str, Any] = {
        "mailboxes": {
            "acme": MailboxIdentity(address="support@acme.test", display_name="ACME Support",
                                    timezone="Europe/Paris",
                                    plus_addressing=True),
        },
        "message_id_domain": "acme.test",
        "sla_wait_s": 30.0,
    }
    base.update(kw)
    return NotifySettings(**base)


def make_stage(transport: RecordingTransport | None = None, journal: MemoryJournal | None = None,
               **kw: Any) -> tuple[NotifyStage, RecordingTransport, MemoryJournal]:
    transport = transport or RecordingTransport()
    journal = journal or MemoryJournal()
    stage = build(settings(**kw), transport=transport, webhooks=None, journal=journal,
                  signing_key=KEY)
    return stage, transport, journal


def restored(journal: MemoryJournal, transport: RecordingTransport | None = None,
             **kw: Any) -> tuple[NotifyStage, RecordingTransport, MemoryJournal]:
    """A new worker: a fresh stage whose sent-log table is replayed from ``journal``."""
    from notify.sentlog import record_key
    from schemas.topics import NOTIFY_SENTLOG

    stage, transport, new_journal = make_stage(transport, **kw)
    for r in journal.records:
        stage.restore(NOTIFY_SENTLOG, record_key(r), r)
    new_journal.records.extend(journal.records)
    return stage, transport, new_journal


def of_topic(outs: Sequence[Out], name: str) -> list[Any]:
    return [o.value for o in outs if o.topic.name == name]


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def flags_from_headers(raw: bytes) -> MessageFlags:
    """The loop flags of a raw mail: the normalizer's when it is there, else from headers."""
    try:
        from ingest.mime import parse_email
    except ImportError:  # pragma: no cover - the normalizer landed; kept for bisecting
        return _header_flags(raw)
    return parse_email(raw, mailbox="acme", received_at=T0).flags


def _header_flags(raw: bytes) -> MessageFlags:
    import email
    import email.policy

    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    auto = (msg.get("Auto-Submitted", "no").strip().lower() != "no"
            or msg.get("X-Autoreply") is not None
            or msg.get("Precedence", "").strip().lower() in ("bulk", "junk", "list"))
    bounce = Bounce() if msg.get_content_type() == "multipart/report" else None
    return MessageFlags(auto_reply=auto, bounce=bounce,
                        mailing_list=msg.get("List-Id") is not None)


class _NoBroker(HelplineError):
    retriable = True


class _Sections:
    def __init__(self, notify: NotifySettings) -> None:
        self.notify = notify


def cli_app(notify: NotifySettings | None = None) -> typer.Typer:
    """A ``helpline`` app with only the notify commands; no broker unless settings given."""
    from notify.cli import register
    from schemas.stage import KafkaConnection, StageContext

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        return None

    def get_ctx(bootstrap: str | None = None, *, broker: bool = True) -> StageContext:
        # like runtime.cli.get_ctx: broker=False asks for settings only, never a broker
        if notify is None and broker:
            raise _NoBroker("no broker")
        return StageContext(kafka=KafkaConnection("127.0.0.1:1"),
                            sections=_Sections(notify or NotifySettings()),
                            signing_key=b"k" * 32)

    register(app, get_ctx)
    return app
