"""``helpline notify preview`` and ``helpline notify send-test``: see what customers and agents
will get, and check the relay (TLS, AUTH) before the first real ack depends on it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from notify.alerts import ALERT_KINDS
from notify.compose import Composer, OutboundMail
from notify.render import BUNDLED, TemplateMissing, load_templates
from notify.settings import NotifySettings
from notify.smtp import SmtpPool
from notify.stage import token_maker
from notify.transport import DeliveryError
from schemas.message import Address
from schemas.notification import Notification
from schemas.stage import StageContext

KINDS = ("auto-ack", "agent-reply", *sorted(ALERT_KINDS))


def _settings(get_ctx: Callable[..., StageContext]) -> tuple[NotifySettings, bytes]:
    """The configured [notify] section; these commands need no broker."""
    ctx = get_ctx(broker=False)
    settings: NotifySettings = ctx.section("notify")
    return settings, ctx.signing_key


def sample(kind: str, *, mailbox: str | None, language: str | None, channel: str,
           to: str, now: datetime) -> Notification:
    context: dict[str, Any] = {
        "summary": "Hello, my printer <HP 4000> has been smoking since this morning & smells.",
        "customer_name": "Ada Lovelace",
        "first_response_due": (now + timedelta(hours=4)).isoformat(),
        "text": "Hello Ada,\n\nThe technician will come by tomorrow at 10:00.\n\nBest,",
        "agent_name": "Grace (ACME Support)",
        "reason": "first response due in 15 minutes", "due_at": now.isoformat(),
        "policy": "standard",
    }
    return Notification(
        notification_id=f"preview-{kind}", kind=kind, channel=channel,  # type: ignore[arg-type]
        ticket_id="t000123", ticket_number="HL-2026-000123", created_at=now,
        recipient=Address(name="Ada Lovelace", address=to), mailbox=mailbox, language=language,
        subject="Printer smoking", in_reply_to="<customer-1@example.com>",
        conversation_id="conv-1", context=context,
    )


def register(app: typer.Typer, get_ctx: Callable[..., StageContext]) -> None:
    notify_app = typer.Typer(help="Notifications: preview templates, test the SMTP relay.",
                             no_args_is_help=True)
    app.add_typer(notify_app, name="notify")

    def composer(settings: NotifySettings, key: bytes) -> Composer:
        roots = [BUNDLED] + ([Path(settings.templates_dir)] if settings.templates_dir else [])
        return Composer(load_templates(*roots), settings, token_maker(key))

    @notify_app.command("preview")
    def preview(
        kind: Annotated[str, typer.Option(help=f"one of {', '.join(KINDS)}")] = "auto-ack",
        language: Annotated[str | None, typer.Option(help="e.g. fr, en-GB")] = None,
        mailbox: Annotated[str | None, typer.Option(help="a configured mailbox name")] = None,
        chat: Annotated[bool, typer.Option(help="the chat version of an ack")] = False,
        raw: Annotated[bool, typer.Option(help="the whole mail as sent (RFC 5322)")] = False,
    ) -> None:
        """Render a notification for a sample ticket, as the notifier would send it."""
        if kind not in KINDS:
            raise typer.BadParameter(f"kind must be one of {', '.join(KINDS)}")
        settings, key = _settings(get_ctx)
        now = datetime.now(UTC)
        n = sample(kind, mailbox=mailbox, language=language,
                   channel="chat" if chat else "email", to="ada@example.com", now=now)
        c = composer(settings, key)
        try:
            if chat:
                typer.echo(c.chat(n, now).text)
                return
            mail = c.email(n, now)
        except TemplateMissing as exc:
            typer.echo(f"helpline: {exc}", err=True)
            raise SystemExit(1) from None
        if raw:
            sys.stdout.write(mail.raw.decode("ascii").replace("\r\n", "\n"))
            return
        rendered = c.render(n, now)
        typer.echo(f"Subject: {mail.parsed()['Subject']}\nLanguage: {rendered.language}\n")
        typer.echo(rendered.text)

    @notify_app.command("send-test")
    def send_test(
        to: Annotated[str, typer.Argument(help="where to send a sample acknowledgement")],
        mailbox: Annotated[str | None, typer.Option(help="a configured mailbox name")] = None,
    ) -> None:
        """Send one sample ack through the configured relay; print the server's reply."""
        settings, key = _settings(get_ctx)
        now = datetime.now(UTC)
        n = sample("auto-ack", mailbox=mailbox, language=None, channel="email", to=to, now=now)
        mail = composer(settings, key).email(n, now)
        try:
            reply = asyncio.run(_send_once(settings, mail))
        except DeliveryError as exc:
            kind = "temporary" if exc.retriable else "permanent"
            typer.echo(f"helpline: {kind} failure: {exc} {exc.server_reply or ''}", err=True)
            raise SystemExit(1) from None
        typer.echo(f"accepted: {reply}")


async def _send_once(settings: NotifySettings, mail: OutboundMail) -> str:
    pool = SmtpPool(settings.smtp)
    try:
        return await pool.send(mail)
    finally:
        await pool.close()
