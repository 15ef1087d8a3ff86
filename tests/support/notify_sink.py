"""A real SMTP server (aiosmtpd on loopback) that can be told to misbehave.

Modes: ``ok`` (250), ``tempfail`` (451), ``permfail`` (550), ``drop`` (close the connection
instead of answering DATA), ``slow`` (answer 250 after ``delay_s``). Optional AUTH and STARTTLS.
Every accepted mail is kept with its Message-ID, so tests count deliveries per Message-ID.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()


@dataclass
class SinkHandler:
    mode: str = "ok"
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.attempts += 1
        mode = self.mode
        if mode == "tempfail":
            return "451 4.3.0 Temporary local problem, try later"
        if mode == "permfail":
            return "550 5.1.1 <nobody@example.com>: Recipient address rejected"
        if mode == "drop":
            server.transport.abort()
            return "421 closing"
        if mode == "slow" or self.delay_s:
            await asyncio.sleep(self.delay_s)
        raw = bytes(envelope.original_content or envelope.content)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg, raw))
        return "250 2.0.0 Ok: queued"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(r.message_id for r in self.received)


class SmtpSink:
    """``with SmtpSink() as sink:`` — a server on 127.0.0.1:<free port>."""

    def __init__(
        self, *, auth: tuple[str, str] | None = None, tls_context: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None, port: int = 0,
    ) -> None:
        self.handler = SinkHandler()
        kwargs: dict[str, Any] = {}
        if auth is not None:
            user, password = auth

            def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                              data: Any) -> AuthResult:
                ok = isinstance(data, LoginPassword) and (
                    data.login.decode(), data.password.decode()) == (user, password)
                return AuthResult(success=ok, handled=False)

            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=tls_context is not None)
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if implicit_tls is not None:  # SMTPS (port 465 style)
            kwargs.update(ssl_context=implicit_tls)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port or free_port(),
                                     **kwargs)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def set_mode(self, mode: str, delay_s: float = 0.0) -> None:
        self.handler.mode = mode
        self.handler.delay_s = delay_s

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made with the openssl command (Debian's)."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
