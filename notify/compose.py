"""From a Notification to what goes on the wire: a MIME mail, a chat reply, a webhook text. Pure.

The envelope sender of every mail is the mailbox's own address, not the null path RFC 3834
allows: bounces of our acks must come back to the support mailbox, where the normalizer
recognises them (our Message-ID in the returned message) and the tickets stage records a
``delivery-failed`` event, which suppresses further mail to that address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime

from notify import headers, hours, mime
from notify.alerts import ALERT_KINDS, DIGEST_TEMPLATES, alert_values
from notify.notices import digest_lines, notice_values
from notify.render import (
    Rendered,
    TemplateMissing,
    TemplateSet,
    choose,
    render,
    response_expectation,
)
from notify.settings import MailboxIdentity, NotifySettings
from schemas.notification import ChatReply, Notification

_PHRASES = {
    "en": {
        "hello": "Hello {name},", "hello_anon": "Hello,",
        "help": "Help centre: {url}",
        "no_subject": "(no subject)",
    },
    "fr": {
        "hello": "Bonjour {name},", "hello_anon": "Bonjour,",
        "help": "Centre d'aide : {url}",
        "no_subject": "(sans objet)",
    },
}


@dataclass(frozen=True, slots=True)
class OutboundMail:
    raw: bytes  # RFC 5322 bytes, CRLF line ends
    sender: str  # envelope MAIL FROM
    recipients: tuple[str, ...]
    message_id: str

    def parsed(self) -> EmailMessage:
        """The mail as the stdlib reads it (tests, ``helpline notify preview``)."""
        msg = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass(frozen=True, slots=True)
class Composer:
    templates: TemplateSet
    settings: NotifySettings
    make_token: Callable[[str], str | None]  # ticket id -> signed reply token (or None)

    def identity(self, n: Notification) -> MailboxIdentity:
        return self.settings.mailbox(n.mailbox)

    def render(self, n: Notification, now: datetime) -> Rendered:
        ident = self.identity(n)
        languages = (n.language, ident.default_language)
        name = _chat_variant(n, n.template or _default_template(n))
        try:
            _, _, language = choose(self.templates, name, ident.brand, languages)
        except TemplateMissing:  # e.g. route's per-kind names, tickets' "master-solved"
            name = _chat_variant(n, _default_template(n))
            _, _, language = choose(self.templates, name, ident.brand, languages)
        values = self.values(n, ident, language, now)
        return render(self.templates, name, brand=ident.brand, languages=languages, values=values)

    def values(
        self, n: Notification, ident: MailboxIdentity, language: str, now: datetime
    ) -> dict[str, str]:
        ph = _PHRASES.get(language, _PHRASES["en"])
        common = {
            "ticket_number": n.ticket_number,
            "brand_name": ident.display_name or "Support",
            "subject": headers.clean_header_text(n.subject or "") or ph["no_subject"],
        }
        if n.kind in ALERT_KINDS or n.template in DIGEST_TEMPLATES:
            return {**common, **self.notice(n, ident, language)}
        c = {k: str(v) for k, v in n.context.items()}
        if _is_relayed_text(n):
            agent = c.get("agent_name") or c.get("author", "")
            return {**common, "body": c.get("text", ""), "agent_name": agent}
        due_text = c.get("first_response_due", "")
        due = datetime.fromisoformat(due_text) if due_text else None
        # one calendar for the promise and the hours: the SLA's (see notify.hours)
        opening = hours.from_context(n.context.get("opening_hours"))
        zone = c.get("customer_timezone") or ident.timezone or (
            opening.timezone if opening is not None else None)
        name = c.get("customer_name", "") or (n.recipient.name if n.recipient else "")
        return {
            **common,
            "greeting": ph["hello"].format(name=name) if name else ph["hello_anon"],
            "customer_name": name,
            "summary": c.get("summary", ""),
            "response_expectation": response_expectation(
                due, now, language, zone, self.settings.generic_response_hours
            ),
            "business_hours": " ".join(filter(None, (
                hours.availability(opening, language, zone, now),
                hours.closures(opening, language, now),
            ))),
            "help_line": ph["help"].format(url=ident.help_url) if ident.help_url else "",
        }

    def notice(self, n: Notification, ident: MailboxIdentity, language: str) -> dict[str, str]:
        """An agent's or supervisor's notice (or a digest of them): in the reader's language
        and time zone when route knew them, else the mailbox's."""
        zone = str(n.context.get("reader_timezone") or "") or ident.timezone or "UTC"
        if n.template in DIGEST_TEMPLATES:
            values = alert_values(n)
            items = n.context.get("items")
            if isinstance(items, list):
                values["lines"] = digest_lines(items, language, zone, self.settings.console_url)
            return values
        return notice_values(n.kind, n.ticket_number, n.subject, n.context, language, zone,
                             self.settings.console_url)

    def message_id(self, n: Notification) -> str:
        token = self.make_token(n.ticket_id)
        return headers.message_id(n.notification_id, token, self.settings.message_id_domain)

    def email(self, n: Notification, now: datetime) -> OutboundMail:
        if n.recipient is None or not n.recipient.address:
            raise ValueError(f"notification {n.notification_id} has no recipient")
        ident = self.identity(n)
        rendered = self.render(n, now)
        token = self.make_token(n.ticket_id)
        mid = headers.message_id(n.notification_id, token, self.settings.message_id_domain)
        reply_to = (
            headers.plus_address(ident.address, token) if ident.plus_addressing else ident.address
        )
        subject = rendered.subject
        if self.settings.ticket_prefix_in_subject and n.template not in DIGEST_TEMPLATES:
            # (a digest is about several tickets: the first one's number would mislead)
            subject = headers.subject_with_number(subject, n.ticket_number)
        fields = headers.threading_headers(
            message_id_value=mid,
            from_field=mime.address(headers.clean_header_text(ident.display_name),
                                    ident.address),
            reply_to=reply_to,
            to_field=mime.address(headers.clean_header_text(n.recipient.name),
                                  n.recipient.address),
            subject=headers.clean_header_text(subject, 250),
            in_reply_to=n.in_reply_to,
            references=n.references,
            ticket_number=n.ticket_number,
        )
        fields.append(("Date", format_datetime(now)))
        if n.kind != "agent-reply":
            fields += headers.automatic_headers(
                in_response=n.kind == "auto-ack", loop_address=ident.address
            )
        fields.append(("Content-Language", rendered.language))
        raw = mime.assemble(fields, rendered.text, rendered.html, mid)
        return OutboundMail(raw, ident.address, (n.recipient.address,), mid)

    def chat(self, n: Notification, now: datetime) -> ChatReply:
        ident = self.identity(n)
        rendered = self.render(n, now)
        fallback = n.recipient.address if n.recipient and "@" in n.recipient.address else None
        # an agent's words go to the chat as written; our templates are flattened to one line
        text = (str(n.context.get("text", "")) if _is_relayed_text(n)
                else " ".join(rendered.text.split()))
        return ChatReply(
            notification_id=n.notification_id,
            site_id=n.mailbox or "",
            conversation_id=n.conversation_id or "",
            ticket_id=n.ticket_id,
            ticket_number=n.ticket_number,
            kind=n.kind,
            text=text,
            at=now,
            author=ident.display_name or "Support",
            fallback_email=fallback,
            language=rendered.language,
        )

    def plain_text(self, n: Notification, now: datetime) -> str:
        r = self.render(n, now)
        return f"{r.subject}\n{r.text}".strip()


def _is_relayed_text(n: Notification) -> bool:
    """An agent's reply, or a chat message relayed by email: the body is given text."""
    return n.kind == "agent-reply" or n.context.get("via") == "chat-fallback"


def _default_template(n: Notification) -> str:
    if n.kind == "assignment":
        return "assignment"
    if n.kind in ALERT_KINDS:
        return "alert"
    if _is_relayed_text(n):
        return "agent-reply"
    return "auto-ack"


def _chat_variant(n: Notification, name: str) -> str:
    return "auto-ack-chat" if n.channel == "chat" and name == "auto-ack" else name


