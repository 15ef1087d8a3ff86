"""What connectors put on the raw topics: bytes off the wire plus an envelope, nothing parsed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from schemas.base import Extra, empty_map, extra_field, record

EmailSource = Literal["imap", "smtp", "lmtp", "file"]


@record
class RawEmail:
    """One RFC 822 message exactly as received.

    ``mailbox`` names the configured support mailbox (the partition key); for IMAP, ``folder``,
    ``uidvalidity`` and ``uid`` locate the message on the server and form the checkpoint.
    """

    schema_version: int = 1
    source: EmailSource
    mailbox: str
    raw: bytes
    received_at: datetime
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()
    extra: Extra = extra_field()


@record
class RawChatMessage:
    """One message typed into the chat widget (or an API client), as the chat service took it."""

    schema_version: int = 1
    site_id: str
    conversation_id: str
    message_id: str
    visitor_id: str
    text: str
    received_at: datetime
    # Set only when the site proved the identity (identifier_hash checked by the server).
    verified_identifier: str | None = None
    name: str | None = None
    email: str | None = None
    locale: str | None = None
    page_url: str | None = None
    fields: Mapping[str, str] = empty_map()
    extra: Extra = extra_field()


@record
class ImapFolderMark:
    """How far one folder is on Kafka: every UID up to ``last_uid`` under ``uidvalidity``."""

    folder: str
    uidvalidity: int
    last_uid: int
    resync_below: int | None = None  # a resync after a UIDVALIDITY change is under way
    extra: Extra = extra_field()


@record
class ImapCheckpoint:
    """The IMAP connector's checkpoint of one mailbox, the latest per mailbox kept by a
    compacted topic: a connector restarted anywhere, with no disk, goes on where it was."""

    schema_version: int = 1
    mailbox: str
    folders: tuple[ImapFolderMark, ...] = ()
    extra: Extra = extra_field()
