"""The SMTP/LMTP receiver service with a real Kafka broker and a real SMTP client session
(aiosmtplib): 250 only once raw.email holds the bytes; 550/552 refusals; 451 without a broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import aiosmtplib
import pytest

from ingest.settings import EmailSettings, ReceiverSettings
from ingest.smtp import service as smtp_service
from runtime.kafka_io import KafkaPublisher
from schemas.stage import KafkaConnection, StageContext
from tests.support.dovecot import free_port
from tests.support.imap_connector import raw_records

pytestmark = pytest.mark.integration

MAIL = (b"From: Ann <ann@customer.example>\r\nTo: support@help.example\r\n"
        b"Message-ID: <smtp-1@customer.example>\r\nSubject: Refund\r\n\r\n"
        b"Please refund order 42.\r\n.dot-stuffed line\r\n")


@asynccontextmanager
async def receiver(conn: KafkaConnection, publisher: Any, **kw: Any) -> AsyncIterator[int]:
    port = free_port()
    settings = EmailSettings(receiver=ReceiverSettings(
        port=port, accepted_domains=("help.example",), max_message_bytes=64 * 1024,
        publish_timeout_s=5, **kw))
    ctx = StageContext(kafka=conn, sections=SimpleNamespace(email=settings), signing_key=b"k")
    stop = asyncio.Event()
    task = asyncio.create_task(smtp_service.run(ctx, publisher, stop))
    for _ in range(100):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    try:
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_smtp_session_250_means_on_kafka(kafka_conn: KafkaConnection) -> None:
    async with KafkaPublisher(kafka_conn) as publisher, receiver(kafka_conn, publisher) as port:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        async with client:
            refused, reply = await client.sendmail(
                "ann@customer.example",
                ["support@help.example", "someone@elsewhere.example"], MAIL)
            assert refused["someone@elsewhere.example"][0] == 550
            assert reply.startswith("2.0.0 OK queued as")
            with pytest.raises(aiosmtplib.SMTPResponseException) as too_big:
                await client.sendmail("ann@customer.example", ["support@help.example"],
                                      MAIL + (b"x" * 900 + b"\r\n") * 100)
            assert too_big.value.code == 552
        [record] = await raw_records(kafka_conn, expect=1)
        extra = await raw_records(kafka_conn, expect=2, timeout_s=2)
    assert len(extra) == 1
    assert record.raw == MAIL
    assert (record.source, record.mailbox, record.envelope_from, record.envelope_to) == (
        "smtp", "inbound", "ann@customer.example", ("support@help.example",))


async def test_lmtp_one_reply_and_one_record_per_recipient(kafka_conn: KafkaConnection) -> None:
    rcpts = ["support@help.example", "billing@help.example"]
    async with KafkaPublisher(kafka_conn) as publisher, \
            receiver(kafka_conn, publisher, lmtp=True) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def say(line: bytes) -> None:
            writer.write(line + b"\r\n")
            await writer.drain()

        async def reply() -> bytes:
            while True:
                line = await reader.readline()
                if line[3:4] != b"-":
                    return line

        assert (await reply()).startswith(b"220")
        await say(b"LHLO mta.help.example")
        assert (await reply()).startswith(b"250")
        await say(b"MAIL FROM:<ann@customer.example>")
        assert (await reply()).startswith(b"250")
        for r in rcpts:
            await say(f"RCPT TO:<{r}>".encode())
            assert (await reply()).startswith(b"250")
        await say(b"DATA")
        assert (await reply()).startswith(b"354")
        writer.write(MAIL.replace(b"\r\n.dot", b"\r\n..dot") + b".\r\n")
        await writer.drain()
        answers = [await reader.readline() for _ in rcpts]
        await say(b"QUIT")
        writer.close()
        records = await raw_records(kafka_conn, expect=2)
    assert [a[:3] for a in answers] == [b"250", b"250"]
    assert sorted(r.envelope_to for r in records) == sorted((r,) for r in rcpts)
    assert {r.raw for r in records} == {MAIL}
    assert {r.source for r in records} == {"lmtp"}


async def test_no_broker_means_451_so_the_mta_retries(kafka_conn: KafkaConnection) -> None:
    nowhere = KafkaConnection(bootstrap_servers=f"127.0.0.1:{free_port()}")
    publisher = KafkaPublisher(nowhere, timeout_s=1)  # never reached a broker
    try:
        async with receiver(kafka_conn, publisher) as port:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            async with client:
                with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                    await client.sendmail("ann@customer.example", ["support@help.example"],
                                          MAIL)
    finally:
        await publisher.stop()
    assert refused.value.code == 451
