"""One blocking IMAP connection to one folder (imapclient), with errors in the server's words.

Blocking on purpose: imapclient is a synchronous library, so the connector runs each session
on its own thread. Everything that goes wrong is turned into :class:`AuthRejected` (the
credentials are wrong: retrying soon will not help) or :class:`ConnectionProblem` (network,
TLS, protocol, server going away: reconnect with backoff).
"""

from __future__ import annotations

import imaplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.imapclient import _parse_untagged_response
from imapclient.util import to_unicode

from ingest.imap.auth import Credentials, TokenUnavailable
from ingest.imap.checkpoint import message_id_key
from ingest.imap.fetch import (
    FETCH_ITEMS,
    SIZE_ITEMS,
    FetchedMail,
    read_fetched,
    read_sizes,
    uid_set,
)
from ingest.settings import MailboxSettings
from schemas.errors import HelplineError

T = TypeVar("T")


class ImapFailure(HelplineError):
    """Base of what a session raises; the message is the server's (or the OS's) own words."""


class AuthRejected(ImapFailure):
    """The server refused the credentials (or no OAuth2 token could be obtained)."""


class ConnectionProblem(ImapFailure):
    """Network, TLS, timeout, protocol or server error: worth reconnecting after a backoff."""

    retriable = True


@dataclass(frozen=True, slots=True)
class FolderInfo:
    uidvalidity: int
    uidnext: int | None
    exists: int


class MailSession(Protocol):
    """What the watcher needs from an IMAP connection (:class:`ImapSession` is the real one)."""

    @property
    def supports_idle(self) -> bool: ...

    def connect(self) -> None: ...

    def close(self) -> None: ...

    def select(self, folder: str, readonly: bool) -> FolderInfo: ...

    def search_after(self, uid: int) -> list[int]: ...

    def fetch(self, uids: Sequence[int]) -> list[FetchedMail]: ...

    def fetch_sizes(self, uids: Sequence[int]) -> dict[int, int]: ...

    def fetch_message_ids(self, uids: Sequence[int]) -> dict[int, bytes | None]: ...

    def move(self, uids: Sequence[int], target: str) -> None: ...

    def wait_for_mail(self, stop: threading.Event, timeout_s: float, check_s: float) -> bool: ...


def _words(exc: BaseException) -> str:
    if isinstance(exc, OSError):  # ssl and socket errors: "[SSL: ...] ...", "[Errno 111] ..."
        return str(exc) or type(exc).__name__
    arg = exc.args[0] if exc.args else exc
    if isinstance(arg, bytes):
        return arg.decode(errors="replace")
    return str(arg) or type(exc).__name__


def _guard(fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except ImapFailure:
        raise
    except LoginError as exc:
        raise AuthRejected(_words(exc)) from None
    except (imaplib.IMAP4.error, OSError, EOFError) as exc:  # includes ssl and socket errors
        raise ConnectionProblem(f"{type(exc).__name__}: {_words(exc)}") from None


def tls_context(mailbox: MailboxSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=mailbox.tls_ca_file)
    if not mailbox.tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ImapSession:
    """Connect, log in, select, search, fetch, move, IDLE. Use from one thread at a time."""

    def __init__(self, mailbox: MailboxSettings, credentials: Credentials) -> None:
        self.mailbox = mailbox
        self.credentials = credentials
        self._client: IMAPClient | None = None
        self.capabilities: frozenset[str] = frozenset()

    # -- connection --------------------------------------------------------------------------

    def connect(self) -> None:
        _guard(self._connect)

    def _connect(self) -> None:
        m = self.mailbox
        timeout = socket_timeout(m)
        ctx = tls_context(m) if m.security != "none" else None
        client = IMAPClient(
            m.host, port=m.port, ssl=m.security == "ssl", ssl_context=ctx, timeout=timeout
        )
        # aware datetimes for INTERNALDATE, not local-time naive ones
        client.normalise_times = False
        _quiet_protocol_trace(client)
        self._client = client
        if m.security == "starttls":
            client.starttls(ctx)
        creds = self.credentials
        if creds.tokens is not None:
            try:
                token = creds.tokens.access_token()
            except TokenUnavailable as exc:
                raise AuthRejected(str(exc)) from None
            client.oauth2_login(creds.user, token)
        else:
            client.login(creds.user, creds.password or "")
        self.capabilities = frozenset(to_unicode(c).upper() for c in client.capabilities())

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise ConnectionProblem("not connected")
        return self._client

    @property
    def supports_idle(self) -> bool:
        return "IDLE" in self.capabilities

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # the connection is going away anyway
            try:
                client.shutdown()
            except Exception:  # already broken
                pass

    # -- folder operations -------------------------------------------------------------------

    def select(self, folder: str, readonly: bool) -> FolderInfo:
        info = _guard(self.client.select_folder, folder, readonly)
        uidnext = info.get(b"UIDNEXT")
        return FolderInfo(
            uidvalidity=int(info[b"UIDVALIDITY"]),
            uidnext=int(uidnext) if uidnext is not None else None,
            exists=int(info.get(b"EXISTS", 0)),
        )

    def search_after(self, uid: int) -> list[int]:
        found: Sequence[int] = _guard(self.client.search, ["UID", f"{uid + 1}:*"])
        return [int(u) for u in found]

    def fetch(self, uids: Sequence[int]) -> list[FetchedMail]:
        """The raw bytes (``BODY.PEEK[]`` leaves the \\Seen flag alone) and INTERNALDATE."""
        return _guard(self._fetch, uids) if uids else []

    def _fetch(self, uids: Sequence[int]) -> list[FetchedMail]:
        # imaplib's own UID command: imapclient's fetch would lex the whole answer in Python
        typ, data = self.client._imap.uid("FETCH", uid_set(uids), FETCH_ITEMS)
        if typ != "OK":
            raise ConnectionProblem(f"FETCH failed: {_words(data[-1] if data else typ)}")
        return read_fetched(data, uids)

    def fetch_sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """Each message's size (RFC822.SIZE, from the server's index: no body is read)."""
        return _guard(self._fetch_sizes, uids) if uids else {}

    def _fetch_sizes(self, uids: Sequence[int]) -> dict[int, int]:
        typ, data = self.client._imap.uid("FETCH", uid_set(uids), SIZE_ITEMS)
        if typ != "OK":
            raise ConnectionProblem(f"FETCH failed: {_words(data[-1] if data else typ)}")
        return read_sizes(data, uids)

    def fetch_message_ids(self, uids: Sequence[int]) -> dict[int, bytes | None]:
        """The Message-ID fingerprint of each message, from its header alone (cheap)."""
        data = _guard(self.client.fetch, list(uids), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        out: dict[int, bytes | None] = {}
        for uid, item in data.items():
            header = next((v for k, v in item.items()
                           if isinstance(k, bytes) and k.startswith(b"BODY[HEADER.FIELDS")), None)
            out[int(uid)] = message_id_key(bytes(header)) if header else None
        return out

    def move(self, uids: Sequence[int], target: str) -> None:
        if not uids:
            return
        if "MOVE" in self.capabilities:
            _guard(self.client.move, list(uids), target)
            return
        _guard(self.client.copy, list(uids), target)
        _guard(self.client.delete_messages, list(uids))
        if "UIDPLUS" in self.capabilities:
            _guard(self.client.uid_expunge, list(uids))
        else:
            _guard(self.client.expunge)

    def wait_for_mail(self, stop: threading.Event, timeout_s: float, check_s: float) -> bool:
        """IDLE until the server announces new mail (True), or timeout/stop (False)."""
        return _guard(self._idle, stop, timeout_s, check_s)

    def _idle(self, stop: threading.Event, timeout_s: float, check_s: float) -> bool:
        client = self.client
        client.idle()
        deadline = time.monotonic() + timeout_s
        # Mail that arrived between our last search and IDLE is announced right after the
        # server's "+ idling", often in the same packet: those lines already sit in imaplib's
        # read buffer, where idle_check's poll of the socket cannot see them.
        new_mail = _announces_mail(_buffered_responses(client))
        try:
            while not new_mail and not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                new_mail = _announces_mail(client.idle_check(timeout=min(check_s, left)))
        finally:
            client.idle_done()
        return new_mail


def _quiet_protocol_trace(client: IMAPClient) -> None:
    """Turn off imaplib's protocol trace, which imapclient switches on at its most verbose.

    At that level imaplib formats the ``repr`` of every literal it receives (a whole message
    body per FETCHed mail) into a debug line that the logger then drops: 60-70 % of the CPU of
    a FETCH loop. It would also put message bodies into logs, which helpline never does.
    """
    client._imap.debug = 0


def _announces_mail(responses: Sequence[Any]) -> bool:
    new_mail = False
    for response in responses:
        if len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT"):
            new_mail = True
        elif response and response[0] == b"BYE":
            raise ConnectionProblem(f"server said BYE: {_words(response)}")
    return new_mail


def _buffered_responses(client: IMAPClient) -> list[Any]:
    """Complete untagged lines already read from the socket into imaplib's buffer.

    Uses imaplib/imapclient internals (``_imap.file``, ``_get_line``), the same ones
    ``IMAPClient.idle_check`` relies on; reads only whole lines that are already buffered.
    """
    imap = client._imap
    sock = client.socket()
    sock.setblocking(False)
    responses = []
    try:
        while b"\n" in _peek(imap.file):
            responses.append(_parse_untagged_response(imap._get_line()))
    finally:
        sock.setblocking(True)
        client._set_read_timeout()
    return responses


def _peek(file: Any) -> bytes:
    try:
        data: bytes = file.peek()
    except BlockingIOError:
        return b""
    return data or b""


def socket_timeout(m: MailboxSettings) -> Any:
    from imapclient import SocketTimeout

    return SocketTimeout(connect=m.connect_timeout_s, read=m.read_timeout_s)


__all__ = [
    "AuthRejected",
    "ConnectionProblem",
    "FetchedMail",
    "FolderInfo",
    "ImapFailure",
    "ImapSession",
    "MailSession",
]
