"""Settings of the tickets stage (the `[tickets]` section of the config file)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from tickets.robots import DEFAULT_NO_REPLY_PATTERNS, BinRules

# Host names the API answers to by default (any port): loopback only.
DEFAULT_API_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class BinSettings(BaseModel):
    """``[tickets.bin]``: which robots' mail goes to the "not a ticket" bin instead of the
    agents' queue (kept on the ``tickets.bin`` topic with the reason; ``helpline tickets bin
    list|restore``). Bounces of our own mail and auto-replies that thread onto a ticket are
    filed on it whatever this says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mailing_lists: bool = True  # List-Id, List-Unsubscribe, Precedence: list …
    no_reply_senders: bool = True
    # regular expressions matched against the whole local part of the sender's address
    no_reply_patterns: tuple[str, ...] = DEFAULT_NO_REPLY_PATTERNS
    own_address: bool = True  # mail from our own_addresses
    auto_replies: bool = True  # by their headers only, when they thread onto no ticket
    bounces: bool = True  # bounces that return none of our mails
    bulk: bool = True  # Precedence: bulk / junk
    # senders that always make tickets: "alerts@partner.example" or "@partner.example"
    always_ticket: tuple[str, ...] = ()

    @field_validator("no_reply_patterns")
    @classmethod
    def _patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"bad no-reply pattern {p!r}: {e}") from None
        return patterns

    def rules(self, own_addresses: frozenset[str]) -> BinRules:
        return BinRules(
            own_addresses=own_addresses, mailing_lists=self.mailing_lists,
            no_reply_senders=self.no_reply_senders, no_reply_patterns=self.no_reply_patterns,
            own_address=self.own_address, auto_replies=self.auto_replies, bounces=self.bounces,
            bulk=self.bulk, always_ticket=frozenset(a.strip().lower() for a in self.always_ticket),
        )


class TicketsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bin: BinSettings = BinSettings()

    # Ticket numbers look like ``HL-2026-000123``: prefix, year of creation, sequence.
    number_prefix: str = Field(default="HL", pattern=r"^[A-Z][A-Z0-9]{0,9}$")
    number_digits: int = Field(default=6, ge=3, le=12)
    # Sequences are interleaved by partition of the `messages` topic (see tickets.numbers);
    # 0 means "the configured partition count" (kafka.partitions). Never lower it once used.
    number_stride: int = Field(default=0, ge=0, le=4096)
    # A customer reply to a closed ticket reopens it within this window (counted from when it
    # was solved/closed); later replies open a follow-up ticket linked to the old one.
    reopen_window_days: float = Field(default=14.0, ge=0)
    # Solved tickets close by themselves this long after being solved (0: never). The close
    # is stamped at the due time, not when the check ran, so a replay yields the same event.
    auto_close_after_days: float = Field(default=4.0, ge=0)
    auto_close_check_s: float = Field(default=60.0, gt=0)
    # Our own support addresses: never counted as ticket participants.
    own_addresses: tuple[str, ...] = ()
    # Bounds on what one message may cost the threader.
    max_references_checked: int = Field(default=100, ge=1)
    max_participants: int = Field(default=50, ge=1)
    # References we put on an agent reply's notification (newest last).
    reply_references_limit: int = Field(default=20, ge=1)
    # HTTP API (`helpline tickets api`): once api_token is set, reads and agent actions
    # (POST /tickets/{ref}/actions) need it as a bearer token; while it is unset, reads are open
    # to whoever reaches this address (keep it on loopback) and actions are refused.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8086, ge=0, le=65535)
    api_token: SecretStr | None = None
    # Host header values (without port) the API answers to; others get 400, so a page on a
    # rebound DNS name cannot read it through a browser. "*.example.org" matches subdomains,
    # "*" turns the check off. Add the name clients use when api_host is not loopback.
    api_allowed_hosts: tuple[str, ...] = Field(default=DEFAULT_API_ALLOWED_HOSTS, min_length=1)
    # CLI / API: how long to wait for the state and event topics to be read to their end.
    catchup_timeout_s: float = Field(default=30.0, gt=0)
    # CLI: how long to wait for the broker to acknowledge a command.
    command_timeout_s: float = Field(default=15.0, gt=0)
    # The query view keeps at most this many events per ticket (older ones are still in the log).
    view_max_events_per_ticket: int = Field(default=5000, ge=10)

    @field_validator("api_allowed_hosts")
    @classmethod
    def _host_patterns(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for h in hosts:
            if not h or "*" in h[1:] or (h.startswith("*") and h != "*" and not h.startswith("*.")):
                raise ValueError(f"bad host pattern {h!r}: a name, '*.example.org' or '*'")
        return hosts
