"""OAuth2 mailboxes that do not die quietly, against a real Dovecot (oauth2 passdb) and a small
identity provider the test runs: its token endpoint answers the refresh-token grant, its
introspection endpoint tells Dovecot which access tokens are valid.

* helpline gets its access token with the refresh-token grant, logs in, ingests, exports the
  token's expiry, and logs in again with a fresh token before the old one expires;
* a revoked refresh token (``invalid_grant``) marks the mailbox ``auth_failed`` in the
  endpoint's own words, and the connector keeps retrying; a re-consented refresh token written
  to the file is picked up without a restart."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from ingest.imap.status import StatusBoard
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


@dataclass
class IdentityProvider:
    """Refresh tokens it honours, the access tokens it issued (valid until revoked), and
    every grant asked of it."""

    refresh_tokens: set[str] = field(default_factory=lambda: {"rt-good"})
    access_tokens: set[str] = field(default_factory=set)
    grants: list[dict[str, str]] = field(default_factory=list)
    expires_in: int = 3600
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if path == "/introspect":  # Dovecot asks (RFC 7662)
                if form.get("token") in self.access_tokens:
                    return 200, {"active": "true", "username": "support"}
                return 200, {"active": "false"}
            self.grants.append(form)  # /token (RFC 6749 section 6)
            if form.get("grant_type") != "refresh_token" or form.get("client_id") != "helpline":
                return 400, {"error": "invalid_request"}
            if form.get("refresh_token") not in self.refresh_tokens:
                return 400, {"error": "invalid_grant",
                             "error_description": "Token has been expired or revoked."}
            token = f"at-{len(self.grants)}"
            self.access_tokens.add(token)
            return 200, {"access_token": token, "token_type": "Bearer",
                         "expires_in": self.expires_in}


@pytest.fixture
def idp() -> Iterator[tuple[IdentityProvider, str, Dovecot]]:
    provider = IdentityProvider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's hook name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            status, answer = provider.answer(self.path, form)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{http.server_address[1]}"
    try:
        with running_dovecot(oauth2_introspection_url=base + "/introspect") as server:
            yield provider, base + "/token", server
    finally:
        http.shutdown()
        http.server_close()


def refreshing_mailbox(dovecot: Dovecot, endpoint: str, refresh_file: Path, **kw: Any) -> Any:
    return mailbox_for(dovecot, password=None, oauth2_token_endpoint=endpoint,
                       oauth2_client_id="helpline", oauth2_client_secret="s3cret",
                       oauth2_refresh_token_file=str(refresh_file), **kw)


async def wait_until(cond: Any, what: str, timeout_s: float = 30) -> None:
    import asyncio

    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def test_refresh_token_grant_login_expiry_and_renewal_before_expiry(
    idp: tuple[IdentityProvider, str, Dovecot], kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    provider, endpoint, dovecot = idp
    provider.expires_in = 4  # seconds: renewed while the test watches
    refresh_file = tmp_path / "refresh-token"
    refresh_file.write_text("rt-good\n")
    mailbox = refreshing_mailbox(dovecot, endpoint, refresh_file, oauth2_refresh_margin_s=1,
                                 idle_timeout_s=1, poll_interval_s=1)
    dovecot.append("support", b"Message-ID: <r@x>\r\nSubject: via refresh\r\n\r\nhi\r\n")
    status = StatusBoard()
    async with connector_running(kafka_conn, email_settings(tmp_path / "cp", mailbox), status):
        [record] = await raw_records(kafka_conn, expect=1)
        await wait_until(lambda: len(provider.grants) >= 3, "renewals before expiry")
        await wait_for_state(status, "support", "INBOX", "idle")
        expiry = status.report()["folders"][0]["token_expires_at"]  # type: ignore[index]
    assert record.raw.startswith(b"Message-ID: <r@x>")
    grant = provider.grants[0]
    assert grant == {"grant_type": "refresh_token", "refresh_token": "rt-good",
                     "client_id": "helpline", "client_secret": "s3cret"}
    assert time.time() - 1 < expiry <= time.time() + 4  # the current token's, not the first
    assert status.get("support", "INBOX").state != "auth_failed"


async def test_invalid_grant_is_auth_failed_retried_and_a_new_refresh_token_is_picked_up(
    idp: tuple[IdentityProvider, str, Dovecot], kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    provider, endpoint, dovecot = idp
    refresh_file = tmp_path / "refresh-token"
    refresh_file.write_text("rt-revoked\n")
    mailbox = refreshing_mailbox(dovecot, endpoint, refresh_file, auth_retry_interval_s=0.5)
    dovecot.append("support", b"Message-ID: <g@x>\r\nSubject: after re-consent\r\n\r\nhi\r\n")
    status = StatusBoard()
    async with connector_running(kafka_conn, email_settings(tmp_path / "cp", mailbox), status):
        await wait_for_state(status, "support", "INBOX", "auth_failed")
        health = status.get("support", "INBOX")
        assert "invalid_grant" in health.detail and "revoked" in health.detail
        assert not status.healthy()  # /readyz: the mailbox needs an operator
        await wait_until(lambda: len(provider.grants) >= 2, "retried after auth_failed")
        refresh_file.write_text("rt-good\n")  # the operator re-consents: no restart
        [record] = await raw_records(kafka_conn, expect=1)
        await wait_for_state(status, "support", "INBOX", "idle")
    assert record.raw.startswith(b"Message-ID: <g@x>")
    assert status.get("support", "INBOX").failures >= 1
