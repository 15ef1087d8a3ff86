"""Settings of the email connectors (the ``[email]`` section of the config file): the IMAP
mailboxes helpline watches and the SMTP/LMTP receiver an MTA can pipe mail into.

Validated values, passed down; nothing here reads the environment. Every timeout, interval and
limit is a named setting with a default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from ingest.chat.settings import ChatSettings

ImapSecurity = Literal["none", "ssl", "starttls"]

# RFC 2177: servers may drop an IDLE after 30 minutes of inactivity; re-IDLE well before that.
IDLE_MAX_S = 29 * 60


class MailboxSettings(BaseModel):
    """One support mailbox on an IMAP server (e.g. support@example.com)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="the mailbox's name in helpline; partition key")
    host: str
    port: int = Field(default=993, ge=1, le=65535)
    security: ImapSecurity = "ssl"
    tls_verify: bool = True
    tls_ca_file: str | None = None
    user: str
    password: SecretStr | None = None
    # Or the password in a file (a mounted Secret), read at every (re)connect: a rotated
    # password is used from the next login on, without a restart.
    password_file: str | None = None
    # OAuth2 (XOAUTH2): an access token read at every (re)connect from the command's stdout or
    # from a file some other process keeps fresh. Either this or a password.
    oauth2_token_command: tuple[str, ...] | None = None
    oauth2_token_file: str | None = None
    oauth2_token_timeout_s: float = Field(default=30.0, gt=0)
    # Or helpline refreshes the access token itself with the refresh-token grant (RFC 6749
    # section 6) at the provider's token endpoint (Google: https://oauth2.googleapis.com/token,
    # Microsoft: https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token), before it
    # expires. The refresh token is read from its file at every refresh, so a new one
    # (re-consent) is picked up without a restart; "invalid_grant" marks the mailbox auth_failed.
    oauth2_token_endpoint: str | None = None
    oauth2_client_id: str | None = None
    oauth2_client_secret: SecretStr | None = None
    oauth2_refresh_token_file: str | None = None
    oauth2_scope: str | None = None
    # Get a new access token this long before the current one expires.
    oauth2_refresh_margin_s: float = Field(default=300.0, ge=0)
    folders: tuple[str, ...] = Field(default=("INBOX",), min_length=1)
    # After the raw message was acknowledged by Kafka, move it here (e.g. "Helpline/Done").
    move_to: str | None = None
    # "all": a newly connected folder is ingested from its first message; "new": only mail
    # arriving after the first connect.
    initial_sync: Literal["all", "new"] = "all"
    use_idle: bool = True
    poll_interval_s: float = Field(default=60.0, gt=0)
    idle_timeout_s: float = Field(default=25 * 60.0, gt=0, le=IDLE_MAX_S)
    # How often a thread blocked in IDLE looks at the stop flag.
    idle_check_interval_s: float = Field(default=0.5, gt=0)
    connect_timeout_s: float = Field(default=15.0, gt=0)
    read_timeout_s: float = Field(default=120.0, gt=0)
    fetch_batch_size: int = Field(default=200, ge=1, le=10_000)
    # ...and at most this much mail per FETCH (by the server's RFC822.SIZE; a larger message
    # is fetched alone), so a folder of big attachments does not fill the memory.
    fetch_batch_bytes: int = Field(default=8 * 1024 * 1024, ge=1)
    # Batches fetched ahead while Kafka acknowledges earlier ones (bounds memory).
    max_batches_in_flight: int = Field(default=4, ge=1, le=64)
    # The checkpoint is saved (fsync, beside the next FETCH; one save at a time) after this
    # many acknowledged batches, and whenever the folder is caught up. After a kill -9, at most
    # 2 x this + max_batches_in_flight + 1 batches are published again (downstream dedupes
    # them by Message-ID; ingest.imap.checkpoint.replay_bound_batches); 1 = every batch.
    checkpoint_every_batches: int = Field(default=4, ge=1, le=64)
    # A message Kafka refuses this many times while accepting the mail around it (typically
    # larger than the topic's max.message.bytes) is left on the server and reported.
    max_publish_attempts: int = Field(default=3, ge=1)
    reconnect_backoff_initial_s: float = Field(default=1.0, gt=0)
    reconnect_backoff_max_s: float = Field(default=300.0, gt=0)
    # After the server rejected the credentials, try again this rarely (no crash loop, no
    # account lockout): an operator has to fix the password or token anyway.
    auth_retry_interval_s: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _one_credential(self) -> MailboxSettings:
        given = [
            self.password is not None,
            self.password_file is not None,
            self.oauth2_token_command is not None,
            self.oauth2_token_file is not None,
            self.oauth2_token_endpoint is not None,
        ]
        if sum(given) != 1:
            raise ValueError(
                f"mailbox {self.name!r}: set exactly one of password, password_file, "
                "oauth2_token_command, oauth2_token_file, oauth2_token_endpoint"
            )
        if self.oauth2_token_endpoint is not None and (
                self.oauth2_client_id is None or self.oauth2_refresh_token_file is None):
            raise ValueError(f"mailbox {self.name!r}: oauth2_token_endpoint needs "
                             "oauth2_client_id and oauth2_refresh_token_file")
        return self


class ReceiverSettings(BaseModel):
    """The inbound SMTP/LMTP receiver for sites that pipe mail from their own MTA."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    lmtp: bool = False
    # The helpline mailbox name recorded on (and partitioning) what the receiver accepts.
    mailbox: str = Field(default="inbound", min_length=1)
    hostname: str | None = None  # announced in the greeting; None: the machine's FQDN
    accepted_domains: tuple[str, ...] = ()
    accepted_addresses: tuple[str, ...] = ()
    max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # Kafka must acknowledge within this time, or the client gets a 451 and retries later.
    publish_timeout_s: float = Field(default=10.0, gt=0)


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mailboxes: tuple[MailboxSettings, ...] = ()
    # Where the IMAP connector keeps its (UIDVALIDITY, last UID) checkpoints: "file", one small
    # file per mailbox in checkpoint_dir, written atomically (must be on a persistent volume);
    # or "kafka", the compacted topic imap.checkpoints, so the connector needs no disk.
    checkpoint_store: Literal["file", "kafka"] = "file"
    checkpoint_dir: str = ".cache/imap-checkpoints"
    # "kafka": how long the broker may take to give the checkpoints at start or take one.
    checkpoint_timeout_s: float = Field(default=30.0, gt=0)
    # Message-ID fingerprints remembered per folder (8 bytes each), so a resync after a
    # UIDVALIDITY change does not republish mail Kafka already has.
    remembered_message_ids: int = Field(default=200_000, ge=0)
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    receiver: ReceiverSettings = ReceiverSettings()

    @model_validator(mode="after")
    def _unique_names(self) -> EmailSettings:
        names = [m.name for m in self.mailboxes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"mailbox names must be unique: {', '.join(dupes)}")
        return self


__all__ = ["ChatSettings", "EmailSettings", "MailboxSettings", "ReceiverSettings"]
