"""XOAUTH2 against a real Dovecot whose oauth2 passdb asks a (local) token introspection
endpoint: the connector reads the access token from its provider at every connect."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from ingest.imap.cli import check_mailbox
from schemas.stage import KafkaConnection
from tests.support.dovecot import Dovecot, running_dovecot
from tests.support.imap_connector import (
    connector_running,
    email_settings,
    mailbox_for,
    raw_records,
    wait_for_state,
)

pytestmark = pytest.mark.integration

TOKENS = {"ya29.valid-support-token": "support"}


class Introspection(BaseHTTPRequestHandler):
    """RFC 7662 token introspection, as an identity provider would answer it."""

    def do_POST(self) -> None:  # http.server's hook name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        token = (parse_qs(body).get("token") or [""])[0]
        user = TOKENS.get(token)
        answer = {"active": "true", "username": user} if user else {"active": "false"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def oauth2_dovecot() -> Iterator[Dovecot]:
    http = ThreadingHTTPServer(("127.0.0.1", 0), Introspection)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{http.server_address[1]}/introspect"
    try:
        with running_dovecot(oauth2_introspection_url=url) as server:
            yield server
    finally:
        http.shutdown()
        http.server_close()


async def test_xoauth2_login_and_ingest(
    oauth2_dovecot: Dovecot, kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("ya29.valid-support-token\n")
    mailbox = mailbox_for(oauth2_dovecot, password=None, oauth2_token_file=str(token))
    check = check_mailbox(mailbox)
    assert check.login, check.error
    oauth2_dovecot.append("support", b"Message-ID: <o@x>\r\nSubject: via oauth\r\n\r\nhi\r\n")
    async with connector_running(kafka_conn, email_settings(tmp_path / "cp", mailbox)) as st:
        [record] = await raw_records(kafka_conn, expect=1)
        await wait_for_state(st, "support", "INBOX", "idle")
    assert record.raw.startswith(b"Message-ID: <o@x>")


def test_expired_token_is_rejected_in_the_servers_words(
    oauth2_dovecot: Dovecot, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("ya29.expired\n")
    result = check_mailbox(
        mailbox_for(oauth2_dovecot, password=None, oauth2_token_file=str(token)))
    assert not result.login
    assert "AUTHENTICATIONFAILED" in result.error  # Dovecot's own words
    token.write_text("")
    empty = check_mailbox(
        mailbox_for(oauth2_dovecot, password=None, oauth2_token_file=str(token)))
    assert not empty.login and "token file is empty" in empty.error
