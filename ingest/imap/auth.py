"""How the IMAP connector proves who it is: a password, or an OAuth2 access token (XOAUTH2)
obtained from a token provider at every (re)connect, so a refreshed token is picked up.

A provider may print (or keep in its file) either the bare token or the token endpoint's own
JSON answer (RFC 6749 section 5.1: ``access_token`` and ``expires_in``; or an RFC 3339
``expiry`` as ``oauth2l fetch --output_format json`` prints). With the JSON the connector knows
when the token expires and exports it (``helpline_imap_oauth_token_expiry_timestamp_seconds``),
so an alert fires before a mailbox goes quiet for want of a fresh token."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import orjson

from ingest.settings import MailboxSettings


class TokenUnavailable(Exception):
    """The token provider could not produce an access token."""


class TokenProvider(Protocol):
    def access_token(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    expires_at: datetime | None = None  # unknown for a bare token


def read_token(text: str, now: datetime) -> AccessToken:
    """A provider's output: a bare token, or the token endpoint's JSON answer."""
    text = text.strip()
    if not text.startswith("{"):
        return AccessToken(text)
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise TokenUnavailable(f"token JSON does not parse: {exc}") from None
    token = doc.get("access_token") if isinstance(doc, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenUnavailable("token JSON has no access_token")
    expires_in, expiry = doc.get("expires_in"), doc.get("expiry")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        return AccessToken(token, now + timedelta(seconds=expires_in))
    if isinstance(expiry, str):
        try:
            at = datetime.fromisoformat(expiry.replace("Z", "+00:00"))
        except ValueError:
            raise TokenUnavailable(f"token JSON: expiry {expiry[:40]!r} is not a time") from None
        return AccessToken(token, at if at.tzinfo else at.replace(tzinfo=UTC))
    return AccessToken(token)


def fetch_token(provider: TokenProvider, now: datetime) -> AccessToken:
    """The provider's current token, with its expiry when the provider says it."""
    return read_token(provider.access_token(), now)


@dataclass(frozen=True, slots=True)
class CommandTokenProvider:
    """Runs a command (e.g. ``oauth2l fetch …`` or a site script) and reads the token from its
    stdout."""

    argv: tuple[str, ...]
    timeout_s: float

    def access_token(self) -> str:
        try:
            done = subprocess.run(  # the operator's own configured command
                self.argv, capture_output=True, timeout=self.timeout_s, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TokenUnavailable(f"token command failed: {exc}") from None
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()[:200]
            raise TokenUnavailable(f"token command exited {done.returncode}: {err}")
        token = done.stdout.decode(errors="replace").strip()
        if not token:
            raise TokenUnavailable("token command printed nothing")
        return token


@dataclass(frozen=True, slots=True)
class FileTokenProvider:
    """Reads the token from a file that another process keeps fresh."""

    path: str

    def access_token(self) -> str:
        try:
            token = Path(self.path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TokenUnavailable(f"cannot read token file: {exc.strerror}") from None
        if not token:
            raise TokenUnavailable("token file is empty")
        return token


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str | None = None
    tokens: TokenProvider | None = None


def credentials_for(mailbox: MailboxSettings) -> Credentials:
    if mailbox.password is not None:
        return Credentials(mailbox.user, password=mailbox.password.get_secret_value())
    if mailbox.oauth2_token_command is not None:
        return Credentials(mailbox.user, tokens=CommandTokenProvider(
            mailbox.oauth2_token_command, mailbox.oauth2_token_timeout_s))
    assert mailbox.oauth2_token_file is not None  # the settings validator guarantees one
    return Credentials(mailbox.user, tokens=FileTokenProvider(mailbox.oauth2_token_file))
