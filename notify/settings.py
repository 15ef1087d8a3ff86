"""Settings of the notify stage (the `[notify]` section of the config file).

Every timeout, limit and window is a named setting with a default. Values are validated here and
handed to the pure modules as plain frozen values (see :mod:`notify.loop_guard` and
:mod:`notify.ack_policy`); nothing in ``notify`` reads the environment.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SmtpSecurity = Literal["none", "starttls", "tls"]
WebhookFormat = Literal["slack", "teams", "generic"]
InDoubtRule = Literal["resend", "skip"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmtpSettings(_Frozen):
    """The outbound relay (a smarthost or the provider's submission port)."""

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: SmtpSecurity = "none"
    validate_certs: bool = True
    cafile: str | None = None
    username: str | None = None
    password: str | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    pool_size: int = Field(default=4, ge=1, le=64)
    max_messages_per_connection: int = Field(default=100, ge=1)
    local_hostname: str | None = None  # EHLO name; None: the machine's FQDN


class MailboxIdentity(_Frozen):
    """How one support mailbox (brand) speaks: its address, name, language and promises."""

    address: str
    display_name: str = ""
    brand: str = "default"  # template folder under notify/templates (or templates_dir)
    default_language: str = "en"
    # "support+{token}@example.com": Reply-To carries the ticket's signed reply token
    plus_addressing: bool = False
    # The customers' time zone for due times and hours in acks; None: the SLA calendar's own.
    # (Business hours are not configured here: acks quote the SLA policy's calendar.)
    timezone: str | None = None
    help_url: str = ""
    auto_ack: bool = True

    @model_validator(mode="before")
    @classmethod
    def _no_free_text_hours(cls, data: Any) -> Any:
        if isinstance(data, dict) and "business_hours" in data:
            raise ValueError(
                "business_hours is no longer set per mailbox: acks quote the hours of the SLA "
                "policy's calendar ([calendars.NAME] and sla_policies.calendar in the routing "
                "file); remove the key")
        return data


class WebhookTarget(_Frozen):
    url: str
    secret: str = ""  # HMAC-SHA256 key; empty: unsigned
    format: WebhookFormat = "slack"


class NotifySettings(_Frozen):
    # -- identities --------------------------------------------------------------------------
    mailboxes: dict[str, MailboxIdentity] = Field(default_factory=dict)
    default_mailbox: MailboxIdentity = MailboxIdentity(
        address="support@localhost", display_name="Support"
    )
    message_id_domain: str = "helpline.invalid"
    # more of our own addresses (aliases, forwarding targets) never to be acknowledged
    own_addresses: tuple[str, ...] = ()
    ticket_prefix_in_subject: bool = True
    templates_dir: str | None = None  # overrides/extends the bundled templates

    # -- auto-acknowledgement ----------------------------------------------------------------
    auto_ack: bool = True
    sla_wait_s: float = Field(default=20.0, ge=0)  # wait this long for `sla-applied`
    generic_response_hours: int = Field(default=24, ge=1)  # promise when no SLA is known
    summary_chars: int = Field(default=300, ge=0)
    max_ack_age_s: float = Field(default=24 * 3600.0, gt=0)  # never ack older tickets

    # -- abuse and loop protection -----------------------------------------------------------
    recipient_cap: int = Field(default=5, ge=1)  # automatic mails per recipient ...
    recipient_window_s: float = Field(default=3600.0, gt=0)  # ... in this window

    # -- delivery ----------------------------------------------------------------------------
    smtp: SmtpSettings = SmtpSettings()
    max_attempts: int = Field(default=6, ge=1)
    retry_backoff_s: float = Field(default=5.0, gt=0)
    retry_backoff_max_s: float = Field(default=600.0, gt=0)
    send_concurrency: int = Field(default=4, ge=1, le=256)
    # an intent found on restart without an outcome: send again with the same Message-ID
    # (receivers collapse duplicates by Message-ID) or give it up as failed
    in_doubt: InDoubtRule = "resend"

    # -- alerts ------------------------------------------------------------------------------
    webhooks: dict[str, WebhookTarget] = Field(default_factory=dict)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    alert_burst: int = Field(default=3, ge=1)  # alerts sent at once per recipient ...
    alert_window_s: float = Field(default=300.0, gt=0)  # ... per window; the rest: one digest
    # An agent gets the first assignment notice at once; what else is assigned to them within
    # the window comes as one digest when it closes.
    assignment_burst: int = Field(default=1, ge=1)
    assignment_window_s: float = Field(default=120.0, gt=0)
    # The agents' console: notices link to {console_url}/tickets/{number} ("" : no link)
    console_url: str = ""
    tick_interval_s: float = Field(default=1.0, gt=0)

    # -- the sent-log writer (aiokafka) ------------------------------------------------------
    sentlog_linger_ms: int = Field(default=2, ge=0)
    sentlog_timeout_s: float = Field(default=30.0, gt=0)

    def mailbox(self, name: str | None) -> MailboxIdentity:
        if name and name in self.mailboxes:
            return self.mailboxes[name]
        return self.default_mailbox
