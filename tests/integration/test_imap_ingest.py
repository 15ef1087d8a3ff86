"""The IMAP connector against a real Dovecot and a real Kafka broker: mail appended while the
connector IDLEs reaches raw.email exactly once, byte for byte (modulo the CRLF line endings IMAP
itself mandates), and nothing is lost across a restart, a kill -9 and a UIDVALIDITY reset.

The normalize stage is not runnable yet, so duplicates are judged on raw.email the way it will
judge them: by Message-ID.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import pytest
from imapclient.exceptions import IMAPClientError

from ingest.imap.status import StatusBoard
from schemas.stage import KafkaConnection
from tests.support import dovecot as dovecot_support
from tests.support.dovecot import Dovecot
from tests.support.imap_connector import (
    ConnectorProcess,
    connector_running,
    email_settings,
    mailbox_for,
    raw_records,
    wait_for_state,
    write_config,
)

pytestmark = pytest.mark.integration
dovecot = dovecot_support.dovecot  # the fixture


def mail(n: int, tag: str = "t") -> bytes:
    return (f"From: Customer {n} <c{n}@customer.example>\r\nTo: support@help.example\r\n"
            f"Subject: Order {n} did not arrive\r\nMessage-ID: <{tag}-{n}@customer.example>\r\n"
            f"Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n\r\nWhere is order {n}?\r\n").encode()


def message_id(raw: bytes) -> str:
    found = re.search(rb"(?im)^Message-ID:\s*(<[^>\r\n]+>)", raw)
    assert found, raw[:200]
    return found.group(1).decode()


def lines(raw: bytes) -> bytes:
    """IMAP servers hand out CRLF line endings whatever was appended (Dovecot stores LF and
    turns a bare CR into a line break too)."""
    return re.sub(rb"\r\n|\r|\n", b"\n", raw)


async def test_mail_appended_during_idle_reaches_raw_topic_once(
    dovecot: Dovecot, kafka_conn: KafkaConnection, corpus: Path, tmp_path: Path
) -> None:
    files = sorted((corpus / "email").rglob("*.eml"))
    assert files, "no .eml files in the corpus"
    settings = email_settings(tmp_path / "cp", mailbox_for(dovecot))
    appended: list[bytes] = []
    async with connector_running(kafka_conn, settings) as status:
        await wait_for_state(status, "support", "INBOX", "idle")
        with dovecot.client("support") as imap:
            for path in files:
                raw = path.read_bytes()
                try:
                    imap.append("INBOX", raw)
                except IMAPClientError:
                    continue  # the server refused it (e.g. NUL bytes): nothing to ingest
                appended.append(raw)
            for n in range(20):
                imap.append("INBOX", mail(n))
                appended.append(mail(n))
        # Kafka refuses records over its max.message.bytes (1 MiB by default; base64 on the
        # wire): such mail must be reported as quarantined, never silently missing.
        too_big = [a for a in appended if len(a) > 700_000]
        records = await raw_records(kafka_conn, expect=len(appended) - len(too_big))
        await asyncio.sleep(1.0)  # anything extra would be a duplicate
        records = await raw_records(kafka_conn, expect=len(appended) + 1, timeout_s=3)
    assert len(appended) >= len(files) * 0.9
    got = Counter(lines(r.raw) for r in records)
    sent = Counter(lines(a) for a in appended)
    assert got - sent == Counter()  # nothing extra: no duplicates
    missing = sent - got
    assert all(len(raw) > 700_000 for raw in missing), [raw[:100] for raw in missing]
    assert status.get("support", "INBOX").quarantined == missing.total()
    assert len(records) + missing.total() == len(appended)
    assert {(r.source, r.mailbox, r.folder) for r in records} == {("imap", "support", "INBOX")}
    assert len({r.uidvalidity for r in records}) == 1
    assert all(r.received_at.tzinfo is not None for r in records)
    assert status.get("support", "INBOX").ingested == len(records)


async def test_no_loss_across_restart_and_kill9(
    dovecot: Dovecot, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    settings = email_settings(tmp_path / "cp", mailbox_for(
        dovecot, fetch_batch_size=20, max_batches_in_flight=2, checkpoint_every_batches=1))
    config = write_config(tmp_path / "helpline.toml", settings, kafka_conn)
    worker = ConnectorProcess(config, tmp_path / "worker.log")  # helpline worker imap
    try:
        worker.start()
        dovecot.append_many("support", [mail(n) for n in range(0, 30)])
        await raw_records(kafka_conn, expect=30)
        assert worker.terminate() == 0  # (a) a clean restart...
        dovecot.append_many("support", [mail(n) for n in range(30, 60)])  # ...mail meanwhile
        worker.start()
        await raw_records(kafka_conn, expect=60)
        clean = await raw_records(kafka_conn, expect=61, timeout_s=3)
        assert len(clean) == 60  # nothing republished after a clean restart

        dovecot.append_many("support", [mail(n) for n in range(60, 400)])
        while len(await raw_records(kafka_conn, expect=80, timeout_s=30)) < 80:
            pass
        worker.kill9()  # (b) mid-ingest
        worker.start()
        records = await raw_records(kafka_conn, expect=400, timeout_s=90)
        await asyncio.sleep(1.0)
        records = await raw_records(kafka_conn, expect=10_000, timeout_s=3)
    finally:
        worker.ensure_stopped()
    ids = Counter(message_id(r.raw) for r in records)
    assert set(ids) == {f"<t-{n}@customer.example>" for n in range(400)}  # no loss
    # at most the batches in flight and not yet checkpointed at the kill are published
    # again: (checkpoint_every_batches + max_batches_in_flight) * fetch_batch_size
    assert sum(ids.values()) - 400 <= (1 + 2) * 20, (tmp_path / "worker.log").read_text()[-3000:]


async def test_uidvalidity_reset_resyncs_without_loss_or_needless_republish(
    dovecot: Dovecot, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    settings = email_settings(tmp_path / "cp", mailbox_for(dovecot))
    status = StatusBoard()
    async with connector_running(kafka_conn, settings, status):
        await wait_for_state(status, "support", "INBOX", "idle")
        dovecot.append_many("support", [mail(n) for n in range(5)])
        first = await raw_records(kafka_conn, expect=5)
        old_validity = first[0].uidvalidity
        dovecot.set_uidvalidity("support", "INBOX", old_validity + 1000)
        dovecot.append_many("support", [mail(n) for n in range(5, 8)])
        records = await raw_records(kafka_conn, expect=8)
        await wait_for_state(status, "support", "INBOX", "idle")
        await asyncio.sleep(1.0)  # a needless republish would show up now
        records = await raw_records(kafka_conn, expect=9, timeout_s=3)
    health = status.get("support", "INBOX")
    assert health.resyncs == 1
    assert health.resync_skipped == 5  # recognised by Message-ID, not fetched again
    ids = Counter(message_id(r.raw) for r in records)
    assert ids == Counter({f"<t-{n}@customer.example>": 1 for n in range(8)})
    assert {r.uidvalidity for r in records if message_id(r.raw) in {
        f"<t-{n}@customer.example>" for n in range(5, 8)}} == {old_validity + 1000}


async def test_wrong_password_is_a_health_state_and_other_mailboxes_go_on(
    dovecot: Dovecot, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    settings = email_settings(
        tmp_path / "cp",
        mailbox_for(dovecot, "support", password="wrong", auth_retry_interval_s=60),
        mailbox_for(dovecot, "sales"),
    )
    async with connector_running(kafka_conn, settings) as status:
        await wait_for_state(status, "support", "INBOX", "auth_failed")
        await wait_for_state(status, "sales", "INBOX", "idle")
        dovecot.append("sales", mail(1, "sales"))
        records = await raw_records(kafka_conn, expect=1)
        health = status.get("support", "INBOX")
        assert not status.healthy()
    assert "AUTHENTICATIONFAILED" in health.detail or "Authentication failed" in health.detail
    assert [(r.mailbox, message_id(r.raw)) for r in records] == [
        ("sales", "<sales-1@customer.example>")]


async def test_move_to_folder_after_ingest(
    dovecot: Dovecot, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    with dovecot.client("support") as imap:
        imap.create_folder("Helpline/Done")
    settings = email_settings(tmp_path / "cp", mailbox_for(dovecot, move_to="Helpline/Done"))
    dovecot.append_many("support", [mail(n) for n in range(3)])
    async with connector_running(kafka_conn, settings) as status:
        await raw_records(kafka_conn, expect=3)
        await wait_for_state(status, "support", "INBOX", "idle")
    assert dovecot.uids("support", "INBOX") == []
    assert len(dovecot.uids("support", "Helpline/Done")) == 3


async def test_reconnects_after_the_server_went_away(
    dovecot: Dovecot, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    settings = email_settings(tmp_path / "cp", mailbox_for(dovecot))
    async with connector_running(kafka_conn, settings) as status:
        await wait_for_state(status, "support", "INBOX", "idle")
        dovecot.stop()  # the server goes away under an IDLE connection
        await wait_for_state(status, "support", "INBOX", "reconnecting")
        failure = status.get("support", "INBOX").detail
        dovecot.start()
        dovecot.append("support", mail(1))
        [record] = await raw_records(kafka_conn, expect=1)
        await wait_for_state(status, "support", "INBOX", "idle")
    assert failure  # what went wrong, in the OS's or the server's words
    assert message_id(record.raw) == "<t-1@customer.example>"
