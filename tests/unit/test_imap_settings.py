"""Mailbox settings: one credential, bounded IDLE, unique names."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from ingest.imap.auth import (
    CommandTokenProvider,
    FileTokenProvider,
    TokenUnavailable,
    credentials_for,
)
from ingest.settings import EmailSettings, MailboxSettings

BASE: dict[str, Any] = {
    "name": "support", "host": "imap.example.com", "user": "support@example.com"}


def test_password_or_oauth2_exactly_one() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        MailboxSettings(**BASE)
    with pytest.raises(ValidationError, match="exactly one"):
        MailboxSettings(**BASE, password=SecretStr("x"), oauth2_token_file="/t")
    assert MailboxSettings(**BASE, oauth2_token_command=("echo", "tok")).folders == ("INBOX",)


def test_idle_must_be_renewed_before_29_minutes() -> None:
    with pytest.raises(ValidationError):
        MailboxSettings(**BASE, password=SecretStr("x"), idle_timeout_s=30 * 60)


def test_mailbox_names_unique() -> None:
    m = MailboxSettings(**BASE, password=SecretStr("x"))
    with pytest.raises(ValidationError, match="unique"):
        EmailSettings(mailboxes=(m, m))


def test_token_providers(tmp_path) -> None:
    m = MailboxSettings(**BASE, oauth2_token_command=("echo", " ya29.token "))
    creds = credentials_for(m)
    assert isinstance(creds.tokens, CommandTokenProvider)
    assert creds.tokens.access_token() == "ya29.token"
    path = tmp_path / "token"
    path.write_text("abc\n")
    assert FileTokenProvider(str(path)).access_token() == "abc"
    with pytest.raises(TokenUnavailable, match="exited 1"):
        CommandTokenProvider(("false",), 5).access_token()
    with pytest.raises(TokenUnavailable, match="cannot read"):
        FileTokenProvider(str(tmp_path / "missing")).access_token()
