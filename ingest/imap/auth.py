"""How the IMAP connector proves who it is: a password, or an OAuth2 access token (XOAUTH2)
obtained from a token provider at every (re)connect, so a refreshed token is picked up."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ingest.settings import MailboxSettings
from schemas.errors import HelplineError


class TokenUnavailable(HelplineError):
    """The token provider could not produce an access token."""


class TokenProvider(Protocol):
    def access_token(self) -> str: ...


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
