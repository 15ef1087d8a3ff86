"""Inbound SMTP/LMTP receiver (aiosmtpd) for sites that pipe mail from their own MTA.

The promise to the sending MTA: ``250`` only for mail Kafka has acknowledged. A recipient
outside the configured domains/addresses gets ``550`` at RCPT time, an oversized message ``552``
(aiosmtpd enforces ``max_message_bytes``, also announced as ``SIZE``), and a broker that is down
or slow a ``451`` so the MTA keeps the mail in its queue and retries. In LMTP mode each
recipient gets its own reply after DATA (RFC 2033), each reflecting its own write.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from ingest.settings import ReceiverSettings
from schemas.clock import Clock
from schemas.errors import HelplineError
from schemas.raw import RawEmail
from schemas.stage import NO_METER, Meter, Publisher
from schemas.topics import RAW_EMAIL

log = logging.getLogger(__name__)



def _address_key(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


@dataclass(frozen=True, slots=True)
class RecipientPolicy:
    """Which envelope recipients this helpline accepts mail for (case-insensitive)."""

    domains: frozenset[str]
    addresses: frozenset[str]

    @classmethod
    def from_settings(cls, settings: ReceiverSettings) -> RecipientPolicy:
        return cls(
            frozenset(d.strip().lstrip("@").lower() for d in settings.accepted_domains),
            frozenset(_address_key(a) for a in settings.accepted_addresses),
        )

    def accepts(self, address: str) -> bool:
        addr = _address_key(address)
        if addr in self.addresses:
            return True
        _, at, domain = addr.rpartition("@")
        return bool(at) and domain in self.domains


def queue_id(raw: bytes) -> str:
    """A short reference the MTA logs next to our 250 (same bytes, same id)."""
    return hashlib.sha256(raw).hexdigest()[:16]


class RawMailHandler:
    """aiosmtpd handler: checks recipients, publishes the untouched bytes, answers honestly."""

    def __init__(
        self, settings: ReceiverSettings, publisher: Publisher, clock: Clock,
        meter: Meter = NO_METER,
    ) -> None:
        self.settings = settings
        self.meter = meter
        self.publisher = publisher
        self.clock = clock
        self.policy = RecipientPolicy.from_settings(settings)
        self.source: Any = "lmtp" if settings.lmtp else "smtp"
        self._key = settings.mailbox.encode()

    async def handle_RCPT(  # aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self.policy.accepts(address):
            self.meter.count("smtp_receiver_recipients_rejected", protocol=self.source)
            return f"550 5.1.1 <{address}>: recipient not accepted here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        sender = envelope.mail_from or None
        recipients = tuple(envelope.rcpt_tos)
        if self.settings.lmtp:
            replies = await asyncio.gather(
                *(self._store(raw, sender, (rcpt,)) for rcpt in recipients)
            )
            return "\r\n".join(
                f"250 2.0.0 <{rcpt}> OK queued as {queue_id(raw)}" if error is None
                else f"{error[0]} <{rcpt}> {error[1]}"
                for rcpt, error in zip(recipients, replies, strict=True)
            )
        error = await self._store(raw, sender, recipients)
        if error is None:
            return f"250 2.0.0 OK queued as {queue_id(raw)}"
        return f"{error[0]} {error[1]}"

    async def _store(
        self, raw: bytes, sender: str | None, recipients: tuple[str, ...]
    ) -> tuple[str, str] | None:
        """Publish and wait for the ack; (reply code, reason) if it failed, or None.

        451 (the MTA keeps the mail and retries) unless the broker said the record can never
        be stored (``retriable`` is False, e.g. larger than the topic takes): then 552."""
        record = RawEmail(
            source=self.source,
            mailbox=self.settings.mailbox,
            raw=raw,
            received_at=self.clock(),
            envelope_from=sender,
            envelope_to=recipients,
        )
        started = time.perf_counter()
        error = await self._publish(record)
        self.meter.observe("smtp_receiver_publish", time.perf_counter() - started,
                           protocol=self.source)
        outcome = "accepted" if error is None else "tempfail" if error is TEMPORARY else "too-big"
        self.meter.count("smtp_receiver_messages", protocol=self.source, outcome=outcome)
        return error

    async def _publish(self, record: RawEmail) -> tuple[str, str] | None:
        try:
            await asyncio.wait_for(
                self.publisher.publish(RAW_EMAIL, self._key, record),
                timeout=self.settings.publish_timeout_s,
            )
        except TimeoutError:
            log.warning("raw.email write not acknowledged in time; answering 451",
                        extra={"timeout_s": self.settings.publish_timeout_s})
            return TEMPORARY
        except Exception as exc:  # any broker failure: the MTA must keep the mail and retry
            if isinstance(exc, HelplineError) and not exc.retriable:
                log.warning("raw.email refused the message; answering 552",
                            extra={"error": type(exc).__name__})
                return TOO_BIG
            log.warning("raw.email write failed; answering 451", extra={"error": repr(exc)})
            return TEMPORARY
        return None


TEMPORARY = ("451 4.3.0", "Temporary failure storing the message, try again later")
TOO_BIG = ("552 5.3.4", "Message too big for this system")


def make_protocol(handler: RawMailHandler, settings: ReceiverSettings) -> SMTP:
    cls = LMTP if settings.lmtp else SMTP
    return cls(
        handler,
        data_size_limit=settings.max_message_bytes,
        hostname=settings.hostname,
        decode_data=False,
        enable_SMTPUTF8=True,
        ident="helpline",
    )


async def start_receiver(
    settings: ReceiverSettings, publisher: Publisher, clock: Clock, meter: Meter = NO_METER,
) -> asyncio.Server:
    """Listen on the current event loop (so publishing shares the loop of the Kafka client)."""
    if not (settings.accepted_domains or settings.accepted_addresses):
        log.warning("receiver accepts no recipients: set [email.receiver] accepted_domains")
    handler = RawMailHandler(settings, publisher, clock, meter)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: make_protocol(handler, settings), host=settings.host, port=settings.port
    )
