"""aiosmtplib behind the :class:`notify.transport.MailTransport` port: a small connection pool
with STARTTLS / implicit TLS and AUTH, reporting the server's own words on failure.

Connections are reused for up to ``max_messages_per_connection`` mails (then QUIT, as big
providers throttle long sessions), and dropped on any error so a half-broken session is never
reused. 4xx replies, timeouts and lost connections are retriable; 5xx are permanent.
"""

from __future__ import annotations

import asyncio
import ssl

import aiosmtplib

from notify.compose import OutboundMail
from notify.settings import SmtpSettings
from notify.transport import DeliveryError


def _reply(code: int | None, message: str) -> str:
    return f"{code} {message}".strip() if code is not None else message


def classify_smtp_error(exc: Exception) -> DeliveryError:
    """Map aiosmtplib's exceptions onto retriable / permanent, keeping the server's reply."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        reply = "; ".join(_reply(r.code, r.message) for r in exc.recipients)
        retriable = bool(codes) and all(400 <= c < 500 for c in codes)
        return DeliveryError("recipient refused", retriable=retriable, server_reply=reply,
                             code=codes[0] if codes else None)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | aiosmtplib.SMTPServerDisconnected):
        return DeliveryError(f"{type(exc).__name__}: {exc}", retriable=True)
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        return DeliveryError(f"cannot connect: {exc}", retriable=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code = exc.code
        return DeliveryError(
            f"{type(exc).__name__}", retriable=not 500 <= code < 600,
            server_reply=_reply(code, exc.message), code=code,
        )
    if isinstance(exc, OSError | asyncio.TimeoutError | ssl.SSLError):
        return DeliveryError(f"{type(exc).__name__}: {exc}", retriable=True)
    if isinstance(exc, aiosmtplib.SMTPException):
        return DeliveryError(f"{type(exc).__name__}: {exc}", retriable=False)
    return DeliveryError(f"{type(exc).__name__}: {exc}", retriable=False)


class SmtpPool:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._slots = asyncio.Semaphore(settings.pool_size)
        self._idle: list[tuple[aiosmtplib.SMTP, int]] = []

    def _client(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password,
            local_hostname=s.local_hostname,
            timeout=s.timeout_s,
            use_tls=s.security == "tls",
            start_tls=True if s.security == "starttls" else False,
            validate_certs=s.validate_certs,
            cert_bundle=s.cafile,
        )

    async def send(self, mail: OutboundMail) -> str:
        async with self._slots:
            client, count = self._idle.pop() if self._idle else (None, 0)
            try:
                if client is None or not client.is_connected:
                    client, count = self._client(), 0
                    await client.connect()
                errors, reply = await client.sendmail(
                    mail.sender, list(mail.recipients), mail.raw
                )
            except Exception as exc:
                if client is not None:
                    client.close()
                raise classify_smtp_error(exc) from exc
            count += 1
            if count >= self._settings.max_messages_per_connection:
                await _quit(client)
            else:
                self._idle.append((client, count))
            if errors:
                refused = "; ".join(f"{_reply(r.code, r.message)}" for r in errors.values())
                raise DeliveryError("some recipients refused", retriable=False,
                                    server_reply=refused)
            return reply

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client, _ in idle:
            await _quit(client)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        client.close()
