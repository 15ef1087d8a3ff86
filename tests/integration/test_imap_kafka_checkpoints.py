"""IMAP checkpoints in the compacted topic ``imap.checkpoints`` (``email.checkpoint_store =
"kafka"``): ``helpline worker imap`` restarted with a fresh, empty disk -- a pod rescheduled
onto another node -- goes on where it was instead of reading the whole mailbox again. Real
Dovecot, real broker, the connector as its own process."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import pytest

from ingest.settings import EmailSettings
from schemas.raw import ImapCheckpoint
from schemas.stage import KafkaConnection
from schemas.topics import IMAP_CHECKPOINTS
from tests.support import dovecot as dovecot_support
from tests.support.dovecot import Dovecot
from tests.support.imap_connector import (
    ConnectorProcess,
    mailbox_for,
    raw_records,
    write_config,
)
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration
dovecot = dovecot_support.dovecot  # the fixture


def mail(n: int) -> bytes:
    return (f"From: Customer {n} <c{n}@customer.example>\r\nTo: support@help.example\r\n"
            f"Subject: Order {n}\r\nMessage-ID: <k-{n}@customer.example>\r\n"
            f"Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n\r\nWhere is order {n}?\r\n").encode()


def settings_on(disk: Path, dovecot: Dovecot) -> EmailSettings:
    return EmailSettings(mailboxes=(mailbox_for(dovecot, checkpoint_every_batches=1),),
                         checkpoint_store="kafka", checkpoint_dir=str(disk),
                         shutdown_timeout_s=5)


async def last_checkpoint(conn: KafkaConnection) -> ImapCheckpoint:
    records = await read_topic(conn, IMAP_CHECKPOINTS, timeout_s=10)
    values = [c.value for c in records if c.key == b"support"]
    assert values, "no checkpoint on imap.checkpoints"
    value: ImapCheckpoint = values[-1]
    return value


async def test_a_connector_on_a_fresh_disk_does_not_read_the_mailbox_again(
    dovecot: Dovecot, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    first = ConnectorProcess(write_config(tmp_path / "one.toml",
                                          settings_on(tmp_path / "disk-one", dovecot),
                                          kafka_conn), tmp_path / "one.log")
    second = ConnectorProcess(write_config(tmp_path / "two.toml",
                                           settings_on(tmp_path / "disk-two", dovecot),
                                           kafka_conn), tmp_path / "two.log")
    try:
        first.start()
        dovecot.append_many("support", [mail(n) for n in range(30)])
        await raw_records(kafka_conn, expect=30)
        assert first.terminate() == 0
        mark = (await last_checkpoint(kafka_conn)).folders
        assert [(f.folder, f.last_uid) for f in mark] == [("INBOX", 30)]
        assert not list((tmp_path / "disk-one").glob("*.json")), "no checkpoint file on disk"

        dovecot.append_many("support", [mail(n) for n in range(30, 40)])
        second.start()  # another "pod": nothing on its disk
        await raw_records(kafka_conn, expect=40)
        await asyncio.sleep(1.0)
        records = await raw_records(kafka_conn, expect=10_000, timeout_s=3)
        assert second.terminate() == 0
    finally:
        first.ensure_stopped()
        second.ensure_stopped()
    ids = Counter(re.search(rb"<k-(\d+)@", r.raw).group(1) for r in records)  # type: ignore[union-attr]
    assert len(ids) == 40
    assert sum(ids.values()) == 40, (tmp_path / "two.log").read_text()[-3000:]
    assert [(f.folder, f.last_uid) for f in (await last_checkpoint(kafka_conn)).folders] == [
        ("INBOX", 40)]
