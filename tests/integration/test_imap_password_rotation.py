"""A rotated IMAP password is picked up without a restart: with ``password_file`` the connector
reads the password at every (re)connect. Real Dovecot, real broker: the server's password is
changed and the server restarted (every session dropped); the connector logs in again with
the new password from the file and goes on ingesting."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.imap.status import StatusBoard
from schemas.stage import KafkaConnection
from tests.support import dovecot as dovecot_support
from tests.support.dovecot import Dovecot
from tests.support.imap_connector import (
    connector_running,
    email_settings,
    mailbox_for,
    raw_records,
    wait_for_state,
)

pytestmark = pytest.mark.integration
dovecot = dovecot_support.dovecot  # the fixture


def rotate(dovecot: Dovecot, user: str, password: str) -> None:
    dovecot.users[user] = password
    (dovecot.root / "users").write_text(
        "".join(f"{u}:{p}::::::\n" for u, p in dovecot.users.items()))


async def test_a_rotated_password_is_read_at_the_next_login(
    dovecot: Dovecot, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    secret = tmp_path / "imap-password"  # as a mounted Secret
    secret.write_text(dovecot.users["support"] + "\n")
    mailbox = mailbox_for(dovecot, password=None, password_file=str(secret))
    status = StatusBoard()
    async with connector_running(kafka_conn, email_settings(tmp_path / "cp", mailbox), status):
        dovecot.append("support", b"Message-ID: <p1@x>\r\nSubject: before\r\n\r\nhi\r\n")
        await raw_records(kafka_conn, expect=1)
        await wait_for_state(status, "support", "INBOX", "idle")
        dovecot.stop()  # every session dropped
        await wait_for_state(status, "support", "INBOX", "reconnecting")
        rotate(dovecot, "support", "rotated-pass")
        secret.write_text("rotated-pass\n")
        dovecot.start()
        dovecot.append("support", b"Message-ID: <p2@x>\r\nSubject: after\r\n\r\nhi\r\n")
        records = await raw_records(kafka_conn, expect=2, timeout_s=60)
        await wait_for_state(status, "support", "INBOX", "idle")  # logged in again
    assert [r.raw.split(b"\r\n")[0] for r in records] == [b"Message-ID: <p1@x>",
                                                          b"Message-ID: <p2@x>"]
