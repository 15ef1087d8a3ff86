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

import httpx
import orjson

from ingest.settings import MailboxSettings
from schemas.errors import HelplineError


class TokenUnavailable(HelplineError):
    """The token provider could not produce an access token: the credentials are refused
    (the mailbox needs an operator)."""


class TokenEndpointDown(TokenUnavailable):
    """The token endpoint could not be reached or failed (5xx): try again soon, as for an
    IMAP server that is down."""

    retriable = True


class TokenProvider(Protocol):
    def token(self, now: datetime) -> AccessToken: ...


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
    return provider.token(now)


def token_due(expires_at: datetime | None, now: datetime, margin_s: float) -> bool:
    """Whether a token should be replaced now: it expires within ``margin_s``."""
    return expires_at is not None and (expires_at - now).total_seconds() <= margin_s


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

    def token(self, now: datetime) -> AccessToken:
        return read_token(self.access_token(), now)


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

    def token(self, now: datetime) -> AccessToken:
        return read_token(self.access_token(), now)


class RefreshTokenProvider:
    """The refresh-token grant (RFC 6749 section 6) against the provider's token endpoint.
    Keeps the access token until ``margin_s`` before it expires; reads the refresh token from
    its file at every refresh (a re-consented one is used without a restart) and keeps a new
    one the endpoint hands out (rotation) in memory, writing it back to the file."""

    def __init__(self, endpoint: str, client_id: str, client_secret: str | None,
                 refresh_token_file: str, scope: str | None, timeout_s: float,
                 margin_s: float) -> None:
        self.endpoint = endpoint
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token_file = Path(refresh_token_file)
        self.scope = scope
        self.timeout_s = timeout_s
        self.margin_s = margin_s
        self._current: AccessToken | None = None

    def token(self, now: datetime) -> AccessToken:
        current = self._current
        if current is not None and not token_due(current.expires_at, now, self.margin_s):
            return current
        self._current = self._refresh(now)
        return self._current

    def _refresh(self, now: datetime) -> AccessToken:
        try:
            refresh_token = self.refresh_token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TokenUnavailable(f"cannot read refresh token file: {exc.strerror}") from None
        if not refresh_token:
            raise TokenUnavailable("refresh token file is empty")
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                "client_id": self.client_id}
        if self.client_secret is not None:
            form["client_secret"] = self.client_secret
        if self.scope is not None:
            form["scope"] = self.scope
        try:
            r = httpx.post(self.endpoint, data=form, timeout=self.timeout_s,
                           headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TokenEndpointDown(f"token endpoint: {type(exc).__name__}: {exc}") from None
        if r.status_code >= 500 or r.status_code == 429:
            raise TokenEndpointDown(f"token endpoint answered {r.status_code}")
        if r.status_code != 200:
            raise TokenUnavailable(f"token endpoint refused the refresh token: "
                                   f"{r.status_code} {_oauth_error(r.content)}")
        token = read_token(r.text, now)
        rotated = _field(r.content, "refresh_token")
        if rotated and rotated != refresh_token:
            self.refresh_token_file.write_text(rotated + "\n", encoding="utf-8")
        return token


def _field(body: bytes, name: str) -> str | None:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = doc.get(name) if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def _oauth_error(body: bytes) -> str:
    """The endpoint's own words (RFC 6749 section 5.2: error, error_description)."""
    error = _field(body, "error") or body[:100].decode(errors="replace")
    description = _field(body, "error_description")
    return f"{error}: {description}"[:200] if description else error[:200]


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str | None = None
    tokens: TokenProvider | None = None
    password_file: str | None = None  # read at every login: rotation without a restart

    def current_password(self) -> str:
        if self.password_file is None:
            return self.password or ""
        try:
            text = Path(self.password_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise TokenUnavailable(f"cannot read password file: {exc.strerror}") from None
        password = text.rstrip("\r\n")
        if not password:
            raise TokenUnavailable("password file is empty")
        return password


def credentials_for(mailbox: MailboxSettings) -> Credentials:
    if mailbox.password is not None:
        return Credentials(mailbox.user, password=mailbox.password.get_secret_value())
    if mailbox.password_file is not None:
        return Credentials(mailbox.user, password_file=mailbox.password_file)
    if mailbox.oauth2_token_command is not None:
        return Credentials(mailbox.user, tokens=CommandTokenProvider(
            mailbox.oauth2_token_command, mailbox.oauth2_token_timeout_s))
    if mailbox.oauth2_token_endpoint is not None:
        # the settings validator guarantees the client id and the refresh token file
        assert mailbox.oauth2_client_id and mailbox.oauth2_refresh_token_file
        secret = mailbox.oauth2_client_secret
        return Credentials(mailbox.user, tokens=RefreshTokenProvider(
            mailbox.oauth2_token_endpoint, mailbox.oauth2_client_id,
            secret.get_secret_value() if secret else None, mailbox.oauth2_refresh_token_file,
            mailbox.oauth2_scope, mailbox.oauth2_token_timeout_s,
            # the watcher reconnects for a fresh token when its token would enter the margin
            # during its next IDLE or poll wait: then the provider must renew, not hand back
            # the token it holds
            mailbox.oauth2_refresh_margin_s + max(mailbox.idle_timeout_s,
                                                  mailbox.poll_interval_s)))
    assert mailbox.oauth2_token_file is not None  # the settings validator guarantees one
    return Credentials(mailbox.user, tokens=FileTokenProvider(mailbox.oauth2_token_file))
