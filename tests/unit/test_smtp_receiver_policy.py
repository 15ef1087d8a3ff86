"""The receiver over a real SMTP/LMTP session on loopback, with in-memory brokers that
acknowledge, refuse or never answer (no Kafka here; the integration tier has it)."""

from __future__ import annotations

import asyncio
import smtplib
from datetime import UTC, datetime
from typing import Any

import pytest

from ingest.settings import ReceiverSettings
from ingest.smtp.receiver import RecipientPolicy, start_receiver
from schemas.raw import RawEmail
from schemas.topics import RAW_EMAIL, TopicSpec

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MAIL = (b"From: Ann <ann@customer.example>\r\nTo: support@help.example\r\n"
        b"Message-ID: <m1@customer.example>\r\nSubject: Printer on fire\r\n\r\n"
        b".leading dot line\r\nIt is on fire.\r\n")


class Broker:
    def __init__(self, mode: str = "ack") -> None:
        self.mode = mode
        self.records: list[RawEmail] = []

    async def publish(self, topic: TopicSpec, key: bytes, value: Any) -> None:
        assert topic is RAW_EMAIL
        if self.mode == "down":
            raise ConnectionError("Kafka broker not reachable")
        if self.mode == "hang":
            await asyncio.sleep(3600)
        if self.mode == "half" and value.envelope_to == ("sales@help.example",):
            raise ConnectionError("partition leader not available")
        self.records.append(value)


def settings(**kw: Any) -> ReceiverSettings:
    base: dict[str, Any] = dict(port=0, accepted_domains=("help.example",),
                                accepted_addresses=("billing@other.example",),
                                max_message_bytes=4096, publish_timeout_s=0.3, mailbox="inbound")
    return ReceiverSettings(**{**base, **kw})


async def serve(broker: Broker, **kw: Any) -> tuple[asyncio.Server, int]:
    server = await start_receiver(settings(**kw), broker, lambda: NOW)
    return server, server.sockets[0].getsockname()[1]


def send(port: int, rcpts: list[str], body: bytes = MAIL, lmtp: bool = False) -> Any:
    client = smtplib.LMTP("127.0.0.1", port) if lmtp else smtplib.SMTP("127.0.0.1", port)
    with client:
        client.ehlo("client.example")  # smtplib.LMTP sends LHLO
        client.mail("ann@customer.example")
        accepted: list[str] = []
        refused: dict[str, tuple[int, bytes]] = {}
        for r in rcpts:
            code, msg = client.rcpt(r)
            if code == 250:
                accepted.append(r)
            else:
                refused[r] = (code, msg)
        if not accepted:
            return refused, None
        client.putcmd("data")
        code, _ = client.getreply()
        assert code == 354
        data = smtplib.quotedata(body.decode()).encode()
        client.send(data + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        replies = [client.getreply() for _ in (accepted if lmtp else [0])]
        return refused, replies


@pytest.mark.parametrize(("address", "ok"), [
    ("support@help.example", True), ("<Support@HELP.example>", True),
    ("billing@other.example", True), ("sales@other.example", False),
    ("x@sub.help.example", False), ("help.example", False),
])
def test_recipient_policy(address: str, ok: bool) -> None:
    assert RecipientPolicy.from_settings(settings()).accepts(address) is ok


async def test_accepted_mail_is_published_untouched_then_250() -> None:
    broker = Broker()
    server, port = await serve(broker)
    try:
        refused, replies = await asyncio.to_thread(
            send, port, ["support@help.example", "nobody@elsewhere.example"])
    finally:
        server.close()
    assert refused["nobody@elsewhere.example"][0] == 550
    assert replies[0][0] == 250
    [record] = broker.records
    assert record.raw == MAIL  # dot-stuffing undone, nothing added
    assert (record.source, record.mailbox, record.envelope_from, record.envelope_to) == (
        "smtp", "inbound", "ann@customer.example", ("support@help.example",))
    assert record.received_at == NOW


@pytest.mark.parametrize("mode", ["down", "hang"])
async def test_broker_trouble_is_451_never_250(mode: str) -> None:
    broker = Broker(mode)
    server, port = await serve(broker)
    try:
        _, replies = await asyncio.to_thread(send, port, ["support@help.example"])
    finally:
        server.close()
    assert replies[0][0] == 451
    assert broker.records == []


async def test_oversized_message_is_552() -> None:
    broker = Broker()
    server, port = await serve(broker)
    big = MAIL + (b"x" * 70 + b"\r\n") * 80
    try:
        _, replies = await asyncio.to_thread(send, port, ["support@help.example"], big)
    finally:
        server.close()
    assert replies[0][0] == 552
    assert broker.records == []


async def test_lmtp_replies_per_recipient() -> None:
    broker = Broker("half")
    server, port = await serve(broker, lmtp=True)
    try:
        _, replies = await asyncio.to_thread(
            send, port, ["support@help.example", "sales@help.example"], MAIL, True)
    finally:
        server.close()
    assert [code for code, _ in replies] == [250, 451]
    assert b"<sales@help.example>" in replies[1][1]
    assert [(r.source, r.envelope_to) for r in broker.records] == [
        ("lmtp", ("support@help.example",))]
