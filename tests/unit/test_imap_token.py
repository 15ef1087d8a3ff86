"""An OAuth2 token provider may answer with the token endpoint's JSON: the connector then knows
when the token expires and exports it, so an alert fires before the mailbox goes quiet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ingest.imap.auth import (
    AccessToken,
    FileTokenProvider,
    TokenUnavailable,
    fetch_token,
    read_token,
)
from ingest.imap.status import StatusBoard
from runtime.metrics import StageMetrics

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("ya29.bare-token\n", AccessToken("ya29.bare-token")),
    ('{"access_token": "ya29.a", "token_type": "Bearer", "expires_in": 3599}',
     AccessToken("ya29.a", NOW + timedelta(seconds=3599))),
    ('{"access_token": "ya29.b", "expiry": "2026-12-06T04:00:00Z"}',
     AccessToken("ya29.b", datetime(2026, 12, 6, 4, 0, tzinfo=UTC))),
    ('{"access_token": "ya29.c"}', AccessToken("ya29.c")),
])
def test_a_bare_token_or_the_token_endpoints_json(text: str, expected: AccessToken) -> None:
    assert read_token(text, NOW) == expected


@pytest.mark.parametrize(("text", "words"), [
    ('{"access_token": ', "does not parse"),
    ('{"token_type": "Bearer", "expires_in": 60}', "no access_token"),
    ('{"access_token": "x", "expiry": "soon"}', "not a time"),
])
def test_a_broken_answer_is_a_clear_token_error(text: str, words: str) -> None:
    with pytest.raises(TokenUnavailable, match=words):
        read_token(text, NOW)


def test_a_file_provider_kept_fresh_with_the_json_answer(tmp_path) -> None:
    path = tmp_path / "token.json"
    path.write_text('{"access_token": "ya29.f", "expires_in": 600}')
    assert fetch_token(FileTokenProvider(str(path)), NOW) == AccessToken(
        "ya29.f", NOW + timedelta(seconds=600))


def test_the_expiry_is_exported_per_folder_and_absent_when_unknown() -> None:
    board = StatusBoard()
    board.transition("support", "INBOX", "idle", NOW)
    board.update("support", "INBOX", token_expires_at=NOW + timedelta(hours=1))
    board.transition("sales", "INBOX", "idle", NOW)  # a password mailbox: no expiry
    r = CollectorRegistry()
    StageMetrics.create(r).watch(board.report)
    samples = [(s.labels, s.value)
               for f in text_string_to_metric_families(generate_latest(r).decode())
               for s in f.samples
               if s.name == "helpline_imap_oauth_token_expiry_timestamp_seconds"]
    assert samples == [({"mailbox": "support", "folder": "INBOX"},
                        (NOW + timedelta(hours=1)).timestamp())]


def test_a_token_is_due_within_its_margin_and_never_without_an_expiry() -> None:
    from ingest.imap.auth import token_due

    assert not token_due(None, NOW, 300)
    assert not token_due(NOW + timedelta(seconds=301), NOW, 300)
    assert token_due(NOW + timedelta(seconds=300), NOW, 300)
    assert token_due(NOW - timedelta(seconds=1), NOW, 0)


def test_the_refresh_token_grant_needs_a_client_and_a_refresh_token_file() -> None:
    from pydantic import ValidationError

    from ingest.settings import MailboxSettings

    base = {"name": "support", "host": "imap.example", "user": "support@example.com",
            "oauth2_token_endpoint": "https://oauth2.example/token"}
    with pytest.raises(ValidationError, match="oauth2_client_id and oauth2_refresh_token_file"):
        MailboxSettings(**base)
    with pytest.raises(ValidationError, match="exactly one of"):
        MailboxSettings(**base, password="x", oauth2_client_id="c",
                        oauth2_refresh_token_file="/run/secrets/rt")
    m = MailboxSettings(**base, oauth2_client_id="c", oauth2_refresh_token_file="/run/rt")
    from ingest.imap.auth import RefreshTokenProvider, credentials_for

    assert isinstance(credentials_for(m).tokens, RefreshTokenProvider)


def test_a_password_file_is_read_at_every_login(tmp_path) -> None:
    from ingest.imap.auth import credentials_for
    from ingest.settings import MailboxSettings

    secret = tmp_path / "password"
    secret.write_text("first\n")
    creds = credentials_for(MailboxSettings(name="support", host="imap.example", user="s",
                                            password_file=str(secret)))
    assert creds.current_password() == "first"
    secret.write_text("rotated\n")
    assert creds.current_password() == "rotated"
    secret.write_text("")
    with pytest.raises(TokenUnavailable, match="password file is empty"):
        creds.current_password()
